#!/usr/bin/env bats
# hl-vm plan and status against the simulator: the example lab, VMs made
# through the API as hl-vm apply will make them (tag hl-demo, the host's
# name, the description marker), then changed to see each kind of drift.
# Its snippets storage is 'snip', a dir storage at a path of its own
# (/srv/snippets-elsewhere): the template's vendor-data and each VM's go
# where GET /storage/snip says, not where a guess would put them.

load test_helper
load sim_helper

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	VLAB="$BATS_FILE_TMPDIR/lab"
	# hl@pve (so its audit token) sees the storages, without
	# Datastore.Allocate: snip's configuration is not for it
	jq '.storages.snip = {type: "dir", content: ["snippets"], size_gib: 20,
		path: "/srv/snippets-elsewhere"}
		| .acls += [{path: "/storage", ugid: "hl@pve", role: "PVEDatastoreUser"}]' \
		"$TOP/tests/sim/config.json" > "$BATS_FILE_TMPDIR/sim.json"
	example_lab "$VLAB" "$BATS_FILE_TMPDIR/sim.json"
	sed -i 's/^  snippets: local$/  snippets: snip/' "$VLAB/layers/L1/templates/debian-12.yaml"
	grep -q '^  snippets: snip$' "$VLAB/layers/L1/templates/debian-12.yaml"
	export VLAB
}

teardown_file() {
	"$TOP/sim/hl-sim" stop --lab "$VLAB" 2>/dev/null || true
}

setup() {
	common_setup
	LAB=$VLAB
	SIMLAB=$VLAB
	sim_env
}

# vm WANT ARGS...: hl-vm on the lab, which must exit WANT
vm() {
	expect_exit "$1" hl-vm -C "$LAB" "${@:2}"
}

# web01 as hl-vm apply makes it: the example lab's values, tag and marker,
# onboot, and running (a VM without a guest to boot: a power state only)
make_web01() {
	local key ci
	key=$(cat "$LAB/.hl/id_ed25519.pub")
	# the lab's vendor-data (its apt proxy), as the plan of a create names it
	vm 0 plan web01
	ci=$(jq -r '.hosts[0].creates.cicustom' <<<"$output")
	[[ $ci == vendor=snip:snippets/hl-demo-vendor-*.yaml ]]
	api POST /nodes/pve1/qemu -d vmid=201 -d name=web01 --data-urlencode "tags=web;hl-demo" \
		--data-urlencode "cicustom=$ci" \
		-d cores=2 -d memory=1024 --data-urlencode net0=virtio,bridge=vmbr0 \
		--data-urlencode "ipconfig0=ip=10.77.0.21/24,gw=10.77.0.1" -d nameserver=10.77.0.1 \
		-d searchdomain=demo.lab -d ciuser=debian -d onboot=1 \
		--data-urlencode "sshkeys=$(jq -rn --arg k "$key" '$k|@uri')" -d scsi0=local-lvm:8 \
		--data-urlencode "description=hl: lab=demo host=web01 persona=web artifact=20261129T100000Z spec=0123abcd"
	wait_task "$(jq -r .data <<<"$output")"
	api POST /nodes/pve1/qemu/201/status/start
	wait_task "$(jq -r .data <<<"$output")"
}

# gone NODE VMID: that VM stopped and removed, if it exists
gone() {
	api GET "/nodes/$1/qemu/$2/status/current"
	[ "$status" = 200 ] || return 0
	if [ "$(jq -r .data.status <<<"$output")" = running ]; then
		api POST "/nodes/$1/qemu/$2/status/stop"
		wait_task "$(jq -r .data <<<"$output")" 30
	fi
	api DELETE "/nodes/$1/qemu/$2"
	wait_task "$(jq -r .data <<<"$output")" 30
}

# fresh_web01: make_web01 on a clean slate, whatever tests before left
fresh_web01() {
	gone pve1 201
	make_web01
}

change() {
	api PUT /nodes/pve1/qemu/201/config "$@"
	[ "$status" = 200 ]
}

@test "hl-vm plan: nothing exists yet, so every host is a create; --exit-code says changes are pending" {
	vm 0 plan
	jq -e '[.hosts[] | .name] == ["db01", "nas01", "web01", "web02"] and all(.hosts[]; .action == "create")' <<<"$output"
	# what a create will make is shown, not only that it will
	jq -e '.hosts[] | select(.name == "web01") | .creates | .node == "pve1" and .vmid == 201 and
		.template == "debian-12" and .channel == "stable" and .artifact == null and
		.cores == 2 and .memory_mib == 1024 and .disk_gib == 8 and .bridge == "vmbr0" and
		(.ip | test("10.77.0.21/24")) and .power == "running"' <<<"$output"
	vm 1 plan --exit-code
	vm 0 plan web01
	jq -e '.hosts | length == 1' <<<"$output"
	run hl-vm -C "$LAB" plan '@no such'
	[ "$status" = 2 ]
	run hl-vm -C "$LAB" status --exit-code
	[ "$status" = 2 ]
	# --help names every option the tool takes
	run -0 hl-vm --help
	for o in --exit-code --out --plan --timeout --parallel --allow-dirty --yes --dry-run --reboot --insecure; do
		[[ "$output" == *"$o "* ]]
	done
	run hl-vm -C "$LAB" apply --parallel 0
	[ "$status" = 2 ]
	[[ "$output" == *"--parallel needs a number of hosts from 1 to 64"* ]]
	run hl-vm -C "$LAB" plan --reboot
	[ "$status" = 2 ]
}

@test "hl-vm: a VM made as declared is a noop, and status reads its marker" {
	fresh_web01
	vm 0 plan --exit-code web01
	jq -e '.hosts[0] | .action == "noop" and .changes == [] and .node == "pve1" and .vmid == 201' <<<"$output"
	vm 0 status web01
	jq -e '.hosts[0] | .exists and .node == "pve1" and .vmid == 201 and .power == "running"
		and .spec_commit == "0123abcd" and .template_artifact == "20261129T100000Z"
		and .channel_artifact == null and .ip == null' <<<"$output"
	vm 0 status web02
	jq -e '.hosts[0] | .exists == false and .vmid == null' <<<"$output"
	# a key file named by its absolute path is the same key: no drift
	cp "$LAB/lab.yaml" "$BATS_TEST_TMPDIR/lab.yaml"
	sed -i "s|\.hl/id_ed25519\.pub|$LAB/.hl/id_ed25519.pub|" "$LAB/lab.yaml"
	grep -q "ssh_keys: \[$LAB/.hl/id_ed25519.pub\]" "$LAB/lab.yaml"
	vm 0 plan --exit-code web01
	jq -e '.hosts[0] | .action == "noop" and .changes == []' <<<"$output"
	cp "$BATS_TEST_TMPDIR/lab.yaml" "$LAB/lab.yaml"
}

@test "hl-vm plan: only the fields hl owns count; tags compare as sets without hl's; a MAC PVE made is no drift" {
	fresh_web01
	change --data-urlencode "tags=hl-demo;web;" -d onboot=1 -d balloon=0
	vm 0 plan --exit-code web01
	jq -e '.hosts[0].action == "noop"' <<<"$output"
	change --data-urlencode "tags=hl-demo;db"
	vm 1 plan --exit-code web01
	jq -e '.hosts[0].changes == [{"field": "tags", "from": ["db"], "to": ["web"], "reboot_needed": false, "rotates_host_keys": false}]' <<<"$output"
	change --data-urlencode "tags=web;hl-demo"
	# onboot follows the declared power state: a running VM starts with its node
	change -d onboot=0
	vm 1 plan --exit-code web01
	jq -e '.hosts[0] | .action == "update" and .changes == [{"field": "onboot", "from": false, "to": true, "reboot_needed": false, "rotates_host_keys": false}]' <<<"$output"
	change -d onboot=1
	api GET /nodes/pve1/qemu/201/config
	jq -e '.data.net0 | test("virtio=BC:24:11")' <<<"$output"
}

@test "hl-vm plan: cicustom is declared: a VM without the lab's vendor-data, or with another, is an update for its next boot" {
	api GET /nodes/pve1/qemu/201/config
	ci=$(jq -r .data.cicustom <<<"$output")
	change -d delete=cicustom
	vm 1 plan --exit-code web01
	jq -e --arg ci "$ci" '.hosts[0] | .action == "update" and .changes == [{"field": "cicustom", "from": null,
		"to": $ci, "reboot_needed": true, "rotates_host_keys": false}]' <<<"$output"
	change --data-urlencode "cicustom=vendor=local:snippets/other.yaml"
	vm 1 plan --exit-code web01
	jq -e '.hosts[0].changes[0] | .field == "cicustom" and .from == "vendor=local:snippets/other.yaml"' <<<"$output"
	change --data-urlencode "cicustom=$ci"
	vm 0 plan --exit-code web01
}

@test "hl-vm plan: memory is an update needing a reboot; new SSH keys rotate the host keys" {
	fresh_web01
	change -d memory=2048
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/k"
	change --data-urlencode "sshkeys=$(jq -rn --arg k "$(cat "$BATS_TEST_TMPDIR/k.pub")" '$k|@uri')"
	vm 1 plan --exit-code web01
	jq -e '.hosts[0].action == "update"' <<<"$output"
	jq -e '.hosts[0].changes[] | select(.field == "memory_mib") | .from == 2048 and .to == 1024 and .reboot_needed and (.rotates_host_keys | not)' <<<"$output"
	jq -e '.hosts[0].changes[] | select(.field == "ssh_keys") | .rotates_host_keys and (.to | length) == 1' <<<"$output"
	change -d memory=1024 --data-urlencode "sshkeys=$(jq -rn --arg k "$(cat "$LAB/.hl/id_ed25519.pub")" '$k|@uri')"
	vm 0 plan --exit-code web01
}

@test "hl-vm plan: a smaller declared disk is blocked, a larger one an update" {
	fresh_web01
	change -d scsi0=local-lvm:vm-201-disk-0,size=32G
	vm 1 plan --exit-code web01
	jq -e '.hosts[0] | .action == "blocked" and (.reason | test("disks only grow"))' <<<"$output"
	change -d scsi0=local-lvm:vm-201-disk-0,size=4G
	vm 1 plan --exit-code web01
	jq -e '.hosts[0] | .action == "update" and (.changes[] | select(.field == "disk_gib") | .from == 4 and .to == 8)' <<<"$output"
	change -d scsi0=local-lvm:vm-201-disk-0,size=8G
}

@test "hl-vm plan: a newly promoted template is reported as drift, not a replacement" {
	fresh_web01
	mkdir -p "$LAB/layers/L1"
	printf 'debian-12:\n  stable:\n    pve1: 20261129T120000Z\n' > "$LAB/layers/L1/channels.yaml"
	vm 0 plan --exit-code web01
	jq -e '.hosts[0] | .action == "noop" and .template_drift == "built from artifact 20261129T100000Z; stable is now 20261129T120000Z"' <<<"$output"
	vm 0 status web01
	jq -e '.hosts[0].channel_artifact == "20261129T120000Z"' <<<"$output"
	rm "$LAB/layers/L1/channels.yaml"
}

@test "hl-vm plan on a terminal: the document on stdout, and a diff for the person on stderr" {
	fresh_web01
	change -d memory=2048
	gone pve2 202
	script -qec "hl-vm -C '$LAB' plan web01 web02 2>&1 > '$BATS_TEST_TMPDIR/doc.json'" /dev/null |
		tr -d '\r' > "$BATS_TEST_TMPDIR/tty"
	cat "$BATS_TEST_TMPDIR/tty"
	jq -e '[.hosts[].action] == ["update", "create"]' "$BATS_TEST_TMPDIR/doc.json"
	grep -qxF "  ~ web01        update (201 on pve1)" "$BATS_TEST_TMPDIR/tty"
	grep -qxF "      memory_mib     2048 -> 1024  (at the next reboot)" "$BATS_TEST_TMPDIR/tty"
	grep -qE "^  \+ web02        create on pve2 as 202: debian-12 stable \(.*\), 2 cores, 1024 MiB, 8 GiB disk, vmbr0, ip=10.77.0.22/24,gw=10.77.0.1$" "$BATS_TEST_TMPDIR/tty"
	grep -qxF "Plan: 1 to create, 1 to update, 0 blocked, 0 unchanged." "$BATS_TEST_TMPDIR/tty"
	# not a terminal, or NDJSON progress asked: no diff
	vm 0 plan web01
	[[ $stderr != *"Plan:"* ]]
	script -qec "hl-vm -C '$LAB' plan web01 --progress=json 2>&1 > /dev/null" /dev/null > "$BATS_TEST_TMPDIR/tty"
	if grep -q "Plan:" "$BATS_TEST_TMPDIR/tty"; then false; fi
	change -d memory=1024
	script -qec "hl-vm -C '$LAB' plan web01 2>&1 > /dev/null" /dev/null | tr -d '\r' > "$BATS_TEST_TMPDIR/tty"
	grep -qxF "No changes: 1 host as declared." "$BATS_TEST_TMPDIR/tty"
}

@test "hl-vm: a VM of another lab or without the tag is not this host's" {
	gone pve2 202
	api POST /nodes/pve2/qemu -d vmid=202 -d name=web02 --data-urlencode "tags=hl-other"
	wait_task "$(jq -r .data <<<"$output")"
	vm 0 plan web02
	jq -e '.hosts[0].action == "create"' <<<"$output"
	api DELETE /nodes/pve2/qemu/202
	wait_task "$(jq -r .data <<<"$output")"
}

@test "hl-vm apply: .hl/ must be a real directory of hl's user that others cannot write: a link or a shared one is refused (6)" {
	local lab="$BATS_TEST_TMPDIR/own" elsewhere="$BATS_TEST_TMPDIR/elsewhere"
	cp -r "$FIXTURES/base" "$lab"
	mkdir "$elsewhere"
	ln -s "$elsewhere" "$lab/.hl"
	run -6 --separate-stderr hl-vm -C "$lab" apply --allow-dirty
	jq -e '.error.reason == "refused" and (.error.message | test("\\.hl is a symbolic link"))' <<<"$output"
	[ -z "$(ls -A "$elsewhere")" ]
	rm "$lab/.hl"
	mkdir -m 0777 "$lab/.hl"
	run -6 --separate-stderr hl-vm -C "$lab" destroy all --allow-dirty
	jq -e '.error.message | test("writable by others")' <<<"$output"
	[ ! -e "$lab/.hl/lock" ]
}

# The apply tests need a Git lab and a template: built and promoted on pve2
apply_lab() {
	if [ ! -d "$LAB/.git" ]; then
		printf '.hl/\n' > "$LAB/.gitignore"
		git -C "$LAB" init -q
		git -C "$LAB" add -A
		git -C "$LAB" -c user.name=t -c user.email=t@t commit -qm lab
	fi
	if ! grep -q 'pve2:' "$LAB/layers/L1/channels.yaml" 2>/dev/null; then
		run -0 hl-template -C "$LAB" build debian-12 --all-nodes --timeout 300
		git -C "$LAB" add -A
		git -C "$LAB" -c user.name=t -c user.email=t@t commit -qm built
		run -0 hl-template -C "$LAB" promote debian-12
	fi
	# the hosts' specs as the example lab declares them
	spec_reset personas/web.yaml personas/db.yaml
}

@test "hl-vm: --parallel and --timeout take whole numbers, checked: empty, nan, inf, overflow, trailing text, out of range are usage errors" {
	local bad
	for bad in "" nan inf -inf 0x10 1e999 4abc " 4" 65 0 -1 99999999999999999999; do
		vm 2 apply --parallel "$bad"
		[[ $stderr == *"--parallel needs a number of hosts from 1 to 64"* ]]
		[ "$output" = "" ]
	done
	for bad in "" nan inf 1e999 0 -5 30s 0x1p3; do
		vm 2 apply --timeout "$bad"
		[[ $stderr == *"--timeout needs a number of seconds above 0"* ]]
	done
	# good ones are read, and the next check speaks
	vm 2 plan --parallel 64 --timeout 1.5
	[[ $stderr == *"--parallel, --reboot and --timeout are for apply"* ]]
}

@test "hl-vm apply: creates hosts on two nodes; strict ssh with .hl/known_hosts reaches each; the next plan is all noop" {
	apply_lab
	# what tests before left goes first: hl makes all three anew
	gone pve1 201
	gone pve2 202
	gone pve2 211
	vm 0 apply web01 web02 db01 --timeout 300
	# the three at once (--parallel 4 by default): every clone began
	# before the first VM was up
	last_clone=$(grep -n ': cloning template' <<<"$stderr" | tail -1 | cut -d: -f1)
	first_up=$(grep -n ': VM [0-9]* is up at' <<<"$stderr" | head -1 | cut -d: -f1)
	[ "$(grep -c ': cloning template' <<<"$stderr")" = 3 ]
	[ "$last_clone" -lt "$first_up" ]
	jq -e '[.hosts[] | {name, node, action, ip}] == [
		{"name": "db01", "node": "pve2", "action": "created", "ip": "10.77.0.31"},
		{"name": "web01", "node": "pve1", "action": "created", "ip": "10.77.0.21"},
		{"name": "web02", "node": "pve2", "action": "created", "ip": "10.77.0.22"}]' <<<"$output"
	for h in web01:10.77.0.21 web02:10.77.0.22 db01:10.77.0.31; do
		run ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$LAB/.hl/known_hosts" \
			-o GlobalKnownHostsFile=/dev/null -o HostKeyAlias="${h%%:*}" -o BatchMode=yes \
			-o ConnectTimeout=10 -i "$LAB/.hl/id_ed25519" "debian@${h#*:}" hostname
		[ "$status" = 0 ]
		[ "$output" = "${h%%:*}" ]
	done
	# db01's declared MAC is the guest's
	api GET /nodes/pve2/qemu/211/config
	jq -e '.data.net0 | test("BC:24:11:4D:00:31"; "i")' <<<"$output"
	vm 0 plan --exit-code web01 web02 db01
	jq -e 'all(.hosts[]; .action == "noop")' <<<"$output"
	vm 0 status web02
	jq -e '.hosts[0] | .power == "running" and .ip == "10.77.0.22" and (.spec_commit | length) == 40
		and .template_artifact == .channel_artifact' <<<"$output"
	# a newly promoted template is drift to report, not a replacement
	run -0 hl-template -C "$LAB" build debian-12 --node pve1 --force --timeout 300
	git -C "$LAB" add -A
	git -C "$LAB" -c user.name=t -c user.email=t@t commit -qm rebuilt
	run -0 hl-template -C "$LAB" promote debian-12 --node pve1
	vm 0 plan --exit-code web01
	jq -e '.hosts[0] | .action == "noop" and (.template_drift | test("^built from artifact [0-9T]+Z; stable is now [0-9T]+Z$"))' <<<"$output"
	api POST /nodes/pve1/qemu/201/status/stop
	wait_task "$(jq -r .data <<<"$output")" 30
	api DELETE /nodes/pve1/qemu/201
	wait_task "$(jq -r .data <<<"$output")" 30
}

@test "hl-vm apply: a fresh clone keeps the lab's apt proxy (its own vendor-data, on the snippets storage at the path the API gives): apt-get update works through it" {
	apply_lab
	local node_root="$LAB/.hl/sim/nodes/pve1/root" proxy snippet
	proxy=$(grep '^HL_SIM_APT_PROXY=' "$LAB/.hl/sim-net.env" | cut -d= -f2- | tr -d "'\"")
	[[ $proxy == http://* ]]
	# a clone of its own: web01 made again if an earlier test left it
	if [ -n "$(hl-vm -C "$LAB" status web01 | jq -r '.hosts[0].vmid // empty')" ]; then
		vm 0 destroy web01 --yes
	fi
	# the lab's vendor-data is put where it is missing (earlier VMs left
	# it on pve1: gone, so this apply puts it)
	rm -f "$node_root"/srv/snippets-elsewhere/snippets/hl-demo-vendor-*.yaml
	vm 0 apply web01 --timeout 300
	jq -e '.hosts[0].action == "created"' <<<"$output"
	[[ $stderr == *"uploading the lab's vendor-data (apt proxy) to pve1:/srv/snippets-elsewhere/snippets/hl-demo-vendor-"* ]]
	# the template's vendor-data and the VM's are where snip's path is,
	# nothing where a guess (/mnt/pve/snip) would have put them
	[ -f "$node_root/srv/snippets-elsewhere/snippets/hl-demo-debian-12-agent.yaml" ]
	snippet=$(ls "$node_root"/srv/snippets-elsewhere/snippets/hl-demo-vendor-*.yaml)
	[ "$(wc -l <<<"$snippet")" = 1 ]
	[ -z "$(ls -A "$node_root/mnt/pve/snip/snippets" 2>/dev/null)" ]
	# JSON after the cloud-config line: the proxy, and nothing else
	head -1 "$snippet" | grep -qx '#cloud-config'
	tail -n +3 "$snippet" | jq -e --arg p "$proxy" '. == {apt: {proxy: $p}}'
	api GET /nodes/pve1/qemu/201/config
	jq -e --arg f "${snippet##*/}" '.data.cicustom == "vendor=snip:snippets/" + $f' <<<"$output"
	# the guest: cloud-init wrote the proxy on its first boot, and apt
	# goes through it at once (without it: 88 s, then a failure)
	guest() {
		run ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$LAB/.hl/known_hosts" \
			-o GlobalKnownHostsFile=/dev/null -o HostKeyAlias=web01 -o BatchMode=yes \
			-o ConnectTimeout=10 -i "$LAB/.hl/id_ed25519" debian@10.77.0.21 "$@"
	}
	guest cat /etc/apt/apt.conf.d/90cloud-init-aptproxy
	[ "$status" = 0 ] || {
		echo "ssh web01 cat ...: $status: $output" >&2
		false
	}
	[[ $output == *"$proxy"* ]]
	SECONDS=0
	guest sudo -n timeout 80 apt-get update
	echo "apt-get update: $status in $SECONDS s: $output" >&2
	[ "$status" = 0 ]
	[ "$SECONDS" -lt 60 ]
	[[ $output != *"Err:"* ]]
	# applied as declared: the next plan is noop
	vm 0 plan --exit-code web01
	# a token that may not read snip's configuration: the build says what
	# it needs before anything is made
	before=$(api GET /cluster/resources --get -d type=vm; jq -c '[.data[].vmid] | sort' <<<"$output")
	HL_PVE_TOKEN="hl@pve!audit=$(jq -r '.secrets["token:hl@pve!audit"]' "$LAB/.hl/sim/state.json")" \
		run --separate-stderr hl-template -C "$LAB" build debian-12 --node pve1 --force
	echo "$stderr" >&2
	[ "$status" = 4 ]
	[[ $stderr == *"reading where storage 'snip' keeps its snippets (GET /storage/snip) needs Datastore.Allocate on /storage/snip"* ]]
	after=$(api GET /cluster/resources --get -d type=vm; jq -c '[.data[].vmid] | sort' <<<"$output")
	[ "$before" = "$after" ]
	# 'local' is where the installer puts it, read or not: the same token
	# gets past the storages to the image (then it may not make the VM)
	sed -i 's/^  snippets: snip$/  snippets: local/' "$LAB/layers/L1/templates/debian-12.yaml"
	HL_PVE_TOKEN="hl@pve!audit=$(jq -r '.secrets["token:hl@pve!audit"]' "$LAB/.hl/sim/state.json")" \
		run --separate-stderr hl-template -C "$LAB" build debian-12 --node pve1 --allow-dirty
	git -C "$LAB" checkout -q -- layers/L1/templates
	echo "$stderr" >&2
	[ "$status" = 4 ]
	[[ $stderr == *"downloading http"* || $stderr == *"is already there (same checksum)"* ]]
	[[ $stderr != *"snippets"* ]]
	after=$(api GET /cluster/resources --get -d type=vm; jq -c '[.data[].vmid] | sort' <<<"$output")
	[ "$before" = "$after" ]
}

@test "hl-vm apply: an update in place; what needs a reboot waits for --reboot, then host keys are read again" {
	apply_lab
	# db01 as the example lab declares it, made or brought back
	vm 0 apply db01 --reboot --timeout 300
	vm 0 plan --exit-code db01
	# without --reboot: written to the config, pending for the reboot
	sed -i 's/^memory: 2G$/memory: 3G/' "$LAB/personas/db.yaml"
	git -C "$LAB" -c user.name=t -c user.email=t@t commit -qam "db01: 3G"
	vm 0 apply db01
	jq -e '.hosts[0] | .action == "updated" and (.reboot | startswith("pending"))
		and [.changes[].field] == ["memory_mib"]' <<<"$output"
	api GET /nodes/pve2/qemu/211/pending
	jq -e '.data | any(.key == "memory" and (.value | tonumber) == 2048 and (.pending | tonumber) == 3072)' <<<"$output"
	# plan still shows what the running VM waits for; apply again writes
	# nothing (the marker's spec commit included) and it stays pending
	vm 1 plan --exit-code db01
	jq -e '.hosts[0] | .action == "update" and .changes == [{"field": "memory_mib", "from": 2048,
		"to": 3072, "reboot_needed": true, "rotates_host_keys": false, "pending": true}]' <<<"$output"
	api GET /nodes/pve2/qemu/211/config
	digest=$(jq -r .data.digest <<<"$output")
	vm 0 apply db01
	jq -e '.hosts[0] | .action == "updated" and (.reboot | startswith("pending"))' <<<"$output"
	api GET /nodes/pve2/qemu/211/config
	[ "$(jq -r .data.digest <<<"$output")" = "$digest" ]
	# with --reboot: a new user is a new cloud-init instance, so the
	# guest's host keys rotate and are read again
	sed -i 's/^memory: 3G$/memory: 3G\nuser: dbadmin/' "$LAB/personas/db.yaml"
	git -C "$LAB" -c user.name=t -c user.email=t@t commit -qam "db01: user dbadmin"
	# a cloud-init value is in the config at once, yet the guest has the
	# old one until it boots again: plan says so (GET .../cloudinit)
	vm 0 apply db01
	vm 1 plan --exit-code db01
	jq -e '.hosts[0].changes | map(select(.pending) | .field) | sort == ["memory_mib", "user"]' <<<"$output"
	jq -e '.hosts[0].changes[] | select(.field == "user") | .from == "debian" and .to == "dbadmin" and .rotates_host_keys' <<<"$output"
	before=$(grep '^db01 ssh-ed25519' "$LAB/.hl/known_hosts")
	vm 0 apply db01 --reboot --timeout 300
	jq -e '.hosts[0] | .action == "updated" and .reboot == "done"
		and ([.changes[].field] | sort) == ["memory_mib", "user"]
		and any(.changes[]; .field == "user" and .rotates_host_keys)' <<<"$output"
	after=$(grep '^db01 ssh-ed25519' "$LAB/.hl/known_hosts")
	[ -n "$after" ] && [ "$after" != "$before" ]
	run ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$LAB/.hl/known_hosts" \
		-o GlobalKnownHostsFile=/dev/null -o HostKeyAlias=db01 -o BatchMode=yes \
		-o ConnectTimeout=10 -i "$LAB/.hl/id_ed25519" dbadmin@10.77.0.31 hostname
	[ "$status" = 0 ]
	[ "$output" = db01 ]
	vm 0 plan --exit-code db01
}

@test "hl-vm apply --reboot: hosts applied in parallel reboot one at a time, each back before the next goes down" {
	apply_lab
	# both web hosts made and running as declared first
	vm 0 apply @web --reboot --timeout 300
	vm 0 plan --exit-code @web
	sed -i 's/^memory: 1G$/memory: 2G/' "$LAB/personas/web.yaml"
	git -C "$LAB" -c user.name=t -c user.email=t@t commit -qam "web: 2G"
	vm 0 apply @web --reboot --timeout 300 --parallel 2 --progress=json
	jq -e '[.hosts[].reboot] == ["done", "done"]' <<<"$output" || {
		echo "$output $stderr" >&2
		false
	}
	seq=$(jq -r 'select(.message | test("^rebooting VM|is back$")) |
		if (.message | test("^rebooting")) then "down" else "back" end' <<<"$stderr" | tr '\n' ' ')
	[ "$seq" = "down back down back " ]
}

# ssh_to HOST USER IP: a command over ssh, the host key checked against
# .hl/known_hosts
ssh_to() {
	run ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$LAB/.hl/known_hosts" \
		-o GlobalKnownHostsFile=/dev/null -o HostKeyAlias="$1" -o BatchMode=yes \
		-o ConnectTimeout=10 -i "$LAB/.hl/id_ed25519" "$2@$3" hostname
	[ "$status" = 0 ]
	[ "$output" = "$1" ]
}

@test "hl-vm: a VM stopped behind hl's back is a power change; apply starts it, reads its host keys, and the next plan is noop; a simulator restart boots it again" {
	apply_lab
	vm 0 apply web01 --reboot --timeout 300
	vm 0 plan --exit-code web01
	api POST /nodes/pve1/qemu/201/status/stop
	wait_task "$(jq -r .data <<<"$output")" 30
	vm 1 plan --exit-code web01
	jq -e '.hosts[0] | .action == "update" and .changes == [{"field": "power", "from": "stopped",
		"to": "running", "reboot_needed": false, "rotates_host_keys": false}]' <<<"$output"
	# apply boots it as a create does: cloud-init waited for, keys read
	sed -i '/^web01 /d' "$LAB/.hl/known_hosts"
	vm 0 apply web01 --timeout 300
	jq -e '.hosts[0] | .action == "updated" and .power == "running" and .reboot == "not needed"
		and [.changes[].field] == ["power"]' <<<"$output"
	[[ $stderr == *"web01: starting VM 201 (declared power: running)"* ]]
	api GET /nodes/pve1/qemu/201/status/current
	jq -e '.data.status == "running"' <<<"$output"
	grep -q '^web01 ssh-ed25519 ' "$LAB/.hl/known_hosts"
	ssh_to web01 debian 10.77.0.21
	vm 0 plan --exit-code web01
	jq -e '.hosts[0] | .action == "noop" and .changes == []' <<<"$output"
	vm 0 apply web01
	jq -e '.hosts[0] | .action == "noop" and .power == "running"' <<<"$output"
	# a restarted simulator boots its nodes: hl's VMs (onboot=1) start,
	# real guests, and stay as declared
	run -0 "$TOP/sim/hl-sim" stop --lab "$LAB"
	run -0 "$TOP/sim/hl-sim" start --lab "$LAB" --config "$BATS_FILE_TMPDIR/sim.json"
	sim_env
	for _ in $(seq 1 60); do
		ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$LAB/.hl/known_hosts" \
			-o GlobalKnownHostsFile=/dev/null -o HostKeyAlias=web01 -o BatchMode=yes \
			-o ConnectTimeout=2 -i "$LAB/.hl/id_ed25519" debian@10.77.0.21 true 2>/dev/null && break
		sleep 1
	done
	ssh_to web01 debian 10.77.0.21
	vm 0 plan --exit-code web01
}

@test "hl-vm: power: stopped shuts a running VM down and keeps it off its node's boot; a create declared stopped is left stopped without host keys" {
	apply_lab
	vm 0 apply web02 --reboot --timeout 300
	vm 0 plan --exit-code web02
	sed -i 's/^    vmid: 202$/    vmid: 202\n    power: stopped/' "$LAB/personas/web.yaml"
	git -C "$LAB" -c user.name=t -c user.email=t@t commit -qam "web02: stopped"
	vm 1 plan --exit-code web02
	jq -e '.hosts[0] | .action == "update" and ([.changes[] | {field, from, to}] | sort_by(.field)) == [
		{"field": "onboot", "from": true, "to": false},
		{"field": "power", "from": "running", "to": "stopped"}]' <<<"$output"
	vm 0 apply web02 --timeout 300
	jq -e '.hosts[0] | .action == "updated" and .power == "stopped"' <<<"$output"
	[[ $stderr == *"web02: shutting down VM 202 (declared power: stopped; stopped hard after 60 s)"* ]]
	api GET /nodes/pve2/qemu/202/status/current
	jq -e '.data.status == "stopped"' <<<"$output"
	api GET /nodes/pve2/qemu/202/config
	jq -e '(.data.onboot | tonumber) == 0' <<<"$output"
	vm 0 plan --exit-code web02
	jq -e '.hosts[0] | .action == "noop" and .changes == []' <<<"$output"
	vm 0 apply web02
	jq -e '.hosts[0] | .action == "noop" and .power == "stopped"' <<<"$output"
	# made anew while declared stopped: created, never started, no keys
	vm 0 destroy web02 --yes
	if grep -q '^web02 ' "$LAB/.hl/known_hosts"; then false; fi
	vm 0 plan web02
	jq -e '.hosts[0] | .action == "create" and .creates.power == "stopped"' <<<"$output"
	vm 0 apply web02 --timeout 300
	jq -e '.hosts[0] | .action == "created" and .power == "stopped" and .ip == null' <<<"$output"
	[[ $stderr == *"web02: VM 202 is made and left stopped"* ]]
	api GET /nodes/pve2/qemu/202/status/current
	jq -e '.data.status == "stopped"' <<<"$output"
	api GET /nodes/pve2/qemu/202/config
	jq -e '(.data.onboot | tonumber) == 0 and (.data.description | test("state=") | not)' <<<"$output"
	if grep -q '^web02 ' "$LAB/.hl/known_hosts"; then false; fi
	vm 0 plan --exit-code web02
	# declared running again: started, its first boot waited for, keys read
	sed -i '/^    power: stopped$/d' "$LAB/personas/web.yaml"
	git -C "$LAB" -c user.name=t -c user.email=t@t commit -qam "web02: running"
	vm 0 apply web02 --timeout 300
	jq -e '.hosts[0] | .action == "updated" and .power == "running"' <<<"$output"
	ssh_to web02 debian 10.77.0.22
	vm 0 plan --exit-code web02
}

@test "hl-vm apply: a vmid held by a VM hl does not manage is refused (6)" {
	apply_lab
	gone pve2 202
	gone pve1 202
	api POST /nodes/pve1/qemu -d vmid=202 -d name=squatter
	wait_task "$(jq -r .data <<<"$output")"
	vm 6 apply web02
	jq -e '.hosts[0] | .action == "failed" and (.error.message | test("vmid 202 is held by a VM hl does not manage"))' <<<"$output"
	api DELETE /nodes/pve1/qemu/202
	wait_task "$(jq -r .data <<<"$output")"
}

@test "hl-vm apply: a template without the agent fails within the timeout, the VM removed; dirty specs refused" {
	apply_lab
	gone pve2 202
	copy="$BATS_TEST_TMPDIR/lab"
	cp -r "$LAB" "$copy"
	sed -i 's/^agent: install$/agent: builtin/' "$copy/layers/L1/templates/debian-12.yaml"
	sed -i 's/^vmids: {first: 9000, last: 9099}$/vmids: {first: 9100, last: 9199}/' "$copy/layers/L1/templates/debian-12.yaml"
	run -0 hl-template -C "$copy" build debian-12 --node pve2 --allow-dirty
	run -0 hl-template -C "$copy" promote debian-12 --node pve2 --no-commit --allow-dirty
	run --separate-stderr hl-vm -C "$copy" apply web02 --timeout 15
	[ "$status" = 6 ]
	[[ $stderr == *"uncommitted changes"* ]]
	SECONDS=0
	run --separate-stderr hl-vm -C "$copy" apply web02 --timeout 15 --allow-dirty
	[ "$status" = 5 ]
	[ "$SECONDS" -lt 60 ]
	[[ $stderr == *"web02 (VM 202 on pve2): no guest agent within 15 s"* ]]
	[[ $stderr == *"removed the half-made VM 202"* ]]
	api GET /nodes/pve2/qemu/202/status/current
	[ "$status" = 500 ]
}

@test "hl-vm destroy: lists without --yes (6); with it stops and purges hl's VM and its known_hosts lines; a VM without the marker is refused" {
	apply_lab
	vm 0 apply db01 --timeout 300
	gone pve2 202
	grep -q '^db01 ' "$LAB/.hl/known_hosts"
	vm 6 destroy db01
	jq -e '.hosts[0] | .action == "would_destroy" and .vmid == 211' <<<"$output"
	[[ $stderr == *"hl-vm: destroy would remove the listed VMs: --yes to do it"* ]]
	api GET /nodes/pve2/qemu/211/status/current
	[ "$status" = 200 ]
	vm 0 destroy db01 --yes
	jq -e '.hosts[0].action == "destroyed"' <<<"$output"
	[[ $stderr == *"hl-vm: db01: destroyed VM 211 on pve2"* ]]
	api GET /nodes/pve2/qemu/211/status/current
	[ "$status" = 500 ]
	if grep -q '^db01 ' "$LAB/.hl/known_hosts"; then false; fi
	# tagged for this lab and named so, but not made by hl for the host
	api POST /nodes/pve2/qemu -d vmid=202 -d name=web02 --data-urlencode "tags=hl-demo"
	wait_task "$(jq -r .data <<<"$output")"
	vm 6 destroy web02 --yes
	jq -e '.hosts[0] | .action == "failed" and (.error.message | test("no marker of this lab and host")) and .error.reason == "refused" and .error.code == 6' <<<"$output"
	api GET /nodes/pve2/qemu/202/status/current
	[ "$status" = 200 ]
	run hl-vm -C "$LAB" destroy
	[ "$status" = 2 ]
	gone pve2 202
}

# the VMs as the API lists them, to show a dry run left them as they were
vms_now() {
	api GET /cluster/resources --get -d type=vm
	jq -c '[.data[] | {vmid, node, name, status, template}] | sort_by(.vmid)' <<<"$output"
}

@test "hl-vm apply --dry-run: says what it would create and update, sends nothing that changes anything, exit 0; fails where apply would" {
	apply_lab
	# db01 absent: a create; web01 as declared, then more memory: an update
	gone pve2 211
	vm 0 apply web01 --reboot --timeout 300
	sed -i 's/^memory: 1G$/memory: 3G/' "$LAB/personas/web.yaml"
	git -C "$LAB" -c user.name=t -c user.email=t@t commit -qam "web: 3G"
	before=$(vms_now)
	sim_mark
	vm 0 apply db01 web01 --dry-run
	jq -e '.dry_run == true and [.hosts[] | {name, node, vmid, action}] == [
		{"name": "db01", "node": "pve2", "vmid": 211, "action": "would_create"},
		{"name": "web01", "node": "pve1", "vmid": 201, "action": "would_update"}]' <<<"$output"
	jq -e '.hosts[0] | .template_vmid >= 9000 and (.artifact | test("^[0-9]{8}T[0-9]{6}Z$"))' <<<"$output"
	jq -e '.hosts[1] | [.changes[].field] == ["memory_mib"] and .reboot == "pending: --reboot applies it"' <<<"$output"
	[[ $stderr == *"hl-vm: db01: would clone template "*" to VM 211 on pve2"* ]]
	[[ $stderr == *"hl-vm: web01: would write VM 201's config"* ]]
	vm 0 apply web01 --dry-run --reboot
	jq -e '.dry_run and .hosts[0].reboot == "would reboot"' <<<"$output"
	[[ $stderr == *"web01: would reboot VM 201"* ]]
	sim_nothing_changed reads
	[ "$(vms_now)" = "$before" ]
	vm 1 plan --exit-code db01 web01
	jq -e '[.hosts[].action] == ["create", "update"]' <<<"$output"
	# the checks apply makes are made: dirty specs, another cluster
	echo "# edited" >> "$LAB/personas/web.yaml"
	vm 6 apply web01 --dry-run
	[[ $stderr == *"uncommitted changes"* ]]
	git -C "$LAB" checkout -q personas/web.yaml
	sed -i 's/^  cluster: hl-sim$/  cluster: production/' "$LAB/lab.yaml"
	grep -q '^  cluster: production$' "$LAB/lab.yaml"
	vm 6 apply db01 web01 --dry-run --allow-dirty
	jq -e 'all(.hosts[]; .action == "failed" and .error.reason == "refused"
		and (.error.message | test("not cluster .production. that lab.yaml expects")))' <<<"$output"
	git -C "$LAB" checkout -q lab.yaml
	sim_nothing_changed
	[ "$(vms_now)" = "$before" ]
	# --dry-run is for the verbs that change something
	vm 2 plan --dry-run
	spec_reset personas/web.yaml
}

@test "hl-vm destroy --dry-run: lists what it would destroy, no --yes needed, exit 0; sends nothing that changes anything; a VM hl did not make is still refused" {
	apply_lab
	# web01 made by hl and running; web02 tagged for the lab by hand, with
	# no marker; db01 absent
	vm 0 apply web01 --timeout 300
	gone pve2 211
	gone pve2 202
	api POST /nodes/pve2/qemu -d vmid=202 -d name=web02 --data-urlencode "tags=hl-demo"
	wait_task "$(jq -r .data <<<"$output")"
	api GET /nodes/pve1/qemu/201/status/current
	[ "$(jq -r .data.status <<<"$output")" = running ]
	before=$(vms_now)
	sim_mark
	vm 0 destroy web01 --dry-run
	jq -e '.dry_run == true and .hosts == [{"name": "web01", "node": "pve1", "vmid": 201, "action": "would_destroy"}]' <<<"$output"
	[[ $stderr == *"hl-vm: web01: would destroy VM 201 on pve1"* ]]
	vm 0 destroy web01 --dry-run --yes
	jq -e '.dry_run and .hosts[0].action == "would_destroy"' <<<"$output"
	# web02's VM has the lab's tag, not hl's marker: refused as destroy refuses it
	vm 6 destroy web02 --dry-run
	jq -e '.hosts[0] | .action == "failed" and .error.reason == "refused" and (.error.message | test("no marker of this lab and host"))' <<<"$output"
	vm 0 destroy db01 --dry-run
	jq -e '.dry_run and .hosts[0].action == "absent"' <<<"$output"
	sim_nothing_changed reads
	[ "$(vms_now)" = "$before" ]
	api GET /nodes/pve1/qemu/201/status/current
	[ "$(jq -r .data.status <<<"$output")" = running ]
	grep -q '^web01 ' "$LAB/.hl/known_hosts"
	gone pve2 202
}
