#!/usr/bin/env bats
# hl-validate: L4's spec keys.  A host's stacks and env (accumulated and
# merged, shown), each stack directory of layers/L4/stacks/ (its files, its
# Compose file, its stack.yaml) and what a stack asks of the hosts that run
# it.  lab->stacks, which hl-deploy reads, through tests/c/spec-stacks.c.

load test_helper

setup() {
	common_setup
	SPEC_STACKS=${HL_TEST_BIN:-$TOP/build/tests}/spec-stacks
}

# make_stack NAME: a stack in $LAB whose compose.yaml runs one service, app.
make_stack() {
	mkdir -p "$LAB/layers/L4/stacks/$1"
	cat > "$LAB/layers/L4/stacks/$1/compose.yaml" <<-'EOF'
	services:
	  app:
	    image: busybox:1.36
	EOF
}

# The base lab's persona with stacks STACKS (a YAML list) for both hosts.
persona_stacks() {
	lab_file personas/app.yaml <<-EOF
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	stacks: $1
	hosts:
	  app01: {vmid: 301}
	  app02: {vmid: 302}
	EOF
}

# lab->stacks and the problems, as spec-stacks prints them, in $output.
stacks_json() {
	run -0 --separate-stderr "$SPEC_STACKS" "$LAB"
}

# --- a host's stacks and env ------------------------------------------------

@test "hl-validate: stacks accumulate over defaults, persona and host in declared order, repeats dropped" {
	base_lab
	make_stack base
	make_stack zeta
	make_stack web
	make_stack extra
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  stacks: [base, zeta]/' "$LAB/lab.yaml"
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	stacks: [web, base]
	hosts:
	  app01: {vmid: 301, stacks: [extra, zeta, extra]}
	  app02: {vmid: 302}
	EOF
	run -0 --separate-stderr hl-validate -C "$LAB" show
	jq -e '[.hosts[] | {name, stacks}] == [
		{name: "app01", stacks: ["base", "zeta", "web", "extra"]},
		{name: "app02", stacks: ["base", "zeta", "web"]}]' <<<"$output"
	# none anywhere: [] and {}
	rm -r "$LAB"
	base_lab
	run -0 --separate-stderr hl-validate -C "$LAB" show app01
	jq -e '.hosts[0].stacks == [] and .hosts[0].env == {}' <<<"$output"
}

@test "hl-validate: env merges by name over the three levels; numbers and booleans become strings" {
	base_lab
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  env: {TZ: UTC, PORT: 8080, Debug: false}/' "$LAB/lab.yaml"
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	env:
	  PORT: "9090"
	  _RATIO: 1.5
	hosts:
	  app01:
	    vmid: 301
	    env: {TZ: Europe/Berlin, EMPTY: ""}
	  app02: {vmid: 302}
	EOF
	run -0 --separate-stderr hl-validate -C "$LAB" show
	jq -e '.hosts[0].env == {TZ: "Europe/Berlin", PORT: "9090", Debug: "false",
		_RATIO: "1.5", EMPTY: ""}' <<<"$output"
	jq -e '.hosts[1].env == {TZ: "UTC", PORT: "9090", Debug: "false",
		_RATIO: "1.5"}' <<<"$output"
}

@test "hl-validate: env names are variable names, not HL_*; values are strings without newlines, never lists or mappings" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	env:
	  HL_PVE_TOKEN: x
	  9LIVES: x
	  bad-name: x
	  LINES: "one\ntwo"
	  TAB: "a\tb"
	  LIST: [a, b]
	  MAP: {a: b}
	  NOTHING:
	  OK_1: fine
	hosts:
	  app01: {vmid: 301, env: [A=b]}
	EOF
	validate 1
	assert_error_at personas/app.yaml 6 "^variable 'HL_PVE_TOKEN' is reserved: HL_\\* variables are hl's own"
	assert_error_at personas/app.yaml 7 "'9LIVES' is not a variable name of \\[A-Za-z_\\]\\[A-Za-z0-9_\\]\\{0,63\\}"
	assert_error_at personas/app.yaml 8 "'bad-name' is not a variable name"
	assert_error_at personas/app.yaml 9 "control character"
	assert_error_at personas/app.yaml 10 "control character"
	assert_error_at personas/app.yaml 11 "must be a string, not a list \\(env values are plain strings\\)"
	assert_error_at personas/app.yaml 12 "unknown key 'a'"
	assert_error_at personas/app.yaml 13 "must be a string, not nothing"
	assert_error_at personas/app.yaml 16 "must be a mapping, not a list"
	jq -e 'any(.errors[]; .path == ".env.LIST")' <<<"$output"
	[[ "$output" != *'"OK_1"'* ]]
}

@test "hl-validate: an env value may come from .hl/, and is never printed in a problem" {
	base_lab
	make_stack web
	mkdir -p "$LAB/.hl"
	printf 'HL_SITE=home\nHL_BAD="a\\nb"\n' > "$LAB/.hl/net.env"
	printf 'HL_BAD=\x27one\x01two\x27\n' > "$LAB/.hl/bad.env"
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  env: {SITE: {from: .hl\/net.env, key: HL_SITE}, LATER: {from: .hl\/later.env, key: X}}/' "$LAB/lab.yaml"
	run -0 --separate-stderr hl-validate -C "$LAB" show app01
	jq -e '.hosts[0].env == {SITE: "home", LATER: null}' <<<"$output"
	sed -i 's/^    ip: dhcp$/    ip: dhcp\n    env: {X: {from: .hl\/bad.env, key: HL_BAD}}/' "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 14 "^HL_BAD in .hl/bad.env has a control character$"
	assert_errors 1
}

@test "hl-validate: a stack in stacks must exist with a Compose file, named at its place in the list" {
	base_lab
	make_stack web
	mkdir -p "$LAB/layers/L4/stacks/empty" "$LAB/layers/L4/stacks/odd"
	touch "$LAB/layers/L4/stacks/odd/compose.yml"
	: > "$LAB/layers/L4/stacks/file"
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  stacks: [web, nope]/' "$LAB/lab.yaml"
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	stacks:
	  - empty
	  - odd
	  - file
	hosts:
	  app01: {vmid: 301, stacks: [Web, 7]}
	  app02: {vmid: 302, stacks: web}
	EOF
	validate 1
	assert_error_at lab.yaml 17 "^stack 'nope' does not exist: no layers/L4/stacks/nope/$"
	jq -e 'any(.errors[]; .line == 17 and .col == 17 and .path == ".defaults.stacks[1]")' <<<"$output"
	assert_error_at personas/app.yaml 6 "^stack 'empty' has no Compose file: no layers/L4/stacks/empty/compose.yaml or layers/L4/stacks/empty/docker-compose.yml$"
	assert_error_at personas/app.yaml 7 "^stack 'odd' has no Compose file"
	assert_error_at personas/app.yaml 8 "^stack 'file': layers/L4/stacks/file is not a directory$"
	assert_error_at personas/app.yaml 10 "'Web' is not a stack name of \\[a-z0-9\\]\\[a-z0-9_-\\]\\{0,62\\}"
	assert_error_at personas/app.yaml 10 "must be a stack name, not a number"
	assert_error_at personas/app.yaml 11 "must be a list, not a string"
	# the directories themselves, used or not
	assert_error_at layers/L4/stacks/empty null "^stack 'empty' has no Compose file \\(compose.yaml or docker-compose.yml\\)$"
	assert_error_at layers/L4/stacks/odd null "^stack 'odd' has no Compose file"
	assert_warning_at layers/L4/stacks/file null "^'layers/L4/stacks/file' is ignored: a stack is a directory$"
	assert_errors 9
}

@test "hl-validate: an external host takes stacks and env" {
	base_lab
	make_stack nas
	lab_file personas/nas.yaml <<-'EOF'
	stacks: [nas]
	hosts:
	  nas01:
	    kind: external
	    address: nas.home.arpa
	    host_key: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
	    env: {SHARE: /srv/data}
	EOF
	run -0 --separate-stderr hl-validate -C "$LAB" show nas01 app01
	jq -e '[.hosts[] | {name, kind, stacks, env}] == [
		{name: "app01", kind: "vm", stacks: [], env: {}},
		{name: "nas01", kind: "external", stacks: ["nas"], env: {SHARE: "/srv/data"}}]' <<<"$output"
}

# --- lab->stacks ------------------------------------------------------------

@test "hl-validate: lab->stacks has each valid stack: files, services, health with defaults, timeout, secrets, data, vars" {
	base_lab
	persona_stacks '[web]'
	mkdir -p "$LAB/layers/L4/stacks/web/conf/sub" "$LAB/layers/L4/stacks/web/empty"
	lab_file layers/L4/stacks/web/docker-compose.yml <<-'EOF'
	x-common: &common
	  image: busybox:1.36
	  environment: ["B=${B_VAR:-x}", "C=${C_VAR-y}"]
	services:
	  front:
	    <<: *common
	    command: ["sh", "-c", "echo $$HOME $A_VAR ${D_VAR:?need D} ${E_VAR?e} ${F_VAR:-${G_VAR}}"]
	    volumes:
	      - ./conf:/conf:ro
	      - /srv/web/db:/db
	      - cache:/cache
	      - /anonymous
	  back:
	    image: busybox:1.36
	    volumes:
	      - type: bind
	        source: ./conf/sub
	        target: /sub
	volumes:
	  cache: {}
	EOF
	lab_file layers/L4/stacks/web/stack.yaml <<-'EOF'
	health:
	  front: {http: {port: 8080}}
	  back: {tcp: 5432}
	secrets: [D_VAR, E_VAR, D_VAR]
	data: [/srv/web, /var/lib/web-logs]
	EOF
	echo x > "$LAB/layers/L4/stacks/web/conf/sub/a.conf"
	echo x > "$LAB/layers/L4/stacks/web/conf/b.conf"
	echo x > "$LAB/layers/L4/stacks/web/.hidden"
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  env: {A_VAR: a, B_VAR: b, C_VAR: c, F_VAR: f, G_VAR: g}/' "$LAB/lab.yaml"
	validate 0
	jq -e '.warnings == []' <<<"$output"
	stacks_json
	jq -e '.stacks == {web: {
		dir: "layers/L4/stacks/web", compose: "docker-compose.yml",
		files: [".hidden", "conf/b.conf", "conf/sub/a.conf", "docker-compose.yml", "stack.yaml"],
		services: ["back", "front"],
		health: {front: {http: {port: 8080, path: "/", status: 200}}, back: {tcp: 5432}},
		timeout: 60, secrets: ["D_VAR", "E_VAR"],
		data: ["/srv/web", "/var/lib/web-logs"],
		vars: ["A_VAR", "B_VAR", "C_VAR", "D_VAR", "E_VAR", "F_VAR", "G_VAR"]}}' <<<"$output"
	# no stack.yaml: nothing to wait for but the default timeout
	rm "$LAB/layers/L4/stacks/web/stack.yaml"
	sed -i 's/^  env: {A_VAR: a,/  env: {D_VAR: d, E_VAR: e, A_VAR: a,/' "$LAB/lab.yaml"
	sed -i 's|      - /srv/web/db:/db||' "$LAB/layers/L4/stacks/web/docker-compose.yml"
	stacks_json
	jq -e '.errors == [] and (.stacks.web | .health == {} and .timeout == 60 and
		.secrets == [] and .data == [] and (.files | index("stack.yaml") == null))' <<<"$output"
}

@test "hl-validate: a stack with a problem is left out of lab->stacks; an unused stack is checked and a warning" {
	base_lab
	persona_stacks '[good]'
	make_stack good
	make_stack spare
	make_stack broken
	printf 'timeout: 0\n' > "$LAB/layers/L4/stacks/broken/stack.yaml"
	stacks_json
	jq -e '(.stacks | keys) == ["good", "spare"]' <<<"$output"
	assert_error_at layers/L4/stacks/broken/stack.yaml 1 "'timeout' must be an integer from 1 to 3600"
	assert_warning_at layers/L4/stacks/spare null "^stack 'spare' is not used: no host names it in 'stacks'$"
	assert_warning_at layers/L4/stacks/broken null "^stack 'broken' is not used"
	validate 1
	jq -e '(.warnings | length) == 2' <<<"$output"
}

@test "hl-validate: the example lab's stacks: hello on the web hosts, notes with its data and secret on db01" {
	example_lab
	run -0 --separate-stderr "$SPEC_STACKS" "$LAB"
	jq -e '.errors == [] and .warnings == []' <<<"$output"
	jq -e '.stacks.hello | .compose == "compose.yaml" and .services == ["web"] and
		.files == ["compose.yaml", "stack.yaml", "www/index.html"] and
		.health == {web: {http: {port: 8080, path: "/", status: 200}}} and
		.vars == ["HELLO_GREETING"] and .secrets == [] and .data == []' <<<"$output"
	jq -e '.stacks.notes | .services == ["notes"] and .data == ["/srv/notes"] and
		.secrets == ["NOTES_TOKEN"] and .vars == ["NOTES_TOKEN"] and
		.health == {notes: {tcp: 8081}}' <<<"$output"
	run -0 --separate-stderr hl-validate -C "$LAB" show
	jq -e '[.hosts[] | {name, stacks, env}] == [
		{name: "db01", stacks: ["notes"], env: {}},
		{name: "web01", stacks: ["hello"], env: {HELLO_GREETING: "hello from hl"}},
		{name: "web02", stacks: ["hello"], env: {HELLO_GREETING: "hello from hl"}}]' <<<"$output"
}

# --- the stack directory ------------------------------------------------------

@test "hl-validate: a stack directory holds one Compose file and regular files only, no .env" {
	base_lab
	persona_stacks '[web, both, named]'
	make_stack web
	make_stack both
	cp "$LAB/layers/L4/stacks/both/compose.yaml" "$LAB/layers/L4/stacks/both/docker-compose.yml"
	make_stack named
	mkdir -p "$LAB/layers/L4/stacks/web/www" "$LAB/layers/L4/stacks/Bad_Name"
	ln -s /etc/passwd "$LAB/layers/L4/stacks/web/www/passwd"
	mkfifo "$LAB/layers/L4/stacks/web/fifo"
	echo 'A=1' > "$LAB/layers/L4/stacks/web/.env"
	echo 'A=1' > "$LAB/layers/L4/stacks/web/www/.env"
	ln -s web "$LAB/layers/L4/stacks/linked"
	validate 1
	assert_error_at layers/L4/stacks/web/www/passwd null "^'www/passwd' in stack 'web' is a symbolic link: a stack holds regular files and directories only$"
	assert_error_at layers/L4/stacks/web/fifo null "^'fifo' in stack 'web' is a special file"
	assert_error_at layers/L4/stacks/web/.env null "^'.env' in stack 'web': Compose would read variables from it"
	assert_error_at layers/L4/stacks/both null "^stack 'both' has both compose.yaml and docker-compose.yml: keep one$"
	assert_error_at layers/L4/stacks/Bad_Name null "^stack name 'Bad_Name' \\(the directory name\\) is not a name of"
	assert_error_at layers/L4/stacks/linked null "^stack 'linked': 'layers/L4/stacks/linked' is not a directory"
	assert_errors 6
	stacks_json
	jq -e '(.stacks | keys) == ["named"]' <<<"$output"
}

# --- the Compose file -------------------------------------------------------

@test "hl-validate: a Compose file parses as YAML, at its line, and has a services mapping of well-named services" {
	base_lab
	persona_stacks '[a, b, c, d, e]'
	for s in a b c d e; do make_stack $s; done
	printf 'services:\n  app:\n    image: [busybox\n' > "$LAB/layers/L4/stacks/a/compose.yaml"
	printf '# no services\nvolumes: {}\n' > "$LAB/layers/L4/stacks/b/compose.yaml"
	printf 'services: {}\n' > "$LAB/layers/L4/stacks/c/compose.yaml"
	printf -- '- app\n' > "$LAB/layers/L4/stacks/d/compose.yaml"
	lab_file layers/L4/stacks/e/compose.yaml <<-'EOF'
	services:
	  ok-1:
	    image: busybox:1.36
	  Web_Front:
	    image: busybox:1.36
	  list: [a]
	EOF
	validate 1
	jq -e 'any(.errors[]; .file == "layers/L4/stacks/a/compose.yaml" and .line == 4)' <<<"$output"
	assert_error_at layers/L4/stacks/b/compose.yaml 2 "^no 'services': a Compose file maps each service's name to its settings$"
	assert_error_at layers/L4/stacks/c/compose.yaml 1 "^'services' is empty"
	assert_error_at layers/L4/stacks/d/compose.yaml 1 "^a Compose file is a mapping, not a list$"
	assert_error_at layers/L4/stacks/e/compose.yaml 4 "^service name 'Web_Front' is not a name of \\[a-z0-9\\]\\[a-z0-9_-\\]\\{0,62\\}$"
	assert_error_at layers/L4/stacks/e/compose.yaml 6 "^service 'list' must be a mapping, not a list$"
	assert_errors 6
}

@test "hl-validate: every variable a Compose file uses is in each running host's env or the stack's secrets, reported at its first use" {
	base_lab
	persona_stacks '[web]'
	sed -i 's/^  app02: {vmid: 302}$/  app02: {vmid: 302, env: {PORT: "80"}}/' "$LAB/personas/app.yaml"
	make_stack web
	lab_file layers/L4/stacks/web/compose.yaml <<-'EOF'
	services:
	  app:
	    image: busybox:1.36
	    command: ["echo", "$$NOT_A_VAR", "${TOKEN}"]
	    ports: ["${PORT}:80"]
	    environment:
	      - MODE=${MODE:-dev}
	      - PORT_AGAIN=$PORT
	      - LEVEL=${LEVEL:?set it}
	EOF
	printf 'secrets: [TOKEN]\n' > "$LAB/layers/L4/stacks/web/stack.yaml"
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  env: {LEVEL: "1"}/' "$LAB/lab.yaml"
	validate 1
	assert_error_at layers/L4/stacks/web/compose.yaml 5 "^variable 'PORT' is in neither the env of host 'app01' nor the secrets of stack 'web'$"
	assert_error_at layers/L4/stacks/web/compose.yaml 7 "^variable 'MODE' is in neither the env of hosts 'app01' and 'app02' nor the secrets of stack 'web'$"
	assert_errors 2
	[[ $stderr == *"layers/L4/stacks/web/compose.yaml:5:13: error: variable 'PORT'"* ]]
	# set for every host: valid
	sed -i 's/^  env: {LEVEL: "1"}$/  env: {LEVEL: "1", MODE: prod, PORT: "8080"}/' "$LAB/lab.yaml"
	validate 0
	# a secret given a value in the specs is refused
	sed -i 's/^  env: {LEVEL: "1",/  env: {TOKEN: oops, LEVEL: "1",/' "$LAB/lab.yaml"
	validate 1
	assert_error_at lab.yaml 17 "^'TOKEN' is set in env, but it is a secret of stack 'web' \\(its stack.yaml\\)"
	assert_errors 1
}

@test "hl-validate: an interpolation Compose v1 cannot read is refused at its line" {
	base_lab
	persona_stacks '[web]'
	make_stack web
	lab_file layers/L4/stacks/web/compose.yaml <<-'EOF'
	services:
	  app:
	    image: busybox:1.36
	    command: ["sh", "-c", "echo $1"]
	    environment:
	      - A=${A:+set}
	      - B=${}
	      - C=cost $
	      - D=${D
	      - E=${E:-${}}
	EOF
	validate 1
	assert_error_at layers/L4/stacks/web/compose.yaml 4 "^'echo \\\$1' has an invalid interpolation at '\\\$1': Compose takes"
	assert_error_at layers/L4/stacks/web/compose.yaml 6 "invalid interpolation at '\\\$\\{A:\\+set\\}'"
	assert_error_at layers/L4/stacks/web/compose.yaml 7 "invalid interpolation"
	assert_error_at layers/L4/stacks/web/compose.yaml 8 "invalid interpolation"
	assert_error_at layers/L4/stacks/web/compose.yaml 9 "invalid interpolation"
	assert_error_at layers/L4/stacks/web/compose.yaml 10 "invalid interpolation at '\\\$\\{\\}\\}'"
	assert_errors 6
}

@test "hl-validate: a bind mount's source is inside the stack directory, or under one of its data paths" {
	base_lab
	persona_stacks '[web]'
	make_stack web
	mkdir -p "$LAB/layers/L4/stacks/web/conf"
	lab_file layers/L4/stacks/web/compose.yaml <<-'EOF'
	services:
	  app:
	    image: busybox:1.36
	    volumes:
	      - ./conf:/conf
	      - .:/stack:ro
	      - ./conf/../conf:/again
	      - ../other:/other
	      - ./conf/../../../x:/x
	      - ./missing:/missing
	      - /srv/web/data:/data
	      - /srv/web:/all
	      - /srv/webs:/near
	      - /var/log:/log
	      - /srv/web/../../etc:/etc2
	      - ~/secret:/secret
	      - ${HOME}/x:/home
	      - named:/named
	      - type: bind
	        source: /etc
	        target: /host-etc
	      - type: bind
	        source: conf
	        target: /conf2
	      - type: volume
	        source: named
	        target: /v
	volumes:
	  named: {}
	  bound:
	    driver_opts: {type: none, o: bind, device: /root}
	EOF
	printf 'data: [/srv/web]\n' > "$LAB/layers/L4/stacks/web/stack.yaml"
	validate 1
	f=layers/L4/stacks/web/compose.yaml
	assert_error_at $f 8 "^bind mount source '../other' is outside the stack directory$"
	assert_error_at $f 9 "^bind mount source './conf/../../../x' is outside the stack directory$"
	assert_error_at $f 10 "^bind mount source './missing' does not exist in the stack directory \\(layers/L4/stacks/web/missing\\)"
	assert_error_at $f 13 "^bind mount source '/srv/webs' is not under a data path of the stack \\(data: /srv/web\\)"
	assert_error_at $f 14 "^bind mount source '/var/log' is not under a data path"
	assert_error_at $f 15 "^bind mount source '/srv/web/../../etc' is not under a data path"
	assert_error_at $f 16 "^bind mount source '~/secret' is in a home directory"
	assert_error_at $f 17 "^bind mount source '\\\$\\{HOME\\}/x' uses a variable"
	assert_error_at $f 19 "^bind mount source '/etc' is not under a data path"
	assert_error_at $f 31 "^bind mount source '/root' is not under a data path"
	jq -e 'any(.errors[]; .path == ".services.app.volumes[3]")' <<<"$output"
	assert_errors 10
	# without data paths, any absolute source is refused
	rm "$LAB/layers/L4/stacks/web/stack.yaml"
	lab_file layers/L4/stacks/web/compose.yaml <<-'EOF'
	services:
	  app:
	    image: busybox:1.36
	    volumes: ["/srv/web:/data"]
	EOF
	validate 1
	assert_error_at $f 4 "^bind mount source '/srv/web' is not under a data path of the stack \\(stack.yaml declares none\\)"
	assert_errors 1
}

# --- stack.yaml -----------------------------------------------------------------

@test "hl-validate: stack.yaml keys are checked at their line; an unknown one is refused" {
	base_lab
	persona_stacks '[web]'
	make_stack web
	lab_file layers/L4/stacks/web/stack.yaml <<-'EOF'
	timout: 30
	health:
	  app:
	    http: {port: 0, path: health, status: 700, method: GET}
	  nope:
	    tcp: 80
	  Bad_Service:
	    tcp: 80
	secrets: [HL_PVE_TOKEN, bad-name, lower_ok]
	data: /srv/web
	EOF
	validate 1
	f=layers/L4/stacks/web/stack.yaml
	assert_error_at $f 1 "^unknown key 'timout' \\(did you mean 'timeout'\\?\\)$"
	assert_error_at $f 4 "'port' must be an integer from 1 to 65535"
	assert_error_at $f 4 "^'health' is not an HTTP path: it starts with '/'"
	assert_error_at $f 4 "'status' must be an integer from 100 to 599"
	assert_error_at $f 4 "^unknown key 'method'$"
	assert_error_at $f 5 "^service 'nope' is not in the Compose file$"
	assert_error_at $f 7 "'Bad_Service' is not a service name of"
	assert_error_at $f 9 "^secret 'HL_PVE_TOKEN' is reserved: HL_\\* variables are hl's own"
	assert_error_at $f 9 "'bad-name' is not a secret name of"
	assert_error_at $f 10 "must be a list, not a string"
	assert_errors 10
}

@test "hl-validate: a health check is exactly one of http, tcp and command; a command is a non-empty list of strings" {
	base_lab
	persona_stacks '[web]'
	make_stack web
	lab_file layers/L4/stacks/web/compose.yaml <<-'EOF'
	services:
	  a: {image: busybox:1.36}
	  b: {image: busybox:1.36}
	  c: {image: busybox:1.36}
	  d: {image: busybox:1.36}
	  e: {image: busybox:1.36}
	EOF
	lab_file layers/L4/stacks/web/stack.yaml <<-'EOF'
	health:
	  a: {http: {port: 80}, tcp: 80}
	  b: {}
	  c: {command: []}
	  d: {command: [test, 1, true]}
	  e: {command: "wget -q http://x/"}
	timeout: 3601
	EOF
	validate 1
	f=layers/L4/stacks/web/stack.yaml
	assert_error_at $f 2 "^give exactly one of 'http', 'tcp' and 'command'$"
	assert_error_at $f 3 "^give exactly one of 'http', 'tcp' and 'command'$"
	assert_error_at $f 4 "^'command' is an empty list"
	assert_error_at $f 5 "must be a string, not a number \\(a command is a list of arguments\\)"
	assert_error_at $f 5 "must be a string, not a boolean"
	assert_error_at $f 6 "must be a list, not a string"
	assert_error_at $f 7 "'timeout' must be an integer from 1 to 3600"
	assert_errors 7
	lab_file layers/L4/stacks/web/stack.yaml <<-'EOF'
	health:
	  a: {http: {port: 80, path: /healthz?full=1, status: 204}}
	  b: {tcp: 6379}
	  c: {command: [redis-cli, ping]}
	timeout: 3600
	EOF
	stacks_json
	jq -e '.errors == [] and .stacks.web.timeout == 3600 and .stacks.web.health == {
		a: {http: {port: 80, path: "/healthz?full=1", status: 204}},
		b: {tcp: 6379}, c: {command: ["redis-cli", "ping"]}}' <<<"$output"
}

@test "hl-validate: a data path is absolute, normalised, its own directory, and no system tree" {
	base_lab
	persona_stacks '[web]'
	make_stack web
	lab_file layers/L4/stacks/web/stack.yaml <<-'EOF'
	data:
	  - /srv/web
	  - /var/lib/web
	  - /opt/web
	  - /home/me/web
	  - /
	  - /etc
	  - /etc/web
	  - /usr/local/web
	  - /lib64
	  - /boot
	  - /proc/1
	  - /sys
	  - /dev/shm/x
	  - /run/web
	  - /var/lib/docker/volumes/x
	  - /opt/hl
	  - /var
	  - /srv
	  - srv/web
	  - /srv//web2
	  - /srv/web3/
	  - /srv/./web4
	  - /srv/a/../b
	  - /srv/web/sub
	  - /srv/web
	  - /srv/we b
	EOF
	validate 1
	f=layers/L4/stacks/web/stack.yaml
	assert_error_at $f 6 "^data path '/' is the whole file system"
	assert_error_at $f 7 "^data path '/etc' is in a system tree \\(/etc\\): durable data lives in a directory of its own"
	assert_error_at $f 8 "^data path '/etc/web' is in a system tree \\(/etc\\)"
	assert_error_at $f 9 "is in a system tree \\(/usr\\)"
	assert_error_at $f 10 "is in a system tree \\(/lib\\*\\)"
	assert_error_at $f 11 "is in a system tree \\(/boot\\)"
	assert_error_at $f 12 "is in a system tree \\(/proc\\)"
	assert_error_at $f 13 "is in a system tree \\(/sys\\)"
	assert_error_at $f 14 "is in a system tree \\(/dev\\)"
	assert_error_at $f 15 "is in a system tree \\(/run\\)"
	assert_error_at $f 16 "is in a system tree \\(/var/lib/docker\\)"
	assert_error_at $f 17 "is in a system tree \\(/opt/hl\\)"
	assert_error_at $f 18 "^data path '/var' is a directory every program shares: name the stack's own directory"
	assert_error_at $f 19 "^data path '/srv' is a directory every program shares"
	assert_error_at $f 20 "^data path 'srv/web' is not an absolute path"
	assert_error_at $f 21 "^data path '/srv//web2' is not normalised"
	assert_error_at $f 22 "^data path '/srv/web3/' is not normalised"
	assert_error_at $f 23 "^data path '/srv/./web4' is not normalised"
	assert_error_at $f 24 "^data path '/srv/a/../b' is not normalised"
	assert_error_at $f 25 "^data path '/srv/web/sub' is inside '/srv/web'$"
	assert_error_at $f 26 "^data path '/srv/web' repeats '/srv/web'$"
	assert_error_at $f 27 "has a character other than letters, digits and ._\\+@=,- in a name"
	assert_errors 22
}
