#!/usr/bin/env bats
# hl-validate: L4's spec keys.  A host's stacks and env (accumulated and
# merged, shown), each stack directory of layers/L4/stacks/ and lab->stacks,
# which hl-deploy reads, through tests/c/spec-stacks.c.  The Compose file
# and stack.yaml: hl-validate-compose.bats.

load stacks_helper

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
		data: ["/srv/web", "/var/lib/web-logs"], capture: {before: [], after: []},
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
		.health == {notes: {tcp: 8081}} and
		([.capture.before[].service, .capture.after[].service] == ["notes", "notes"]) and
		([.capture.before[].timeout, .capture.after[].timeout] == [120, 120])' <<<"$output"
	run -0 --separate-stderr hl-validate -C "$LAB" show
	jq -e '[.hosts[] | {name, stacks, env}] == [
		{name: "db01", stacks: ["notes"], env: {}},
		{name: "nas01", stacks: [], env: {}},
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
