#!/usr/bin/env bats
# The workflows (docs/workflows.md) on the example lab, every part real:
# `just up` from nothing (it starts the simulator itself), `just rebuild`
# as a resumable transaction with failures injected at each step, and
# drift from Git with `just sync` running only what it names.  setup_file
# brings the lab up once; the tests go on from each other's state.

load test_helper
load sim_helper

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	WLAB="$BATS_FILE_TMPDIR/lab"
	mkdir -p "$WLAB/.hl"
	cp -r "$TOP/lab.yaml" "$TOP/personas" "$TOP/layers" "$WLAB/"
	ssh-keygen -q -t ed25519 -N '' -f "$WLAB/.hl/id_ed25519"
	git_lab "$WLAB"
	export WLAB
	# the first `just up`, from nothing: no simulator, no template
	(cd "$WLAB" && env -u HL_PVE_ENDPOINT HL_SIM_CONFIG="$TOP/tests/sim/config.json" \
		HL_RESTIC_PASSWORD=wf-restic-pw NOTES_TOKEN=wf-notes-token PATH="$TOP/bin:$PATH" \
		just --justfile "$TOP/justfile" --working-directory "$WLAB" up) \
		> "$BATS_FILE_TMPDIR/up1.json" 2> "$BATS_FILE_TMPDIR/up1.err" || true
}

teardown_file() {
	"$TOP/sim/hl-sim" stop --lab "$WLAB" 2>/dev/null || true
}

setup() {
	common_setup
	LAB=$WLAB
	SIMLAB=$WLAB
	[ ! -f "$LAB/.hl/sim.env" ] || sim_env
	export HL_RESTIC_PASSWORD=wf-restic-pw NOTES_TOKEN=wf-notes-token
	cd "$LAB" || return 1
}

# j WANT RECIPE ARGS...: just RECIPE on the lab, which must exit WANT
j() {
	local want=$1
	shift
	run --separate-stderr just --justfile "$TOP/justfile" --working-directory "$LAB" "$@"
	if [ "$status" != "$want" ]; then
		echo "just $* exited $status, not $want: $output" >&2
		tail -30 <<<"$stderr" >&2
		return 1
	fi
}

# fingerprint: db01's data: every file's sha256, owner, mode and name;
# notes.log only up to its length at the last call of seal (the notes
# service adds a line to it at each start, a deploy's too), and not the
# copy of it its capture hook makes for the snapshot
fingerprint() {
	root_on db01 'cd /srv/notes && find . ! -name "notes.log*" -printf "%p %U:%G %m %y\n" | sort &&
		find . -type f ! -name "notes.log*" -exec sha256sum {} + | sort &&
		head -c '"$(cat "$BATS_FILE_TMPDIR/log.len")"' notes.log | sha256sum'
}

# seal: notes.log's length now, for fingerprint
seal() {
	root_on db01 'stat -c %s /srv/notes/notes.log' > "$BATS_FILE_TMPDIR/log.len"
}

# line RECORD STEP: the last line of STEP in a run record (jq 1.6's -e
# judges only the last input, so the tests look at one line at a time)
line() {
	jq -c --arg s "$2" 'select(.step == $s)' "$1" | tail -1
}

# steps RECORD: the steps of a run record that succeeded, in order
steps() {
	jq -r 'select(.step and .ok) | .step' "$1" | paste -sd' '
}

@test "just up: from nothing, the simulator started, the template built and promoted, every host made, converged, its data declared, its stacks healthy; again, nothing changes" {
	jq -e '.ok and .changed' "$BATS_FILE_TMPDIR/up1.json" || { tail -40 "$BATS_FILE_TMPDIR/up1.err" >&2; false; }
	jq -e '[.steps[] | select(.ok | not)] == [] and
		([.steps[].step] == ["simulator", "runway", "status", "template debian-12",
			"promote debian-12", "apply", "converge", "restore db01", "deploy",
			"verify hl-vm", "verify hl-converge", "verify hl-deploy", "verify data"])' \
		"$BATS_FILE_TMPDIR/up1.json"
	rr=$(jq -r .run_record "$BATS_FILE_TMPDIR/up1.json")
	# the record holds each tool's own document
	line "$rr" "apply" | jq -e '[.doc.hosts[].action] == ["created", "created", "created", "created"]'
	line "$rr" "restore db01" | jq -e '.doc.hosts[0].action == "initialised"'
	line "$rr" "deploy" | jq -e '[.doc.hosts[].stacks[].action] | all(. == "deployed")'
	tail -1 "$rr" | jq -e '.done and .ok'
	curl -sS --max-time 10 http://10.77.0.21:8080/ | grep -q hello
	j 0 up
	jq -e '.ok and (.changed | not) and
		([.steps[] | select(.skipped) | .step] == ["simulator", "templates", "restore", "verify data"])' <<<"$output"
	[[ $stderr == *"the lab was up already: nothing changed"* ]]
	rr=$(jq -r .run_record <<<"$output")
	line "$rr" "apply" | jq -e 'all(.doc.hosts[]; .action == "noop")'
	line "$rr" "converge" | jq -e 'all(.doc.hosts[]; .changed == 0)'
}

@test "just status: a row per host across the layers; as a table on a terminal" {
	head=$(git rev-parse HEAD)
	j 0 status
	jq -e --arg c "$head" '[.hosts[].name] == ["db01", "nas01", "web01", "web02"] and
		all(.hosts[]; .power == "running" and (.ip | startswith("10.77.0.")) and .template.current and
			.converge.ok and .converge.commit == $c and .deploy.commit == $c)' <<<"$output"
	run -0 script -qc "just --justfile '$TOP/justfile' --working-directory '$LAB' status" /dev/null
	[[ ${lines[0]} == HOST*POWER*ADDRESS*TEMPLATE*CONVERGE*DEPLOY*SNAPSHOT*AGE*VERIFY* ]]
	[[ $output == *"web01 "*running*10.77.0.21*current*"${head:0:7}"* ]]
}

@test "just rebuild db01: captured, destroyed, made, converged, restored from exactly that snapshot, deployed and verified: every file back, checksums proven, a new VM" {
	root_on db01 'mkdir -p /srv/notes/keep && head -c 200000 /dev/urandom > /srv/notes/keep/blob &&
		echo kept > /srv/notes/keep/note && chown 1234:5678 /srv/notes/keep/note && chmod 640 /srv/notes/keep/note'
	seal
	before=$(fingerprint)
	machine=$(root_on db01 'cat /etc/machine-id')
	j 0 rebuild db01
	jq -e '.host == "db01" and .ok and .data_verified == true and (.snapshot | test("^[0-9a-f]{8}$")) and
		[.steps[].step] == ["runway", "capture", "destroy", "apply", "converge", "restore", "deploy", "verify"]' <<<"$output"
	snap=$(jq -r .snapshot <<<"$output")
	rr=$(jq -r .run_record <<<"$output")
	[[ $rr == "$LAB/.hl/runs/"*"-rebuild-db01.ndjson" ]]
	# the snapshot restored is the one the capture took
	line "$rr" "capture" | jq -e --arg s "$snap" '.doc.hosts[0].snapshot == $s'
	line "$rr" "restore" | jq -e --arg s "$snap" '.argv == ["restore", "db01", "--snapshot", $s, "--yes"] and
		.doc.hosts[0].verified.mismatches == [] and .doc.hosts[0].verified.files > 2'
	line "$rr" "verify" | jq -e 'all(.doc.checks[]; .code == 0)'
	[ "$(fingerprint)" = "$before" ]
	[ "$(root_on db01 'cat /etc/machine-id')" != "$machine" ]
	# the notes service is up on the new VM, over the restored data
	[ "$(root_on db01 'tail -1 /srv/notes/notes.log' | cut -d' ' -f1)" = started ]
}

@test "just rebuild: a failure at each step (fault, wrong password, kill, failing role, unhealthy stack, drift), each re-run carries on where it stopped; one capture, one destroy, the same snapshot, the data identical" {
	seal
	before=$(fingerprint)
	snaps=$(hl-capture list db01 | jq '.hosts[0].snapshots | length')
	sim_mark
	# runway: db01's node is offline
	faults '{"nodes_offline": ["pve2"]}'
	j 1 rebuild db01
	jq -e '.ok == false and .failed_step == "runway"' <<<"$output"
	rr=$(jq -r .run_record <<<"$output")
	faults '{}'
	# capture: restic cannot open the repository with this password
	HL_RESTIC_PASSWORD=not-the-password j 5 rebuild db01
	jq -e --arg r "$rr" '.failed_step == "capture" and .run_record == $r' <<<"$output"
	[[ $stderr == *"carrying on the unfinished run $rr"* ]]
	# destroy: the API refuses the VM's removal once
	faults '{"fail": [{"method": "DELETE", "path": "/nodes/pve2/qemu/211", "nth": 1, "status": 500, "message": "injected"}]}'
	j 5 rebuild db01
	jq -e '.failed_step == "destroy"' <<<"$output"
	faults '{}'
	[ "$(steps "$rr")" = "runway capture" ]
	# apply: the run killed while its clone task runs (slow tasks hold it)
	faults '{"task_ms": 3000}'
	local count
	count=$(sim_since | grep -c '^POST /api2/json/nodes/pve2/qemu/[0-9]*/clone' || true)
	setsid just --justfile "$TOP/justfile" --working-directory "$LAB" rebuild db01 \
		> "$BATS_TEST_TMPDIR/killed.out" 2>&1 &
	local pid=$! n=0
	until [ "$(sim_since | grep -c '^POST /api2/json/nodes/pve2/qemu/[0-9]*/clone' || true)" -gt "$count" ]; do
		sleep 0.1
		n=$((n + 1))
		[ $n -lt 1200 ] || { cat "$BATS_TEST_TMPDIR/killed.out" >&2; false; }
	done
	kill -9 -- -"$pid"
	wait "$pid" || true
	faults '{}'
	[ "$(steps "$rr")" = "runway capture destroy" ]
	# converge: a role that fails
	printf -- '- name: injected failure\n  ansible.builtin.fail: {msg: injected}\n' >> layers/L3/roles/restic/tasks/main.yml
	commit_all "a failing role"
	j 5 rebuild db01
	jq -e '.failed_step == "converge"' <<<"$output"
	git revert --no-edit HEAD > /dev/null
	# restore: the password again
	HL_RESTIC_PASSWORD=not-the-password j 5 rebuild db01
	jq -e '.failed_step == "restore"' <<<"$output"
	# deploy: a stack that never turns healthy
	sed -i 's/tcp: 8081/tcp: 8089/; s/^timeout: .*/timeout: 5/' layers/L4/stacks/notes/stack.yaml
	grep -q 'tcp: 8089' layers/L4/stacks/notes/stack.yaml
	commit_all "an unhealthy stack"
	j 5 rebuild db01
	jq -e '.failed_step == "deploy"' <<<"$output"
	git revert --no-edit HEAD > /dev/null
	# verify: the specs drifted from what was applied
	sed -i 's/^memory: 2G/memory: 3G/' personas/db.yaml
	commit_all "db01 drifts"
	j 1 rebuild db01
	jq -e '.failed_step == "verify"' <<<"$output"
	git revert --no-edit HEAD > /dev/null
	j 0 rebuild db01
	jq -e --arg r "$rr" '.ok and .data_verified == true and .run_record == $r' <<<"$output"
	# each step done once; one capture, one destroy request that worked,
	# one clone; the snapshot restored is the one captured
	[ "$(steps "$rr")" = "runway capture destroy apply converge restore deploy verify" ]
	[ "$(hl-capture list db01 | jq '.hosts[0].snapshots | length')" = $((snaps + 1)) ]
	[ "$(sim_since | grep -c '^DELETE /api2/json/nodes/pve2/qemu/211')" = 2 ]
	[ "$(sim_since | grep -c '^POST /api2/json/nodes/pve2/qemu/[0-9]*/clone')" = 1 ]
	snap=$(jq -r 'select(.step == "capture" and .ok) | .doc.hosts[0].snapshot' "$rr")
	line "$rr" restore | jq -e --arg s "$snap" '.ok and .argv[3] == $s'
	[ "$(fingerprint)" = "$before" ]
	# a new run after a finished one starts afresh
	tail -1 "$rr" | jq -e '.done and .ok'
}

@test "hl-validate drift and just sync: a role names only L3 of its hosts, a stack only L4, a persona's memory L2; sync runs exactly that; a promoted template suggests a rebuild" {
	j 0 sync
	j 0 drift --exit-code
	jq -e 'all(.hosts[].layers[]; .action == "none")' <<<"$output"
	# a role: L3 of the hosts that run it
	printf -- '- name: drift test\n  ansible.builtin.debug: {msg: drift}\n' >> layers/L3/roles/docker/tasks/main.yml
	commit_all "docker role"
	j 1 drift --exit-code
	jq -e '[.hosts[] | select(.layers.L3.action == "converge") | .name] == ["db01", "web01", "web02"] and
		all(.hosts[]; .layers.L2.action == "none" and .layers.L4.action == "none") and
		(.hosts[] | select(.name == "web01") | .layers.L3.files) == ["layers/L3/roles/docker/tasks/main.yml"] and
		(.hosts[] | select(.name == "nas01") | .layers.L3.action) == "none"' <<<"$output"
	j 0 sync
	jq -e '.ok and .ran == [{layer: "L3", tool: "hl-converge apply", hosts: ["db01", "web01", "web02"], code: 0}]' <<<"$output"
	j 0 drift --exit-code
	# a stack: L4 of its hosts
	echo '<p>drift</p>' >> layers/L4/stacks/hello/www/index.html
	commit_all "hello page"
	j 1 drift --exit-code
	jq -e '[.hosts[] | select(.layers.L4.action == "deploy") | .name] == ["web01", "web02"] and
		all(.hosts[]; .layers.L3.action == "none" and .layers.L2.action == "none")' <<<"$output"
	j 0 sync
	jq -e '.ran == [{layer: "L4", tool: "hl-deploy apply", hosts: ["web01", "web02"], code: 0}]' <<<"$output"
	curl -sS --max-time 10 http://10.77.0.22:8080/ | grep -q '<p>drift</p>'
	# a persona's memory: L2 of its hosts, by key
	sed -i 's/^memory: 1G/memory: 2G/' personas/web.yaml
	commit_all "web memory"
	j 1 drift --exit-code
	jq -e '[.hosts[] | select(.layers.L2.action == "apply") | .name] == ["web01", "web02"] and
		(.hosts[] | select(.name == "web01") | .layers.L2 | .keys == ["memory_mib"] and .files == ["personas/web.yaml"]) and
		all(.hosts[]; .layers.L3.action == "none" and .layers.L4.action == "none" and (.rebuild_suggested | not))' <<<"$output"
	j 0 sync
	jq -e '.ran == [{layer: "L2", tool: "hl-vm apply", hosts: ["web01", "web02"], code: 0}]' <<<"$output"
	j 0 drift --exit-code
	# a template promoted: every host on it is behind its channel
	run -0 --separate-stderr hl-template build debian-12 --all-nodes --force --timeout 300
	run -0 --separate-stderr hl-template promote debian-12
	j 1 drift --exit-code
	jq -e 'all(.hosts[]; .rebuild_suggested and .layers.L2.action == "rebuild" and
		.layers.L2.files == ["layers/L1/channels.yaml"])' <<<"$output"
	j 0 sync
	jq -e '.ran == [] and .rebuild_suggested == ["db01", "nas01", "web01", "web02"]' <<<"$output"
	# --live: the tools' own view beside Git's
	j 0 drift --live web01
	jq -e '.hosts[0].live | (.L2.name == "web01") and (.L3.name == "web01") and (.L4.name == "web01")' <<<"$output"
}

@test "just rebuild of an appliance (boot_capture): its boot capture put back in place of destroy and apply, same vmid and MAC, then converged and verified" {
	cat > personas/app.yaml <<-'EOF2'
	# an appliance: its boot disk is captured, not rebuilt from a template
	template: debian-12
	cores: 1
	memory: 512M
	disk: 8G
	boot_capture: true
	hosts:
	  app01:
	    vmid: 231
	    node: pve2
	    ip: 10.77.0.51/24
	EOF2
	sed -i 's/^    keep: {last: 7, daily: 7, weekly: 4}$/&\n  boot: {storage: local, mode: snapshot, keep: 2}/' lab.yaml
	grep -q '^  boot: {storage: local' lab.yaml
	commit_all "an appliance"
	expect_exit 0 hl-vm apply app01 --timeout 300
	expect_exit 0 hl-converge apply app01
	root_on app01 'echo as-captured > /etc/hl-probe'
	expect_exit 0 hl-capture boot app01
	root_on app01 'echo changed-since > /etc/hl-probe'
	api GET /nodes/pve2/qemu/231/config
	net0=$(jq -r .data.net0 <<<"$output")
	j 0 rebuild app01
	jq -e '.ok and .data_verified == null and
		[.steps[].step] == ["runway", "capture", "boot-restore", "converge", "restore", "deploy", "verify"] and
		([.steps[] | select(.skipped) | .step] == ["capture", "restore"])' <<<"$output"
	[ "$(root_on app01 'cat /etc/hl-probe')" = as-captured ]
	api GET /nodes/pve2/qemu/231/config
	[ "$(jq -r .data.net0 <<<"$output")" = "$net0" ]
}
