#!/usr/bin/env bats
# hl-validate: a stack's Compose file (services, variables, bind mounts)
# and its stack.yaml (health, timeout, secrets, data).  A host's stacks and
# env, the stack directory and lab->stacks: hl-validate-stacks.bats.

load stacks_helper

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

@test "hl-validate: a capture hook's timeout is 1 to 86400 seconds, 120 unless it says" {
	base_lab
	persona_stacks '[web]'
	make_stack web
	lab_file layers/L4/stacks/web/stack.yaml <<-'EOF'
	data: [/srv/web]
	capture:
	  before:
	    - {service: app, command: [sync], timeout: 0}
	  after:
	    - {service: app, command: [sync], timeout: 3600}
	EOF
	stacks_json
	assert_error_at layers/L4/stacks/web/stack.yaml 4 "'timeout' must be an integer from 1 to 86400"
	sed -i 's/, timeout: 0}$/}/' "$LAB/layers/L4/stacks/web/stack.yaml"
	stacks_json
	jq -e '.errors == [] and .stacks.web.capture == {
		before: [{service: "app", command: ["sync"], timeout: 120}],
		after: [{service: "app", command: ["sync"], timeout: 3600}]}' <<<"$output"
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
	assert_error_at $f 18 "^data path '/var' is a directory every program shares: name a directory of its own"
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
