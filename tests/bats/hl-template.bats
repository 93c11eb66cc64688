#!/usr/bin/env bats
# hl-template: L1 builds against the simulator's real guests.  The example
# lab in a Git repository of its own; the simulator serves its image
# mirror, the nodes' SFTP and the apt proxy the prepare step installs the
# agent through.

load test_helper
load sim_helper

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	TLAB="$BATS_FILE_TMPDIR/lab"
	example_lab "$TLAB"
	printf '.hl/\n' > "$TLAB/.gitignore"
	git -C "$TLAB" init -q
	git -C "$TLAB" -c user.name=t -c user.email=t@t add -A
	git -C "$TLAB" -c user.name=t -c user.email=t@t commit -qm lab
	export TLAB
}

teardown_file() {
	"$TOP/sim/hl-sim" stop --lab "$TLAB" 2>/dev/null || true
}

setup() {
	common_setup
	LAB=$TLAB
	SIMLAB=$TLAB
	sim_env
	faults '{}'
}

# tpl WANT ARGS...: hl-template on the lab, exit status WANT
tpl() {
	local want=$1
	shift
	run --separate-stderr hl-template -C "$LAB" "$@"
	if [ "$status" != "$want" ]; then
		echo "hl-template exited $status, not $want: $output $stderr" >&2
		return 1
	fi
}

# the VMs on node pve1 as the API lists them
vms() {
	api GET /cluster/resources --get -d type=vm
	jq -c '[.data[] | {vmid, node, template, tags, name}]' <<<"$output"
}

# the lab's Git state and L1 files, to show a dry run left them as they were
lab_state() {
	git -C "$LAB" rev-parse HEAD
	git -C "$LAB" status --porcelain
	find "$LAB/layers/L1" -type f | sort | xargs sha256sum
}

@test "hl-template: build downloads, imports, prepares and templates, then records the artifact" {
	tpl 0 build debian-12 --node pve1 --timeout 300
	jq -e '.templates[0] | .action == "built" and .node == "pve1" and .name == "debian-12"' <<<"$output"
	a=$(jq -c '.templates[0].artifact' <<<"$output")
	vmid=$(jq -r .vmid <<<"$a")
	[ "$vmid" = 9000 ]
	# the artifact file, with its provenance
	f=$(ls "$LAB/layers/L1/artifacts/debian-12/pve1/"*.json)
	jq -e --argjson v "$vmid" '.vmid == $v and .node == "pve1" and (.digest | length) == 64
		and (.source.url | startswith("https://cloud.debian.org/"))
		and (.mirrored.url | startswith("http://127.0.0.1:"))
		and (.mirrored.checksum | startswith("sha512:"))
		and (.import_volume | test("^local:import/[0-9a-f]{16}-debian-12-generic-amd64-20250210-2019.qcow2$"))
		and (.spec_commit | length) == 40 and (.upids | length) == 5
		and (.created_at | test("^[0-9-]+T[0-9:]+Z$"))' "$f"
	# the template: tag, marker, agent, serial console, no cicustom left
	api GET /nodes/pve1/qemu/$vmid/config
	jq -e '.data.template == 1 and (.data.tags | split(";") | index("hl-demo") != null)
		and (.data.description | test("^hl: lab=demo template=debian-12 digest=[0-9a-f]{64} artifact="))
		and .data.agent == "enabled=1" and .data.serial0 == "socket"
		and (.data | has("cicustom") | not)
		and (.data.scsi0 | startswith("local-lvm:base-9000-disk-0"))' <<<"$output"
	# the prepare boot installed the agent through the apt proxy, then
	# cleaned cloud-init: the guest saw both
	grep -q 'Setting up qemu-guest-agent' "$LAB/.hl/sim/guests/$vmid/console.log"
	grep -q 'proxy' "$LAB/.hl/sim/nodes/pve1/root/var/lib/vz/snippets/hl-demo-debian-12-agent.yaml"
	tpl 0 list debian-12
	jq -e --argjson v "$vmid" '.templates[0].artifacts | length == 1 and .[0].vmid == $v and .[0].exists' <<<"$output"
}

@test "hl-template: the same definition on the same node is left alone; --force builds again, reusing the download" {
	before=$(vms)
	tpl 0 build debian-12 --node pve1
	jq -e '.templates[0].action == "exists" and .templates[0].artifact.vmid == 9000' <<<"$output"
	[ "$(vms)" = "$before" ]
	tpl 0 build debian-12 --node pve1 --force --timeout 300
	jq -e '.templates[0].action == "built" and .templates[0].artifact.vmid == 9001' <<<"$output"
	# the import file was there already: no download task this time
	jq -e '[.templates[0].artifact.upids[] | select(test(":download:"))] | length == 0' <<<"$output"
	[[ $stderr == *"already there (same checksum)"* ]]
	api DELETE /nodes/pve1/qemu/9001
	wait_task "$(jq -r .data <<<"$output")"
	rm "$LAB/layers/L1/artifacts/debian-12/pve1/"$(ls -t "$LAB/layers/L1/artifacts/debian-12/pve1" | head -1)
}

@test "hl-template build --dry-run: says what it would build, sends nothing that changes anything, exit 0; fails where the build would" {
	before=$(vms)
	files=$(lab_state)
	sim_mark
	tpl 0 build debian-12 --node pve1 --force --dry-run
	jq -e '.dry_run == true and (.templates | length) == 1 and (.templates[0] | .action == "would_build"
		and .node == "pve1" and .vmid == 9001 and (.digest | length) == 64 and .download == false
		and (.import_volume | startswith("local:import/")) and (.source.url | startswith("http://127.0.0.1:")))' <<<"$output"
	[[ $stderr == *"debian-12 on pve1: would create VM 9001 from local:import/"* ]]
	sim_nothing_changed reads
	[ "$(vms)" = "$before" ]
	[ "$(lab_state)" = "$files" ]
	# without --force the same definition is there: the same "exists"
	tpl 0 build debian-12 --node pve1 --dry-run
	jq -e '.dry_run and .templates[0].action == "exists" and .templates[0].artifact.vmid == 9000' <<<"$output"
	# the checks of a build are made: a missing import storage, dirty specs
	copy="$BATS_TEST_TMPDIR/lab"
	cp -r "$LAB" "$copy"
	sed -i 's/^  import: local$/  import: tank/' "$copy/layers/L1/templates/debian-12.yaml"
	run --separate-stderr hl-template -C "$copy" build debian-12 --node pve1 --force --dry-run
	[ "$status" = 6 ]
	[[ $stderr == *"uncommitted changes"* ]]
	run --separate-stderr hl-template -C "$copy" build debian-12 --node pve1 --force --dry-run --allow-dirty
	[ "$status" = 5 ]
	[[ $stderr == *"the import storage 'tank' does not exist on node pve1"* ]]
	sim_nothing_changed
	[ "$(vms)" = "$before" ]
}

@test "hl-template: an unknown template is exit 3; dirty specs are refused (6) unless --allow-dirty" {
	tpl 3 build nosuch --node pve1
	[[ $stderr == *"no template 'nosuch'"* ]]
	echo "# edited" >> "$LAB/personas/web.yaml"
	tpl 6 build debian-12 --node pve1
	[[ $stderr == *"uncommitted changes"* ]]
	git -C "$LAB" checkout -q personas/web.yaml
	run hl-template -C "$LAB" build
	[ "$status" = 2 ]
}

@test "hl-template: a checksum mismatch fails in the task and leaves nothing" {
	copy="$BATS_TEST_TMPDIR/lab"
	cp -r "$LAB" "$copy"
	sed -i 's/^    checksum: {from: .hl\/sim-mirror.env, key: HL_SIM_MIRROR_CHECKSUM}$/    checksum: sha512:'"$(printf '0%.0s' $(seq 128))"'/' "$copy/lab.yaml"
	grep -q 'sha512:0000' "$copy/lab.yaml"
	before=$(vms)
	run --separate-stderr hl-template -C "$copy" build debian-12 --node pve2 --allow-dirty
	[ "$status" = 5 ]
	[[ $stderr == *"failed: checksum mismatch: got '"* ]]
	[ "$(vms)" = "$before" ]
	api GET /nodes/pve2/storage/local/content --get -d content=import
	jq -e '.data | map(select(.volid | test("^local:import/000000"))) | length == 0' <<<"$output"
	[ ! -d "$copy/layers/L1/artifacts/debian-12/pve2" ]
}

@test "hl-template: an unreachable source URL fails the download task and leaves nothing" {
	copy="$BATS_TEST_TMPDIR/lab"
	cp -r "$LAB" "$copy"
	sed -i 's|^    url: {from: .hl/sim-mirror.env, key: HL_SIM_MIRROR_URL}$|    url: http://127.0.0.1:9/nothing.qcow2|' "$copy/lab.yaml"
	grep -q '127.0.0.1:9/nothing' "$copy/lab.yaml"
	before=$(vms)
	run --separate-stderr hl-template -C "$copy" build debian-12 --node pve2 --allow-dirty
	[ "$status" = 5 ]
	[[ $stderr == *":download:"*"failed: download failed:"* ]]
	[ "$(vms)" = "$before" ]
}

@test "hl-template: an import storage that is missing or not a file storage is refused before anything is made" {
	copy="$BATS_TEST_TMPDIR/lab"
	cp -r "$LAB" "$copy"
	sed -i 's/^  import: local$/  import: tank/' "$copy/layers/L1/templates/debian-12.yaml"
	run --separate-stderr hl-template -C "$copy" build debian-12 --node pve1 --allow-dirty
	[ "$status" = 5 ]
	[[ $stderr == *"the import storage 'tank' does not exist on node pve1"* ]]
	sed -i 's/^  import: tank$/  import: local-lvm/' "$copy/layers/L1/templates/debian-12.yaml"
	run --separate-stderr hl-template -C "$copy" build debian-12 --node pve1 --allow-dirty
	[ "$status" = 5 ]
	[[ $stderr == *"the import storage 'local-lvm' on pve1 is of type lvmthin: it must be a file storage"* ]]
}

@test "hl-template: a missing snippets storage is refused before anything is made; agent: builtin needs none and skips prepare" {
	copy="$BATS_TEST_TMPDIR/lab"
	cp -r "$LAB" "$copy"
	sed -i 's/^  snippets: local$/  snippets: tank/' "$copy/layers/L1/templates/debian-12.yaml"
	before=$(vms)
	run --separate-stderr hl-template -C "$copy" build debian-12 --node pve2 --allow-dirty --force
	[ "$status" = 5 ]
	[[ $stderr == *"the snippets storage 'tank' does not exist on node pve2"* ]]
	[ "$(vms)" = "$before" ]
	sed -i 's/^agent: install$/agent: builtin/' "$copy/layers/L1/templates/debian-12.yaml"
	run --separate-stderr hl-template -C "$copy" build debian-12 --node pve2 --allow-dirty
	[ "$status" = 0 ]
	jq -e '.templates[0].action == "built" and ([.templates[0].artifact.upids[] | select(test(":qmstart:"))] | length) == 0' <<<"$output"
	vmid=$(jq -r '.templates[0].artifact.vmid' <<<"$output")
	[[ $stderr != *"uploading the vendor-data"* ]]
	api DELETE "/nodes/pve2/qemu/$vmid"
	wait_task "$(jq -r .data <<<"$output")"
}

@test "hl-template: a node SSH host key other than the pinned one: refused (4) before anything is downloaded or made" {
	copy="$BATS_TEST_TMPDIR/lab"
	cp -r "$LAB" "$copy"
	other=$(ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/k" && cut -d' ' -f1-2 "$BATS_TEST_TMPDIR/k.pub")
	sed -i "0,/host_key: {from: .hl\/sim-nodes.env, key: HL_SIM_PVE2_HOST_KEY}/s||host_key: $other|" "$copy/lab.yaml"
	grep -q "host_key: $other" "$copy/lab.yaml"
	rm -f "$LAB/.hl/sim/nodes/pve2/root/var/lib/vz/snippets/"*
	before=$(vms)
	run --separate-stderr hl-template -C "$copy" build debian-12 --node pve2 --allow-dirty
	[ "$status" = 4 ]
	[[ $stderr == *"127.0.0.1 port "*" answers with another host key than lab.yaml pins"* ]]
	[[ $stderr != *"downloading"* && $stderr != *"creating VM"* ]]
	[ -z "$(ls "$LAB/.hl/sim/nodes/pve2/root/var/lib/vz/snippets/")" ]
	[ "$(vms)" = "$before" ]
}

@test "hl-template: an agent that never comes up fails (5) within the timeout and the VM is removed" {
	copy="$BATS_TEST_TMPDIR/lab"
	cp -r "$LAB" "$copy"
	# the apt proxy points nowhere: qemu-guest-agent cannot be installed
	sed -i 's|^apt_proxy: .*|apt_proxy: http://10.77.0.1:9|' "$copy/lab.yaml"
	before=$(vms)
	SECONDS=0
	run --separate-stderr hl-template -C "$copy" build debian-12 --node pve2 --allow-dirty --timeout 25
	[ "$status" = 5 ]
	[ "$SECONDS" -lt 90 ]
	[[ $stderr =~ the\ guest\ agent\ of\ VM\ 90[0-9][0-9]\ on\ pve2\ did\ not\ answer\ within\ 25\ s ]]
	[[ $stderr =~ removed\ the\ half-made\ VM\ 90[0-9][0-9] ]]
	[ "$(vms)" = "$before" ]
}

@test "hl-template: a vmid range with every id taken is refused" {
	copy="$BATS_TEST_TMPDIR/lab"
	cp -r "$LAB" "$copy"
	sed -i 's/^vmids: {first: 9000, last: 9099}$/vmids: {first: 9000, last: 9000}/' "$copy/layers/L1/templates/debian-12.yaml"
	run --separate-stderr hl-template -C "$copy" build debian-12 --node pve2 --allow-dirty --force
	[ "$status" = 5 ]
	[[ $stderr == *"every vmid of its range 9000-9000 is taken"* ]]
}

@test "hl-template: kill -9 mid-build, then a re-run finishes with one template for the digest" {
	hl-template -C "$LAB" build debian-12 --node pve2 --timeout 300 > /dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 200); do
		api GET /cluster/resources --get -d type=vm
		jq -e '.data | any(.node == "pve2" and .template == 0 and (.tags // "" | test("hl-template")))' <<<"$output" >/dev/null && break
		sleep 0.1
	done
	kill -9 "$pid"
	wait "$pid" || true
	tpl 0 build debian-12 --node pve2 --timeout 300
	jq -e '.templates[0].action == "built"' <<<"$output"
	[[ $stderr == *"interrupted build of this definition: removing it"* ]]
	api GET /cluster/resources --get -d type=vm
	jq -e '[.data[] | select(.node == "pve2" and (.tags // "" | test("hl-template")))] | length == 1 and .[0].template == 1' <<<"$output"
}

@test "hl-template: an interrupted build still locked past the wait fails clearly (5), and a later run removes it" {
	# a definition of its own (another digest, its own vmids), so the
	# lab's artifacts stay as the tests after this one expect
	local copy="$BATS_TEST_TMPDIR/copy" vmid=""
	cp -r "$LAB" "$copy"
	sed -i 's/^vmids: {first: 9000, last: 9099}$/vmids: {first: 9050, last: 9099}/' "$copy/layers/L1/templates/debian-12.yaml"
	# a build killed once its VM is made (tagged and marked)...
	hl-template -C "$copy" build debian-12 --node pve2 --allow-dirty --timeout 300 > /dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 600); do
		api GET /cluster/resources --get -d type=vm
		vmid=$(jq -r '[.data[] | select(.node == "pve2" and .vmid >= 9050 and .template == 0 and
			(.tags // "" | test("hl-template")))][0].vmid // empty' <<<"$output")
		[ -n "$vmid" ] && break
		sleep 0.1
	done
	kill -9 "$pid"
	wait "$pid" || true
	[ -n "$vmid" ]
	# ...whose VM something else holds locked (as a backup would)
	api PUT "/nodes/pve2/qemu/$vmid/config" -d lock=backup
	[ "$status" = 200 ]
	run -5 --separate-stderr hl-template -C "$copy" build debian-12 --node pve2 --allow-dirty --timeout 2
	[[ $stderr == *"VM $vmid on pve2, an interrupted build of this definition, is still locked after 2 s: wait for its task, then run again"* ]]
	# nothing was built beside it
	api GET /cluster/resources --get -d type=vm
	jq -e '[.data[] | select(.node == "pve2" and .vmid >= 9050)] | length == 1' <<<"$output"
	# unlocked, the next run removes it and builds
	api PUT "/nodes/pve2/qemu/$vmid/config" -d delete=lock -d skiplock=1
	[ "$status" = 200 ]
	run -0 --separate-stderr hl-template -C "$copy" build debian-12 --node pve2 --allow-dirty --timeout 300
	[[ $stderr == *"VM $vmid is an interrupted build of this definition: removing it"* ]]
	built=$(jq -r '.templates[0].artifact.vmid' <<<"$output")
	api GET /cluster/resources --get -d type=vm
	jq -e '[.data[] | select(.node == "pve2" and .vmid >= 9050)] | length == 1 and .[0].template == 1' <<<"$output"
	api DELETE "/nodes/pve2/qemu/$built"
	wait_task "$(jq -r .data <<<"$output")"
}

@test "hl-template: --all-nodes builds where the lab places hosts using it; just template" {
	need_just
	cp "$TOP/justfile" "$LAB/"
	cd "$LAB"
	run --separate-stderr env PATH="$TOP/bin:$PATH" just bin="$TOP/bin" template debian-12 --all-nodes --timeout 300
	[ "$status" = 0 ]
	jq -e '[.templates[] | .node] == ["pve1", "pve2"] and all(.templates[]; .action == "exists")' <<<"$output"
	# the other L1 recipes: list, and gc that only lists without --yes
	run -0 --separate-stderr env PATH="$TOP/bin:$PATH" just bin="$TOP/bin" templates
	jq -e '.templates[0].name == "debian-12" and ([.templates[0].artifacts[].node] | unique) == ["pve1", "pve2"]' <<<"$output"
	run --separate-stderr env PATH="$TOP/bin:$PATH" just bin="$TOP/bin" template-gc
	jq -e '.applied == false' <<<"$output"
	just --list | grep -q '^ *rollback NAME'
}

@test "hl-template promote --dry-run: says where the channel would point; writes, commits and sends nothing, exit 0" {
	[ ! -e "$LAB/layers/L1/channels.yaml" ]
	files=$(lab_state)
	sim_mark
	tpl 0 promote debian-12 --dry-run
	jq -e '.dry_run == true and .template == "debian-12" and .channel == "stable"
		and (.nodes | keys) == ["pve1", "pve2"] and (.nodes.pve1 | test("^[0-9]{8}T[0-9]{6}Z$"))
		and .previous == {"pve1": null, "pve2": null} and .commit == null' <<<"$output"
	[[ $stderr == *"hl-template: debian-12: would point stable on pve1: "* ]]
	[ ! -e "$LAB/layers/L1/channels.yaml" ]
	[ "$(lab_state)" = "$files" ]
	sim_nothing_changed
	# dirty specs refuse it as they refuse the promote
	echo "# edited" >> "$LAB/personas/web.yaml"
	tpl 6 promote debian-12 --dry-run
	git -C "$LAB" checkout -q personas/web.yaml
	# so does a commit that would be refused: a detached HEAD
	git -C "$LAB" checkout -q --detach
	tpl 6 promote debian-12 --dry-run
	[[ $stderr == *"HEAD is detached"* ]]
	git -C "$LAB" checkout -q -
	[ "$(lab_state)" = "$files" ]
	# --help says it; list changes nothing and takes no --dry-run
	run -0 hl-template --help
	[[ $output == *"--dry-run "* ]]
	tpl 2 list --dry-run
}

@test "hl-template: promote points stable at the newest artifact on every node and commits only its own files" {
	echo "operator's note" > "$LAB/NOTES"
	git -C "$LAB" add NOTES
	head=$(git -C "$LAB" rev-parse HEAD)
	tpl 0 promote debian-12
	jq -e '.template == "debian-12" and .channel == "stable" and (.nodes | keys) == ["pve1", "pve2"]
		and .previous.pve1 == null and (.commit | length) == 40' <<<"$output"
	commit=$(jq -r .commit <<<"$output")
	[ "$(git -C "$LAB" rev-parse HEAD)" = "$commit" ]
	[ "$(git -C "$LAB" rev-parse HEAD~1)" = "$head" ]
	# the commit holds channels.yaml and the two artifacts, not the staged note
	run git -C "$LAB" show --name-only --format=%an:%s HEAD
	[[ ${lines[0]} == *"hl-template: promote debian-12 to stable"* ]]
	[[ $output == *"layers/L1/channels.yaml"* && $output == *"layers/L1/artifacts/debian-12/pve1/"* ]]
	[[ $output != *NOTES* ]]
	[ "$(git -C "$LAB" diff --cached --name-only)" = NOTES ]
	git -C "$LAB" reset -q NOTES
	rm "$LAB/NOTES"
	grep -q "^debian-12:" "$LAB/layers/L1/channels.yaml"
	tpl 0 list debian-12
	jq -e '.templates[0].channels.stable | keys == ["pve1", "pve2"]' <<<"$output"
	# runway resolves the same channel to the template on each node
	run --separate-stderr hl-validate -C "$LAB" runway web01
	jq -e 'any(.checks[]; .id == "template:debian-12@stable/pve1" and .status == "ok")' <<<"$output"
}

@test "hl-template: rollback goes back to the artifact before; with nothing older it refuses" {
	tpl 1 rollback debian-12 --node pve2
	[[ $stderr == *"no artifact of debian-12 on pve2 is older than"* ]]
	tpl 0 build debian-12 --node pve1 --force --timeout 300
	newer=$(jq -r '.templates[0].artifact.id' <<<"$output")
	git -C "$LAB" add layers && git -C "$LAB" -c user.name=t -c user.email=t@t commit -qm "built"
	tpl 0 promote debian-12 --node pve1
	[ "$(jq -r .nodes.pve1 <<<"$output")" = "$newer" ]
	old=$(jq -r .previous.pve1 <<<"$output")
	tpl 0 rollback debian-12 --node pve1
	[ "$(jq -r .nodes.pve1 <<<"$output")" = "$old" ]
	[ "$(jq -r .previous.pve1 <<<"$output")" = "$newer" ]
	grep -q "pve1: $old" "$LAB/layers/L1/channels.yaml"
	[ -z "$(git -C "$LAB" status --porcelain layers)" ]
	# --no-commit writes and leaves the commit to the operator
	head=$(git -C "$LAB" rev-parse HEAD)
	tpl 0 promote debian-12 --node pve1 --channel canary --no-commit
	[ "$(git -C "$LAB" rev-parse HEAD)" = "$head" ]
	jq -e '.commit == null' <<<"$output"
	grep -q "canary:" "$LAB/layers/L1/channels.yaml"
	git -C "$LAB" checkout -q layers/L1/channels.yaml
}

@test "hl-template rollback --dry-run: says where the channel would go back to; writes, commits and sends nothing, exit 0" {
	# stable on pve1 at the newest again, to have something to roll back
	tpl 0 promote debian-12 --node pve1
	newer=$(jq -r .nodes.pve1 <<<"$output")
	old=$(jq -r .previous.pve1 <<<"$output")
	[ "$newer" != "$old" ]
	[ "$old" != null ]
	files=$(lab_state)
	sim_mark
	tpl 0 rollback debian-12 --node pve1 --dry-run
	jq -e --arg o "$old" --arg n "$newer" '.dry_run == true and .nodes == {"pve1": $o}
		and .previous == {"pve1": $n} and .commit == null' <<<"$output"
	[[ $stderr == *"hl-template: debian-12: would point stable on pve1: $old"* ]]
	grep -q "pve1: $newer" "$LAB/layers/L1/channels.yaml"
	[ "$(lab_state)" = "$files" ]
	sim_nothing_changed
	# nothing older on pve2: refused as the rollback is
	tpl 1 rollback debian-12 --node pve2 --dry-run
	# back where the tests after this one expect it
	tpl 0 rollback debian-12 --node pve1
	grep -q "pve1: $old" "$LAB/layers/L1/channels.yaml"
}

@test "hl-template gc --dry-run: lists what it would remove, exit 0 with or without --yes; removes, commits and sends nothing" {
	files=$(lab_state)
	sim_mark
	tpl 0 gc debian-12 --keep 0 --dry-run
	jq -e '.dry_run == true and .applied == false and .commit == null and (.gc | length) == 1
		and (.gc[0] | .node == "pve1" and .exists and .template == "debian-12")' <<<"$output"
	vmid=$(jq -r '.gc[0].vmid' <<<"$output")
	file=$(jq -r '.gc[0].file' <<<"$output")
	[[ $stderr == *"debian-12: would destroy template $vmid on pve1"* ]]
	[[ $stderr == *"debian-12: would remove $file"* ]]
	tpl 0 gc debian-12 --keep 0 --dry-run --yes
	jq -e '.dry_run and .applied == false and (.gc | length) == 1' <<<"$output"
	sim_nothing_changed reads
	[ -e "$LAB/$file" ]
	[ "$(lab_state)" = "$files" ]
	api GET "/nodes/pve1/qemu/$vmid/config"
	[ "$status" = 200 ]
	jq -e '.data.template == 1' <<<"$output"
}

@test "hl-template: gc lists what nothing needs (exit 6), spares linked clones' bases, removes with --yes and commits" {
	# the newest on pve1 is kept by default
	tpl 0 gc debian-12
	jq -e '.gc == [] and .applied == false' <<<"$output"
	tpl 6 gc debian-12 --keep 0
	jq -e '.gc | length == 1 and .[0].node == "pve1" and .[0].exists' <<<"$output"
	id=$(jq -r '.gc[0].id' <<<"$output")
	vmid=$(jq -r '.gc[0].vmid' <<<"$output")
	[[ $stderr == *"--yes to do it"* ]]
	# a linked clone keeps its base
	api POST "/nodes/pve1/qemu/$vmid/clone" -d newid=700 -d name=linked
	wait_task "$(jq -r .data <<<"$output")"
	tpl 0 gc debian-12 --keep 0
	jq -e '.gc == []' <<<"$output"
	api DELETE /nodes/pve1/qemu/700
	wait_task "$(jq -r .data <<<"$output")"
	tpl 0 gc debian-12 --keep 0 --yes
	jq -e --arg id "$id" '.applied and (.gc | map(.id)) == [$id] and (.commit | length) == 40' <<<"$output"
	[ ! -e "$LAB/layers/L1/artifacts/debian-12/pve1/$id.json" ]
	api GET "/nodes/pve1/qemu/$vmid/status/current"
	[ "$status" = 500 ]
	[ -z "$(git -C "$LAB" status --porcelain layers)" ]
	run git -C "$LAB" log -1 --format=%s
	[ "$output" = "hl-template: gc debian-12" ]
}

@test "hl-template: gc never destroys a VM that is not hl's: an artifact's vmid reused by a hand-made template is left alone, only the file goes" {
	# an old artifact whose vmid now holds a template made by hand
	# (the lab's tag, no marker), and one another lab made
	mkdir -p "$LAB/layers/L1/artifacts/debian-12/pve1"
	printf '{"vmid": 9071, "digest": "old", "node": "pve1"}\n' \
		> "$LAB/layers/L1/artifacts/debian-12/pve1/20200101T000000Z.json"
	printf '{"vmid": 9072, "digest": "old", "node": "pve1"}\n' \
		> "$LAB/layers/L1/artifacts/debian-12/pve1/20200102T000000Z.json"
	git -C "$LAB" add layers && git -C "$LAB" -c user.name=t -c user.email=t@t commit -qm "old artifacts"
	api POST /nodes/pve1/qemu -d vmid=9071 -d name=byhand --data-urlencode "tags=hl-demo;hl-template"
	wait_task "$(jq -r .data <<<"$output")"
	api POST /nodes/pve1/qemu -d vmid=9072 -d name=otherlab --data-urlencode "tags=hl-other;hl-template" \
		--data-urlencode "description=hl: lab=other template=debian-12 digest=old artifact=20200102T000000Z"
	wait_task "$(jq -r .data <<<"$output")"
	for v in 9071 9072; do
		api POST "/nodes/pve1/qemu/$v/template"
		[ "$status" = 200 ]
		wait_task "$(jq -r .data <<<"$output")"
	done
	tpl 6 gc debian-12
	jq -e '[.gc[] | select(.vmid == 9071 or .vmid == 9072) | .exists] == [false, false]' <<<"$output"
	tpl 0 gc debian-12 --yes
	[ ! -e "$LAB/layers/L1/artifacts/debian-12/pve1/20200101T000000Z.json" ]
	[ ! -e "$LAB/layers/L1/artifacts/debian-12/pve1/20200102T000000Z.json" ]
	for v in 9071 9072; do
		api GET "/nodes/pve1/qemu/$v/config"
		[ "$status" = 200 ]
		jq -e '.data.template == 1' <<<"$output"
	done
}

@test "hl-template: channels.yaml reads back as written, whatever a node is named (\"123\", \"true\")" {
	local lab="$BATS_TEST_TMPDIR/odd" n
	mkdir -p "$lab/.hl"
	cp -r "$TOP/lab.yaml" "$TOP/personas" "$TOP/layers" "$lab/"
	cp "$FIXTURES/example-hl/"* "$lab/.hl/"
	for n in 123 true; do
		mkdir -p "$lab/layers/L1/artifacts/debian-12/$n"
		printf '{"vmid": 9000, "digest": "d"}\n' > "$lab/layers/L1/artifacts/debian-12/$n/20260101T000000Z.json"
	done
	run -0 --separate-stderr hl-template -C "$lab" promote debian-12 --no-commit --allow-dirty
	jq -e '.nodes == {"123": "20260101T000000Z", "true": "20260101T000000Z"} and .previous == {"123": null, "true": null}' <<<"$output"
	# it says what it did
	grep -qxF "hl-template: debian-12: stable on 123: 20260101T000000Z" <<<"$stderr"
	# read back: the second promote sees what the first wrote
	run -0 --separate-stderr hl-template -C "$lab" promote debian-12 --no-commit --allow-dirty
	jq -e '.previous == {"123": "20260101T000000Z", "true": "20260101T000000Z"}' <<<"$output"
	grep -qx '    "123": 20260101T000000Z' "$lab/layers/L1/channels.yaml"
}

@test "hl-template: promote commits every artifact it points to, past 64 of them" {
	local lab="$BATS_TEST_TMPDIR/many" i
	mkdir -p "$lab/.hl"
	cp -r "$TOP/lab.yaml" "$TOP/personas" "$TOP/layers" "$lab/"
	cp "$FIXTURES/example-hl/"* "$lab/.hl/"
	printf '.hl/\n' > "$lab/.gitignore"
	git -C "$lab" init -q && git -C "$lab" add -A && git -C "$lab" commit -qm lab
	for i in $(seq 1 70); do
		mkdir -p "$lab/layers/L1/artifacts/debian-12/node$i"
		printf '{"vmid": 9000, "digest": "d"}\n' > "$lab/layers/L1/artifacts/debian-12/node$i/20260101T000000Z.json"
	done
	run -0 --separate-stderr hl-template -C "$lab" promote debian-12
	jq -e '(.nodes | length) == 70 and (.commit | length) == 40' <<<"$output"
	[ "$(git -C "$lab" show --name-only --format= HEAD | wc -l)" = 71 ]
	[ -z "$(git -C "$lab" status --porcelain)" ]
}
