#!/usr/bin/env bats
# hl-sim's guests running Docker, and the gateway's DNS (sim/README.md,
# Guests): Debian's docker.io and docker-compose installed in a guest with
# apt through the simulator's apt proxy, exactly as on a real VM (with
# Recommends: systemd-sysv takes /sbin/init and /sbin/runlevel), started by
# Debian's own init script at install and at every boot; one dockerd per
# guest; Compose projects; containment; nothing left after a crash.  One
# simulator per file; VMs 410 (dk1) and 411 (dk2).  Images come without
# Docker Hub: a busybox tree from Debian's busybox-static, imported in the
# guest.  Costs measured here are printed as "# cost: ..." lines.

load test_helper
load sim_helper

DK1=10.77.0.61
DK2=10.77.0.62

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	mkdir -p "$BATS_FILE_TMPDIR/lab/.hl"
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_FILE_TMPDIR/lab/.hl/id_ed25519"
	# the machine's firewall and cgroup hierarchies before any guest
	iptables-save | sed '/^#/d' > "$BATS_FILE_TMPDIR/iptables.before"
	nft list ruleset > "$BATS_FILE_TMPDIR/nft.before"
	cut -f1,2 /proc/cgroups > "$BATS_FILE_TMPDIR/hierarchies.before"
	# an image without Docker Hub: Debian's busybox-static as a rootfs
	local bb=$BATS_FILE_TMPDIR/bb
	mkdir -p "$bb/root/bin" "$bb/root/etc" "$bb/root/tmp"
	(cd "$bb" && apt-get download -q busybox-static 2>/dev/null)
	dpkg -x "$bb"/busybox-static_*.deb "$bb/x"
	cp "$bb/x/bin/busybox" "$bb/root/bin/"
	for a in $("$bb/root/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$bb/root/bin/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' > "$bb/root/etc/passwd"
	echo 'root:x:0:' > "$bb/root/etc/group"
	chmod 1777 "$bb/root/tmp"
	tar -C "$bb/root" -cf "$BATS_FILE_TMPDIR/busybox.tar" .
	sim_start
	set -a
	. "$SIMLAB/.hl/sim-mirror.env"
	. "$SIMLAB/.hl/sim-net.env"
	set +a
	local image=${HL_SIM_MIRROR_URL##*/} upid
	upid=$(curl -sS --fail --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" \
		-d content=import --data-urlencode "filename=$image" --data-urlencode "url=$HL_SIM_MIRROR_URL" \
		"$HL_PVE_ENDPOINT/api2/json/nodes/pve1/storage/local/download-url" | jq -r .data)
	BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR wait_task "$upid" 120
}

teardown_file() {
	sim_stop
}

setup() {
	common_setup
	set -a
	. "$SIMLAB/.hl/sim.env"
	. "$SIMLAB/.hl/sim-mirror.env"
	. "$SIMLAB/.hl/sim-net.env"
	set +a
	KEY="$SIMLAB/.hl/id_ed25519"
	IMAGE=${HL_SIM_MIRROR_URL##*/}
	NS=hls-$(printf %s "$(realpath "$SIMLAB/.hl/sim")" | sha1sum | cut -c1-6)
	TAG=${NS#hls-}
}

# task CURL-ARGS...: an API call that starts a task; fails unless it ends OK
task() {
	api "$@"
	[ "$status" = 200 ] || { echo "$output" >&2; return 1; }
	wait_task "$(jq -r .data <<<"$output")" 120
	jq -e '.data.exitstatus == "OK"' <<<"$output"
}

# make_vm VMID NAME IP: a VM importing the mirrored image, DNS = the gateway
make_vm() {
	task POST /nodes/pve1/qemu -d "vmid=$1" -d "name=$2" \
		--data-urlencode "scsi0=local-lvm:0,import-from=local:import/$IMAGE" \
		-d ide2=local-lvm:cloudinit --data-urlencode net0=virtio,bridge=vmbr0 \
		--data-urlencode "ipconfig0=ip=$3/24,gw=10.77.0.1" -d ciuser=lab \
		--data-urlencode "sshkeys=$(jq -rn --arg k "$(cat "$KEY.pub")" '$k|@uri')" \
		-d ciupgrade=0 -d nameserver=10.77.0.1 -d searchdomain=demo.lab
}

# gssh IP CMD...: ssh as lab (this file is about Docker; host keys are
# hl-sim-guests.bats's)
gssh() {
	local ip=$1
	shift
	ssh -i "$KEY" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR -o BatchMode=yes -o ConnectTimeout=5 "lab@$ip" "$@"
}

# booted IP: wait (up to 120 s) until the guest's init has finished booting
booted() {
	for _ in $(seq 1 240); do
		gssh "$1" 'test -e /run/hl-sim-booted' 2>/dev/null && return 0
		sleep 0.5
	done
	echo "guest $1 did not finish booting" >&2
	return 1
}

# pid1 VMID: the guest's PID 1 as the machine sees it
pid1() {
	api GET "/nodes/pve1/qemu/$1/status/current"
	local p
	p=$(jq -r .data.pid <<<"$output")
	cut -d' ' -f1 "/proc/$p/task/$p/children"
}

# dockerd_up VMID: wait (up to 60 s) until the guest's dockerd answers on
# its socket, read from the machine through /proc/<pid1>/root
dockerd_up() {
	local p
	for _ in $(seq 1 600); do
		p=$(pid1 "$1" 2>/dev/null) &&
			curl -sf --max-time 1 --unix-socket "/proc/$p/root/run/docker.sock" \
				http://docker/_ping 2>/dev/null | grep -qx OK && return 0
		sleep 0.1
	done
	echo "dockerd of $1 never answered" >&2
	return 1
}

# install_docker IP: docker.io and docker-compose with apt (Recommends on)
# through the simulator's apt proxy, as an Ansible role would on a real VM
install_docker() {
	gssh "$1" "echo 'Acquire::http::Proxy \"$HL_SIM_APT_PROXY\";' | sudo tee /etc/apt/apt.conf.d/90hl-proxy >/dev/null &&
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io docker-compose"
}

# compose_up IP: the busybox image imported and the "hello" project (one
# service with a healthcheck on 8080) up; prints the seconds from "up" to
# healthy
compose_up() {
	scp -q -i "$KEY" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR -o BatchMode=yes "$BATS_FILE_TMPDIR/busybox.tar" "lab@$1:/tmp/busybox.tar"
	gssh "$1" 'set -e
		sudo docker image inspect busybox:1.36 >/dev/null 2>&1 ||
			sudo docker import --change "CMD [\"sh\"]" /tmp/busybox.tar busybox:1.36 >/dev/null
		mkdir -p hello/www
		echo "hello from $(hostname)" > hello/www/index.html
		cat > hello/docker-compose.yml <<-EOF
		services:
		  web:
		    image: busybox:1.36
		    init: true
		    command: httpd -f -p 8080 -h /www
		    ports: ["8080:8080"]
		    volumes: ["./www:/www:ro"]
		    healthcheck:
		      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/"]
		      interval: 1s
		      timeout: 2s
		      retries: 3
		EOF
		cd hello
		s=$(date +%s%N)
		sudo docker-compose -p hello up -d >&2
		for i in $(seq 1 300); do
			h=$(sudo docker inspect -f "{{.State.Health.Status}}" hello_web_1)
			[ "$h" = healthy ] && break
			sleep 0.1
		done
		[ "$h" = healthy ] || {
			echo "hello_web_1: $h" >&2
			sudo docker inspect -f "{{json .State.Health}}" hello_web_1 >&2
			exit 1
		}
		echo "$(( ($(date +%s%N) - s) / 1000000 ))"' 2>"$BATS_TEST_TMPDIR/compose.err" ||
		{ cat "$BATS_TEST_TMPDIR/compose.err" >&2; return 1; }
}

@test "hl-sim docker: the gateway's DNS resolves the lab's hosts in a guest and fails an outside name at once" {
	make_vm 410 dk1 "$DK1"
	make_vm 411 dk2 "$DK2"
	task POST /nodes/pve1/qemu/410/status/start
	booted "$DK1"
	run -0 gssh "$DK1" 'cat /etc/resolv.conf; getent hosts dk2; getent hosts dk2.demo.lab; getent hosts pve1'
	[[ $output == *"nameserver 10.77.0.1"* ]]
	[[ $output == *"10.77.0.62      dk2.demo.lab"* ]]
	[[ $output == *"10.77.0.2       pve1"* ]]
	[ "$(grep -c '^10.77.0.62 ' <<<"$output")" = 2 ]
	# an outside name: no answer from anywhere, at once (nothing waits 40 s)
	SECONDS=0
	run -2 gssh "$DK1" 'getent hosts deb.debian.org'
	[ "$SECONDS" -lt 5 ]
	run -0 gssh "$DK1" 'getent hosts dk2 || echo unresolved'
	[ "$output" != unresolved ]
}

@test "hl-sim docker: docker.io installed with Recommends through the apt proxy starts from its init script, and again at every boot" {
	run -0 install_docker "$DK1"
	# the package's own postinst started it, through Debian's init script
	[[ $output == *"Starting Docker: docker."* ]]
	grep -rq 'docker.io_' "$SIMLAB/.hl/sim/net/apt-cacher-ng/log/"
	run -0 gssh "$DK1" 'readlink /sbin/init /sbin/runlevel; sudo /etc/init.d/docker status; sudo docker info -f "{{.Driver}} {{.CgroupVersion}}"'
	[ "${lines[0]}" = /lib/systemd/systemd ]
	[ "${lines[1]}" = /bin/systemctl ]
	[[ $output == *"Docker is running."* ]]
	[ "${lines[-1]}" = "overlay2 1" ]
	# the guest's docker data is on the machine's disk, in its VM's disk dir
	disk=$(jq -r '.volumes["pve1/local-lvm"]["vm-410-disk-0"].data' "$SIMLAB/.hl/sim/state.json")
	[ -d "$disk/docker/overlay2" ]
	# reboot: systemd now owns /sbin/init, the guest boots and starts it
	SECONDS=0
	task POST /nodes/pve1/qemu/410/status/reboot
	dockerd_up 410
	echo "# cost: reboot of a guest with Docker to dockerd answering: ${SECONDS}s (API task included)" >&3
	booted "$DK1"
	run -0 gssh "$DK1" 'sudo /etc/init.d/docker status; /usr/sbin/runlevel; ps -o comm= -C dockerd,containerd'
	[[ $output == *"Docker is running."* ]]
	[[ $output == *"N 2"* ]]
	[[ $output == *dockerd* ]]
	[[ $output == *containerd* ]]
	# no cgroup hierarchy of the machine's was added (the init script
	# mounts every controller in /proc/cgroups)
	diff "$BATS_FILE_TMPDIR/hierarchies.before" <(cut -f1,2 /proc/cgroups)
}

@test "hl-sim docker: docker pull through the simulator's registry mirror, with no internet; a missing image fails within seconds with Docker's error" {
	[ "$HL_SIM_REGISTRY_MIRROR" = "http://10.77.0.1:5000" ]
	# what lab.yaml hands the guests (an L3 role on a real VM does the same)
	run -0 gssh "$DK1" "echo '{\"registry-mirrors\": [\"$HL_SIM_REGISTRY_MIRROR\"]}' |
		sudo tee /etc/docker/daemon.json >/dev/null && sudo /etc/init.d/docker restart"
	dockerd_up 410
	run -0 gssh "$DK1" 'sudo docker pull -q busybox:1.36 && sudo docker run --rm busybox:1.36 echo pulled'
	[ "${lines[-1]}" = pulled ]
	run -0 gssh "$DK1" 'sudo docker pull -q debian:bookworm >/dev/null && sudo docker run --rm debian:bookworm cat /etc/debian_version'
	[[ ${lines[-1]} == 12.* ]]
	# not on the mirror: Docker Hub behind it is a name the gateway's DNS
	# fails at once
	SECONDS=0
	run gssh "$DK1" 'sudo docker pull nosuchimage:1'
	[ "$status" != 0 ]
	[ "$SECONDS" -lt 30 ]
	[[ $output == *"Error response from daemon"* ]]
	# the images came from the mirror, asked by this guest
	grep -q "/v2/library/busybox/manifests/1.36" "$SIMLAB/.hl/sim/net/registry.log"
}

@test "hl-sim docker: a Compose project with a healthcheck is healthy in the guest and answers curl from the machine" {
	ms=$(compose_up "$DK1")
	echo "# cost: docker-compose up to healthy (one service, busybox httpd): ${ms}ms" >&3
	run -0 curl -sS --max-time 5 "http://$DK1:8080/"
	[ "$output" = "hello from dk1" ]
	# docker exec (and so the healthcheck) runs in the container's tree,
	# neither the guest's nor the machine's
	run -0 gssh "$DK1" 'sudo docker exec hello_web_1 cat /www/index.html; sudo docker exec hello_web_1 ls /usr/bin/apt-get /var/lib/hl-tests 2>&1; echo rc=$?'
	[ "${lines[0]}" = "hello from dk1" ]
	[ "${lines[-1]}" = rc=1 ]
	# the containers live in the guest's own cgroup, below the simulator's
	id=$(gssh "$DK1" 'sudo docker inspect -f "{{.Id}}" hello_web_1')
	[ -n "$id" ]
	find /sys/fs/cgroup/pids -type d -path "*/hl-sim-$TAG/410/docker/$id" | grep -q .
}

@test "hl-sim docker: two guests run the same project on the same port, each with its own dockerd" {
	task POST /nodes/pve1/qemu/411/status/start
	booted "$DK2"
	run -0 install_docker "$DK2"
	# a guest with Docker installed (from the now warm cache): boot to dockerd
	task POST /nodes/pve1/qemu/411/status/stop
	SECONDS=0
	start=$(date +%s%N)
	task POST /nodes/pve1/qemu/411/status/start
	dockerd_up 411
	echo "# cost: start of a guest with Docker to dockerd answering: $(( ($(date +%s%N) - start) / 1000000 ))ms (API task included)" >&3
	booted "$DK2"
	ms=$(compose_up "$DK2")
	echo "# cost: docker-compose up to healthy on the second guest: ${ms}ms" >&3
	[ "$(curl -sS --max-time 5 "http://$DK1:8080/")" = "hello from dk1" ]
	[ "$(curl -sS --max-time 5 "http://$DK2:8080/")" = "hello from dk2" ]
	# one dockerd per guest, each in its own guest's PID namespace
	p1=$(pid1 410)
	p2=$(pid1 411)
	d1=$(pgrep -x dockerd --ns "$p1" --nslist pid)
	d2=$(pgrep -x dockerd --ns "$p2" --nslist pid)
	[ "$(wc -w <<<"$d1")" = 1 ]
	[ "$(wc -w <<<"$d2")" = 1 ]
	[ "$d1" != "$d2" ]
}

@test "hl-sim docker: a container reaches its guest's network and nothing beyond it" {
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	/usr/bin/python3 -m http.server -b 0.0.0.0 "$port" > /dev/null 2>&1 &
	listener=$!
	for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
	hostend=$(ip -4 -o addr show dev "hls$TAG" | awk '{print $4}' | cut -d/ -f1)
	machine=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | grep -v '^10\.250\.' | head -1)
	[ -n "$hostend" ]
	# the machine reaches its own listener at those addresses, and the
	# Debian archive (the one place outside it reaches)
	curl -s -o /dev/null --max-time 3 "http://$hostend:$port/"
	deb=$(getent ahostsv4 deb.debian.org | awk 'NR == 1 {print $1}')
	[ -n "$deb" ]
	curl -s -o /dev/null --max-time 5 "http://$deb/"
	probe='for u in "$@"; do if timeout 4 wget -q -O /dev/null "$u" 2>/dev/null; then echo "$u open"; else echo "$u closed"; fi; done'
	run -0 gssh "$DK1" "sudo docker run --rm busybox:1.36 sh -c '$probe' x http://$DK2:8080/ http://$hostend:$port/ http://${machine:-192.0.2.1}:$port/ http://10.77.0.1:$port/ http://$deb/"
	kill "$listener"
	echo "$output"
	[[ $output == *"http://$DK2:8080/ open"* ]]
	[[ $output == *"http://$hostend:$port/ closed"* ]]
	[[ $output == *"http://${machine:-192.0.2.1}:$port/ closed"* ]]
	[[ $output == *"http://10.77.0.1:$port/ closed"* ]]
	[[ $output == *"http://$deb/ closed"* ]]
}

@test "hl-sim docker: kill -9 of the simulator with containers running, then start: nothing of the guests is left, the machine's firewall is unchanged" {
	run -0 gssh "$DK1" 'sudo docker ps -q | wc -l'
	[ "$output" -ge 1 ]
	cg1=$(cat "$SIMLAB/.hl/sim/guests/410/cgroups")
	cg2=$(cat "$SIMLAB/.hl/sim/guests/411/cgroups")
	[ -n "$cg1" ] && [ -n "$cg2" ]
	pids=$(for d in $cg1 $cg2; do find "$d" -name cgroup.procs -exec cat {} +; done | sort -u)
	[ "$(wc -w <<<"$pids")" -gt 10 ]
	kill -9 "$(cat "$SIMLAB/.hl/sim/sim.pid")"
	sleep 0.3
	sim_start
	# no process of the guests (dockerd, containerd, shims, containers)
	for p in $pids; do
		if alive "$p"; then
			echo "pid $p is alive: $(tr '\0' ' ' < "/proc/$p/cmdline")" >&2
			false
		fi
	done
	# no cgroup of theirs in any hierarchy
	for d in $cg1 $cg2; do [ ! -e "$d" ]; done
	if find /sys/fs/cgroup -type d -name "hl-sim-$TAG" | grep .; then false; fi
	# no mount (roots, docker's overlays: in their mount namespaces, gone)
	if grep -E "$SIMLAB/.hl/sim/(guests|disks)/" /proc/self/mountinfo; then false; fi
	# no network namespace or veth of theirs
	if ip netns list | grep -E "^$NS-41[01]"; then false; fi
	if ip -n "$NS" -o link show | grep -E 'g41[01]n0'; then false; fi
	# the machine's firewall and cgroup hierarchies as they were
	diff "$BATS_FILE_TMPDIR/iptables.before" <(iptables-save | sed '/^#/d')
	diff "$BATS_FILE_TMPDIR/nft.before" <(nft list ruleset)
	diff "$BATS_FILE_TMPDIR/hierarchies.before" <(cut -f1,2 /proc/cgroups)
}

@test "hl-sim docker: stop and destroy free the guest's cgroups and Docker data; hl-sim stop leaves nothing" {
	task POST /nodes/pve1/qemu/410/status/start
	dockerd_up 410
	booted "$DK1"
	run -0 gssh "$DK1" 'sudo docker run -d --init busybox:1.36 sleep 600'
	cg=$(cat "$SIMLAB/.hl/sim/guests/410/cgroups")
	find $cg -type d -path "*/410/docker/$output" | grep -q .
	task POST /nodes/pve1/qemu/410/status/stop
	for d in $cg; do [ ! -e "$d" ]; done
	disk=$(jq -r '.volumes["pve1/local-lvm"]["vm-410-disk-0"].data' "$SIMLAB/.hl/sim/state.json")
	[ -d "$disk/docker/containers" ]
	task DELETE /nodes/pve1/qemu/410
	[ ! -e "$disk" ]
	# kill -9 of one guest's PID 1 with containers running: the simulator
	# sees it stopped, stop cleans what it left
	task POST /nodes/pve1/qemu/411/status/start
	dockerd_up 411
	cg=$(cat "$SIMLAB/.hl/sim/guests/411/cgroups")
	kill -9 "$(pid1 411)"
	task POST /nodes/pve1/qemu/411/status/stop
	for d in $cg; do [ ! -e "$d" ]; done
	task POST /nodes/pve1/qemu/411/status/start
	dockerd_up 411
	sim_stop
	if sim_running "$SIMLAB"; then false; fi
	if ip netns list | grep "^$NS"; then false; fi
	if find /sys/fs/cgroup -type d -name "hl-sim-$TAG" | grep .; then false; fi
	if grep -E "$SIMLAB/.hl/sim/" /proc/self/mountinfo; then false; fi
	diff "$BATS_FILE_TMPDIR/iptables.before" <(iptables-save | sed '/^#/d')
	diff "$BATS_FILE_TMPDIR/nft.before" <(nft list ruleset)
	diff "$BATS_FILE_TMPDIR/hierarchies.before" <(cut -f1,2 /proc/cgroups)
	sim_start
}
