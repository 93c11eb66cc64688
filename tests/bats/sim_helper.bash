# One simulator per .bats file: setup_file starts it in the file's own
# directory, teardown_file stops it.  Tests call api METHOD PATH [ARGS...]
# (curl, token auth, the simulator's CA) and check $status, $reason, $output.

sim_start() {
	SIMLAB="$BATS_FILE_TMPDIR/lab"
	mkdir -p "$SIMLAB"
	: > "$SIMLAB/lab.yaml"
	"$TOP/sim/hl-sim" start --lab "$SIMLAB" --config "${SIM_CONFIG:-$TOP/tests/sim/config.json}" \
		> "$BATS_FILE_TMPDIR/start.out" 2> "$BATS_FILE_TMPDIR/start.err"
	set -a
	# shellcheck disable=SC1091
	. "$SIMLAB/.hl/sim.env"
	set +a
	export SIMLAB
}

# example_lab DIR [CONFIG]: the example lab copied to DIR with a key pair of
# its own, and a simulator started for it (CONFIG, default
# tests/sim/config.json)
example_lab() {
	mkdir -p "$1/.hl"
	cp -r "$TOP/lab.yaml" "$TOP/personas" "$TOP/layers" "$1/"
	ssh-keygen -q -t ed25519 -N '' -f "$1/.hl/id_ed25519"
	"$TOP/sim/hl-sim" start --lab "$1" --config "${2:-$TOP/tests/sim/config.json}" \
		> "$BATS_FILE_TMPDIR/start.out" 2>&1
}

# other_net CONFIG OUT: CONFIG with its guests on 10.78.0.0/24, for a second
# simulator while the file's own routes 10.77.0.0/24 (hl-sim refuses two
# simulators on one subnet)
other_net() {
	jq '. + {networks: {vmbr0: {cidr: "10.78.0.1/24", dhcp: "10.78.0.100-10.78.0.199"}}}' "$1" > "$2"
}

sim_stop() {
	"$TOP/sim/hl-sim" stop --lab "$SIMLAB" 2>/dev/null || true
}

# api METHOD PATH [curl args...]: sets status (HTTP code), reason, output (body)
api() {
	local method=$1 path=$2
	shift 2
	local hdr="$BATS_TEST_TMPDIR/hdr"
	output=$(curl -sS --max-time 20 --cacert "$HL_PVE_CAFILE" -X "$method" \
		-H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" \
		-D "$hdr" "$@" "$HL_PVE_ENDPOINT/api2/json$path")
	status=$(head -1 "$hdr" | cut -d' ' -f2)
	reason=$(head -1 "$hdr" | cut -d' ' -f3- | tr -d '\r')
}

# wait_task UPID [SECONDS]: poll until stopped (default 10 s); sets output
# to the final status
wait_task() {
	local upid=$1 node
	node=$(cut -d: -f2 <<<"$upid")
	for _ in $(seq 1 $((${2:-10} * 10))); do
		api GET "/nodes/$node/tasks/$(jq -rn --arg u "$upid" '$u|@uri')/status"
		[ "$(jq -r .data.status <<<"$output")" = stopped ] && return 0
		sleep 0.1
	done
	echo "task $upid did not stop: $output" >&2
	return 1
}

# sim_running LAB: whether any process of LAB's simulator runs (itself or
# its nodes' sshd), read from /proc so no procps is needed
sim_running() {
	local f
	for f in /proc/[0-9]*/cmdline; do
		tr '\0' ' ' < "$f" 2>/dev/null | grep -qF "$1/.hl/sim" && return 0
	done
	return 1
}

# alive PID: the process exists and is not a zombie (an orphan's exit may
# wait for a reaper that a container's init is not)
alive() {
	local state
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# sim_env: the running simulator's .hl/sim.env into the environment
sim_env() {
	set -a
	# shellcheck disable=SC1091
	. "$SIMLAB/.hl/sim.env"
	set +a
}

# faults JSON: replace the simulator's injected faults (as root's token)
faults() {
	curl -sS --fail --cacert "$HL_PVE_CAFILE" -X PUT \
		-H "Authorization: PVEAPIToken=${ROOT_TOKEN:-$HL_PVE_TOKEN}" \
		--data-binary "$1" "$HL_PVE_ENDPOINT/sim/faults" > /dev/null
}

# sim_mark: a request the simulator's log will show, to read the log from
# (it keeps only its newest 10000): a GET of a VM no test makes
sim_mark() {
	SIM_MARK="/api2/json/nodes/pve1/qemu/$((900000 + RANDOM))/status/current"
	curl -sS -o /dev/null --max-time 20 --cacert "$HL_PVE_CAFILE" \
		-H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" "$HL_PVE_ENDPOINT$SIM_MARK"
}

# sim_since: "METHOD PATH" of each API request the simulator saw after
# sim_mark, a line each; fails when the mark is not in the log
sim_since() {
	curl -sS --max-time 20 --cacert "$HL_PVE_CAFILE" \
		-H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" "$HL_PVE_ENDPOINT/sim/requests" |
		jq -r --arg m "$SIM_MARK" '.data | ([to_entries[] | select(.value.path == $m) | .key] | last) as $i |
			if $i == null then error("the mark is not in the request log")
			else .[$i + 1:][] | "\(.method) \(.path)" end'
}

# sim_nothing_changed [reads]: since sim_mark the simulator saw no POST,
# PUT or DELETE (and with "reads", at least one GET: the run did ask)
sim_nothing_changed() {
	local seen
	seen=$(sim_since) || return 1
	if grep -v '^GET ' <<<"$seen" | grep .; then
		echo "requests that change something were sent" >&2
		return 1
	fi
	if [ "${1:-}" = reads ] && ! grep -q '^GET ' <<<"$seen"; then
		echo "no request was seen at all" >&2
		return 1
	fi
}

# git_lab DIR: DIR made a Git repository with everything in it committed
# (.hl/ ignored), as hl's mutating verbs want a lab
git_lab() {
	printf '.hl/\n' > "$1/.gitignore"
	git -C "$1" init -q
	git -C "$1" add -A
	git -C "$1" -c user.name=t -c user.email=t@t commit -qm lab
}

# guest_lab DIR [HOST...]: the example lab in DIR (example_lab), then
# guest_lab_up
guest_lab() {
	example_lab "$1"
	guest_lab_up "$@"
}

# guest_lab_up DIR [HOST...]: the lab in DIR (an example_lab, changed as a
# test wants) committed (git_lab), its template built on both nodes and
# promoted, and the hosts' VMs (all by default) made by hl-vm apply: real
# guests, their keys in .hl/
guest_lab_up() {
	local dir=$1
	shift
	git_lab "$dir"
	# a step that fails says why (its stderr, the guests' consoles)
	PATH="$TOP/bin:$PATH" hl-template -C "$dir" build debian-12 --all-nodes --timeout 300 \
		> "$BATS_FILE_TMPDIR/build.out" 2> "$BATS_FILE_TMPDIR/build.err" ||
		{ tail -20 "$BATS_FILE_TMPDIR/build.err" >&2; SIMLAB=$dir sim_consoles >&2; return 1; }
	PATH="$TOP/bin:$PATH" hl-template -C "$dir" promote debian-12 > /dev/null 2>&1
	PATH="$TOP/bin:$PATH" hl-vm -C "$dir" apply "$@" --timeout 300 \
		> "$BATS_FILE_TMPDIR/apply.out" 2> "$BATS_FILE_TMPDIR/apply.err" ||
		{ tail -20 "$BATS_FILE_TMPDIR/apply.err" >&2; SIMLAB=$dir sim_consoles >&2; return 1; }
}

# root_on HOST CMD: CMD run as root on a host of $LAB, over ssh pinned as
# hl pins it (.hl/known_hosts under the host's name), at the address its
# inventory gives
root_on() {
	local host=$1 ip
	shift
	ip=$(hl-converge -C "$LAB" inventory --host "$host" | jq -r .ansible_host)
	ssh -n -i "$LAB/.hl/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=yes \
		-o UserKnownHostsFile="$LAB/.hl/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o HostKeyAlias="$host" -o ConnectTimeout=10 "debian@$ip" "sudo sh -c '$*'"
}

# commit_all MESSAGE: every change in $LAB committed
commit_all() {
	git -C "$LAB" add -A
	git -C "$LAB" -c user.name=t -c user.email=t@t commit -qm "$1"
}

# spec_reset PATH...: files or directories of $LAB as the example lab has
# them, committed when that changed anything (a test that changes the
# specs starts from the declared ones)
spec_reset() {
	local f
	for f in "$@"; do
		rm -rf "${LAB:?}/$f"
		cp -r "$TOP/$f" "$LAB/$f"
	done
	if [ -n "$(git -C "$LAB" status --porcelain -- "$@")" ]; then
		commit_all "reset $*"
	fi
}
