#!/usr/bin/env bats
# hl-sim: the Proxmox VE simulator's API, checked with curl and with
# clients written by others (python3-proxmoxer).  One simulator per file.

load test_helper
load sim_helper

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	# the key the nodes' SSH lets in (the lab's, as just setup makes it)
	mkdir -p "$BATS_FILE_TMPDIR/lab/.hl"
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_FILE_TMPDIR/lab/.hl/id_ed25519"
	sim_start
	# An image to download: a few MiB of something, with its sha512.
	mkdir -p "$BATS_FILE_TMPDIR/mirror"
	head -c 3145728 /dev/urandom > "$BATS_FILE_TMPDIR/mirror/img.qcow2"
	"$TOP/tests/sim/serve-file.py" "$BATS_FILE_TMPDIR/mirror" > "$BATS_FILE_TMPDIR/mirror.port" &
	echo $! > "$BATS_FILE_TMPDIR/mirror.pid"
	for _ in $(seq 1 50); do [ -s "$BATS_FILE_TMPDIR/mirror.port" ] && break; sleep 0.1; done
}

teardown_file() {
	kill "$(cat "$BATS_FILE_TMPDIR/mirror.pid")" 2>/dev/null || true
	sim_stop
}

setup() {
	common_setup
	sim_env
}

# A test that starts a simulator of its own stops it, even when it fails.
teardown() {
	local lab
	for lab in "$BATS_TEST_TMPDIR/example" "$BATS_TEST_TMPDIR/lab84" "$BATS_TEST_TMPDIR/single"; do
		[ -d "$lab/.hl/sim" ] && "$TOP/sim/hl-sim" stop --lab "$lab" 2>/dev/null
	done
	return 0
}

mirror_url() {
	echo "http://127.0.0.1:$(cat "$BATS_FILE_TMPDIR/mirror.port")/img.qcow2"
}

# download the mirror's image into local's import content, once
import_volume() {
	api GET /nodes/pve1/storage/local/content --get -d content=import
	if ! jq -e '.data | any(.volid == "local:import/img.qcow2")' <<<"$output" >/dev/null; then
		sum=$(sha512sum "$BATS_FILE_TMPDIR/mirror/img.qcow2" | cut -d' ' -f1)
		api POST /nodes/pve1/storage/local/download-url -d content=import \
			-d filename=img.qcow2 --data-urlencode "url=$(mirror_url)" \
			-d checksum-algorithm=sha512 -d "checksum=$sum"
		wait_task "$(jq -r .data <<<"$output")"
	fi
	echo "local:import/img.qcow2"
}

@test "hl-sim: start writes .hl/sim.env (0600) and prints it without the token" {
	[ "$(stat -c %a "$SIMLAB/.hl/sim.env")" = 600 ]
	grep -qE '^HL_PVE_ENDPOINT=https://127\.0\.0\.1:[0-9]+$' "$SIMLAB/.hl/sim.env"
	grep -qE "^HL_PVE_TOKEN='root@pam!hl=[0-9a-f-]{36}'$" "$SIMLAB/.hl/sim.env"
	[ -f "$HL_PVE_CAFILE" ]
	grep -q 'HL_PVE_TOKEN=(in .hl/sim.env)' "$BATS_FILE_TMPDIR/start.out"
	if grep -q "${HL_PVE_TOKEN#*=}" "$BATS_FILE_TMPDIR/start.out"; then false; fi
}

@test "hl-sim: curl with the CA and the token lists nodes pve1 and pve2, pinned fingerprint included" {
	api GET /nodes
	[ "$status" = 200 ]
	jq -e '[.data[].node] == ["pve1", "pve2"] and all(.data[]; .status == "online")' <<<"$output"
	jq -e --arg fp "$HL_PVE_FINGERPRINT" '.data[0].ssl_fingerprint == $fp' <<<"$output"
	# the fingerprint is the served certificate's
	served=$(openssl s_client -connect "${HL_PVE_ENDPOINT#https://}" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)
	[ "$served" = "$HL_PVE_FINGERPRINT" ]
}

@test "hl-sim: version and cluster status name the cluster" {
	api GET /version
	jq -e '.data.release == "9.1"' <<<"$output"
	api GET /cluster/status
	jq -e '.data[0] | .type == "cluster" and .name == "hl-sim" and .quorate == 1' <<<"$output"
}

@test "hl-sim: no token is 401 No ticket, a wrong one 401 authentication failure, both without a body" {
	run curl -sS -i --cacert "$HL_PVE_CAFILE" "$HL_PVE_ENDPOINT/api2/json/nodes"
	[[ "${lines[0]}" == "HTTP/1.1 401 No ticket"* ]]
	[[ "$output" == *"Content-Length: 0"* ]]
	run curl -sS -i --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=root@pam!hl=nope" \
		"$HL_PVE_ENDPOINT/api2/json/nodes"
	[[ "${lines[0]}" == "HTTP/1.1 401 authentication failure"* ]]
}

@test "hl-sim: unknown paths, and a body on GET or DELETE, are 501 as PVE answers them" {
	api GET /nodes/pve1/frobnicate
	[ "$status" = 501 ]
	[ "$reason" = "Method 'GET /nodes/pve1/frobnicate' not implemented" ]
	api GET /nodes -H 'Content-Type: application/x-www-form-urlencoded' --data-raw 'x=1' -X GET
	[ "$status" = 501 ]
	[ "$reason" = "Unexpected content for method 'GET'" ]
}

@test "hl-sim: parameter errors are 400 with the errors map and the message" {
	api GET /cluster/nextid --get -d foo=1
	[ "$status" = 400 ]
	[ "$reason" = "Parameter verification failed." ]
	jq -e '.data == null and .message == "Parameter verification failed.\n" and
		.errors.foo == "property is not defined in schema and the schema does not allow additional properties"' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=150 -d onboot=true
	[ "$status" = 400 ]
	jq -e '.errors.onboot | test("type check .+boolean.+ failed - got .true.")' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=99
	jq -e '.errors.vmid | test("valid VM ID|minimum")' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=150 --data-urlencode 'sshkeys=ssh-ed25519 AAAA x'
	jq -e '.errors.sshkeys | test("invalid urlencoded string")' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=150 -d 'net0=virtio,bridge=vmbr0,bogus=1'
	[ "$status" = 400 ]
	jq -e '.errors.net0 | startswith("invalid format - format error\n")' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=150 -d scsihw=bogus
	jq -e '.errors.scsihw == "value '"'"'bogus'"'"' does not have a value in the enumeration '"'"'lsi, lsi53c810, virtio-scsi-pci, virtio-scsi-single, megasas, pvscsi'"'"'"' <<<"$output"
	api POST /nodes/pve1/storage/local/download-url -d content=import -d filename=a.qcow2 \
		-d url=http://127.0.0.1/a.qcow2 -d checksum=abc
	jq -e '.errors["checksum-algorithm"] == "missing property required by '"'"'checksum'"'"'"' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=150 -d 'name=bad name'
	jq -e '.errors.name | test("valid DNS name")' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=150 -d 'ipconfig0=ip=10.0.0.5'
	jq -e '.errors.ipconfig0 | test("valid ipv4 network configuration")' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=150 -d 'scsi0=local-lvm:2,import-from=local:import/x.qcow2'
	[ "$status" = 400 ]
	jq -e '.errors.scsi0 | test("import-from. requires special syntax")' <<<"$output"
	# ';' separates pairs as '&' does: a client encodes it (%3B)
	api POST /nodes/pve1/qemu -d vmid=150 --data-urlencode 'tags=a;B;c d'
	[ "$status" = 200 ]
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/qemu/150/config
	jq -e '.data.tags == "a;b;c;d"' <<<"$output"
	api DELETE /nodes/pve1/qemu/150
	wait_task "$(jq -r .data <<<"$output")"
}

@test "hl-sim: nextid answers the next free id, and ?vmid= echoes a free one or names the VM" {
	api GET /cluster/nextid
	jq -e '.data | type == "string"' <<<"$output"
	api GET /cluster/nextid --get -d vmid=4242
	jq -e '.data == "4242"' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=4242
	wait_task "$(jq -r .data <<<"$output")"
	api GET /cluster/nextid --get -d vmid=4242
	[ "$status" = 400 ]
	jq -e '.errors.vmid == "VM 4242 already exists"' <<<"$output"
	api POST /nodes/pve2/qemu -d vmid=4242
	[ "$status" = 500 ]
	[ "$reason" = "unable to create VM 4242 - VM 4242 already exists on node 'pve1'" ]
	api DELETE /nodes/pve1/qemu/4242
	wait_task "$(jq -r .data <<<"$output")"
}

@test "hl-sim: download-url verifies the checksum in the task" {
	vol=$(import_volume)
	[ "$vol" = "local:import/img.qcow2" ]
	api GET /nodes/pve1/storage/local/content --get -d content=import
	jq -e '.data[] | select(.volid == "local:import/img.qcow2") | .size == 3145728' <<<"$output"
	api POST /nodes/pve1/storage/local/download-url -d content=import \
		-d filename=bad.qcow2 --data-urlencode "url=$(mirror_url)" \
		-d checksum-algorithm=sha256 -d checksum=0000000000000000000000000000000000000000000000000000000000000000
	[ "$status" = 200 ]
	wait_task "$(jq -r .data <<<"$output")"
	jq -e '.data.exitstatus | startswith("checksum mismatch: got ")' <<<"$output"
	api POST /nodes/pve1/storage/local-lvm/download-url -d content=import \
		-d filename=x.qcow2 --data-urlencode "url=$(mirror_url)"
	[ "$status" = 500 ]
	api POST /nodes/pve1/storage/local/download-url -d content=import \
		-d filename=x.txt --data-urlencode "url=$(mirror_url)"
	jq -e '.errors.filename == "invalid filename or wrong extension"' <<<"$output"
}

@test "hl-sim: upload takes an iso, a container template or an import image, checksum verified" {
	printf 'not really an iso' > "$BATS_TEST_TMPDIR/tiny.iso"
	sum=$(sha256sum "$BATS_TEST_TMPDIR/tiny.iso" | cut -d' ' -f1)
	api POST /nodes/pve1/storage/local/upload -F content=iso \
		-F checksum-algorithm=sha256 -F "checksum=$sum" -F "filename=@$BATS_TEST_TMPDIR/tiny.iso"
	[ "$status" = 200 ]
	wait_task "$(jq -r .data <<<"$output")"
	jq -e '.data.exitstatus == "OK"' <<<"$output"
	api GET /nodes/pve1/storage/local/content --get -d content=iso
	jq -e '.data[] | select(.volid == "local:iso/tiny.iso") | .size == 17' <<<"$output"
	api POST /nodes/pve1/storage/local/upload -F content=vztmpl -F "filename=@$BATS_TEST_TMPDIR/tiny.iso"
	[ "$status" = 400 ]
	jq -e '.errors.filename == "wrong file extension"' <<<"$output"
	api POST /nodes/pve1/storage/local-lvm/upload -F content=iso -F "filename=@$BATS_TEST_TMPDIR/tiny.iso"
	[ "$status" = 500 ]
}

@test "hl-sim: its mirror serves the built Debian 12 image under the pinned name, with a real checksum" {
	# scripts/setup builds the image (sim/images/build-debian-12)
	[ -f "$SIMLAB/.hl/sim-mirror.env" ]
	[ "$(stat -c %a "$SIMLAB/.hl/sim-mirror.env")" = 600 ]
	. "$SIMLAB/.hl/sim-mirror.env"
	[[ "$HL_SIM_MIRROR_URL" =~ ^http://127\.0\.0\.1:[0-9]+/images/debian-12-generic-amd64-20250210-2019\.qcow2$ ]]
	[[ "$HL_SIM_MIRROR_CHECKSUM" =~ ^sha512:[0-9a-f]{128}$ ]]
	api POST /nodes/pve2/storage/local/download-url -d content=import \
		-d filename=debian-12-generic-amd64-20250210-2019.qcow2 \
		--data-urlencode "url=$HL_SIM_MIRROR_URL" -d checksum-algorithm=sha512 \
		-d "checksum=${HL_SIM_MIRROR_CHECKSUM#sha512:}"
	[ "$status" = 200 ]
	wait_task "$(jq -r .data <<<"$output")"
	jq -e '.data.exitstatus == "OK"' <<<"$output"
	size=$(curl -sS -o /dev/null -w '%{size_download}' "$HL_SIM_MIRROR_URL")
	api GET /nodes/pve2/storage/local/content --get -d content=import
	jq -e --argjson size "$size" '.data[] | select(.volid ==
		"local:import/debian-12-generic-amd64-20250210-2019.qcow2") | .size == $size' <<<"$output"
	# the mirror serves images, not the tree they come from
	run curl -sS -o /dev/null -w '%{http_code}' "${HL_SIM_MIRROR_URL%/images/*}/images/"
	[ "$output" = 404 ]
}

@test "hl-sim: each node answers SFTP with its pinned host key, and a snippet put there is in local's content" {
	[ -f "$SIMLAB/.hl/sim-nodes.env" ]
	. "$SIMLAB/.hl/sim-nodes.env"
	[[ "$HL_SIM_PVE1_HOST_KEY" =~ ^ssh-ed25519\ [A-Za-z0-9+/]+=*$ ]]
	[ "$HL_SIM_PVE1_HOST_KEY" != "$HL_SIM_PVE2_HOST_KEY" ]
	echo "[127.0.0.1]:$HL_SIM_PVE1_SSH_PORT $HL_SIM_PVE1_HOST_KEY" > "$BATS_TEST_TMPDIR/kh"
	printf '#cloud-config\npackages: [qemu-guest-agent]\n' > "$BATS_TEST_TMPDIR/vendor.yaml"
	printf 'put %s /var/lib/vz/snippets/vendor.yaml\n' "$BATS_TEST_TMPDIR/vendor.yaml" > "$BATS_TEST_TMPDIR/batch"
	sftp_opts=(-i "$SIMLAB/.hl/id_ed25519" -o UserKnownHostsFile="$BATS_TEST_TMPDIR/kh"
		-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes)
	run -0 timeout 20 sftp -b "$BATS_TEST_TMPDIR/batch" "${sftp_opts[@]}" \
		-P "$HL_SIM_PVE1_SSH_PORT" root@127.0.0.1
	api GET /nodes/pve1/storage/local/content --get -d content=snippets
	jq -e '.data == [{volid: "local:snippets/vendor.yaml", content: "snippets",
		format: "snippet", size: 43, ctime: .data[0].ctime}]' <<<"$output"
	# pve2 has its own filesystem, and its own key: pve1's is refused there
	api GET /nodes/pve2/storage/local/content --get -d content=snippets
	jq -e '.data == []' <<<"$output"
	run -255 timeout 20 sftp -b "$BATS_TEST_TMPDIR/batch" "${sftp_opts[@]}" \
		-P "$HL_SIM_PVE2_SSH_PORT" root@127.0.0.1
	[[ "$output" == *"REMOTE HOST IDENTIFICATION HAS CHANGED"* || "$output" == *"Host key verification failed"* ]]
	# SFTP only: no shell on a node
	run timeout 20 ssh "${sftp_opts[@]}" -p "$HL_SIM_PVE1_SSH_PORT" root@127.0.0.1 id
	[ "$status" -ne 0 ]
	[[ "$output" != *"uid=0"* ]]
}

@test "hl-sim: a task is running at first, then stopped OK, with a log ending in TASK OK" {
	# slow tasks, so what is seen while one runs is seen for sure
	curl -sS --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" -X PUT \
		-H 'Content-Type: application/json' --data '{"task_ms": 3000}' "$HL_PVE_ENDPOINT/sim/faults"
	api POST /nodes/pve1/qemu -d vmid=160 -d 'scsi0=local-lvm:2'
	upid=$(jq -r .data <<<"$output")
	[[ "$upid" =~ ^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmcreate:160:root@pam!hl:$ ]]
	api GET "/nodes/pve1/tasks/$(jq -rn --arg u "$upid" '$u|@uri')/status"
	jq -e '.data.status == "running" and (.data | has("exitstatus") | not)' <<<"$output"
	api GET /nodes/pve1/qemu/160/status/current
	jq -e '.data.lock == "create"' <<<"$output"
	curl -sS --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" -X PUT \
		-H 'Content-Type: application/json' --data '{}' "$HL_PVE_ENDPOINT/sim/faults"
	wait_task "$upid"
	jq -e '.data.exitstatus == "OK" and .data.tokenid == "hl"' <<<"$output"
	api GET "/nodes/pve1/tasks/$(jq -rn --arg u "$upid" '$u|@uri')/log"
	jq -e '.data[-1].t == "TASK OK" and .total == (.data | length)' <<<"$output"
	api GET /nodes/pve1/qemu/160/config
	jq -e '.data.scsi0 == "local-lvm:vm-160-disk-0,size=2G" and (.data | has("lock") | not)' <<<"$output"
}

@test "hl-sim: create with import-from and a cloud-init drive, template, linked and full clones" {
	vol=$(import_volume)
	api POST /nodes/pve1/qemu -d vmid=9000 -d name=tpl -d memory=1024 \
		-d 'net0=virtio,bridge=vmbr0' -d "scsi0=local-lvm:0,import-from=$vol" \
		-d 'ide2=local-lvm:cloudinit' -d 'agent=enabled=1' -d 'serial0=socket'
	wait_task "$(jq -r .data <<<"$output")"
	jq -e '.data.exitstatus == "OK"' <<<"$output"
	api GET /nodes/pve1/qemu/9000/config
	jq -e '.data | .scsi0 == "local-lvm:vm-9000-disk-0,size=3M" and
		.ide2 == "local-lvm:vm-9000-cloudinit,media=cdrom" and
		(.net0 | test("^virtio=BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2},bridge=vmbr0$")) and
		(.smbios1 | startswith("uuid=")) and (.vmgenid | length == 36)' <<<"$output"
	api POST /nodes/pve1/qemu/9000/template
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/qemu/9000/config
	jq -e '.data.template == 1 and .data.scsi0 == "local-lvm:base-9000-disk-0,size=3M"' <<<"$output"
	api POST /nodes/pve1/qemu/9000/template
	[ "$reason" = "you can't convert a template to a template" ]
	# linked (the default from a template), and storage only with full
	api POST /nodes/pve1/qemu/9000/clone -d newid=301 -d storage=local-lvm
	[ "$status" = 400 ]
	jq -e '.errors.storage == "parameter '"'"'storage'"'"' not allowed for linked clones"' <<<"$output"
	# the clone's task is held long enough to meet its lock, not raced
	faults '{"task_ms": 4000}'
	api POST /nodes/pve1/qemu/9000/clone -d newid=301 -d name=linked
	upid=$(jq -r .data <<<"$output")
	api PUT /nodes/pve1/qemu/301/config -d cores=2
	[ "$status" = 500 ]
	[ "$reason" = "VM is locked (clone)" ]
	faults '{}'
	wait_task "$upid"
	api GET /nodes/pve1/qemu/301/config
	jq -e '.data.scsi0 == "local-lvm:base-9000-disk-0/vm-301-disk-0,size=3M" and .data.name == "linked"' <<<"$output"
	api POST /nodes/pve1/qemu/9000/clone -d newid=302 -d full=1
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/qemu/302/config
	jq -e '.data.scsi0 == "local-lvm:vm-302-disk-0,size=3M" and .data.name == "Copy-of-VM-tpl"' <<<"$output"
	# a clone to another node needs shared storage
	api POST /nodes/pve1/qemu/9000/clone -d newid=303 -d target=pve2 -d full=1
	[ "$reason" = "can't clone VM to node 'pve2' (VM uses local storage)" ]
	# the template's base disk is in use by the linked clone
	api DELETE /nodes/pve1/qemu/9000
	wait_task "$(jq -r .data <<<"$output")"
	jq -e '.data.exitstatus | test("in use by linked cloned VM 301")' <<<"$output"
}

@test "hl-sim: config digests, deletes and pending changes on a running VM" {
	api POST /nodes/pve1/qemu -d vmid=170 -d cores=1 -d 'description=first line
second: 50%'
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/qemu/170/config
	digest=$(jq -r .data.digest <<<"$output")
	jq -e '.data.description == "first line\nsecond: 50%"' <<<"$output"
	api PUT /nodes/pve1/qemu/170/config -d cores=2 -d "digest=$digest"
	[ "$status" = 200 ]
	api PUT /nodes/pve1/qemu/170/config -d cores=3 -d "digest=$digest"
	[ "$status" = 500 ]
	[ "$reason" = "checksum mismatch (file change by other user?)" ]
	api PUT /nodes/pve1/qemu/170/config
	[ "$reason" = "no options specified" ]
	api PUT /nodes/pve1/qemu/170/config -d cores=2 -d delete=cores
	[ "$status" = 400 ]
	api POST /nodes/pve1/qemu/170/status/start
	wait_task "$(jq -r .data <<<"$output")"
	api POST /nodes/pve1/qemu/170/config -d cores=4 -d name=renamed
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/qemu/170/pending
	jq -e '.data[] | select(.key == "cores") | .value == 2 and .pending == 4' <<<"$output"
	api GET /nodes/pve1/qemu/170/config --get -d current=1
	jq -e '.data.cores == 2 and .data.name == "renamed"' <<<"$output"
	api POST /nodes/pve1/qemu/170/status/reboot
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/qemu/170/config --get -d current=1
	jq -e '.data.cores == 4' <<<"$output"
	api POST /nodes/pve1/qemu/170/status/start
	wait_task "$(jq -r .data <<<"$output")"
	jq -e '.data.exitstatus == "VM 170 already running"' <<<"$output"
	api DELETE /nodes/pve1/qemu/170
	[ "$reason" = "VM 170 is running - destroy failed" ]
	api POST /nodes/pve1/qemu/170/status/stop
	wait_task "$(jq -r .data <<<"$output")"
	api DELETE /nodes/pve1/qemu/170 --get -d purge=1 -d destroy-unreferenced-disks=1
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/qemu/170/config
	[ "$reason" = "Configuration file 'nodes/pve1/qemu-server/170.conf' does not exist" ]
}

@test "hl-sim: what fails leaves nothing: an interrupted create, a half-possible update" {
	curl -sS --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" -X PUT \
		-H 'Content-Type: application/json' --data '{"task_ms": 3000}' "$HL_PVE_ENDPOINT/sim/faults"
	api POST /nodes/pve1/qemu -d vmid=175 -d 'scsi0=local-lvm:1'
	upid=$(jq -r .data <<<"$output")
	api DELETE "/nodes/pve1/tasks/$(jq -rn --arg u "$upid" '$u|@uri')"
	curl -sS --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" -X PUT \
		-H 'Content-Type: application/json' --data '{}' "$HL_PVE_ENDPOINT/sim/faults"
	wait_task "$upid"
	jq -e '.data.exitstatus == "received interrupt"' <<<"$output"
	api GET /nodes/pve1/qemu/175/config
	[ "$status" = 500 ]
	# an update that cannot be done whole changes nothing
	api POST /nodes/pve1/qemu -d vmid=176 -d name=before
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/storage/local-lvm/status
	avail=$(jq .data.avail <<<"$output")
	api PUT /nodes/pve1/qemu/176/config -d name=after -d 'scsi1=local-lvm:1' -d 'scsi2=local-lvm:5000'
	[ "$status" = 500 ]
	[[ "$reason" == "unable to create image: not enough free space"* ]]
	api GET /nodes/pve1/qemu/176/config
	jq -e '.data.name == "before" and (.data | has("scsi1") | not)' <<<"$output"
	api GET /nodes/pve1/storage/local-lvm/status
	[ "$(jq .data.avail <<<"$output")" = "$avail" ]
}

@test "hl-sim: disks leave as PVE has them: unusedN, freed with it, and an ISO is never the VM's" {
	printf 'iso' > "$BATS_TEST_TMPDIR/keep.iso"
	api POST /nodes/pve1/storage/local/upload -F content=iso -F "filename=@$BATS_TEST_TMPDIR/keep.iso"
	wait_task "$(jq -r .data <<<"$output")"
	api POST /nodes/pve1/qemu -d vmid=177 -d 'scsi0=local-lvm:1' \
		--data-urlencode 'ide0=local:iso/keep.iso,media=cdrom' -d 'ide2=local-lvm:cloudinit'
	wait_task "$(jq -r .data <<<"$output")"
	api PUT /nodes/pve1/qemu/177/config -d 'ide3=local-lvm:cloudinit'
	[ "$reason" = "cloud-init drive is already attached at 'ide2'" ]
	api PUT /nodes/pve1/qemu/177/config -d delete=bogus
	[ "$status" = 400 ]
	jq -e '.errors.delete == "unknown option '"'"'bogus'"'"'"' <<<"$output"
	api PUT /nodes/pve1/qemu/177/config -d delete=scsi0
	api GET /nodes/pve1/qemu/177/config
	jq -e '.data.unused0 == "local-lvm:vm-177-disk-0"' <<<"$output"
	api PUT /nodes/pve1/qemu/177/config -d delete=unused0
	api GET /nodes/pve1/storage/local-lvm/content
	jq -e '[.data[].volid] | index("local-lvm:vm-177-disk-0") == null' <<<"$output"
	api PUT /nodes/pve1/qemu/177/config --data-urlencode cipassword=hunter2 -d skiplock=1
	[ "$status" = 200 ]
	api GET /nodes/pve1/qemu/177/config
	jq -e '.data.cipassword == "**********"' <<<"$output"
	if grep -q hunter2 "$SIMLAB/.hl/sim/state.json"; then false; fi
	api DELETE /nodes/pve1/qemu/177
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/storage/local/content --get -d content=iso
	jq -e 'any(.data[]; .volid == "local:iso/keep.iso")' <<<"$output"
	api GET /nodes/pve1/storage/local-lvm/content
	jq -e '[.data[].volid] | index("local-lvm:vm-177-cloudinit") == null' <<<"$output"
}

@test "hl-sim: resize grows, refuses to shrink, and names a missing disk" {
	api POST /nodes/pve1/qemu -d vmid=180 -d 'scsi0=local-lvm:2'
	wait_task "$(jq -r .data <<<"$output")"
	api PUT /nodes/pve1/qemu/180/resize -d disk=scsi0 --data-urlencode size=+1G
	[ "$status" = 200 ]
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/qemu/180/config
	jq -e '.data.scsi0 == "local-lvm:vm-180-disk-0,size=3G"' <<<"$output"
	api PUT /nodes/pve1/qemu/180/resize -d disk=scsi0 -d size=1G
	wait_task "$(jq -r .data <<<"$output")"
	jq -e '.data.exitstatus == "shrinking disks is not supported"' <<<"$output"
	api PUT /nodes/pve1/qemu/180/resize -d disk=scsi1 -d size=1G
	wait_task "$(jq -r .data <<<"$output")"
	jq -e '.data.exitstatus == "disk '"'"'scsi1'"'"' does not exist"' <<<"$output"
}

@test "hl-sim: storage free space shrinks as disks are allocated" {
	api GET /nodes/pve2/storage/local-lvm/status
	before=$(jq .data.avail <<<"$output")
	api POST /nodes/pve2/qemu -d vmid=190 -d 'scsi0=local-lvm:10'
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve2/storage/local-lvm/status
	after=$(jq .data.avail <<<"$output")
	[ $((before - after)) -eq $((10 << 30)) ]
	api GET /nodes/pve2/storage --get -d content=images
	jq -e '[.data[].storage] == ["local", "local-lvm"]' <<<"$output"
	# a format only on file storages
	api POST /nodes/pve2/qemu -d vmid=191 -d 'scsi0=local-lvm:1,format=qcow2'
	wait_task "$(jq -r .data <<<"$output")"
	jq -e '.data.exitstatus == "unsupported format '"'"'qcow2'"'"'"' <<<"$output"
	api POST /nodes/pve2/qemu -d vmid=192 -d 'scsi0=local:1,format=raw'
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve2/qemu/192/config
	jq -e '.data.scsi0 == "local:192/vm-192-disk-0.raw,size=1G"' <<<"$output"
}

@test "hl-sim: the cloud-init dump is what PVE writes, and its instance-id follows identity changes" {
	keys=$(jq -rn --arg k "$(cat "$FIXTURES/base/keys/id.pub")" '$k|@uri')
	api POST /nodes/pve1/qemu -d vmid=240 -d name=web01 -d ciuser=debian \
		--data-urlencode "sshkeys=$keys" -d 'net0=virtio=BC:24:11:00:02:40,bridge=vmbr0' \
		-d 'ipconfig0=ip=10.77.0.40/24,gw=10.77.0.1' -d nameserver=10.77.0.1 \
		-d searchdomain=demo.lab -d ciupgrade=0 -d 'ide2=local-lvm:cloudinit'
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/qemu/240/cloudinit/dump --get -d type=user
	user=$(jq -r .data <<<"$output")
	[ "$user" = "#cloud-config
hostname: web01
manage_etc_hosts: true
fqdn: web01.demo.lab
user: debian
ssh_authorized_keys:
  - $(cat "$FIXTURES/base/keys/id.pub")
chpasswd:
  expire: False
users:
  - default" ]
	api GET /nodes/pve1/qemu/240/cloudinit/dump --get -d type=network
	[ "$(jq -r .data <<<"$output")" = "version: 1
config:
    - type: physical
      name: eth0
      mac_address: 'bc:24:11:00:02:40'
      subnets:
      - type: static
        address: '10.77.0.40'
        netmask: '255.255.255.0'
        gateway: '10.77.0.1'
    - type: nameserver
      address:
      - '10.77.0.1'
      search:
      - 'demo.lab'" ]
	api GET /nodes/pve1/qemu/240/cloudinit/dump --get -d type=meta
	first=$(jq -r .data <<<"$output")
	[[ "$first" =~ ^instance-id:\ [0-9a-f]{40}$ ]]
	api PUT /nodes/pve1/qemu/240/config -d 'ipconfig0=ip=10.77.0.41/24,gw=10.77.0.1'
	api GET /nodes/pve1/qemu/240/cloudinit/dump --get -d type=meta
	[ "$(jq -r .data <<<"$output")" != "$first" ]
	api PUT /nodes/pve1/qemu/240/config -d 'ipconfig0=ip=10.77.0.40/24,gw=10.77.0.1'
	api GET /nodes/pve1/qemu/240/cloudinit/dump --get -d type=meta
	[ "$(jq -r .data <<<"$output")" = "$first" ]
}

@test "hl-sim: the agent answers that it is not running, as PVE without a guest" {
	api POST /nodes/pve1/qemu -d vmid=200 -d agent=1
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/qemu/200/agent/network-get-interfaces
	[ "$reason" = "VM 200 is not running" ]
	api POST /nodes/pve1/qemu/200/status/start
	wait_task "$(jq -r .data <<<"$output")"
	api POST /nodes/pve1/qemu/200/agent/ping
	[ "$status" = 500 ]
	[ "$reason" = "QEMU guest agent is not running" ]
}

@test "hl-sim: a ticket needs its CSRF token for writes" {
	out=$(curl -sS --cacert "$HL_PVE_CAFILE" -d username=root@pam \
		--data-urlencode "password=$(jq -r '.secrets["password:root@pam"]' "$SIMLAB/.hl/sim/state.json")" \
		"$HL_PVE_ENDPOINT/api2/json/access/ticket")
	ticket=$(jq -r .data.ticket <<<"$out")
	csrf=$(jq -r .data.CSRFPreventionToken <<<"$out")
	[[ "$ticket" == PVE:root@pam:* ]]
	run curl -sS -i --cacert "$HL_PVE_CAFILE" -b "PVEAuthCookie=$ticket" "$HL_PVE_ENDPOINT/api2/json/nodes"
	[[ "${lines[0]}" == "HTTP/1.1 200 OK"* ]]
	run curl -sS -i --cacert "$HL_PVE_CAFILE" -b "PVEAuthCookie=$ticket" -X POST -d vmid=210 \
		"$HL_PVE_ENDPOINT/api2/json/nodes/pve1/qemu"
	[[ "${lines[0]}" == "HTTP/1.1 401 Permission denied - invalid csrf token"* ]]
	run curl -sS -i --cacert "$HL_PVE_CAFILE" -b "PVEAuthCookie=$ticket" -H "CSRFPreventionToken: $csrf" \
		-X POST -d vmid=210 "$HL_PVE_ENDPOINT/api2/json/nodes/pve1/qemu"
	[[ "${lines[0]}" == "HTTP/1.1 200 OK"* ]]
	run curl -sS -i --cacert "$HL_PVE_CAFILE" -d username=root@pam -d password=wrong \
		"$HL_PVE_ENDPOINT/api2/json/access/ticket"
	[[ "${lines[0]}" == "HTTP/1.1 401 authentication failure"* ]]
}

@test "hl-sim: python3-proxmoxer drives a VM's whole life against it" {
	vol=$(import_volume)
	run -0 /usr/bin/python3 "$TOP/tests/sim/proxmoxer-lifecycle.py" "$vol"
	[ "${lines[1]}" = "template 1" ]
	[ "${lines[3]}" = "config 2 px;sim" ]
	[ "${lines[4]}" = "resized 1027M" ]
	[ "${lines[5]}" = "status running" ]
	[ "${lines[6]}" = "status stopped" ]
	[ "${lines[7]}" = "destroyed []" ]
}

@test "hl-sim: Ansible's community.general.proxmox_kvm creates, clones, updates, starts, stops and removes" {
	LC_ALL=C.UTF-8 REQUESTS_CA_BUNDLE="$HL_PVE_CAFILE" ANSIBLE_LOCALHOST_WARNING=False \
		ANSIBLE_INVENTORY_UNPARSED_WARNING=False ANSIBLE_NOCOLOR=1 \
		run timeout 120 ansible-playbook "$TOP/tests/sim/proxmox_kvm.yml"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[[ "$output" == *"failed=0"* ]]
	api GET /cluster/resources --get -d type=vm
	jq -e '[.data[].vmid] | (index(710) == null) and (index(711) == null)' <<<"$output"
	run -0 curl -sS --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" \
		"$HL_PVE_ENDPOINT/sim/requests"
	jq -e 'any(.data[]; .method == "POST" and .path == "/api2/json/nodes/pve1/qemu/710/clone")' <<<"$output"
}

@test "hl-sim: the request log names parameters and whether a token came, never the token" {
	run -0 curl -sS --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" \
		"$HL_PVE_ENDPOINT/sim/requests"
	jq -e 'any(.data[]; .path == "/api2/json/nodes" and .token == true)' <<<"$output"
	[[ "$output" != *"${HL_PVE_TOKEN#*=}"* ]]
	grep -rqF "${HL_PVE_TOKEN#*=}" "$SIMLAB/.hl/sim/sim.log" && return 1 || true
}

@test "hl-sim: injected faults: the Nth call fails, a node offline answers 595" {
	fault() {
		curl -sS --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" \
			-X PUT -H 'Content-Type: application/json' --data "$1" "$HL_PVE_ENDPOINT/sim/faults"
	}
	fault '{"fail": [{"method": "GET", "path": "/version", "nth": 2, "status": 500, "message": "got timeout"}]}'
	api GET /version
	[ "$status" = 200 ]
	api GET /version
	[ "$status" = 500 ]
	[ "$reason" = "got timeout" ]
	api GET /version
	[ "$status" = 200 ]
	fault '{"nodes_offline": ["pve2"]}'
	api GET /nodes/pve2/status
	[ "$status" = 595 ]
	api GET /nodes
	jq -e '.data[1].status == "offline"' <<<"$output"
	fault '{"storages_full": ["pve1/local-lvm"], "bridges_missing": ["pve1/vmbr0"]}'
	api GET /nodes/pve1/storage/local-lvm/status
	jq -e '.data.avail == 0' <<<"$output"
	api GET /nodes/pve1/network
	jq -e '.data == []' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=230 -d 'scsi0=local-lvm:1'
	wait_task "$(jq -r .data <<<"$output")"
	jq -e '.data.exitstatus == "unable to create image: not enough free space on storage '"'"'local-lvm'"'"'"' <<<"$output"
	api GET /nodes/pve1/qemu/230/config
	[ "$status" = 500 ]
	fault '{"nextid_collisions": 1, "lock_timeout_rate": 1.0}'
	api POST /nodes/pve1/qemu -d vmid=231
	[ "$reason" = "unable to create VM 231 - VM 231 already exists on node 'pve1'" ]
	api POST /nodes/pve1/qemu -d vmid=231
	wait_task "$(jq -r .data <<<"$output")"
	api PUT /nodes/pve1/qemu/231/config -d cores=2
	[ "$reason" = "can't lock file '/var/lock/qemu-server/lock-231.conf' - got timeout" ]
	fault '{}'
	run -0 curl -sS --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" \
		-X POST -H 'Content-Type: application/json' --data '{"count": 3, "node": "pve2", "first": 5000}' \
		"$HL_PVE_ENDPOINT/sim/seed"
	jq -e '.data == [5000, 5001, 5002]' <<<"$output"
	api GET /nodes/pve2/qemu/5001/status/current
	jq -e '.data.status == "stopped" and .data.maxdisk == 8589934592' <<<"$output"
}

@test "hl-sim: after a crash the next start cleans up and carries on" {
	pid=$(cat "$SIMLAB/.hl/sim/sim.pid")
	sshd=$(cat "$SIMLAB/.hl/sim/nodes/pve1/sshd.pid")
	kill -9 "$pid"
	sleep 0.2
	sim_start
	[ "$(cat "$SIMLAB/.hl/sim/sim.pid")" != "$pid" ]
	api GET /nodes
	[ "$status" = 200 ]
	# the crashed one's node sshd is gone, a new one answers
	if alive "$sshd"; then false; fi
	[ "$(cat "$SIMLAB/.hl/sim/nodes/pve1/sshd.pid")" != "$sshd" ]
	# and stop after a crash stops what the crashed one left
	pid=$(cat "$SIMLAB/.hl/sim/sim.pid")
	sshd=$(cat "$SIMLAB/.hl/sim/nodes/pve1/sshd.pid")
	kill -9 "$pid"
	sleep 0.2
	run -0 "$TOP/sim/hl-sim" stop --lab "$SIMLAB"
	if alive "$sshd"; then false; fi
	if sim_running "$SIMLAB"; then false; fi
	sim_start
}

@test "hl-sim: a crashed simulator whose state directory is gone is cleaned up by the next start" {
	gone="$BATS_TEST_TMPDIR/gone"
	mkdir -p "$gone"
	: > "$gone/lab.yaml"
	other_net "$TOP/tests/sim/config.json" "$BATS_TEST_TMPDIR/other.json"
	"$TOP/sim/hl-sim" start --lab "$gone" --config "$BATS_TEST_TMPDIR/other.json" > /dev/null 2>&1
	tag=$(printf %s "$(realpath "$gone/.hl/sim")" | sha1sum | cut -c1-6)
	ip netns list | grep -q "^hls-$tag"
	kill -9 "$(cat "$gone/.hl/sim/sim.pid")"
	rm -rf "$gone"
	# the next start of any simulator removes what that one left
	sim_stop
	sim_start
	if ip netns list | grep -q "^hls-$tag"; then false; fi
	if ip link show "hls$tag" 2>/dev/null; then false; fi
	if sim_running "$gone"; then false; fi
	[ ! -e "/run/hl-sim/$tag" ]
}

@test "hl-sim: state survives a restart, and stop leaves no process behind" {
	api POST /nodes/pve2/qemu -d vmid=220 -d name=keep
	wait_task "$(jq -r .data <<<"$output")"
	pid=$(cat "$SIMLAB/.hl/sim/sim.pid")
	run -0 "$TOP/sim/hl-sim" stop --lab "$SIMLAB"
	if alive "$pid"; then false; fi
	if sim_running "$SIMLAB"; then false; fi
	run -0 "$TOP/sim/hl-sim" status --lab "$SIMLAB"
	jq -e '.running == false' <<<"$output"
	sim_start
	api GET /nodes/pve2/qemu/220/config
	jq -e '.data.name == "keep"' <<<"$output"
	grep -q "HL_PVE_ENDPOINT=$HL_PVE_ENDPOINT" "$SIMLAB/.hl/sim.env"
}

@test "hl-sim: a restart boots its nodes: a VM with onboot=1 runs again, one without stays stopped" {
	local vmid
	api POST /nodes/pve1/qemu -d vmid=260 -d name=boots -d onboot=1
	wait_task "$(jq -r .data <<<"$output")"
	api POST /nodes/pve2/qemu -d vmid=261 -d name=stays
	wait_task "$(jq -r .data <<<"$output")"
	# on pve2, startup order=1 goes before a lower vmid without an order
	api POST /nodes/pve2/qemu -d vmid=262 -d name=boots2 -d onboot=1 -d startup=order=1
	wait_task "$(jq -r .data <<<"$output")"
	api POST /nodes/pve2/qemu -d vmid=259 -d name=boots3 -d onboot=1
	wait_task "$(jq -r .data <<<"$output")"
	for vmid in 260:pve1 261:pve2 262:pve2 259:pve2; do
		api POST "/nodes/${vmid#*:}/qemu/${vmid%:*}/status/start"
		wait_task "$(jq -r .data <<<"$output")"
	done
	run -0 "$TOP/sim/hl-sim" stop --lab "$SIMLAB"
	sim_start
	# the nodes' startall tasks start them; a test polls
	for vmid in 260:pve1 262:pve2 259:pve2; do
		for _ in $(seq 1 100); do
			api GET "/nodes/${vmid#*:}/qemu/${vmid%:*}/status/current"
			[ "$(jq -r .data.status <<<"$output")" = running ] && break
			sleep 0.1
		done
		jq -e '.data.status == "running"' <<<"$output"
	done
	api GET /nodes/pve2/qemu/261/status/current
	jq -e '.data.status == "stopped"' <<<"$output"
	api GET /nodes/pve2/tasks
	upid=$(jq -r '[.data[] | select(.type == "startall" and .user == "root@pam")][0].upid' <<<"$output")
	wait_task "$upid"
	api GET "/nodes/pve2/tasks/$(jq -rn --arg u "$upid" '$u|@uri')/log"
	jq -e '[.data[].t | select(test("^Starting VM (259|261|262)$"))] == ["Starting VM 262", "Starting VM 259"]' <<<"$output"
	for vmid in 260:pve1 261:pve2 262:pve2 259:pve2; do
		api POST "/nodes/${vmid#*:}/qemu/${vmid%:*}/status/stop"
		wait_task "$(jq -r .data <<<"$output")"
		api DELETE "/nodes/${vmid#*:}/qemu/${vmid%:*}"
		wait_task "$(jq -r .data <<<"$output")"
	done
}

@test "hl-sim: GET /storage/{id} gives a storage's configuration as PVE does: a dir storage's path; Datastore.Allocate only" {
	api GET /storage/local
	[ "$status" = 200 ]
	jq -e '.data | .storage == "local" and .type == "dir" and .path == "/var/lib/vz"
		and (.content | split(",") | index("snippets") != null) and (.digest | length) == 40' <<<"$output"
	api GET /storage/local-lvm
	jq -e '.data | .type == "lvmthin" and (has("path") | not)' <<<"$output"
	api GET /storage/nope
	[ "$status" = 500 ]
	[ "$reason" = "storage 'nope' does not exist" ]
	HL_PVE_TOKEN="hl@pve!audit=$(jq -r '.secrets["token:hl@pve!audit"]' "$SIMLAB/.hl/sim/state.json")"
	api GET /storage/local
	[ "$status" = 403 ]
	[ "$reason" = "Permission check failed (/storage/local, Datastore.Allocate)" ]
}

@test "hl-sim: a token with privilege separation has only its own ACLs, within its user's" {
	secret=$(jq -r '.secrets["token:hl@pve!audit"]' "$SIMLAB/.hl/sim/state.json")
	HL_PVE_TOKEN="hl@pve!audit=$secret"
	api GET /nodes
	[ "$status" = 200 ]
	api POST /nodes/pve1/qemu -d vmid=500
	[ "$status" = 403 ]
	[ "$reason" = "Permission check failed (/vms/500, VM.Allocate)" ]
	api POST /nodes/pve1/qemu -d vmid=600
	[ "$status" = 200 ]
	wait_task "$(jq -r .data <<<"$output")"
	api GET /access/permissions
	jq -e '.data["/"]["VM.Audit"] == 1 and (.data["/"] | has("VM.Allocate") | not)' <<<"$output"
	api GET /cluster/resources --get -d type=vm
	jq -e '[.data[].vmid] | index(600) != null' <<<"$output"
}

@test "hl-sim: only root skips locks, and others' tasks need node privileges" {
	api POST /nodes/pve1/qemu -d vmid=610
	root_upid=$(jq -r .data <<<"$output")
	secret=$(jq -r '.secrets["token:hl@pve!audit"]' "$SIMLAB/.hl/sim/state.json")
	HL_PVE_TOKEN="hl@pve!audit=$secret"
	api PUT /nodes/pve1/qemu/600/config -d cores=2 -d skiplock=1
	[ "$status" = 400 ]
	jq -e '.errors.skiplock == "Only root may use this option."' <<<"$output"
	api DELETE "/nodes/pve1/tasks/$(jq -rn --arg u "$root_upid" '$u|@uri')"
	[ "$status" = 403 ]
	api GET /access/permissions --get -d userid=root@pam
	[ "$status" = 403 ]
}

@test "hl-sim: the 8.4 knob answers resize synchronously, with null" {
	lab84="$BATS_TEST_TMPDIR/lab84"
	mkdir -p "$lab84"
	: > "$lab84/lab.yaml"
	other_net "$TOP/tests/sim/config.json" "$BATS_TEST_TMPDIR/other.json"
	jq '. + {version: "8.4"}' "$BATS_TEST_TMPDIR/other.json" > "$BATS_TEST_TMPDIR/c84.json"
	"$TOP/sim/hl-sim" start --lab "$lab84" --config "$BATS_TEST_TMPDIR/c84.json" >/dev/null
	. "$lab84/.hl/sim.env"
	api GET /version
	jq -e '.data.release == "8.4"' <<<"$output"
	api POST /nodes/pve1/qemu -d vmid=100 -d 'scsi0=local-lvm:1'
	wait_task "$(jq -r .data <<<"$output")"
	api PUT /nodes/pve1/qemu/100/resize -d disk=scsi0 -d size=2G
	[ "$status" = 200 ]
	jq -e '.data == null' <<<"$output"
}

@test "hl-sim: every path and method it serves is in the official schema" {
	run -0 /usr/bin/python3 -m unittest discover -s "$TOP/sim/tests" -p 'test_*.py'
}

@test "hl-sim: just lab-up, lab-status and lab-down on the example lab, and no process stays" {
	need_just
	lab="$BATS_TEST_TMPDIR/example"
	mkdir -p "$lab"
	cp -r "$TOP/lab.yaml" "$TOP/personas" "$TOP/layers" "$TOP/justfile" "$lab/"
	ln -s "$TOP/sim" "$lab/sim"
	cd "$lab"
	echo '{}' > "$BATS_TEST_TMPDIR/default.json"
	other_net "$BATS_TEST_TMPDIR/default.json" "$BATS_TEST_TMPDIR/other.json"
	run -0 just lab-up --config "$BATS_TEST_TMPDIR/other.json"
	[[ "$output" == *"HL_PVE_ENDPOINT=https://127.0.0.1:"* ]]
	run -0 --separate-stderr just lab-status
	jq -e '.running == true' <<<"$output"
	# the example lab now takes its endpoint and trust from the simulator
	ssh-keygen -q -t ed25519 -N '' -f .hl/id_ed25519
	run -0 --separate-stderr "$TOP/bin/hl-validate" specs
	jq -e '.ok and .warnings == []' <<<"$output"
	pid=$(cat .hl/sim/sim.pid)
	sim_running "$lab"
	run -0 just lab-down
	run -0 --separate-stderr just lab-status
	jq -e '.running == false and .pid == null' <<<"$output"
	if alive "$pid"; then false; fi
	if sim_running "$lab"; then false; fi
	# one started with its state elsewhere is stopped by naming it
	run -0 just lab-up --state "$BATS_TEST_TMPDIR/elsewhere" --config "$BATS_TEST_TMPDIR/other.json"
	run -0 --separate-stderr just lab-status --state "$BATS_TEST_TMPDIR/elsewhere"
	jq -e '.running == true' <<<"$output"
	pid=$(cat "$BATS_TEST_TMPDIR/elsewhere/sim.pid")
	run -0 --separate-stderr just lab-down --state "$BATS_TEST_TMPDIR/elsewhere"
	[[ $stderr == *"hl-sim: stopped"* ]]
	if alive "$pid"; then false; fi
}

@test "hl-sim: a lab below a directory others may write is refused at start, saying why, not later" {
	local ww="$BATS_TEST_TMPDIR/shared"
	mkdir -m 1777 "$ww"
	mkdir "$ww/lab"
	: > "$ww/lab/lab.yaml"
	run -2 --separate-stderr "$TOP/sim/hl-sim" start --lab "$ww/lab" --config "$TOP/tests/sim/config.json"
	[[ $stderr == *"hl-sim: cannot start: the nodes' SSH"*"below $ww"*"not /tmp"* ]]
	[ ! -e "$ww/lab/.hl/sim.env" ]
	if sim_running "$ww/lab"; then false; fi
}

@test "hl-sim: a single node outside any cluster lists only itself; the lab knows it by its certificate" {
	local one="$BATS_TEST_TMPDIR/single"
	mkdir -p "$one"
	: > "$one/lab.yaml"
	other_net "$TOP/tests/sim/config.json" "$BATS_TEST_TMPDIR/other.json"
	jq '. + {cluster: null, nodes: {pve1: {bridges: ["vmbr0"], cpus: 4, memory_gib: 16}}}' \
		"$BATS_TEST_TMPDIR/other.json" > "$BATS_TEST_TMPDIR/single.json"
	# a standalone node is one node
	jq '. + {cluster: null}' "$BATS_TEST_TMPDIR/other.json" > "$BATS_TEST_TMPDIR/two.json"
	run -2 --separate-stderr "$TOP/sim/hl-sim" start --lab "$one" --config "$BATS_TEST_TMPDIR/two.json"
	[[ $stderr == *"a node outside any cluster (cluster: null) is one node, not 2"* ]]
	run -0 "$TOP/sim/hl-sim" start --lab "$one" --config "$BATS_TEST_TMPDIR/single.json"
	. "$one/.hl/sim.env"
	api GET /cluster/status
	jq -e '.data == [.data[0]] and .data[0].type == "node" and .data[0].name == "pve1" and .data[0].nodeid == 0' <<<"$output"
	output=$(curl -sS --cacert "$HL_PVE_CAFILE" -d username=root@pam \
		--data-urlencode "password=$(jq -r '.secrets["password:root@pam"]' "$one/.hl/sim/state.json")" \
		"$HL_PVE_ENDPOINT/api2/json/access/ticket")
	jq -e '.data.ticket and (.data | has("clustername") | not)' <<<"$output"
	# a lab that names a cluster is refused here; one that pins the node's
	# certificate may change it
	client=${HL_TEST_BIN:-$TOP/build/tests}/pve-client
	if HL_TEST_CLUSTER=hl-sim "$client" task POST /nodes/pve1/qemu vmid:=300 > "$BATS_TEST_TMPDIR/out"; then false; fi
	grep -qF "this is not a cluster, not cluster 'hl-sim' that lab.yaml expects" "$BATS_TEST_TMPDIR/out"
	run -0 env HL_TEST_PINS="pve1=$HL_PVE_FINGERPRINT" "$client" task POST /nodes/pve1/qemu vmid:=300
	"$TOP/sim/hl-sim" stop --lab "$one"
}

@test "hl-sim: a second simulator on a subnet the first routes is refused at start, naming the first" {
	local two="$BATS_TEST_TMPDIR/two"
	mkdir -p "$two"
	: > "$two/lab.yaml"
	routes=$(ip -4 route show)
	run -2 --separate-stderr "$TOP/sim/hl-sim" start --lab "$two" --config "$TOP/tests/sim/config.json"
	[[ $stderr == *"hl-sim: cannot start: vmbr0's network 10.77.0.0/24 is already routed on this machine, to the simulator of $(realpath "$SIMLAB/.hl/sim")"* ]]
	[ ! -e "$two/.hl/sim.env" ]
	if sim_running "$two"; then false; fi
	[ "$(ip -4 route show)" = "$routes" ]
	# the first one's guests are still reached through it
	ip -4 route show 10.77.0.0/24 | grep -q "dev hls"
}
