#!/usr/bin/env bats
# hl-converge reboot and shutdown against the simulator, with real guests:
# the example lab in Git, the template built and promoted on both nodes,
# web01 (pve1, VM 201) and web02 (pve2, VM 202) made by hl-vm apply once
# for the file.  A reboot is seen from outside: the VM's uptime through
# the API, the simulator's request and task logs, ssh with the pinned key.

load test_helper
load sim_helper

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	PLAB="$BATS_FILE_TMPDIR/lab"
	guest_lab "$PLAB" web01 web02
	export PLAB
}

teardown_file() {
	"$TOP/sim/hl-sim" stop --lab "$PLAB" 2>/dev/null || true
}

setup() {
	common_setup
	LAB=$PLAB
	SIMLAB=$PLAB
	sim_env
	# what every test starts from: both VMs made, running, answering ssh
	jq -e '[.hosts[] | .action] == ["created", "created"]' "$BATS_FILE_TMPDIR/apply.out" > /dev/null
	running pve1 201
	running pve2 202
}

# cv WANT ARGS...: hl-converge on the lab, which must exit WANT
cv() {
	expect_exit "$1" hl-converge -C "$LAB" "${@:2}"
}

# ip_of HOST
ip_of() {
	case $1 in web01) echo 10.77.0.21 ;; web02) echo 10.77.0.22 ;; esac
}

# on HOST COMMAND [ssh options...]: COMMAND on HOST as debian, its host key
# checked against .hl/known_hosts under its name
on() {
	ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$LAB/.hl/known_hosts" \
		-o GlobalKnownHostsFile=/dev/null -o HostKeyAlias="$1" -o BatchMode=yes \
		-o ConnectTimeout=10 -i "$LAB/.hl/id_ed25519" "${@:3}" "debian@$(ip_of "$1")" "$2"
}

# uptime_of NODE VMID: the VM's uptime (s) through the API
uptime_of() {
	api GET "/nodes/$1/qemu/$2/status/current"
	jq -r .data.uptime <<<"$output"
}

# running NODE VMID: the VM runs (the API says so)
running() {
	api GET "/nodes/$1/qemu/$2/status/current"
	jq -e '.data.status == "running"' <<<"$output" > /dev/null
}

# reboots_since VMID: how many reboot requests for VMID since sim_mark
reboots_since() {
	local seen
	seen=$(sim_since) || return 1
	grep -c "^POST .*/qemu/$1/status/reboot$" <<<"$seen" || true
}

# host NAME: that host's entry in $output
host() {
	jq -c --arg n "$1" '.hosts[] | select(.name == $n)' <<<"$output"
}

@test "hl-converge reboot, shutdown: usage: selectors are needed; --only-if-needed is for reboot, --timeout for reboot and shutdown" {
	cv 2 reboot
	[[ $stderr == *"reboot needs selectors (all, to mean all)"* ]]
	[ "$output" = "" ]
	cv 2 shutdown --yes
	cv 2 shutdown web01 --only-if-needed
	[[ $stderr == *"--only-if-needed is for reboot"* ]]
	cv 2 apply web01 --timeout 5
	[[ $stderr == *"--timeout is for reboot and shutdown"* ]]
	cv 2 reboot web01 --timeout 0
	[[ $stderr == *"--timeout needs a number of seconds above 0"* ]]
	cv 2 apply --yes
	run -0 hl-converge --help
	for o in --only-if-needed --timeout --yes --dry-run --allow-dirty --insecure; do
		[[ "$output" == *"$o "* ]]
	done
}

@test "hl-converge reboot without --yes lists the hosts it would reboot and exits 6; nothing is sent, nothing rebooted" {
	local u1
	u1=$(uptime_of pve1 201)
	sim_mark
	cv 6 reboot web01 web02
	jq -e '[.hosts[] | {name, node, vmid, action, reason, away_s}] == [
		{"name": "web01", "node": "pve1", "vmid": 201, "action": "would_reboot", "reason": "requested", "away_s": null},
		{"name": "web02", "node": "pve2", "vmid": 202, "action": "would_reboot", "reason": "requested", "away_s": null}]
		and .dry_run == null and .meta.tool == "hl-converge"' <<<"$output"
	[[ $stderr == *"the listed hosts would be rebooted: --yes to do it"* ]]
	sim_nothing_changed reads
	[ "$(uptime_of pve1 201)" -ge "$u1" ]
	# shutdown the same
	cv 6 shutdown @web
	jq -e '[.hosts[] | .action] == ["would_shut_down", "would_shut_down"]' <<<"$output"
	[[ $stderr == *"the listed hosts would be shut down: --yes to do it"* ]]
	sim_nothing_changed reads
	running pve1 201
	running pve2 202
}

@test "hl-converge reboot --dry-run: the same list with dry_run, exit 0, nothing sent" {
	sim_mark
	cv 0 reboot web01 web02 --dry-run
	jq -e '.dry_run == true and [.hosts[] | .action] == ["would_reboot", "would_reboot"]' <<<"$output"
	[[ $stderr == *"web01: would reboot VM 201 on pve1"* ]]
	cv 0 shutdown web02 --dry-run --yes
	jq -e '.dry_run == true and [.hosts[] | .action] == ["would_shut_down"]' <<<"$output"
	sim_nothing_changed reads
}

@test "hl-converge reboot --yes: one host after the other, each back on ssh with its known key before the next is asked; uptimes reset" {
	local t0 t1 kh back1 start2
	kh=$(sha256sum < "$LAB/.hl/known_hosts")
	sim_mark
	t0=$(date +%s)
	cv 0 reboot web01 web02 --yes
	t1=$(date +%s)
	jq -e '[.hosts[] | {name, action, reason}] == [
		{"name": "web01", "action": "rebooted", "reason": "requested"},
		{"name": "web02", "action": "rebooted", "reason": "requested"}]
		and all(.hosts[]; .away_s > 0 and .away_s <= ('"$t1 - $t0"' + 1))' <<<"$output"
	# web02's reboot was asked for after web01 answered ssh again
	jq -e '.hosts[0].back_at < .hosts[1].requested_at and
		.hosts[0].requested_at < .hosts[0].back_at' <<<"$output"
	back1=$(jq -r '.hosts[0].back_at | sub("\\.[0-9]+Z$"; "Z") | fromdate' <<<"$output")
	api GET "/nodes/pve2/tasks?vmid=202"
	start2=$(jq '[.data[] | select(.type == "qmreboot")] | max_by(.starttime) | .starttime' <<<"$output")
	[ "$start2" -ge "$back1" ]
	[ "$(reboots_since 201)" = 1 ]
	[ "$(reboots_since 202)" = 1 ]
	# both VMs started again during the run
	[ "$(uptime_of pve1 201)" -le $((t1 - t0 + 1)) ]
	[ "$(uptime_of pve2 202)" -le $((t1 - t0 + 1)) ]
	[[ $stderr == *"web01: back on ssh after"* ]]
	# the same host keys: .hl/known_hosts untouched, and ssh trusts them
	[ "$(sha256sum < "$LAB/.hl/known_hosts")" = "$kh" ]
	run -0 on web01 hostname
	[ "$output" = web01 ]
	run -0 on web02 hostname
	[ "$output" = web02 ]
}

@test "hl-converge reboot --only-if-needed: only the host with /var/run/reboot-required is rebooted; the file is gone after" {
	on web02 'sudo touch /var/run/reboot-required'
	cv 6 reboot @web --only-if-needed
	[ "$(host web01 | jq -r '.action + ": " + .reason')" = "skipped: not needed" ]
	[ "$(host web02 | jq -r '.action + ": " + .reason')" = "would_reboot: /var/run/reboot-required" ]
	sim_mark
	cv 0 reboot @web --only-if-needed --yes
	[ "$(host web01 | jq -r '.action + ": " + .reason')" = "skipped: not needed" ]
	host web01 | jq -e '.away_s == null'
	[ "$(host web02 | jq -r '.action + ": " + .reason')" = "rebooted: /var/run/reboot-required" ]
	host web02 | jq -e '.away_s > 0'
	[ "$(reboots_since 201)" = 0 ]
	[ "$(reboots_since 202)" = 1 ]
	run -1 on web02 'test -e /var/run/reboot-required'
	# nothing needs it now: nothing to list, exit 0
	cv 0 reboot @web --only-if-needed
	jq -e '[.hosts[] | .action] == ["skipped", "skipped"]' <<<"$output"
}

@test "hl-converge reboot: a host that answers with another key than .hl/known_hosts holds is not rebooted (4), and stops the run" {
	local good="$BATS_TEST_TMPDIR/known_hosts"
	cp "$LAB/.hl/known_hosts" "$good"
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/other"
	{
		grep -v '^web01 ' "$good"
		echo "web01 $(cut -d' ' -f1,2 "$BATS_TEST_TMPDIR/other.pub")"
	} > "$LAB/.hl/known_hosts"
	sim_mark
	cv 4 reboot web01 web02 --yes
	cp "$good" "$LAB/.hl/known_hosts"
	host web01 | jq -e '.action == "failed" and .error.reason == "ssh" and .error.code == 4 and
		(.error.message | test("web01 \\(10.77.0.21\\) answers with another host key than .hl/known_hosts holds for it"))'
	[ "$(host web02 | jq -r '.action + ": " + .reason')" = "skipped: not reached: web01 failed first" ]
	[[ $stderr == *"not rebooting web01, which must answer ssh first: web01 (10.77.0.21) answers with another host key"* ]]
	sim_nothing_changed
	# no key at all for it: told apart
	grep -v '^web01 ' "$good" > "$LAB/.hl/known_hosts"
	cv 4 reboot web01 --yes
	cp "$good" "$LAB/.hl/known_hosts"
	host web01 | jq -e '.error.message | test(".hl/known_hosts holds no key for it")'
	sim_nothing_changed
}

@test "hl-converge reboot: a host that comes back with new host keys fails (4) and the next is not rebooted; shutdown and hl-vm apply bring it back with its keys read again" {
	# a new cloud-init instance at the next boot: new host keys
	on web01 'sudo cloud-init clean'
	sim_mark
	cv 4 reboot web01 web02 --yes
	host web01 | jq -e '.action == "failed" and .error.reason == "ssh" and .requested_at != null and
		(.error.message | test("web01 \\(10.77.0.21\\) answers with another host key than .hl/known_hosts holds for it, after its reboot"))'
	[ "$(host web02 | jq -r '.action + ": " + .reason')" = "skipped: not reached: web01 failed first" ]
	[ "$(reboots_since 201)" = 1 ]
	[ "$(reboots_since 202)" = 0 ]
	run -255 on web01 true
	[[ $output == *"Host key verification failed"* ]]
	# shutdown needs no ssh; hl-vm apply starts it and reads its keys
	cv 0 shutdown web01 --yes
	run -0 hl-vm -C "$LAB" apply web01 --timeout 300
	run -0 on web01 hostname
	[ "$output" = web01 ]
	cv 0 reboot web01 --yes
	[ "$(host web01 | jq -r .action)" = rebooted ]
}

@test "hl-converge reboot: a host that does not answer ssh after its reboot times out (5) naming it; the next host is left alone" {
	# sshd on another port from the next boot on
	on web01 "echo 'Port 2222' | sudo tee /etc/ssh/sshd_config.d/zz-hl-test.conf > /dev/null"
	sim_mark
	cv 5 reboot web01 web02 --yes --timeout 6
	host web01 | jq -e '.action == "failed" and .error.reason == "timeout" and .error.code == 5 and .away_s == null and
		(.error.message | test("^web01 did not answer ssh within 6 s of its reboot \\(last try: .*Connection refused\\)$"))'
	[ "$(host web02 | jq -r '.action + ": " + .reason')" = "skipped: not reached: web01 failed first" ]
	[[ $stderr == *"web01 did not answer ssh within 6 s of its reboot"* ]]
	[ "$(reboots_since 201)" = 1 ]
	[ "$(reboots_since 202)" = 0 ]
	# back as it was: sshd on 22 again, with the same keys
	on web01 'sudo rm /etc/ssh/sshd_config.d/zz-hl-test.conf && sudo /etc/init.d/ssh restart > /dev/null' -p 2222
	for _ in $(seq 1 50); do
		on web01 true 2> /dev/null && break
		sleep 0.2
	done
	run -0 on web01 hostname
}

@test "hl-converge shutdown: without --yes lists (6); with --yes the VM is stopped; again it is skipped; reboot skips a stopped VM" {
	sim_mark
	cv 6 shutdown web02
	[ "$(host web02 | jq -r .action)" = would_shut_down ]
	sim_nothing_changed reads
	cv 0 shutdown web02 --yes --timeout 30
	[ "$(host web02 | jq -r '.action + ": " + .reason')" = "shut_down: requested" ]
	[[ $stderr == *"web02: shutting down VM 202 on pve2 (stopped hard after 30 s)"* ]]
	api GET /nodes/pve2/qemu/202/status/current
	jq -e '.data.status == "stopped"' <<<"$output"
	[[ $stderr == *"web02: VM 202 is stopped"* ]]
	cv 0 shutdown web02 --yes
	[ "$(host web02 | jq -r '.action + ": " + .reason')" = "skipped: already stopped" ]
	cv 0 reboot web02 --yes
	[ "$(host web02 | jq -r '.action + ": " + .reason')" = "skipped: not running" ]
	# back for the tests after: hl-vm starts it as declared
	run -0 hl-vm -C "$LAB" apply web02 --timeout 300
	running pve2 202
	run -0 on web02 hostname
}

@test "hl-converge reboot, shutdown: an external host, a VM of the host's name without hl's tag, or with another host's marker, are refused (6); a host without a VM fails (5)" {
	local fp
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/nas"
	fp=$(ssh-keygen -lf "$BATS_TEST_TMPDIR/nas.pub" | cut -d' ' -f2)
	printf 'hosts:\n  ext01:\n    kind: external\n    address: 10.77.0.60\n    host_key: %s\n    user: admin\n' \
		"$fp" > "$LAB/personas/ext.yaml"
	cv 6 reboot ext01 --yes --allow-dirty
	host ext01 | jq -e '.action == "failed" and .error.reason == "refused" and .node == null and
		.error.message == "ext01: an external host: hl-converge reboots and shuts down VMs through Proxmox only"'
	cv 6 shutdown ext01 web01 --yes --allow-dirty --dry-run
	host ext01 | jq -e '.action == "failed" and .error.code == 6'
	[ "$(host web01 | jq -r .action)" = would_shut_down ]
	rm "$LAB/personas/ext.yaml"
	[ -z "$(git -C "$LAB" status --porcelain)" ]
	# db01 has no VM yet
	sim_mark
	cv 5 reboot db01 --yes
	sim_nothing_changed reads
	host db01 | jq -e '.error.message == "db01: no VM of hl'"'"'s for it (hl-vm apply makes it)"'
	# a VM named db01 that hl did not make
	api POST /nodes/pve2/qemu -d vmid=211 -d name=db01 -d memory=512
	wait_task "$(jq -r .data <<<"$output")"
	api POST /nodes/pve2/qemu/211/status/start
	wait_task "$(jq -r .data <<<"$output")"
	sim_mark
	cv 6 reboot db01 --yes
	host db01 | jq -e '.error.message == "db01: VM 211 has its name but not the tag hl-demo: not hl'"'"'s to touch"'
	sim_nothing_changed reads
	# tagged, but its marker names another host
	api PUT /nodes/pve2/qemu/211/config --data-urlencode "tags=hl-demo" \
		--data-urlencode "description=hl: lab=demo host=web02 persona=web"
	[ "$status" = 200 ]
	sim_mark
	cv 6 shutdown db01 --yes
	host db01 | jq -e '.error.message == "db01: VM 211 has no marker of this lab and host: not hl'"'"'s to touch"'
	sim_nothing_changed
	api POST /nodes/pve2/qemu/211/status/stop
	wait_task "$(jq -r .data <<<"$output")"
	api DELETE /nodes/pve2/qemu/211
	wait_task "$(jq -r .data <<<"$output")"
}

@test "hl-converge reboot: the hosts of one reboot_batch are rebooted together, each back on ssh with its known key; a batch after a failure is not touched" {
	printf 'reboot_batch: pair\n' >> "$LAB/personas/web.yaml"
	commit_all "web: one reboot batch"
	cv 6 reboot @web
	jq -e '[.hosts[] | {name, batch, action}] == [
		{"name": "web01", "batch": "pair", "action": "would_reboot"},
		{"name": "web02", "batch": "pair", "action": "would_reboot"}]' <<<"$output"
	# db01 (no VM) goes first by name and fails: the batch after it waits
	sim_mark
	cv 5 reboot db01 @web --yes
	jq -e '[.hosts[] | {name, action}] == [{"name": "db01", "action": "failed"},
		{"name": "web01", "action": "skipped"}, {"name": "web02", "action": "skipped"}] and
		.hosts[0].batch == null and .hosts[1].reason == "not reached: db01 failed first"' <<<"$output"
	[ "$(reboots_since 201)" = 0 ]
	[ "$(reboots_since 202)" = 0 ]
	# each reboot task held 15 s by the simulator: one host at a time would
	# ask for web02's reboot only after web01's had ended
	faults '{"task_ms": 15000}'
	sim_mark
	cv 0 reboot @web --yes
	faults '{}'
	jq -e 'all(.hosts[]; .action == "rebooted" and .batch == "pair" and .away_s >= 15) and
		.hosts[0].requested_at < .hosts[1].back_at and .hosts[1].requested_at < .hosts[0].back_at' <<<"$output"
	[ "$(reboots_since 201)" = 1 ]
	[ "$(reboots_since 202)" = 1 ]
	[[ $stderr == *"batch pair: 2 hosts at once"* ]]
	run -0 on web01 hostname
	[ "$output" = web01 ]
	run -0 on web02 hostname
	[ "$output" = web02 ]
	spec_reset personas/web.yaml
}
