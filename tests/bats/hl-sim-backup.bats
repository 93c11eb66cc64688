#!/usr/bin/env bats
# hl-sim's backups: vzdump writes an archive in the storage's dump
# directory, named as PVE names it; the storage lists it, extractconfig
# reads it, DELETE removes it; create with archive= restores it
# (sim/README.md, Backups).  VMs here are power states (blank disks); the
# guest whose files come back byte for byte is in hl-sim-guests.bats.

load test_helper
load sim_helper

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	mkdir -p "$BATS_FILE_TMPDIR/lab/.hl"
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_FILE_TMPDIR/lab/.hl/id_ed25519"
	sim_start
}

teardown_file() {
	sim_stop
}

setup() {
	common_setup
	sim_env
	DUMP="$SIMLAB/.hl/sim/nodes/pve1/root/var/lib/vz/dump"
}

# task CURL-ARGS...: an API call that starts a task; waits for it; fails
# unless it ended OK; leaves its UPID in $upid
task() {
	api "$@"
	[ "$status" = 200 ] || { echo "$status $reason $output" >&2; return 1; }
	upid=$(jq -r .data <<<"$output")
	wait_task "$upid" 60
	jq -e '.data.exitstatus == "OK"' <<<"$output"
}

# tasklog UPID: the task's log lines, one a line
tasklog() {
	api GET "/nodes/pve1/tasks/$(jq -rn --arg u "$1" '$u|@uri')/log" --get -d limit=0
	jq -r '.data[].t' <<<"$output"
}

# blank_vm VMID: a VM with a blank disk and a cloud-init drive
blank_vm() {
	task POST /nodes/pve1/qemu -d "vmid=$1" -d "name=vm-$1" -d scsi0=local-lvm:2 \
		-d ide2=local-lvm:cloudinit --data-urlencode net0=virtio,bridge=vmbr0 -d cores=2
}

uri() {
	jq -rn --arg u "$1" '$u|@uri'
}

@test "hl-sim backup: local holds backups, local-lvm cannot, and vzdump's parameters are checked as PVE checks them" {
	api GET /nodes/pve1/storage --get -d content=backup
	jq -e '[.data[].storage] == ["local"]' <<<"$output"
	blank_vm 500
	api POST /nodes/pve1/vzdump -d vmid=500 -d storage=local-lvm
	[ "$status" = 500 ]
	[ "$reason" = "could not get storage information for 'local-lvm': can't use storage 'local-lvm' for backups - wrong content type" ]
	api POST /nodes/pve1/vzdump -d storage=local
	[ "$status" = 400 ]
	jq -e '.errors.vmid | startswith("property is missing")' <<<"$output"
	api POST /nodes/pve1/vzdump -d vmid=500 -d compress=xz
	[ "$status" = 400 ]
	jq -e '.errors.compress | startswith("value")' <<<"$output"
	api POST /nodes/pve1/vzdump -d vmid=500 --data-urlencode 'prune-backups=keep-all=1,keep-last=2'
	[ "$status" = 400 ]
	jq -e '.errors."prune-backups" == "invalid format - keep-all cannot be set together with other options.\n"' <<<"$output"
	api POST /nodes/pve1/vzdump -d vmid=500 -d mode=freeze
	[ "$status" = 400 ]
	api POST /nodes/pve1/vzdump -d vmid=500 -d all=1
	[ "$status" = 400 ]
	jq -e '.errors.all == "option conflicts with option '"'vmid'"'"' <<<"$output"
	# nothing was written
	if ls "$DUMP"/vzdump-* 2>/dev/null; then false; fi
}

@test "hl-sim backup: vzdump of a running VM logs as PVE, locks it (backup) meanwhile, and leaves the archive, its .log and .notes in local's dump directory" {
	task POST /nodes/pve1/qemu/500/status/start
	faults '{"task_ms": 3000}'
	api POST /nodes/pve1/vzdump -d vmid=500 -d storage=local -d compress=zstd -d mode=snapshot \
		--data-urlencode 'notes-template={{guestname}} on {{node}} ({{vmid}})'
	[ "$status" = 200 ]
	upid=$(jq -r .data <<<"$output")
	[[ $upid =~ ^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vzdump:500:root@pam!hl:$ ]]
	seen=
	for _ in $(seq 1 60); do
		api GET /nodes/pve1/qemu/500/status/current
		[ "$(jq -r .data.lock <<<"$output")" = backup ] && { seen=1; break; }
		sleep 0.1
	done
	[ "$seen" = 1 ]
	faults '{}'
	wait_task "$upid" 30
	jq -e '.data.exitstatus == "OK"' <<<"$output"
	run -0 tasklog "$upid"
	[[ ${lines[0]} == "INFO: starting new backup job: vzdump 500 "*"--storage local"* ]]
	[ "${lines[1]}" = "INFO: Starting Backup of VM 500 (qemu)" ]
	[[ $output == *"INFO: status = running"* ]]
	[[ $output == *"INFO: include disk 'scsi0' 'local-lvm:vm-500-disk-0' 2G"* ]]
	[[ $output == *"INFO: backup mode: snapshot"* ]]
	[[ $output == *"INFO: adding notes to backup"* ]]
	[[ $output != *"vm-500-cloudinit"* ]]
	[[ $output =~ INFO:\ creating\ vzdump\ archive\ \'/var/lib/vz/dump/vzdump-qemu-500-[0-9]{4}_[0-9]{2}_[0-9]{2}-[0-9]{2}_[0-9]{2}_[0-9]{2}\.vma\.zst\' ]]
	[[ $output =~ INFO:\ Finished\ Backup\ of\ VM\ 500\ \([0-9]{2}:[0-9]{2}:[0-9]{2}\) ]]
	[ "${lines[-2]}" = "INFO: Backup job finished successfully" ]
	[ "${lines[-1]}" = "TASK OK" ]
	# the VM runs on, unlocked
	api GET /nodes/pve1/qemu/500/status/current
	jq -e '.data.status == "running" and (.data | has("lock") | not)' <<<"$output"
	# the archive is a real zstd file in the node's /var/lib/vz/dump
	run -0 ls "$DUMP"
	[ "${#lines[@]}" = 3 ]
	arc=$(ls "$DUMP"/*.vma.zst)
	base=${arc%.vma.zst}
	[ -f "$base.log" ] && [ -f "$arc.notes" ]
	grep -q "INFO: Starting Backup of VM 500 (qemu)" "$base.log"
	[ "$(cat "$arc.notes")" = "vm-500 on pve1 (500)" ]
	zstd -q -t "$arc"
	run -0 bash -c "zstd -q -d -c '$arc' | tar -t"
	[ "${lines[0]}" = qemu-server.conf ]
	# listed as PVE lists it
	api GET /nodes/pve1/storage/local/content --get -d content=backup
	name=${arc##*/}
	size=$(stat -c %s "$arc")
	jq -e --arg v "local:backup/$name" --argjson s "$size" '.data == [{volid: $v, content: "backup",
		format: "vma.zst", size: $s, ctime: .data[0].ctime, subtype: "qemu", vmid: 500,
		notes: "vm-500 on pve1 (500)"}]' <<<"$output"
	# ctime is the name's time
	stamp=$(sed -E 's/.*-([0-9]{4})_([0-9]{2})_([0-9]{2})-([0-9]{2})_([0-9]{2})_([0-9]{2})\..*/\1-\2-\3 \4:\5:\6/' <<<"$name")
	jq -e --argjson t "$(date -d "$stamp" +%s)" '.data[0].ctime == $t' <<<"$output"
	api GET /nodes/pve1/storage/local/content --get -d content=backup -d vmid=501
	jq -e '.data == []' <<<"$output"
	# it takes its room on the storage
	api GET /nodes/pve1/storage/local/status
	jq -e --argjson s "$size" '.data.used == $s and .data.avail == .data.total - $s' <<<"$output"
}

@test "hl-sim backup: extractconfig gives the config as archived: no lock, a #qmdump#map line per disk" {
	api GET /nodes/pve1/storage/local/content --get -d content=backup -d vmid=500
	vol=$(jq -r '.data[0].volid' <<<"$output")
	api GET /nodes/pve1/vzdump/extractconfig --get --data-urlencode "volume=$vol"
	[ "$status" = 200 ]
	conf=$(jq -r .data <<<"$output")
	[[ $conf == *$'\nname: vm-500\n'* ]]
	[[ $conf == *$'\nscsi0: local-lvm:vm-500-disk-0,size=2G\n'* ]]
	[[ $conf == *$'\nide2: local-lvm:vm-500-cloudinit,media=cdrom\n'* ]]
	[[ $conf == *$'\n#qmdump#map:scsi0:drive-scsi0:local-lvm:raw:' ]]
	[[ $conf != *"lock:"* ]]
	[ "$(grep -c '^#qmdump#' <<<"$conf")" = 1 ]
	api GET /nodes/pve1/vzdump/extractconfig --get --data-urlencode "volume=local:backup/vzdump-qemu-500-2001_01_01-00_00_00.vma.zst"
	[ "$status" = 500 ]
	[ "$reason" = "volume 'local:backup/vzdump-qemu-500-2001_01_01-00_00_00.vma.zst' does not exist" ]
}

@test "hl-sim backup: mode stop stops the running VM and starts it again; prune-backups keeps what it says" {
	sleep 1
	task POST /nodes/pve1/vzdump -d vmid=500 -d storage=local -d mode=stop -d compress=gzip \
		--data-urlencode 'prune-backups=keep-last=1'
	run -0 tasklog "$upid"
	[[ $output == *$'INFO: backup mode: stop\nINFO: ionice priority: 7\nINFO: stopping virtual guest\n'* ]]
	[[ $output == *"INFO: restarting vm"* ]]
	[[ $output == *"INFO: prune older backups with retention: keep-last=1"* ]]
	[[ $output =~ INFO:\ removing\ backup\ \'local:backup/vzdump-qemu-500-[0-9_-]+\.vma\.zst\' ]]
	[[ $output == *"INFO: pruned 1 backup(s) not covered by keep-retention policy"* ]]
	api GET /nodes/pve1/qemu/500/status/current
	jq -e '.data.status == "running"' <<<"$output"
	# only the new one is left, with nothing of the old one beside it
	api GET /nodes/pve1/storage/local/content --get -d content=backup
	jq -e '(.data | length) == 1 and (.data[0].volid | endswith(".vma.gz")) and .data[0].format == "vma.gz"' <<<"$output"
	run -0 ls "$DUMP"
	[ "${#lines[@]}" = 2 ]
	gzip -t "$DUMP"/*.vma.gz
}

@test "hl-sim backup: a protected backup is listed so and DELETE fails on it; DELETE removes another with its .log and .notes" {
	sleep 1
	task POST /nodes/pve1/vzdump -d vmid=500 -d storage=local -d protected=1 -d remove=0
	api GET /nodes/pve1/storage/local/content --get -d content=backup
	prot=$(jq -r '.data[] | select(.protected == 1) | .volid' <<<"$output")
	other=$(jq -r '.data[] | select(has("protected") | not) | .volid' <<<"$output")
	[[ $prot == local:backup/*.vma ]]
	[[ $other == local:backup/*.vma.gz ]]
	api DELETE "/nodes/pve1/storage/local/content/$(uri "$prot")"
	[ "$status" = 200 ]
	wait_task "$(jq -r .data <<<"$output")"
	jq -e --arg m "cannot remove protected volume '${prot#local:}' on 'local'" '.data.exitstatus == $m' <<<"$output"
	[ -f "$DUMP/${prot#local:backup/}" ]
	task DELETE "/nodes/pve1/storage/local/content/$(uri "$other")"
	[[ $upid == *":imgdel:500@local:"* ]]
	run -0 tasklog "$upid"
	[ "${lines[0]}" = "Removed volume '$other'" ]
	run -0 ls "$DUMP"
	[ "${#lines[@]}" = 3 ]
	if ls "$DUMP"/*.vma.gz* 2>/dev/null; then false; fi
	# a volume of the path's storage only
	api DELETE "/nodes/pve1/storage/local-lvm/content/$(uri "$prot")"
	[ "$status" = 400 ]
	jq -e '.errors.volume == "storage ID mismatch (local != local-lvm)"' <<<"$output"
}

@test "hl-sim backup: restore is refused over an existing VM without force, conflicts with disk options, and refuses a running VM" {
	api GET /nodes/pve1/storage/local/content --get -d content=backup -d vmid=500
	vol=$(jq -r '.data[0].volid' <<<"$output")
	api POST /nodes/pve1/qemu -d vmid=500 --data-urlencode "archive=$vol"
	[ "$status" = 500 ]
	[ "$reason" = "unable to restore VM 500 - VM 500 already exists on node 'pve1'" ]
	api POST /nodes/pve1/qemu -d vmid=500 --data-urlencode "archive=$vol" -d scsi0=local-lvm:1 -d force=1
	[ "$status" = 400 ]
	jq -e '.errors.scsi0 == "option conflicts with option '"'archive'"'"' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=502 -d force=1
	[ "$status" = 400 ]
	jq -e '.errors.archive == "missing property required by '"'force'"'"' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=500 --data-urlencode "archive=$vol" -d force=1
	[ "$status" = 200 ]
	wait_task "$(jq -r .data <<<"$output")"
	jq -e '.data.exitstatus == "unable to restore VM 500 - vm is running"' <<<"$output"
	api GET /nodes/pve1/qemu/500/status/current
	jq -e '.data.status == "running" and (.data | has("lock") | not) and .data.name == "vm-500"' <<<"$output"
}

@test "hl-sim backup: restore with force replaces the VM by the archived one, locked (create) while it runs; unique gives new MACs, start starts it" {
	api GET /nodes/pve1/storage/local/content --get -d content=backup -d vmid=500
	vol=$(jq -r '.data[0].volid' <<<"$output")
	task POST /nodes/pve1/qemu/500/status/stop
	api GET /nodes/pve1/qemu/500/config
	mac=$(jq -r .data.net0 <<<"$output" | sed -E 's/^virtio=([^,]+),.*/\1/')
	genid=$(jq -r .data.vmgenid <<<"$output")
	api PUT /nodes/pve1/qemu/500/config -d cores=4 -d name=changed
	faults '{"task_ms": 2000}'
	api POST /nodes/pve1/qemu -d vmid=500 --data-urlencode "archive=$vol" -d force=1 -d storage=local-lvm
	[ "$status" = 200 ]
	upid=$(jq -r .data <<<"$output")
	[[ $upid == *":qmrestore:500:root@pam!hl:" ]]
	api GET /nodes/pve1/qemu/500/status/current
	jq -e '.data.lock == "create"' <<<"$output"
	api PUT /nodes/pve1/qemu/500/config -d cores=1
	[ "$status" = 500 ]
	[ "$reason" = "VM is locked (create)" ]
	faults '{}'
	wait_task "$upid" 30
	jq -e '.data.exitstatus == "OK"' <<<"$output"
	run -0 tasklog "$upid"
	[[ $output == *"new volume ID is 'local-lvm:vm-500-disk-0'"* ]]
	[[ $output == *"map 'drive-scsi0' to '/dev/pve/vm-500-disk-0' (write zeros = 0)"* ]]
	api GET /nodes/pve1/qemu/500/config
	jq -e --arg mac "$mac" --arg g "$genid" '.data.cores == 2 and .data.name == "vm-500"
		and (.data.net0 | startswith("virtio=" + $mac + ","))
		and .data.vmgenid != $g and (.data | has("lock") | not)
		and .data.scsi0 == "local-lvm:vm-500-disk-0,size=2G"
		and .data.ide2 == "local-lvm:vm-500-cloudinit,media=cdrom"' <<<"$output"
	# a second VM from the same archive: new MACs with unique, started
	task POST /nodes/pve1/qemu -d vmid=501 --data-urlencode "archive=$vol" -d unique=1 -d start=1
	run -0 tasklog "$upid"
	[[ $output == *"Execute autostart"* ]]
	api GET /nodes/pve1/qemu/501/config
	jq -e --arg mac "$mac" '(.data.net0 | contains($mac) | not) and .data.scsi0 == "local-lvm:vm-501-disk-0,size=2G"' <<<"$output"
	api GET /nodes/pve1/qemu/501/status/current
	jq -e '.data.status == "running"' <<<"$output"
	# the pool of volumes has both VMs' disks and no more
	api GET /nodes/pve1/storage/local-lvm/content
	jq -e '[.data[].volid] | sort == ["local-lvm:vm-500-cloudinit", "local-lvm:vm-500-disk-0", "local-lvm:vm-501-cloudinit", "local-lvm:vm-501-disk-0"]' <<<"$output"
}

@test "hl-sim backup: python3-proxmoxer backs a VM up and restores it" {
	run -0 /usr/bin/python3 "$TOP/tests/sim/proxmoxer-backup.py" 520
	[ "${lines[0]}" = "backup vzdump 520" ]
	[ "${lines[1]}" = "listed 1 vma.zst px-backup" ]
	[ "${lines[2]}" = "config #qmdump#map:scsi0:drive-scsi0:local-lvm:raw:" ]
	[ "${lines[3]}" = "restore qmrestore" ]
	[ "${lines[4]}" = "restored px-backup local-lvm:vm-520-disk-0 new-mac" ]
	[ "${lines[5]}" = "left 0" ]
	# every call it made was checked against the schema and served
	run -0 curl -sS --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" \
		"$HL_PVE_ENDPOINT/sim/requests"
	jq -e 'any(.data[]; .method == "POST" and (.path | endswith("/nodes/pve1/vzdump")) and .status == 200)
		and any(.data[]; .method == "GET" and (.path | endswith("/vzdump/extractconfig")) and .status == 200)
		and any(.data[]; .method == "DELETE" and (.path | test("/storage/local/content/local%3Abackup%2Fvzdump-qemu-520-")) and .status == 200)' <<<"$output"
}
