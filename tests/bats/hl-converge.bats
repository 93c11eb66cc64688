#!/usr/bin/env bats
# hl-converge against real guests: the example lab's four hosts, made by
# hl-template and hl-vm on the simulator, converged once by setup_file with
# the example roles (web: base, docker; db: base, docker, restic; nas:
# base, restic_server) through
# real Ansible.  Tests that break a host put it back.

load test_helper
load sim_helper

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	CLAB="$BATS_FILE_TMPDIR/lab"
	example_lab "$CLAB"
	# a role only this file has: what Ansible's own process sees, written
	# on the host from inside a task
	mkdir -p "$CLAB/layers/L3/roles/envprobe/tasks"
	cat > "$CLAB/layers/L3/roles/envprobe/tasks/main.yml" <<-'EOF'
	- name: the controller's environment, as Ansible has it
	  ansible.builtin.copy:
	    dest: /root/controller-env
	    content: "{{ lookup('ansible.builtin.pipe', 'env') }}\n"
	    mode: "0600"
	EOF
	git_lab "$CLAB"
	export PATH="$TOP/bin:$PATH"
	hl-template -C "$CLAB" build debian-12 --all-nodes --timeout 300 > /dev/null 2>&1
	hl-template -C "$CLAB" promote debian-12 > /dev/null 2>&1
	hl-vm -C "$CLAB" apply > "$BATS_FILE_TMPDIR/vm.json" 2> "$BATS_FILE_TMPDIR/vm.err"
	# the first converge, every host at once; its output is the tests'
	local t0=$SECONDS
	set +e
	hl-converge -C "$CLAB" apply --progress=json > "$BATS_FILE_TMPDIR/first.json" \
		2> "$BATS_FILE_TMPDIR/first.err"
	echo $? > "$BATS_FILE_TMPDIR/first.rc"
	set -e
	echo "# cost: first converge of 4 hosts: $((SECONDS - t0)) s" >&3
	export CLAB
}

teardown_file() {
	"$TOP/sim/hl-sim" stop --lab "$CLAB" 2>/dev/null || true
}

setup() {
	common_setup
	LAB=$CLAB
	SIMLAB=$CLAB
	sim_env
}

# cv WANT ARGS...: hl-converge on the lab, which must exit WANT
cv() {
	expect_exit "$1" hl-converge -C "$LAB" "${@:2}"
}

# host NAME: that host's result in $output
host() {
	jq -c --arg n "$1" '.hosts[] | select(.name == $n)' <<<"$output"
}

@test "hl-converge inventory: layers/L3/inventory gives ansible-inventory exactly what hl-converge inventory --list says; groups, pinned SSH, roles and vars per host" {
	cv 0 inventory --list
	local mine=$output
	# (Ansible itself wants a UTF-8 locale; hl-converge gives its runs one)
	export LC_ALL=C.UTF-8
	run -0 ansible-inventory -i "$LAB/layers/L3/inventory" --list
	local theirs=$output
	# the same hosts with the same vars, the same groups with the same hosts
	diff <(jq -S '._meta.hostvars' <<<"$mine") <(jq -S '._meta.hostvars' <<<"$theirs")
	diff <(jq -S 'del(._meta, .all) | map_values(.hosts | sort)' <<<"$mine") \
		<(jq -S 'del(._meta, .all, .ungrouped) | map_values(.hosts | sort)' <<<"$theirs")
	jq -e '.persona_web.hosts == ["web01", "web02"] and .persona_db.hosts == ["db01"] and
		.persona_nas.hosts == ["nas01"] and
		(.node_pve2.hosts | sort) == ["db01", "web02"] and .tag_backup.hosts == ["db01"]' <<<"$mine"
	# a host's connection is pinned to .hl/known_hosts under its name
	jq -e --arg lab "$LAB" '._meta.hostvars.web01 |
		.ansible_host == "10.77.0.21" and .ansible_user == "debian" and
		.ansible_host_key_checking == true and
		.ansible_ssh_private_key_file == "\($lab)/.hl/id_ed25519" and
		(.ansible_ssh_common_args | contains("StrictHostKeyChecking=yes") and
			contains("UserKnownHostsFile='"'"'\($lab)'"'"'/.hl/known_hosts") and
			contains("GlobalKnownHostsFile=/dev/null") and contains("HostKeyAlias=web01")) and
		.hl_roles == ["base", "docker"] and .hl_persona == "web" and .hl_node == "pve1" and
		.hl_vmid == 201 and (.docker_registry_mirror | test("^http://10.77.0.1:5000")) and
		(.hl_authorized_keys | length) == 1' <<<"$mine"
	jq -e '._meta.hostvars.db01.hl_roles == ["base", "docker", "restic"]' <<<"$mine"
	# --host, as Ansible asks for one host
	cv 0 inventory --host db01
	jq -e '.ansible_host == "10.77.0.31" and .hl_vmid == 211' <<<"$output"
	cv 2 inventory --host nosuch
	[[ $stderr == *"--host nosuch: no such host"* ]]
	# selectors narrow it; without --list it is a document like any other
	cv 0 inventory @db
	jq -e '(.inventory._meta.hostvars | keys) == ["db01"] and .meta.tool == "hl-converge"' <<<"$output"
	# plain Ansible reaches a host through it, its key checked
	run -0 ansible -i "$LAB/layers/L3/inventory" web01 -m ping
	[[ $output == *'"ping": "pong"'* ]]
}

@test "hl-converge inventory: a DHCP host is reached where hl-vm last saw it (.hl/addresses), and left out with a warning before that" {
	# hl-vm apply recorded every VM's address
	grep -qx 'web01 10.77.0.21' "$LAB/.hl/addresses"
	grep -qx 'db01 10.77.0.31' "$LAB/.hl/addresses"
	local lab=$BATS_TEST_TMPDIR/dlab
	mkdir -p "$lab"
	cp -r "$LAB/lab.yaml" "$LAB/personas" "$LAB/layers" "$LAB/.hl" "$lab/"
	sed -i 's|^    ip: 10.77.0.22/24$|    ip: dhcp|' "$lab/personas/web.yaml"
	grep -q 'ip: dhcp' "$lab/personas/web.yaml"
	run --separate-stderr hl-converge -C "$lab" inventory --host web02
	[ "$status" = 0 ]
	jq -e '.ansible_host == "10.77.0.22"' <<<"$output"
	sed -i '/^web02 /d' "$lab/.hl/addresses"
	run --separate-stderr hl-converge -C "$lab" inventory --list
	[ "$status" = 0 ]
	jq -e '._meta.hostvars | has("web02") | not' <<<"$output"
	[[ $stderr == *"web02: no address to reach it at"* ]]
}

@test "hl-converge apply: the lab's four hosts at once, each exactly its roles in order; the commit recorded on each host; a second run changes nothing" {
	[ "$(cat "$BATS_FILE_TMPDIR/first.rc")" = 0 ] || { cat "$BATS_FILE_TMPDIR/first.err" >&2; false; }
	output=$(cat "$BATS_FILE_TMPDIR/first.json")
	jq -e '[.hosts[].name] == ["db01", "nas01", "web01", "web02"] and
		all(.hosts[]; .changed > 0 and .failed == 0 and .unreachable == 0 and .duration_s > 0) and
		(.meta.ansible | test("^2\\.[0-9]+\\.[0-9]+$"))' <<<"$output"
	# web hosts: base then docker, never restic; db01: base, docker, restic
	jq -e '[.hosts[] | select(.name == "web01") | .changed_tasks[].role] | unique == ["base", "docker"]' <<<"$output"
	jq -e '[.hosts[] | select(.name == "db01") | .changed_tasks[].role] | unique == ["base", "docker", "restic"]' <<<"$output"
	jq -e '[.hosts[] | select(.name == "web02") | .changed_tasks[].role] | index("docker") > index("base")' <<<"$output"
	# progress came as it went: NDJSON notes naming hosts and tasks
	grep -q '"subject":"web01"' "$BATS_FILE_TMPDIR/first.err"
	jq -e -s 'all(.[]; .tool == "hl-converge")' "$BATS_FILE_TMPDIR/first.err"
	# the host says which commit converged it, in a root-only file
	run -0 root_on db01 'stat -c %a:%U /var/lib/hl/converge.json; cat /var/lib/hl/converge.json'
	[ "${lines[0]}" = "600:root" ]
	jq -e --arg c "$(git -C "$LAB" rev-parse HEAD)" '.commit == $c and .dirty == false and
		.roles == ["base", "docker", "restic"]' <<<"${lines[1]}"
	# what the roles did is real: docker runs, sshd refuses passwords
	run -0 root_on web01 'docker info --format "{{.ServerVersion}} {{.RegistryConfig.Mirrors}}"'
	[[ $output == *"10.77.0.1:5000"* ]]
	run -0 root_on web02 '/usr/sbin/sshd -T | grep -E "^(passwordauthentication|permitrootlogin) "'
	[[ $output == *"passwordauthentication no"* && $output == *"permitrootlogin no"* ]]
	# again: nothing to do anywhere
	cv 0 apply --parallel 3
	jq -e 'all(.hosts[]; .changed == 0 and .failed == 0 and .ok > 10)' <<<"$output"
}

@test "hl-converge check: changes made by hand are drift with their diff (exit 1 with --exit-code), nothing is changed; apply repairs them" {
	root_on web02 'echo "PasswordAuthentication yes" >> /etc/ssh/sshd_config.d/50-hl.conf; /etc/init.d/docker stop'
	cv 1 check --exit-code
	host web02 > "$BATS_TEST_TMPDIR/web02"
	jq -e '[.drift[] | .task] | any(test("sshd")) and any(test("docker"))' "$BATS_TEST_TMPDIR/web02"
	jq -e '.drift[] | select(.task | test("sshd")) | .role == "base" and
		(.diff | tostring | contains("PasswordAuthentication yes"))' "$BATS_TEST_TMPDIR/web02"
	jq -e '.hosts[] | select(.name != "web02") | .drift == []' <<<"$output"
	# check changed nothing: the edit and the stopped daemon are still there
	run -0 root_on web02 'grep -c "PasswordAuthentication yes" /etc/ssh/sshd_config.d/50-hl.conf'
	run ! root_on web02 '/etc/init.d/docker status'
	# without --exit-code drift is not a failure
	cv 0 check web02
	# --dry-run on apply is the same check
	cv 0 apply web02 --dry-run
	jq -e '.dry_run == true and (.hosts[0].drift | length) > 0' <<<"$output"
	cv 0 apply web02
	jq -e '.hosts[0].changed > 0' <<<"$output"
	run -0 root_on web02 '/etc/init.d/docker status'
	run ! root_on web02 'grep -q "PasswordAuthentication yes" /etc/ssh/sshd_config.d/50-hl.conf'
	cv 0 check --exit-code web02
}

@test "hl-converge apply --tags: only the roles' tasks so tagged run (check too); nothing is recorded for a part of a host; a whole apply repairs the rest" {
	root_on web01 'echo "PasswordAuthentication yes" >> /etc/ssh/sshd_config.d/50-hl.conf; echo Etc/Elsewhere > /etc/timezone'
	run -0 root_on web01 'stat -c %Y /var/lib/hl/converge.json'
	local mark=$output
	cp "$LAB/.hl/hosts/web01.json" "$BATS_TEST_TMPDIR/record"
	cv 0 apply web01 --tags sshd
	jq -e '.meta.tags == ["sshd"]' <<<"$output"
	# the drop-in, and the handler it notified
	jq -e '[.hosts[0].changed_tasks[] | "\(.role): \(.task)"] | sort == [
		"base: restart ssh", "base: sshd allows key logins only, and no root login"]' <<<"$output"
	# sshd is repaired, the timezone is not: its tasks did not run
	run ! root_on web01 'grep -q "PasswordAuthentication yes" /etc/ssh/sshd_config.d/50-hl.conf'
	run -0 root_on web01 'cat /etc/timezone; stat -c %Y /var/lib/hl/converge.json'
	[ "${lines[0]}" = Etc/Elsewhere ]
	[ "${lines[1]}" = "$mark" ]
	cmp "$LAB/.hl/hosts/web01.json" "$BATS_TEST_TMPDIR/record"
	# check narrows the same way: sshd has no drift, the timezone has
	cv 0 check web01 --tags sshd,docker --exit-code
	jq -e '.hosts[0].drift == [] and .meta.tags == ["sshd", "docker"]' <<<"$output"
	cv 1 check web01 --tags timezone --exit-code
	jq -e '[.hosts[0].drift[].task] | length > 0 and all(test("timezone"))' <<<"$output"
	cv 2 apply web01 --tags 'sshd;reboot'
	[[ $stderr == *"--tags needs Ansible tag names"* ]]
	cv 2 reboot web01 --tags sshd
	cv 0 apply web01
	run -0 root_on web01 'cat /etc/timezone'
	[ "$output" != Etc/Elsewhere ]
	cv 0 check web01 --exit-code
}

@test "hl-converge apply: a host whose key is not the one in .hl/known_hosts is refused (4) with nothing run on it, whatever ANSIBLE_HOST_KEY_CHECKING says; the others converge" {
	root_on web01 'rm -f /var/lib/hl/converge.json'
	cp "$LAB/.hl/known_hosts" "$BATS_TEST_TMPDIR/known_hosts"
	# web01's alias given web02's keys: web01 now answers with a wrong key
	{ grep -v '^web01 ' "$BATS_TEST_TMPDIR/known_hosts"; sed -n 's/^web02 /web01 /p' "$BATS_TEST_TMPDIR/known_hosts"; } \
		> "$LAB/.hl/known_hosts"
	ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_CONFIG=/nonexistent.cfg cv 4 apply
	cp "$BATS_TEST_TMPDIR/known_hosts" "$LAB/.hl/known_hosts"
	jq -e '.error.code == 4 and (.error.message | test("web01 unreachable: its host key is not the one in .hl/known_hosts"))' <<<"$output"
	host web01 | jq -e '.unreachable == 1 and .changed == 0 and .failed == 0 and (.unreachable_msg | test("rebuilt outside hl"))'
	host web02 | jq -e '.unreachable == 0 and .failed == 0 and .ok > 0'
	[[ $stderr == *"web01: unreachable: its host key is not the one in .hl/known_hosts"* ]]
	# nothing ran on web01: its commit record is still gone
	run ! root_on web01 'test -e /var/lib/hl/converge.json'
	cv 0 apply web01
	run -0 root_on web01 'test -e /var/lib/hl/converge.json'
}

@test "hl-converge apply: a host that does not answer is unreachable (4) while the others converge" {
	api POST /nodes/pve2/qemu/202/status/stop
	wait_task "$(jq -r .data <<<"$output")" 30
	cv 4 apply web01 web02
	# (tasks that run on the controller, such as assert, still count ok)
	host web02 | jq -e '.unreachable == 1 and .changed == 0 and .failed == 0'
	host web01 | jq -e '.unreachable == 0 and .failed == 0 and .ok > 0'
	# back as declared
	run -0 hl-vm -C "$LAB" apply web02
	cv 0 apply web02
}

@test "hl-converge apply: a failing task is exit 5 with its host, role, task and message; the other hosts go on" {
	sed -i '/^  web01:/a\    vars: {base_timezone: Nowhere/Atlantis}' "$LAB/personas/web.yaml"
	commit_all "a zone that does not exist"
	cv 5 apply web01 web02
	spec_reset personas/web.yaml
	host web01 | jq -e '.failed == 1 and (.failed_tasks | length) == 1 and
		.failed_tasks[0].role == "base" and (.failed_tasks[0].task | test("timezone")) and
		(.failed_tasks[0].msg | length) > 0'
	host web02 | jq -e '.failed == 0 and .unreachable == 0'
	jq -e '.error.code == 5 and (.error.message | test("a task failed on web01"))' <<<"$output"
	[[ $stderr == *"web01: failed: base: "* ]]
	cv 0 apply web01
}

@test "hl-converge apply: Ansible runs with hl's configuration and an environment without HL_PVE_* or the token, proven from inside a task" {
	local token
	token=$(sed -n 's/^HL_PVE_TOKEN=//p' "$LAB/.hl/sim.env")
	[ -n "$token" ]
	# an operator's ansible.cfg in the current directory that would break
	# hl's run, and Ansible variables in the environment
	local cwd=$BATS_TEST_TMPDIR/cwd
	mkdir -p "$cwd"
	printf '[defaults]\nstdout_callback = minimal\nroles_path = /nonexistent\n' > "$cwd/ansible.cfg"
	sed -i '/^  db01:/a\    roles: [envprobe]' "$LAB/personas/db.yaml"
	# and a variable of the lab's own naming that holds the token
	sed -i 's/^  token_file: .*/&\n  token_env: LAB_SECRET_VAR/' "$LAB/lab.yaml"
	grep -q '^  token_env: LAB_SECRET_VAR$' "$LAB/lab.yaml"
	commit_all "envprobe on db01"
	cd "$cwd"
	HL_PVE_TOKEN=$token LAB_SECRET_VAR=$token ANSIBLE_STDOUT_CALLBACK=minimal \
		ANSIBLE_ROLES_PATH=/nonexistent cv 0 apply db01
	cd "$BATS_TEST_TMPDIR"
	spec_reset personas/db.yaml lab.yaml
	jq -e '.hosts[0].changed_tasks | any(.role == "envprobe")' <<<"$output"
	run -0 root_on db01 'cat /root/controller-env; rm -f /root/controller-env'
	[[ $output == *"ANSIBLE_CONFIG="*"/.hl/converge/run-"*"/ansible.cfg"* ]]
	[[ $output == *"HOME="* ]]
	[[ $output != *"HL_PVE"* && $output != *"LAB_SECRET_VAR"* ]]
	[[ $output != *"$token"* ]]
	[[ $output != *"ANSIBLE_STDOUT_CALLBACK"* && $output != *"ANSIBLE_ROLES_PATH"* ]]
	# the run's directory, its SSH control sockets with it, is gone
	run -0 find "$LAB/.hl/converge" -mindepth 1
	[ "$output" = "" ]
}

@test "hl-converge apply: an external host takes part, reached at its declared address with its declared key" {
	local key
	key=$(sed -n 's/^web02 \(ssh-ed25519 .*\)$/\1/p' "$LAB/.hl/known_hosts")
	[ -n "$key" ]
	cat > "$LAB/personas/ext.yaml" <<-EOF
	roles: [base]
	hosts:
	  ext01:
	    kind: external
	    address: 10.77.0.22
	    host_key: $key
	    user: debian
	EOF
	commit_all "an external host"
	cv 0 apply ext01
	rm "$LAB/personas/ext.yaml"
	commit_all "no external host"
	jq -e '.hosts[0].name == "ext01" and .hosts[0].ok > 0 and .hosts[0].failed == 0' <<<"$output"
	# its key went to .hl/known_hosts from the spec
	grep -q "^ext01 $key\$" "$LAB/.hl/known_hosts"
}

@test "hl-converge: usage errors, dirty specs, --help" {
	cv 2 apply --list
	[[ $stderr == *"--list and --host are for inventory"* ]]
	cv 2 check --allow-dirty
	cv 2 reboot
	[[ $stderr == *"reboot needs selectors"* ]]
	cv 2 apply --parallel 0
	cv 2 frobnicate
	cv 2 inventory --list --host web01
	cv 2 apply '@no such'
	# dirty specs: apply refuses (6) before any host is touched
	echo "# edited" >> "$LAB/personas/web.yaml"
	cv 6 apply web01
	[[ $stderr == *"uncommitted"* ]]
	spec_reset personas/web.yaml
	run -0 hl-converge --help
	for o in --list --host --parallel --tags --exit-code --allow-dirty --dry-run --only-if-needed --timeout --yes; do
		[[ $output == *"$o "* ]]
	done
}
