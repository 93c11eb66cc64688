#!/usr/bin/env bats
# hl-capture against real guests: the example lab's db01 (its data under
# /srv/notes, the notes stack's data path) and nas01 (the repository host,
# restic_server), plus app01, a second client whose repository db01 must
# not reach; made by hl-vm and converged by hl-converge once by setup_file,
# real restic over SFTP between them.

load test_helper
load sim_helper

PASSWORD=restic-pw-7d41c09e

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	KLAB="$BATS_FILE_TMPDIR/lab"
	example_lab "$KLAB"
	# a second client of the NAS, light: restic only
	cat > "$KLAB/personas/app.yaml" <<-'EOF'
	template: debian-12
	cores: 1
	memory: 512M
	disk: 8G
	roles: [restic]
	data: [/srv/app]
	boot_capture: true
	hosts:
	  app01:
	    vmid: 231
	    node: pve2
	    ip: 10.77.0.51/24
	EOF
	# boot disks go to the nodes' local storage, two kept per host
	sed -i 's/^    keep: {last: 7, daily: 7, weekly: 4}$/&\n  boot: {storage: local, mode: snapshot, keep: 2}/' \
		"$KLAB/lab.yaml"
	grep -q '^  boot: {storage: local' "$KLAB/lab.yaml"
	guest_lab_up "$KLAB" db01 nas01 app01
	export PATH="$TOP/bin:$PATH"
	hl-converge -C "$KLAB" apply db01 nas01 app01 > "$BATS_FILE_TMPDIR/converge.json" \
		2> "$BATS_FILE_TMPDIR/converge.err" || true
	export KLAB
}

teardown_file() {
	"$TOP/sim/hl-sim" stop --lab "$KLAB" 2>/dev/null || true
}

setup() {
	common_setup
	LAB=$KLAB
	SIMLAB=$KLAB
	sim_env
	export HL_RESTIC_PASSWORD=$PASSWORD
}

# cp WANT ARGS...: hl-capture on the lab, which must exit WANT
cp_() {
	expect_exit "$1" hl-capture -C "$LAB" "${@:2}"
}

# the data db01 holds: files of several sizes, owners and modes
seed_data() {
	root_on db01 'mkdir -p /srv/notes/deep/er && cd /srv/notes &&
		head -c 3000000 /dev/urandom > big.bin &&
		for i in $(seq 1 40); do echo "note $i" > n$i.txt; done &&
		echo secret-ish > deep/er/owned && chown 1234:5678 deep/er/owned &&
		chmod 640 deep/er/owned && chmod 2750 deep && ln -sf n1.txt link'
}

# fingerprint HOST: every file under the host's data path: sha256, owner,
# mode, name; one a line, sorted
fingerprint() {
	root_on "$1" 'cd /srv/notes && find . -printf "%p %U:%G %m %y\n" | sort &&
		find . -type f -exec sha256sum {} + | sort'
}

@test "hl-capture: L3 set both ends up: db01 reaches its own repository on nas01 over SFTP only, pinned" {
	jq -e 'all(.hosts[]; (.failed_tasks | length) == 0 and .unreachable == 0)' \
		"$BATS_FILE_TMPDIR/converge.json" || { cat "$BATS_FILE_TMPDIR/converge.err" >&2; false; }
	# the per-host keys hl made, root's own on the host
	[ -f "$LAB/.hl/restic/db01" ] && [ -f "$LAB/.hl/restic/app01" ]
	[ ! -e "$LAB/.hl/restic/nas01" ]
	run -0 root_on db01 'stat -c "%a %U" /root/.ssh/hl-restic; echo pwd | sftp -b - hl-restic'
	[ "${lines[0]}" = "600 root" ]
	[[ $output == *"Remote working directory: /repo"* ]]
	# no shell for the account, whatever is asked
	run root_on db01 'ssh hl-restic id'
	[[ $output == *"This service allows sftp connections only."* ]]
	# the NAS's key is pinned from .hl/known_hosts, not trusted on first use
	run -0 root_on db01 'cat /root/.ssh/hl-restic.known_hosts'
	grep -q "^nas01 " <<<"$output"
	[ "$(grep -c "^nas01 " "$LAB/.hl/known_hosts")" = "$(grep -c "^nas01 " <<<"$output")" ]
}

@test "hl-capture data: a fresh host is refused (6) until init --yes; then a tagged snapshot; list shows it" {
	seed_data
	cp_ 6 data db01
	jq -e '.hosts[0].error.message | test("db01: its data is not known to be authoritative .*hl-capture init db01 --yes")' <<<"$output"
	cp_ 6 init db01
	[[ $stderr == *"add --yes"* ]]
	# refused means untouched: no marker, no repository
	run -0 root_on nas01 'ls -A /srv/restic/restic-db01/repo | wc -l'
	[ "$output" = 0 ]
	# no repository yet: list has no snapshots, verify has nothing to
	# check (5, not damage), said in words rather than restic's
	cp_ 0 list db01
	jq -e '.hosts[0].snapshots == []' <<<"$output"
	cp_ 5 verify db01
	jq -e '.hosts[0].error.message == "db01: nothing to verify: its repository is not there yet: nothing was captured from it (hl-capture data or init makes it)"' <<<"$output"
	cp_ 0 init db01 --yes
	jq -e '.hosts[0].action == "initialised"' <<<"$output"
	# every host: db01 captured, app01 (not initialised) refused, the
	# others have nothing to capture
	cp_ 6 data
	# 42 files and the checksums of the 42, which the snapshot holds too
	jq -e '.hosts[] | select(.name == "db01") | .files_new == 43 and .paths == ["/srv/notes"] and
		.checksums.files == 42 and .checksums.hashed == 42 and
		(.snapshot | test("^[0-9a-f]{8}$")) and .bytes_added > 3000000' <<<"$output"
	jq -e '.hosts[] | select(.name == "app01") | .error.reason == "refused"' <<<"$output"
	jq -e '[.hosts[] | select(.name == "web01" or .name == "nas01") | .action] == ["none", "none"]' <<<"$output"
	# the notes stack is not deployed here: no container to run its
	# capture hooks in, so they are skipped, and the capture goes on
	jq -e '.hosts[] | select(.name == "db01") | [.hooks[] | .skipped] == [true, true]' <<<"$output"
	# unchanged: a new snapshot, nothing new in it
	cp_ 0 data db01
	# unchanged: no file read again for its checksum
	jq -e '.hosts[0].files_unmodified == 43 and .hosts[0].files_new == 0 and
		.hosts[0].checksums == {files: 42, bytes: (3000000 + 9 * 7 + 31 * 8 + 11), hashed: 0}' <<<"$output"
	cp_ 0 list db01
	jq -e --arg c "$(git -C "$LAB" rev-parse HEAD)" '.hosts[0].snapshots | length == 2 and
		(.[0].tags | sort) == (["hl", "host:db01", "persona:db", "commit:\($c)"] | sort)' <<<"$output"
}

@test "hl-capture restore: over data, refused without --yes (6) and nothing changed; with it every file back, owners and modes too" {
	before=$(fingerprint db01)
	root_on db01 'echo changed > /srv/notes/n1.txt; rm /srv/notes/n2.txt; echo new > /srv/notes/extra'
	changed=$(fingerprint db01)
	cp_ 6 restore db01
	jq -e '.hosts[0].replaces == ["/srv/notes"]' <<<"$output"
	[ "$(fingerprint db01)" = "$changed" ]
	cp_ 0 restore db01 --yes
	# what restic wrote, checked against the checksums taken at capture
	jq -e '.hosts[0] | .action == "restored" and .checksums == true and
		.verified.files == 42 and .verified.mismatches == [] and .paths == ["/srv/notes"]' <<<"$output"
	[ "$(fingerprint db01)" = "$before" ]
	# nothing of the old data stays aside; the marker names the snapshot
	run -0 root_on db01 'ls -d /srv/notes*; cat /var/lib/hl/capture.json'
	[ "${lines[0]}" = /srv/notes ]
	jq -e '.by == "restore" and (.snapshot | length) == 64' <<<"${lines[1]}"
}

@test "hl-capture: db01 destroyed and made anew (L2), converged (L3): capture refused, restore brings every file back byte-identical" {
	before=$(fingerprint db01)
	snap=$(hl-capture -C "$LAB" list db01 | jq -r '.hosts[0].snapshots[-1].short_id')
	run -0 hl-vm -C "$LAB" destroy db01 --yes
	run -0 --separate-stderr hl-vm -C "$LAB" apply db01 --timeout 300
	run -0 --separate-stderr hl-converge -C "$LAB" apply db01
	run -0 root_on db01 'ls -A /srv/notes 2>/dev/null | wc -l; test -e /var/lib/hl/capture.json && echo marker || echo none'
	[ "${lines[1]}" = none ]
	# the empty host never becomes the newest snapshot
	cp_ 6 data db01
	# a fresh host needs no --yes
	cp_ 0 restore db01
	jq -e --arg s "$snap" '.hosts[0].action == "restored" and .hosts[0].snapshot == $s' <<<"$output"
	[ "$(fingerprint db01)" = "$before" ]
	cp_ 0 data db01
}

@test "hl-capture: the password is in no output, no file on either side and no process list, while restic runs" {
	local seen="$BATS_TEST_TMPDIR/seen" stop="$BATS_TEST_TMPDIR/stop"
	root_on db01 'head -c 40000000 /dev/urandom > /srv/notes/large.bin'
	# every process of the machine, the guests' too (their PIDs are
	# visible here), sampled while it runs: no argument list holds the
	# password, and no environment of ssh, sshd, sudo, sh or restic on
	# either side (hl-capture's own has it: the operator gave it)
	( while [ ! -e "$stop" ]; do
		for p in /proc/[0-9]*; do
			{ read -r comm < "$p/comm"; cmd=$(tr '\0' ' ' < "$p/cmdline"); } 2>/dev/null ||
				continue
			case $cmd in *restic*backup*) echo restic >> "$seen" ;; esac
			case $cmd in *"$PASSWORD"*) echo "LEAK argv $p $comm" >> "$seen" ;; esac
			case $comm in ssh|sshd|sudo|sh|restic)
				env=$(tr '\0' '\n' < "$p/environ" 2>/dev/null) || env=
				case $env in *"$PASSWORD"*) echo "LEAK env $p $comm" >> "$seen" ;; esac ;;
			esac
		done
	done ) &
	cp_ 0 data db01 --progress=json
	touch "$stop"
	wait
	[[ $output$stderr != *"$PASSWORD"* ]]
	grep -q '^restic$' "$seen"
	run ! grep LEAK "$seen"
	# no file: the guests' filesystems and the lab
	run grep -rIl --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -e "$PASSWORD" \
		"$LAB/.hl/sim/guests" "$LAB"
	[ "$status" = 1 ]
	[ -z "$output" ]
	root_on db01 'rm /srv/notes/large.bin'
	# an unset password touches nothing: exit 3, naming the variable
	unset HL_RESTIC_PASSWORD
	cp_ 3 data db01
	[[ $stderr == *"HL_RESTIC_PASSWORD"* ]]
}

@test "hl-capture: a host reaches its own repository and no other host's on the NAS" {
	root_on app01 'mkdir -p /srv/app && echo app > /srv/app/f'
	cp_ 0 init app01 --yes
	cp_ 0 data app01
	# app01's key logs in as its own account only
	run root_on app01 'ssh -F /dev/null -i /root/.ssh/hl-restic -o BatchMode=yes -o StrictHostKeyChecking=yes \
		-o UserKnownHostsFile=/root/.ssh/hl-restic.known_hosts -o HostKeyAlias=nas01 \
		restic-db01@$(sed -n "s/^ *HostName //p" /root/.ssh/config) -s sftp </dev/null'
	[ "$status" -ne 0 ]
	[[ $output == *"Permission denied"* ]]
	# inside its chroot, db01's repository is not there to read
	run root_on app01 'printf "ls /\nls /../restic-db01\nls /srv\n" | sftp -b - hl-restic'
	[[ $output == *"/repo"* ]]
	[[ $output != *"restic-db01"*"config"* ]]
	run -0 root_on app01 'echo "cd /srv/restic/restic-db01" | sftp -b - hl-restic || echo refused'
	[[ $output == *"refused"* || $output == *"No such file"* ]]
	# restic pointed at the other repository's path fails
	run root_on app01 "restic -r sftp:hl-restic:/../restic-db01/repo --password-file /dev/null snapshots"
	[ "$status" -ne 0 ]
}

@test "hl-capture forget: the keep policy as a dry run lists what would go and removes nothing (from restic's JSON); --yes removes it" {
	cp_ 0 data db01
	cp_ 0 list db01
	local n
	n=$(jq '.hosts[0].snapshots | length' <<<"$output")
	[ "$n" -ge 3 ]
	sed -i 's/^    keep: .*/    keep: {last: 2}/' "$LAB/lab.yaml"
	cp_ 0 forget db01
	jq -e --argjson n "$n" '(.hosts[0].would_remove | length) == $n - 2 and (.hosts[0].kept | length) == 2' <<<"$output"
	cp_ 0 list db01
	jq -e --argjson n "$n" '.hosts[0].snapshots | length == $n' <<<"$output"
	cp_ 0 forget db01 --yes
	jq -e --argjson n "$n" '(.hosts[0].removed | length) == $n - 2' <<<"$output"
	cp_ 0 list db01
	jq -e '.hosts[0].snapshots | length == 2' <<<"$output"
	# the lab as setup_file made it (its boot block included)
	sed -i 's/^    keep: {last: 2}$/    keep: {last: 7, daily: 7, weekly: 4}/' "$LAB/lab.yaml"
	[ -z "$(git -C "$LAB" status --porcelain lab.yaml)" ]
}

@test "hl-capture verify: the data read and a restore drill pass; a corrupted pack on the NAS is exit 1 naming it" {
	cp_ 0 verify db01
	jq -e '.hosts[0] | .check.ok == true and .check.read_data == "100%" and
		.drill.ok == true and .drill.files == 43 and .drill.mismatches == [] and
		.drill.checksums.manifest == true and .drill.checksums.files == 42' <<<"$output"
	# the largest pack on the NAS, 64 bytes of it overwritten (a copy kept
	# to put back)
	pack=$(root_on nas01 'find /srv/restic/restic-db01/repo/data -type f -printf "%s %p\n" | sort -n | tail -1 | cut -d" " -f2')
	[ -n "$pack" ]
	root_on nas01 "cp -p $pack /root/pack.bak && dd if=/dev/urandom of=$pack bs=1 count=64 seek=1000 conv=notrunc 2>/dev/null"
	cp_ 1 verify db01
	jq -e '.hosts[0] | .check.ok == false and (.error.message | test("restic check found the repository damaged"))' <<<"$output"
	root_on nas01 "cp -p /root/pack.bak $pack && rm /root/pack.bak"
	cp_ 0 verify db01 --subset 50
	jq -e '.hosts[0].check.read_data == "50%"' <<<"$output"
}

@test "hl-capture: content unlike its checksum at capture (silent damage) fails verify (1) naming the file, and a restore of it (5) with the old data back" {
	# silent damage, as the host's checksum cache shows it: n3.txt known
	# by other bytes than it holds, its size, times and inode unchanged
	root_on db01 'python3 -c "
import json; p = \"/var/cache/hl/capture-sums.json\"; c = json.load(open(p))
c[\"/srv/notes/n3.txt\"][4] = \"0\" * 64; json.dump(c, open(p, \"w\"))"'
	cp_ 0 data db01
	jq -e '.hosts[0].checksums.hashed == 0' <<<"$output"
	cp_ 1 verify db01
	jq -e '.hosts[0] | .check.ok == true and .drill.ok == false and
		.drill.mismatches == ["/srv/notes/n3.txt: content differs from its checksum"] and
		(.error.message | test("does not match the snapshot"))' <<<"$output"
	before=$(fingerprint db01)
	marker=$(root_on db01 'cat /var/lib/hl/capture.json')
	cp_ 5 restore db01 --yes
	jq -e '.hosts[0] | .verified.mismatches == ["/srv/notes/n3.txt: content differs from its checksum"] and
		(.error.message | test("does not match the snapshot.s checksums .*the data it held is back"))' <<<"$output"
	[ "$(fingerprint db01)" = "$before" ]
	[ "$(root_on db01 'cat /var/lib/hl/capture.json; ls -d /srv/notes*')" = "$marker
/srv/notes" ]
	# without the cache every file is read again: the newest snapshot is sound
	root_on db01 'rm /var/cache/hl/capture-sums.json'
	cp_ 0 data db01
	jq -e '.hosts[0].checksums.hashed == 42' <<<"$output"
	cp_ 0 verify db01
}

@test "hl-capture data: the notes stack's hooks run in its container around the snapshot; a failing before fails the capture (5) and after runs anyway; a restore under it keeps it healthy" {
	NOTES_TOKEN=notes-token run -0 --separate-stderr hl-deploy -C "$LAB" apply db01
	cp_ 0 data db01
	jq -e '.hosts[0].hooks == [
		{stack: "notes", when: "before", service: "notes", ok: true, skipped: false},
		{stack: "notes", when: "after", service: "notes", ok: true, skipped: false}]' <<<"$output"
	# the copy the before hook made is in the snapshot; after removed it
	run -0 root_on db01 'test ! -e /srv/notes/notes.log.captured && echo removed'
	[ "$output" = removed ]
	run -0 root_on db01 "echo $PASSWORD | restic --no-cache -r sftp:hl-restic:/repo --password-file /dev/stdin ls latest"
	[[ $output == *"/srv/notes/notes.log.captured"* ]]
	cp_ 0 list db01
	n=$(jq '.hosts[0].snapshots | length' <<<"$output")
	# a before hook that fails: no snapshot, and the after hook still runs
	cat > "$LAB/layers/L4/stacks/notes/stack.yaml.new" <<-'EOF'
	health:
	  notes:
	    tcp: 8081
	timeout: 60
	secrets: [NOTES_TOKEN]
	data: [/srv/notes]
	capture:
	  before:
	    - {service: notes, command: [sh, -c, "echo flush refused >&2; exit 3"]}
	  after:
	    - {service: notes, command: [touch, /data/after-ran]}
	EOF
	mv "$LAB/layers/L4/stacks/notes/stack.yaml.new" "$LAB/layers/L4/stacks/notes/stack.yaml"
	cp_ 5 data db01
	jq -e '.hosts[0].error.message | test("notes: the capture hook before in notes failed: flush refused \\(exit 3\\)")' <<<"$output"
	jq -e '[.hosts[0].hooks[] | {when, ok}] == [{when: "before", ok: false}, {when: "after", ok: true}]' <<<"$output"
	run -0 root_on db01 'test -e /srv/notes/after-ran && rm /srv/notes/after-ran && echo ran'
	[ "$output" = ran ]
	cp_ 0 list db01
	jq -e --argjson n "$n" '.hosts[0].snapshots | length == $n' <<<"$output"
	# a before hook that outlasts its timeout fails the same way, in time
	sed -i 's/^    - {service: notes, command: \[sh, -c, "echo flush refused >&2; exit 3"\]}$/    - {service: notes, command: [sleep, "600"], timeout: 2}/' \
		"$LAB/layers/L4/stacks/notes/stack.yaml"
	grep -q 'timeout: 2}$' "$LAB/layers/L4/stacks/notes/stack.yaml"
	cp_ 5 data db01
	jq -e '.hosts[0].error.message | test("notes: the capture hook before in notes failed: did not finish within 2 s \\(exit 124\\)")' <<<"$output"
	jq -e '[.hosts[0].hooks[] | {when, ok}] == [{when: "before", ok: false}, {when: "after", ok: true}]' <<<"$output"
	cp_ 0 list db01
	jq -e --argjson n "$n" '.hosts[0].snapshots | length == $n' <<<"$output"
	git -C "$LAB" checkout -q layers/L4/stacks/notes/stack.yaml
	# a restore under the running stack: /srv/notes stays the directory its
	# container mounts, so the stack is still healthy with the data back
	root_on db01 'echo scribble > /srv/notes/notes.log'
	cp_ 0 restore db01 --yes
	run -0 root_on db01 'docker exec notes_notes_1 head -1 /data/notes.log'
	[[ $output == started* ]]
	NOTES_TOKEN=notes-token run -0 --separate-stderr hl-deploy -C "$LAB" plan db01 --exit-code
}

@test "hl-capture boot: app01's boot disk through vzdump, captures past keep removed; boot-restore puts the disk back over the VM, vmid and MAC kept" {
	root_on app01 'echo before > /etc/hl-boot-probe'
	api GET /nodes/pve2/qemu/231/config
	local net0
	net0=$(jq -r .data.net0 <<<"$output")
	cp_ 0 boot
	jq -e '.hosts[] | select(.name == "app01") | .action == "captured" and .vmid == 231 and
		.node == "pve2" and (.volid | startswith("local:backup/vzdump-qemu-231-")) and .size > 0' <<<"$output"
	jq -e '.hosts[] | select(.name == "db01") | .action == "none"' <<<"$output"
	first=$(jq -r '.hosts[] | select(.name == "app01") | .volid' <<<"$output")
	cp_ 0 boot app01
	cp_ 0 boot app01
	# keep: 2, so the first went
	jq -e --arg f "$first" '.hosts[0].pruned == [$f]' <<<"$output"
	cp_ 0 boot-list app01
	jq -e --arg f "$first" '.hosts[0].captures | length == 2 and all(.[]; .volid != $f)' <<<"$output"
	latest=$(jq -r '.hosts[0].captures[-1].volid' <<<"$output")
	root_on app01 'echo after > /etc/hl-boot-probe'
	cp_ 6 boot-restore app01
	[[ $stderr == *"add --yes"* ]]
	run -0 root_on app01 'cat /etc/hl-boot-probe'
	[ "$output" = after ]
	cp_ 0 boot-restore app01 --yes
	jq -e --arg l "$latest" '.hosts[0].action == "restored" and .hosts[0].volid == $l' <<<"$output"
	# the disk as captured; the same VM, reached with the same host key
	run -0 root_on app01 'cat /etc/hl-boot-probe'
	[ "$output" = before ]
	api GET /nodes/pve2/qemu/231/config
	[ "$(jq -r .data.net0 <<<"$output")" = "$net0" ]
	# only a boot_capture host, only a capture of it
	cp_ 6 boot-restore db01 --yes
	jq -e '.hosts[0].error.message | test("not a boot_capture host")' <<<"$output"
	cp_ 5 boot-restore app01 "local:backup/vzdump-qemu-999-2026_01_01-00_00_00.vma.zst" --yes
	jq -e '.hosts[0].error.message | test("is not a boot capture of VM 231")' <<<"$output"
	cp_ 2 boot-restore app01 nonsense
	[[ $stderr == *"'nonsense' is no capture"* ]]
}

@test "hl-capture boot --as-template: app01's capture becomes an artifact of its own template, which hl-template promotes and hl-vm clones: the clone boots the appliance's disk" {
	# the appliance's template: whatever app01's boot disk holds
	cat > "$LAB/layers/L1/templates/appliance.yaml" <<-'EOF'
	# app01's boot disk as captured: an appliance no cloud image rebuilds
	source: {boot_capture: app01}
	vmids: {first: 9200, last: 9209}
	storage: {disk: local-lvm, snippets: local}
	EOF
	git -C "$LAB" add layers/L1/templates/appliance.yaml
	git -C "$LAB" -c user.name=t -c user.email=t@hl commit -qm "appliance template"
	# not something hl-template builds
	run -6 --separate-stderr hl-template -C "$LAB" build appliance --node pve2
	jq -e '.templates[0].error.message | test("made from app01.s boot capture, not built: hl-capture boot --as-template appliance app01")' <<<"$output"
	cp_ 0 boot-list app01
	latest=$(jq -r '.hosts[0].captures[-1].volid' <<<"$output")
	api GET /nodes/pve2/qemu/231/config
	mac=$(jq -r '.data.net0' <<<"$output" | grep -o '[0-9A-F:]\{17\}')
	cp_ 0 boot --as-template appliance app01
	jq -e --arg l "$latest" '.hosts[0] | .action == "template" and .volid == $l and
		.artifact.template == "appliance" and .artifact.node == "pve2" and .artifact.vmid == 9200 and
		.artifact.source.boot_capture == {host: "app01", volid: $l} and (.artifact.digest | length) == 64' <<<"$output"
	id=$(jq -r '.hosts[0].artifact.id' <<<"$output")
	jq -e --arg id "$id" '.id == $id and .vmid == 9200' "$LAB/layers/L1/artifacts/appliance/pve2/$id.json"
	# a template of hl's, with MACs of its own, and none of app01's marks
	api GET /nodes/pve2/qemu/9200/config
	jq -e --arg id "$id" '.data.template == 1 and (.data.tags | split(";") | index("hl-template")) and
		(.data.description | test("template=appliance .*artifact=\($id)")) and
		(.data.description | test("host=") | not)' <<<"$output"
	[[ $(jq -r .data.net0 <<<"$output") != *"$mac"* ]]
	run -0 --separate-stderr hl-template -C "$LAB" promote appliance
	# a host on the appliance's template
	cat > "$LAB/personas/appliance.yaml" <<-'EOF'
	template: appliance
	cores: 1
	memory: 512M
	disk: 8G
	hosts:
	  app02:
	    vmid: 232
	    node: pve2
	    ip: 10.77.0.52/24
	EOF
	git -C "$LAB" add personas/appliance.yaml
	git -C "$LAB" -c user.name=t -c user.email=t@hl commit -qm app02
	expect_exit 0 hl-vm -C "$LAB" apply app02 --timeout 300
	run -0 root_on app02 'cat /etc/hl-boot-probe; hostname'
	[ "${lines[0]}" = before ]
	[ "${lines[1]}" = app02 ]
	# only a host the definition names; only a capture of it
	cp_ 6 boot --as-template appliance db01
	jq -e '.hosts[0].error.message | test("db01: not a boot_capture host")' <<<"$output"
	cp_ 3 boot --as-template debian-12 app01
	jq -e '.hosts[0].error.message | test("layers/L1/templates/debian-12.yaml with source: \\{boot_capture: app01\\}")' <<<"$output"
	cp_ 5 boot --as-template appliance app01 "local:backup/vzdump-qemu-999-2026_01_01-00_00_00.vma.zst"
	jq -e '.hosts[0].error.message | test("is not a boot capture of VM 231")' <<<"$output"
	run -0 hl-vm -C "$LAB" destroy app02 --yes
}

@test "hl-capture: usage errors and --help" {
	cp_ 2 frobnicate
	[[ $stderr == *"unknown verb 'frobnicate'"* ]]
	cp_ 2 restore
	[[ $stderr == *"restore needs the hosts it is for"* ]]
	cp_ 2 data --yes
	[[ $stderr == *"--yes is for init, restore, forget and boot-restore"* ]]
	cp_ 2 data --insecure
	[[ $stderr == *"--insecure is for the boot verbs"* ]]
	cp_ 2 data --subset 10
	[[ $stderr == *"--subset is for verify"* ]]
	for bad in 0 101 x ""; do
		cp_ 2 verify --subset "$bad"
		[[ $stderr == *"--subset needs a percent from 1 to 100"* ]]
	done
	cp_ 2 list --snapshot latest
	[[ $stderr == *"--snapshot is for restore"* ]]
	for bad in "" "xyz" "ABCDEF" "12 34"; do
		cp_ 2 restore db01 --snapshot "$bad"
		[[ $stderr == *"--snapshot needs a snapshot ID"* ]]
	done
	cp_ 2 data --as-template appliance
	[[ $stderr == *"--as-template is for boot"* ]]
	for bad in @app persona:app all; do
		cp_ 2 boot --as-template appliance "$bad"
		[[ $stderr == *"boot --as-template takes one host by its name, not '$bad'"* ]]
		cp_ 2 boot-restore "$bad" --yes
		[[ $stderr == *"boot-restore takes one host by its name"* ]]
	done
	cp_ 2 boot --as-template appliance app01 latest extra
	[[ $stderr == *"takes one host and, after it, a capture"* ]]
	run -0 hl-capture --help
	[[ $output == *"hl-capture restore SELECTOR..."* ]]
}
