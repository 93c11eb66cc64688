#!/usr/bin/env bats
# hl-sim's guests: a started VM is a real Linux guest booted by Debian's own
# cloud-init from the NoCloud files PVE writes (sim/README.md, Guests).
# Everything goes through the API (and the nodes' SFTP for the snippet), as
# hl-template and hl-vm will: download the mirrored image, create a VM
# importing it with a cloud-init drive and vendor-data that installs
# qemu-guest-agent through the apt proxy, start it, read it through the
# agent, log in with strict host-key checking.  One simulator per file;
# setup_file builds VM 300 once, the tests look at it from every side.

load test_helper
load sim_helper

IP300=10.77.0.50

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	mkdir -p "$BATS_FILE_TMPDIR/lab/.hl"
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_FILE_TMPDIR/lab/.hl/id_ed25519"
	cat /proc/sys/net/ipv4/ip_forward > "$BATS_FILE_TMPDIR/ip_forward"
	sim_start
	set -a
	. "$SIMLAB/.hl/sim-mirror.env"
	. "$SIMLAB/.hl/sim-nodes.env"
	. "$SIMLAB/.hl/sim-net.env"
	set +a
	IMAGE=${HL_SIM_MIRROR_URL##*/}
	export IMAGE
}

teardown_file() {
	sim_stop
}

setup() {
	common_setup
	set -a
	. "$SIMLAB/.hl/sim.env"
	. "$SIMLAB/.hl/sim-mirror.env"
	. "$SIMLAB/.hl/sim-nodes.env"
	. "$SIMLAB/.hl/sim-net.env"
	set +a
	KEY="$SIMLAB/.hl/id_ed25519"
	# the simulator's network namespace (hlsim/guestnet.py: from its state)
	NS=hls-$(printf %s "$(realpath "$SIMLAB/.hl/sim")" | sha1sum | cut -c1-6)
}

# task CURL-ARGS...: an API call that starts a task; waits for it; fails
# unless it ended OK
task() {
	api "$@"
	[ "$status" = 200 ] || { echo "$output" >&2; return 1; }
	wait_task "$(jq -r .data <<<"$output")" 120
	jq -e '.data.exitstatus == "OK"' <<<"$output"
}

# agent_up VMID: wait (up to 120 s) until the guest's agent answers and
# cloud-init has finished (the agent may start before: a package's
# postinst starts it in cloud-init's final stage)
agent_up() {
	for _ in $(seq 1 240); do
		api GET "/nodes/pve1/qemu/$1/agent/file-read" --get -d file=/var/lib/cloud/instance/boot-finished
		[ "$status" = 200 ] && return 0
		sleep 0.5
	done
	echo "agent of $1 never answered with boot-finished: $output" >&2
	return 1
}

# host_key VMID: the ed25519 host key the guest's cloud-init made, read
# through the agent
host_key() {
	api GET "/nodes/pve1/qemu/$1/agent/file-read" --get -d file=/etc/ssh/ssh_host_ed25519_key.pub
	[ "$status" = 200 ] || return 1
	jq -r .data.content <<<"$output" | cut -d' ' -f1-2
}

# gssh IP KNOWN_HOSTS CMD...: strict ssh as lab with the lab's key
gssh() {
	local ip=$1 kh=$2
	shift 2
	ssh -i "$KEY" -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$kh" \
		-o BatchMode=yes -o ConnectTimeout=10 "lab@$ip" "$@"
}

# make_vm VMID IPCONFIG0 [extra curl args]: a VM lab-vm-VMID importing
# the mirrored image
make_vm() {
	local vmid=$1 ipc=$2
	shift 2
	task POST /nodes/pve1/qemu -d "vmid=$vmid" -d name=lab-vm-$vmid \
		--data-urlencode "scsi0=local-lvm:0,import-from=local:import/$IMAGE" \
		-d ide2=local-lvm:cloudinit --data-urlencode net0=virtio,bridge=vmbr0 \
		--data-urlencode "ipconfig0=$ipc" -d ciuser=lab \
		--data-urlencode "sshkeys=$(jq -rn --arg k "$(cat "$KEY.pub")" '$k|@uri')" \
		-d agent=1 -d ciupgrade=0 "$@"
}

@test "hl-sim guests: the mirrored image downloads with its real checksum, the vendor-data snippet goes up over SFTP" {
	task POST /nodes/pve1/storage/local/download-url -d content=import \
		--data-urlencode "filename=$IMAGE" --data-urlencode "url=$HL_SIM_MIRROR_URL" \
		-d checksum-algorithm=sha512 -d "checksum=${HL_SIM_MIRROR_CHECKSUM#sha512:}"
	printf '#cloud-config\napt:\n  proxy: %s\npackages:\n  - qemu-guest-agent\n' \
		"$HL_SIM_APT_PROXY" > "$BATS_FILE_TMPDIR/qga.yaml"
	echo "$HL_SIM_PVE1_SSH_PORT" | grep -Eq '^[0-9]+$'
	echo "[127.0.0.1]:$HL_SIM_PVE1_SSH_PORT $HL_SIM_PVE1_HOST_KEY" > "$BATS_FILE_TMPDIR/nodes_kh"
	echo "put $BATS_FILE_TMPDIR/qga.yaml /var/lib/vz/snippets/qga.yaml" |
		sftp -q -b - -i "$KEY" -o StrictHostKeyChecking=yes \
			-o UserKnownHostsFile="$BATS_FILE_TMPDIR/nodes_kh" -P "$HL_SIM_PVE1_SSH_PORT" root@127.0.0.1
	api GET /nodes/pve1/storage/local/content --get -d content=snippets
	jq -e '.data | any(.volid == "local:snippets/qga.yaml")' <<<"$output"
}

@test "hl-sim guests: a VM imports it with a cloud-init drive and cicustom vendor-data, and boots" {
	make_vm 300 "ip=$IP300/24,gw=10.77.0.1" --data-urlencode "cicustom=vendor=local:snippets/qga.yaml"
	api GET /nodes/pve1/qemu/300/config
	jq -e '(.data.scsi0 | startswith("local-lvm:vm-300-disk-")) and (.data.ide2 | test("cloudinit"))' <<<"$output"
	task POST /nodes/pve1/qemu/300/status/start
	api GET /nodes/pve1/qemu/300/status/current
	jq -e '.data.status == "running"' <<<"$output"
	# before qemu-guest-agent is installed and started, PVE's answer
	api GET /nodes/pve1/qemu/300/agent/network-get-interfaces
	[ "$status" = 500 ] || [ "$status" = 200 ]
}

@test "hl-sim guests: the agent, installed by the vendor-data through the apt proxy, reports the ipconfig0 address" {
	agent_up 300
	api GET /nodes/pve1/qemu/300/agent/network-get-interfaces
	jq -e --arg ip "$IP300" '.data.result | any(.name == "eth0" and any(."ip-addresses"[]; ."ip-address" == $ip))' <<<"$output"
	mac=$(jq -r '.data.result[] | select(.name == "eth0") | ."hardware-address"' <<<"$output")
	api GET /nodes/pve1/qemu/300/config
	jq -e --arg mac "$mac" '.data.net0 | ascii_downcase | contains($mac)' <<<"$output"
	api GET /nodes/pve1/qemu/300/agent/get-osinfo
	jq -e '.data.result.id == "debian" and .data.result."version-id" == "12"' <<<"$output"
	# it came through the proxy: apt-cacher-ng logged the package
	grep -rq qemu-guest-agent "$SIMLAB/.hl/sim/net/apt-cacher-ng/log/"
}

@test "hl-sim guests: file-read gives the host key cloud-init made; strict ssh with it logs in with the lab key" {
	agent_up 300
	hk=$(host_key 300)
	[[ $hk == ssh-ed25519\ * ]]
	echo "$IP300 $hk" > "$BATS_FILE_TMPDIR/kh300"
	run -0 gssh "$IP300" "$BATS_FILE_TMPDIR/kh300" 'hostname; id -un; sudo -n true && echo sudo-ok; cloud-init status --wait >/dev/null; cloud-init status'
	[ "${lines[0]}" = lab-vm-300 ]
	[ "${lines[1]}" = lab ]
	[ "${lines[2]}" = sudo-ok ]
	[[ ${lines[3]} == "status: done" ]]
	# a wrong key is refused: the check is real
	echo "$IP300 $(cat "$KEY.pub" | cut -d' ' -f1-2)" > "$BATS_TEST_TMPDIR/wrong"
	run gssh "$IP300" "$BATS_TEST_TMPDIR/wrong" true
	[ "$status" = 255 ]
	[[ $output == *"REMOTE HOST IDENTIFICATION HAS CHANGED"* ]]
}

@test "hl-sim guests: the guest has its own hostname and filesystem; the image stays untouched" {
	run -0 gssh "$IP300" "$BATS_FILE_TMPDIR/kh300" 'echo mine | sudo tee /etc/hl-probe >/dev/null; cat /etc/hostname; tr "\0" " " < /proc/1/cmdline; echo'
	[ "${lines[0]}" = lab-vm-300 ]
	[[ ${lines[1]} == *"/usr/lib/hl-sim/init"* ]]
	[ "$(hostname)" != lab-vm-300 ]
	[ ! -e /etc/hl-probe ]
	rootfs=/var/cache/hl-sim/images/debian-12/rootfs
	[ ! -e "$rootfs/etc/hl-probe" ]
	[ "$(cat "$rootfs/etc/hostname")" = localhost ]
	if ls "$rootfs"/etc/ssh/ssh_host_* 2>/dev/null; then false; fi
	# the agent reads the guest's own file
	api GET /nodes/pve1/qemu/300/agent/file-read --get -d file=/etc/hl-probe
	jq -e '.data.content == "mine\n"' <<<"$output"
	api GET /nodes/pve1/qemu/300/agent/file-read --get -d file=/nonexistent
	[ "$status" = 500 ]
	[[ $(jq -r .message <<<"$output") == "Agent error: "* ]]
}

@test "hl-sim guests: agent exec runs a command in the guest and exec-status returns its output" {
	api POST /nodes/pve1/qemu/300/agent/exec -d command=cat -d command=/etc/hostname
	[ "$status" = 200 ]
	pid=$(jq -r .data.pid <<<"$output")
	for _ in $(seq 1 50); do
		api GET /nodes/pve1/qemu/300/agent/exec-status --get -d "pid=$pid"
		jq -e '.data.exited == 1' <<<"$output" >/dev/null && break
		sleep 0.1
	done
	jq -e '.data.exited == 1 and .data.exitcode == 0 and .data."out-data" == "lab-vm-300\n"' <<<"$output"
}

@test "hl-sim guests: python3-proxmoxer reads the agent" {
	run -0 "$TOP/tests/sim/proxmoxer-agent.py" 300
	[[ $output == *"eth0 $IP300"* ]]
	[[ $output == *"hostkey ssh-ed25519 "* ]]
}

@test "hl-sim guests: contained: no route beyond the sim's network; the sim's services answer, nothing else of this machine does" {
	gk="$BATS_FILE_TMPDIR/kh300"
	# a listener on every address of this machine, outside the sim's services
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	/usr/bin/python3 -m http.server -b 0.0.0.0 "$port" > /dev/null 2>&1 &
	listener=$!
	for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
	ns=$NS
	ip netns list | grep -q "^$ns-300"
	# the sim's namespace has no default route: nothing leaves it but to the machine's veth end
	run -0 ip -n "$ns" route show default
	[ -z "$output" ]
	uplink=$(ip -n "$ns" -4 -o addr show dev uplink | awk '{print $4}' | cut -d/ -f1)
	host=$(ip -n "$ns" route show dev uplink | awk '{print $1}' | head -1)
	machine=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | grep -v '^10\.250\.' | head -1)
	hostend=$(ip -4 -o addr show | awk '$4 ~ /^10\.250\./ {print $4}' | cut -d/ -f1 | while read -r a; do
		[ "$a" != "$uplink" ] && echo "$a"; done | head -1)
	[ -n "$hostend" ]
	probe='for t in "$@"; do if timeout 3 bash -c "echo > /dev/tcp/${t%:*}/${t#*:}" 2>/dev/null; then echo "$t open"; else echo "$t closed"; fi; done'
	run -0 gssh "$IP300" "$gk" "bash -c '$probe' x 10.77.0.1:80 10.77.0.1:3142 10.77.0.1:5000 10.77.0.2:22 $hostend:$port ${machine:-192.0.2.1}:$port 10.77.0.1:$port"
	echo "$output"
	[[ $output == *"10.77.0.1:80 open"* ]]
	[[ $output == *"10.77.0.1:3142 open"* ]]
	[[ $output == *"10.77.0.1:5000 open"* ]]
	[[ $output == *"10.77.0.2:22 open"* ]]
	[[ $output == *"$hostend:$port closed"* ]]
	[[ $output == *"${machine:-192.0.2.1}:$port closed"* ]]
	[[ $output == *"10.77.0.1:$port closed"* ]]
	# while from the machine itself the listener answers on that address
	curl -s -o /dev/null --max-time 3 "http://$hostend:$port/"
	kill "$listener"
	# the guest's own routes end at the sim's gateway
	run -0 gssh "$IP300" "$gk" 'ip route'
	[[ $output == *"default via 10.77.0.1"* ]]
	# the machine's forwarding is as it was
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$(cat "$BATS_FILE_TMPDIR/ip_forward")" ]
}

# What a Docker daemon asks its registry mirror first, from the guest:
# REF... as "repository:tag", each answered "REF STATUS SECONDS TYPE|BODY";
# a 200 also fetches the manifest's config and layers (sizes checked)
MIRROR_PROBE='import json, sys, time, urllib.request, urllib.error
base = sys.argv[1]
for ref in sys.argv[2:]:
    repo, tag = ref.split(":")
    req = urllib.request.Request("%s/v2/%s/manifests/%s" % (base, repo, tag),
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    t = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            m = json.loads(r.read())
            ok = all(len(urllib.request.urlopen("%s/v2/%s/blobs/%s" % (base, repo, b["digest"]),
                     timeout=60).read()) == b["size"] for b in [m["config"]] + m["layers"])
            print(ref, r.status, "%.1f" % (time.monotonic() - t), r.headers["Content-Type"], "blobs-ok" if ok else "blobs-bad")
    except urllib.error.HTTPError as e:
        print(ref, e.code, "%.1f" % (time.monotonic() - t), e.read().decode().strip())'

@test "hl-sim guests: the registry mirror at the gateway serves busybox:1.36 and debian:bookworm to a guest; a missing image is a 404 at once" {
	[ "$HL_SIM_REGISTRY_MIRROR" = http://10.77.0.1:5000 ]
	run -0 gssh "$IP300" "$BATS_FILE_TMPDIR/kh300" python3 - "$HL_SIM_REGISTRY_MIRROR" \
		library/busybox:1.36 library/debian:bookworm library/hl-no-such-image:1 library/busybox:no-such-tag <<<"$MIRROR_PROBE"
	echo "$output"
	[[ ${lines[0]} == "library/busybox:1.36 200 "*" application/vnd.docker.distribution.manifest.v2+json blobs-ok" ]]
	[[ ${lines[1]} == "library/debian:bookworm 200 "*" application/vnd.docker.distribution.manifest.v2+json blobs-ok" ]]
	[[ ${lines[2]} == "library/hl-no-such-image:1 404 0."*"MANIFEST_UNKNOWN"* ]]
	[[ ${lines[3]} == "library/busybox:no-such-tag 404 0."*"MANIFEST_UNKNOWN"* ]]
	# read-only: a push is refused, and the shared cache keeps its images
	run -0 gssh "$IP300" "$BATS_FILE_TMPDIR/kh300" python3 -c "'import urllib.request, urllib.error
try:
    urllib.request.urlopen(urllib.request.Request(\"$HL_SIM_REGISTRY_MIRROR/v2/library/busybox/blobs/uploads/\", data=b\"\", method=\"POST\"), timeout=10)
except urllib.error.HTTPError as e:
    print(e.code)'"
	[ "$output" = 405 ]
	# what the guests reached was the registry this simulator runs
	grep -q 'library/busybox/manifests/1.36' "$SIMLAB/.hl/sim/net/registry.log"
}

@test "hl-sim guests: a template made of the VM after cloud-init clean gives a clone new host keys" {
	old=$(host_key 300)
	api POST /nodes/pve1/qemu/300/agent/exec -d command=cloud-init -d command=clean \
		-d command=--machine-id -d command=--logs
	[ "$status" = 200 ]
	sleep 1
	task POST /nodes/pve1/qemu/300/status/shutdown
	api GET /nodes/pve1/qemu/300/status/current
	jq -e '.data.status == "stopped"' <<<"$output"
	api POST /nodes/pve1/qemu/300/agent/ping
	[ "$(jq -r .message <<<"$output")" = 'VM 300 is not running' ]
	api PUT /nodes/pve1/qemu/300/config -d delete=cicustom
	task POST /nodes/pve1/qemu/300/template
	task POST /nodes/pve1/qemu/300/clone -d newid=301 -d name=clone-301 -d full=1
	api PUT /nodes/pve1/qemu/301/config --data-urlencode "ipconfig0=ip=10.77.0.51/24,gw=10.77.0.1"
	[ "$status" = 200 ]
	task POST /nodes/pve1/qemu/301/status/start
	agent_up 301
	new=$(host_key 301)
	[[ $new == ssh-ed25519\ * ]]
	[ "$new" != "$old" ]
	echo "10.77.0.51 $new" > "$BATS_FILE_TMPDIR/kh301"
	run -0 gssh 10.77.0.51 "$BATS_FILE_TMPDIR/kh301" 'hostname; test -s /etc/machine-id && echo id-ok; dpkg-query -W -f="\${Status}" qemu-guest-agent'
	[ "${lines[0]}" = clone-301 ]
	[ "${lines[1]}" = id-ok ]
	[ "${lines[2]}" = "install ok installed" ]
	# the template's disk is what the clone started from, still unchanged
	api GET /nodes/pve1/qemu/300/config
	jq -e '.data.template == 1' <<<"$output"
}

@test "hl-sim guests: a restart keeps the host keys; new SSH keys and a reboot mean a new instance and new host keys" {
	kh="$BATS_FILE_TMPDIR/kh301"
	before=$(host_key 301)
	# same instance: a restart keeps the host keys
	task POST /nodes/pve1/qemu/301/status/stop
	task POST /nodes/pve1/qemu/301/status/start
	agent_up 301
	[ "$(host_key 301)" = "$before" ]
	# new SSH keys reach the guest when its cloud-init drive is made
	# again, at the next start (the running guest keeps its keys)
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/k2"
	both=$(printf '%s\n%s\n' "$(cat "$KEY.pub")" "$(cat "$BATS_TEST_TMPDIR/k2.pub")")
	api PUT /nodes/pve1/qemu/301/config --data-urlencode "sshkeys=$(jq -rn --arg k "$both" '$k|@uri')"
	[ "$status" = 200 ]
	[ "$(host_key 301)" = "$before" ]
	task POST /nodes/pve1/qemu/301/status/reboot
	agent_up 301
	after=$(host_key 301)
	[ "$after" != "$before" ]
	run gssh 10.77.0.51 "$kh" true
	[ "$status" = 255 ]
	echo "10.77.0.51 $after" > "$kh"
	ssh -i "$BATS_TEST_TMPDIR/k2" -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$kh" \
		-o BatchMode=yes lab@10.77.0.51 true
}

@test "hl-sim guests: vzdump of the running guest, destroy, restore, start: the files written in it are back, byte for byte" {
	kh="$BATS_FILE_TMPDIR/kh301"
	run -0 gssh 10.77.0.51 "$kh" 'head -c 1048576 /dev/urandom | sudo tee /var/lib/hl-probe.bin >/dev/null &&
		sudo mkdir -p /opt/hl && printf "kept\n" | sudo tee /opt/hl/note >/dev/null && sudo rm /etc/motd && sync &&
		sha256sum /var/lib/hl-probe.bin'
	sum=${output%% *}
	[ ${#sum} = 64 ]
	api POST /nodes/pve1/vzdump -d vmid=301 -d storage=local -d compress=zstd -d mode=snapshot
	[ "$status" = 200 ]
	wait_task "$(jq -r .data <<<"$output")" 120
	jq -e '.data.exitstatus == "OK"' <<<"$output"
	api GET /nodes/pve1/qemu/301/status/current
	jq -e '.data.status == "running" and (.data | has("lock") | not)' <<<"$output"
	api GET /nodes/pve1/storage/local/content --get -d content=backup -d vmid=301
	vol=$(jq -r '.data[0].volid' <<<"$output")
	[[ $vol =~ ^local:backup/vzdump-qemu-301-[0-9]{4}_[0-9]{2}_[0-9]{2}-[0-9]{2}_[0-9]{2}_[0-9]{2}\.vma\.zst$ ]]
	[ -f "$SIMLAB/.hl/sim/nodes/pve1/root/var/lib/vz/dump/${vol#local:backup/}" ]
	task POST /nodes/pve1/qemu/301/status/stop
	task DELETE /nodes/pve1/qemu/301 --get -d purge=1
	api GET /nodes/pve1/qemu/301/config
	[ "$status" = 500 ]
	task POST /nodes/pve1/qemu -d vmid=301 --data-urlencode "archive=$vol"
	task POST /nodes/pve1/qemu/301/status/start
	agent_up 301
	# the same guest: its host key (strict ssh), its files, what it deleted
	run -0 gssh 10.77.0.51 "$kh" 'sha256sum /var/lib/hl-probe.bin; cat /opt/hl/note; hostname; test -e /etc/motd || echo motd-gone'
	[ "${lines[0]%% *}" = "$sum" ]
	[ "${lines[1]}" = kept ]
	[ "${lines[2]}" = clone-301 ]
	[ "${lines[3]}" = motd-gone ]
	# the restored disk is the VM's own: a tree of its own, not the backup's
	disk=$(jq -r '.volumes["pve1/local-lvm"]["vm-301-disk-0"].data' "$SIMLAB/.hl/sim/state.json")
	[ -f "$disk/upper/var/lib/hl-probe.bin" ]
}

@test "hl-sim guests: ipconfig0 ip=dhcp gets a lease from the sim's pool, the same one after a restart" {
	make_vm 302 ip=dhcp
	task POST /nodes/pve1/qemu/302/status/start
	api GET /nodes/pve1/qemu/302/cloudinit/dump --get -d type=network
	[[ $(jq -r .data <<<"$output") == *"type: dhcp4"* ]]
	for _ in $(seq 1 60); do
		ip=$(jq -r '.leases | to_entries[] | .value' "$SIMLAB/.hl/sim/state.json" | head -1 | cut -d/ -f1)
		[ -n "$ip" ] && ssh-keyscan -T 2 "$ip" 2>/dev/null | grep -q ssh-ed25519 && break
		sleep 0.5
	done
	[[ $ip == 10.77.0.1[0-9][0-9] ]]
	task POST /nodes/pve1/qemu/302/status/stop
	task POST /nodes/pve1/qemu/302/status/start
	[ "$(jq -r '.leases | to_entries[] | .value' "$SIMLAB/.hl/sim/state.json" | head -1 | cut -d/ -f1)" = "$ip" ]
	# a guest without qemu-guest-agent: running, yet the agent is not
	api POST /nodes/pve1/qemu/302/agent/ping
	[ "$(jq -r .message <<<"$output")" = 'QEMU guest agent is not running' ]
	task POST /nodes/pve1/qemu/302/status/stop
}

@test "hl-sim guests: a start on a bridge the nodes lack fails as PVE's and leaves nothing running or mounted" {
	make_vm 303 ip=dhcp
	api PUT /nodes/pve1/qemu/303/config --data-urlencode net0=virtio,bridge=vmbr9
	api POST /nodes/pve1/qemu/303/status/start
	wait_task "$(jq -r .data <<<"$output")" 60
	[ "$(jq -r .data.exitstatus <<<"$output")" = "start failed: bridge 'vmbr9' does not exist" ]
	api GET /nodes/pve1/qemu/303/status/current
	jq -e '.data.status == "stopped"' <<<"$output"
	if ip netns list | grep -q "^$NS-303"; then false; fi
	if grep -q "$SIMLAB/.hl/sim/guests/303/root" /proc/self/mountinfo; then false; fi
	task DELETE /nodes/pve1/qemu/303
}

@test "hl-sim guests: destroy removes the guest's disk tree; a crash leaves nothing the next start does not clean" {
	task POST /nodes/pve1/qemu/302/status/start
	disk=$(jq -r '.volumes["pve1/local-lvm"]["vm-302-disk-0"].data' "$SIMLAB/.hl/sim/state.json")
	[ -d "$disk/upper" ]
	grep -q "$SIMLAB/.hl/sim/guests/302/root" /proc/self/mountinfo
	pid=$(cat "$SIMLAB/.hl/sim/sim.pid")
	registry=$(cat "$SIMLAB/.hl/sim/net/registry.pid")
	alive "$registry"
	kill -9 "$pid"
	sleep 0.3
	# the crashed simulator's registry outlives it, until the next start
	alive "$registry"
	sim_start
	if alive "$registry"; then false; fi
	registry=$(cat "$SIMLAB/.hl/sim/net/registry.pid")
	alive "$registry"
	grep -qx "HL_SIM_REGISTRY_MIRROR=http://10.77.0.1:5000" "$SIMLAB/.hl/sim-net.env"
	# the crashed simulator's guests, namespaces and mounts are gone
	if grep -q "$SIMLAB/.hl/sim/guests/" /proc/self/mountinfo; then false; fi
	if ip netns list | grep -q "^$NS-302"; then false; fi
	api GET /nodes/pve1/qemu/302/status/current
	jq -e '.data.status == "stopped"' <<<"$output"
	task DELETE /nodes/pve1/qemu/302
	[ ! -e "$disk" ]
	[ ! -e "$SIMLAB/.hl/sim/guests/302" ]
	# stop leaves no guest, namespace or proxy behind
	sim_stop
	if sim_running "$SIMLAB"; then false; fi
	if ip netns list | grep -q "^$NS"; then false; fi
	if ip link show "${NS/-/}" 2>/dev/null; then false; fi
	if alive "$registry"; then false; fi
	sim_start
}
