#!/usr/bin/env bats
# hl-validate runway: L0 checks of the Proxmox side, against the simulator
# running the example lab (tests/sim/runway.json adds a least-privilege
# token, the docs' role, and VLAN-unaware bridges).  Every output the tool
# gives is kept, and the last test greps it all for the token.

load test_helper
load sim_helper

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	RLAB="$BATS_FILE_TMPDIR/lab"
	mkdir -p "$RLAB/.hl"
	cp -r "$TOP/lab.yaml" "$TOP/personas" "$TOP/layers" "$RLAB/"
	ssh-keygen -q -t ed25519 -N '' -f "$RLAB/.hl/id_ed25519"
	"$TOP/sim/hl-sim" start --lab "$RLAB" --config "$TOP/tests/sim/runway.json" \
		> "$BATS_FILE_TMPDIR/start.out" 2>&1
	export RLAB
	: > "$BATS_FILE_TMPDIR/captured"
}

teardown_file() {
	"$TOP/sim/hl-sim" stop --lab "$RLAB" 2>/dev/null || true
}

# a test that starts a simulator of its own stops it, even when it fails
teardown() {
	[ ! -d "$BATS_TEST_TMPDIR/lab84/.hl/sim" ] ||
		"$TOP/sim/hl-sim" stop --lab "$BATS_TEST_TMPDIR/lab84" 2>/dev/null || true
}

setup() {
	common_setup
	LAB=$RLAB
	SIMLAB=$LAB
	sim_env
	ROOT_TOKEN=$HL_PVE_TOKEN
	faults '{}'
}

# runway WANT [ARGS...]: hl-validate runway on $LAB, exit status WANT;
# everything it printed is kept for the token grep
runway() {
	local want=$1
	shift
	run --separate-stderr hl-validate -C "$LAB" runway "$@"
	printf '%s\n%s\n' "$output" "$stderr" >> "$BATS_FILE_TMPDIR/captured"
	if [ "$status" != "$want" ]; then
		echo "runway exited $status, not $want: $output $stderr" >&2
		return 1
	fi
}

# check ID STATUS RE: the check ID has STATUS and a message matching RE
check() {
	jq -e --arg id "$1" --arg st "$2" --arg re "$3" \
		'any(.checks[]; .id == $id and .status == $st and (.message | test($re)))' \
		<<<"$output" >/dev/null || {
		echo "no check $1 $2 /$3/ in:" >&2
		jq -c '.checks[]' <<<"$output" >&2
		return 1
	}
}

secret() {
	jq -r --arg t "$1" '.secrets["token:" + $t]' "$RLAB/.hl/sim/state.json"
}

# a copy of the lab with one file changed: edit_lab FILE SED-EXPR
edit_lab() {
	local copy="$BATS_TEST_TMPDIR/lab"
	cp -r "$LAB" "$copy"
	rm -rf "$copy/.hl/sim"
	ln -s "$LAB/.hl/sim" "$copy/.hl/sim"
	sed -i "$2" "$copy/$1"
	LAB=$copy
}

@test "runway: the example lab on the simulator is ready; templates not built yet only warn" {
	runway 0
	jq -e '.ok == true and (.checks | length) > 15 and all(.checks[]; .status != "fail")' <<<"$output"
	check endpoint ok "answers"
	check tls ok "pinned certificate fingerprint"
	check token ok "accepted"
	check version ok "^Proxmox VE 9\\.1"
	check cluster ok "hl-sim"
	check privileges ok "every privilege"
	check node:pve1 ok "online"
	check storage:pve1/local-lvm ok "active"
	check storage:pve2/local ok "active"
	check bridge:pve2/vmbr0 ok "active"
	check template:debian-12@stable/pve1 warn "hl-template build debian-12"
	check vmid:web01 ok "vmid 201 is free"
	check ssh:pve1 ok "pinned host key"
	check tool:ssh ok "installed"
	jq -e '.facts.version == "9.1.2" and .facts.cluster == "hl-sim" and (.facts.nodes | length) == 2' <<<"$output"
	jq -e '.meta.tool == "hl-validate" and .meta.lab == "demo"' <<<"$output"
	# a selector narrows what is checked to its hosts' node
	runway 0 web01
	if jq -e 'any(.checks[]; .id == "node:pve2")' <<<"$output"; then false; fi
	check node:pve1 ok "online"
}

@test "runway: the least-privilege token of the docs is enough" {
	HL_PVE_TOKEN="hl@pve!ops=$(secret 'hl@pve!ops')" runway 0
	check privileges ok "every privilege"
}

@test "runway: a snippets storage other than local needs Datastore.Allocate on it (its path is in its configuration); the docs' HlSnippets role gives it" {
	edit_lab layers/L1/templates/debian-12.yaml 's/^  snippets: local$/  snippets: snip/'
	HL_PVE_TOKEN="hl@pve!ops=$(secret 'hl@pve!ops')" runway 0
	check privileges ok "every privilege"
	check storage:pve1/snip ok ""
	jq -e '.checks[] | select(.id == "privileges") | .data["/storage/snip"] | index("Datastore.Allocate") != null' <<<"$output"
	HL_PVE_TOKEN="hl@pve!audit=$(secret 'hl@pve!audit')" runway 1
	check privileges fail "Datastore.Allocate on /storage/snip"
	# local needs no Datastore.Allocate: hl knows where PVE keeps it
	LAB=$RLAB
	HL_PVE_TOKEN="hl@pve!audit=$(secret 'hl@pve!audit')" runway 1
	jq -e '.checks[] | select(.id == "privileges") | .data["/storage/local"] | index("Datastore.Audit") != null and index("Datastore.Allocate") == null' <<<"$output"
	if jq -e '.checks[] | select(.id == "privileges") | .message | test("Datastore.Allocate[ ,]")' <<<"$output"; then false; fi
}

@test "runway: boot_capture hosts need VM.Backup on their VMs' path and Datastore.AllocateSpace on capture.boot's storage; the docs' role has them" {
	# without boot_capture nothing asks for VM.Backup
	runway 0
	jq -e '.checks[] | select(.id == "privileges") | .data["/pool/hl-demo"] | index("VM.Backup") == null' <<<"$output"
	edit_lab personas/web.yaml 's/^hosts:$/boot_capture: true\nhosts:/'
	sed -i 's/^    keep: {last: 7, daily: 7, weekly: 4}$/&\n  boot: {storage: local}/' "$LAB/lab.yaml"
	grep -q '^  boot: {storage: local}$' "$LAB/lab.yaml"
	HL_PVE_TOKEN="hl@pve!ops=$(secret 'hl@pve!ops')" runway 0
	check privileges ok "every privilege"
	jq -e '.checks[] | select(.id == "privileges") | (.data["/pool/hl-demo"] | index("VM.Backup") != null) and
		(.data["/storage/local"] | index("Datastore.AllocateSpace") != null)' <<<"$output"
	HL_PVE_TOKEN="hl@pve!audit=$(secret 'hl@pve!audit')" runway 1
	check privileges fail "VM.Backup"
}

@test "runway: a token lacking a privilege fails naming it and the path" {
	HL_PVE_TOKEN="hl@pve!audit=$(secret 'hl@pve!audit')" runway 1
	check privileges fail "lacks VM.Allocate, .* on /pool/hl-demo"
	check privileges fail "Datastore.AllocateSpace on /storage/local-lvm"
	jq -e '.ok == false' <<<"$output"
}

@test "runway: the privileges asked follow the version: VM.GuestAgent.* on 9, VM.Monitor on 8.4, where VM.GuestAgent privileges do not exist" {
	# 9.1: the auditor's token lacks the agent's Unrestricted, not VM.Monitor
	HL_PVE_TOKEN="hl@pve!audit=$(secret 'hl@pve!audit')" runway 1
	check privileges fail "VM.GuestAgent.Unrestricted"
	if jq -e '.checks[] | select(.id == "privileges") | .message | test("VM.Monitor")' <<<"$output"; then false; fi
	# 8.4 refuses a role naming a VM.GuestAgent privilege, as pveum does
	local lab84="$BATS_TEST_TMPDIR/lab84"
	mkdir -p "$lab84/.hl"
	cp -r "$TOP/lab.yaml" "$TOP/personas" "$TOP/layers" "$lab84/"
	ssh-keygen -q -t ed25519 -N '' -f "$lab84/.hl/id_ed25519"
	jq '. + {version: "8.4"}' "$TOP/tests/sim/runway.json" > "$BATS_TEST_TMPDIR/bad84.json"
	run -2 --separate-stderr "$TOP/sim/hl-sim" start --lab "$lab84" --config "$BATS_TEST_TMPDIR/bad84.json"
	[[ $stderr == *"role HlOperator: invalid privilege 'VM.GuestAgent.Audit'"* ]]
	# the 8.4 role of the docs: VM.Monitor for the agent
	jq '. + {version: "8.4", networks: {vmbr0: {cidr: "10.78.0.1/24", dhcp: "10.78.0.100-10.78.0.199"}}} | .roles.HlOperator |= (map(select(startswith("VM.GuestAgent.") | not)) + ["VM.Monitor"])' \
		"$TOP/tests/sim/runway.json" > "$BATS_TEST_TMPDIR/ok84.json"
	run -0 "$TOP/sim/hl-sim" start --lab "$lab84" --config "$BATS_TEST_TMPDIR/ok84.json"
	LAB=$lab84
	SIMLAB=$lab84
	sim_env
	HL_PVE_TOKEN="hl@pve!ops=$(jq -r '.secrets["token:hl@pve!ops"]' "$lab84/.hl/sim/state.json")" runway 0
	check privileges ok "has"
	HL_PVE_TOKEN="hl@pve!audit=$(jq -r '.secrets["token:hl@pve!audit"]' "$lab84/.hl/sim/state.json")" runway 1
	check privileges fail "VM.Monitor"
	if jq -e '.checks[] | select(.id == "privileges") | .message | test("GuestAgent")' <<<"$output"; then false; fi
	"$TOP/sim/hl-sim" stop --lab "$lab84"
}

@test "runway: a node offline fails its node and what lives there" {
	faults '{"nodes_offline": ["pve2"]}'
	runway 1
	check node:pve2 fail "^node pve2 is offline \\(hosts db01, web02\\)$"
	check storage:pve2/local-lvm fail "595"
	check node:pve1 ok "online"
}

@test "runway: a storage missing, full, or lacking a content type fails by name" {
	faults '{"storages_full": ["pve1/local-lvm"]}'
	runway 1
	check storage:pve1/local-lvm fail "has 0\\.0 GiB free \\(0%\\): below 10 GiB or 5% \\(layers/L0/runway.yaml\\)"
	faults '{}'
	edit_lab personas/db.yaml 's/^disk: 16G$/disk: 16G\nstorage: tank/'
	runway 1
	check storage:pve2/tank fail "^storage 'tank' does not exist on node pve2$"
	LAB=$RLAB
	edit_lab layers/L1/templates/debian-12.yaml 's/^  snippets: local$/  snippets: local-lvm/'
	runway 1
	check storage:pve1/local-lvm fail "lacks content type snippets \\(it has images,rootdir\\)"
}

@test "runway: thresholds come from layers/L0/runway.yaml" {
	edit_lab lab.yaml 's/^id: demo$/id: demo/'
	mkdir -p "$LAB/layers/L0"
	printf 'storage:\n  min_free_gib: 150\n  min_free_percent: 1\n' > "$LAB/layers/L0/runway.yaml"
	runway 1
	check storage:pve1/local fail "below 150 GiB or 1%"
	check storage:pve1/local-lvm ok "200\\.0 GiB free"
	printf 'storage:\n  min_free_gb: 1\n' > "$LAB/layers/L0/runway.yaml"
	run --separate-stderr hl-validate -C "$LAB" specs
	[ "$status" = 1 ]
	[[ $stderr == *"layers/L0/runway.yaml:2:"*"min_free_gb"* ]]
}

@test "runway: a bridge missing, or not VLAN-aware for a tagged host, fails" {
	faults '{"bridges_missing": ["pve1/vmbr0"]}'
	runway 1
	check bridge:pve1/vmbr0 fail "^bridge 'vmbr0' does not exist on node pve1$"
	faults '{}'
	edit_lab personas/web.yaml '0,/^hosts:/s/^hosts:/bridge: vmbr1\nvlan: 30\nhosts:/'
	runway 1
	check bridge:pve1/vmbr1 fail "not VLAN-aware, and a host sets a VLAN tag"
}

@test "runway: a channel's artifact is ok when its template is on the node, a warning when not" {
	edit_lab lab.yaml 's/^id: demo$/id: demo/'
	mkdir -p "$LAB/layers/L1/artifacts/debian-12/pve1"
	printf 'debian-12:\n  stable:\n    pve1: 20261129T120000Z\n' > "$LAB/layers/L1/channels.yaml"
	printf '{"vmid": 9000, "node": "pve1"}\n' > "$LAB/layers/L1/artifacts/debian-12/pve1/20261129T120000Z.json"
	runway 0 web01
	check template:debian-12@stable/pve1 warn "^artifact 20261129T120000Z: template 9000 is not on pve1"
	api POST /nodes/pve1/qemu -d vmid=9000 -d name=debian-12
	wait_task "$(jq -r .data <<<"$output")"
	api POST /nodes/pve1/qemu/9000/template
	wait_task "$(jq -r .data <<<"$output")"
	runway 0 web01
	check template:debian-12@stable/pve1 ok "^artifact 20261129T120000Z: template 9000 is on pve1$"
	api DELETE /nodes/pve1/qemu/9000
	wait_task "$(jq -r .data <<<"$output")"
}

@test "runway: a vmid held by a foreign VM fails, also one the token cannot see" {
	api POST /nodes/pve1/qemu -d vmid=201 -d name=squatter
	wait_task "$(jq -r .data <<<"$output")"
	api POST /nodes/pve2/qemu -d vmid=202 -d name=hidden
	wait_task "$(jq -r .data <<<"$output")"
	runway 1
	check vmid:web01 fail "^vmid 201 is held by VM 'squatter', which hl does not manage for web01$"
	HL_PVE_TOKEN="hl@pve!ops=$(secret 'hl@pve!ops')" runway 1
	check vmid:web02 fail "^vmid 202 is held by a VM this token cannot see$"
	# a VM hl manages for the host holds it rightly
	api DELETE /nodes/pve1/qemu/201
	wait_task "$(jq -r .data <<<"$output")"
	api POST /nodes/pve1/qemu -d vmid=201 -d name=web01 -d tags=hl-demo
	wait_task "$(jq -r .data <<<"$output")"
	runway 1
	check vmid:web01 ok "vmid 201 is web01, which hl manages"
	for id in 201 202; do
		node=pve1; [ $id = 202 ] && node=pve2
		api DELETE /nodes/$node/qemu/$id
		wait_task "$(jq -r .data <<<"$output")"
	done
}

@test "runway: a wrong token is exit 4, and the token is in no output" {
	HL_PVE_TOKEN='root@pam!hl=00000000-dead-beef-0000-000000000000' runway 4
	check endpoint ok "answers"
	check token fail "401"
	[[ $stderr == *"hl-validate: token: "*"401"* ]]
	[[ $output != *dead-beef* && $stderr != *dead-beef* ]]
	# a malformed token is refused before any request
	HL_PVE_TOKEN='not a token' runway 4
	[[ $stderr == *"USER@REALM!TOKENID=SECRET"* ]]
}

@test "runway: a wrong fingerprint is exit 4 and no request with the token arrived" {
	before=$(curl -sS --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$ROOT_TOKEN" \
		"$HL_PVE_ENDPOINT/sim/requests" | jq '[.data[] | select(.token and (.path | startswith("/api2/")))] | length')
	HL_PVE_FINGERPRINT=$(printf '00:%.0s' $(seq 31))00 runway 4
	check tls fail "is not the pinned 00:00"
	after=$(curl -sS --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$ROOT_TOKEN" \
		"$HL_PVE_ENDPOINT/sim/requests" | jq '[.data[] | select(.token and (.path | startswith("/api2/")))] | length')
	[ "$before" = "$after" ]
	# without a pin: the CA file verifies it; the system store does not
	edit_lab lab.yaml '/fingerprint:/d'
	unset HL_PVE_FINGERPRINT
	runway 0
	check tls ok "the CA file"
	HL_PVE_CAFILE=/etc/ssl/certs/ca-certificates.crt runway 4
	check tls fail "certificate"
}

@test "runway: an endpoint that is down is exit 4, said on stderr; the simulator's own endpoint gets a hint" {
	HL_PVE_ENDPOINT=https://127.0.0.1:1 runway 4
	check endpoint fail "^GET /version: .*(onnect|refused)"
	jq -e '.ok == false and (.checks | length) == 1' <<<"$output"
	[[ $stderr == *"hl-validate: endpoint: GET /version: "* ]]
	[[ $stderr != *"lab-up"* ]]
	# the endpoint .hl/sim.env names, with no simulator behind it
	local stopped="$BATS_TEST_TMPDIR/stopped"
	mkdir -p "$stopped/.hl"
	cp -r "$TOP/lab.yaml" "$TOP/personas" "$TOP/layers" "$stopped/"
	cp "$FIXTURES/example-hl/"* "$stopped/.hl/"
	sed -i 's|^HL_PVE_ENDPOINT=.*|HL_PVE_ENDPOINT=https://127.0.0.1:1|' "$stopped/.hl/sim.env"
	run -4 --separate-stderr env -u HL_PVE_ENDPOINT -u HL_PVE_CAFILE -u HL_PVE_FINGERPRINT \
		hl-validate -C "$stopped" runway
	[[ $stderr == *"(is the simulator running? just lab-up)"* ]]
}

@test "runway: injected 5xx are survived; --insecure warns" {
	faults '{"fail": [{"path": "/version", "nth": 1, "status": 500},
		{"path": "/nodes", "nth": 1, "status": 503, "message": "busy"},
		{"path": "/cluster/status", "nth": 1, "status": 500}]}'
	runway 0
	check version ok "9\\.1"
	check node:pve1 ok online
	runway 0 --insecure
	check tls warn "not verified"
	grep -qxF "hl-validate: warning: --insecure: the endpoint's TLS certificate is not verified" <<<"$stderr"
	# the same warning through the progress sink, as NDJSON
	runway 0 --insecure --progress=json
	jq -e -s 'map(select(.level == "warning")) == [{"tool": "hl-validate", "level": "warning",
		"message": "--insecure: the endpoint'"'"'s TLS certificate is not verified"}]' <<<"$stderr"
}

@test "runway: a malformed JSON reply is a clear error, no crash" {
	faults '{"fail": [{"path": "/version", "nth": 1, "body": "{not json"},
		{"path": "/version", "nth": 2, "body": "<html>oops</html>"},
		{"path": "/version", "nth": 3, "body": "[]"},
		{"path": "/version", "nth": 4, "body": ""}]}'
	runway 4
	check endpoint fail "^GET /version: 200, but the reply is not PVE's JSON"
	faults '{"fail": [{"path": "/nodes", "nth": 1, "body": "{\"data\": "},
		{"path": "/nodes", "nth": 2, "body": "{\"data\": "},
		{"path": "/nodes", "nth": 3, "body": "{\"data\": "},
		{"path": "/nodes", "nth": 4, "body": "{\"data\": "}]}'
	runway 1
	check node:pve1 fail "GET /nodes: 200, but the reply is not PVE's JSON"
}

@test "runway: the wrong cluster fails" {
	edit_lab lab.yaml 's/^  cluster: hl-sim$/  cluster: production/'
	runway 1
	check cluster fail "^this is cluster 'hl-sim', not cluster 'production' that lab.yaml expects$"
}

@test "runway: a lab known by its nodes' certificates: the right ones pass, another node's fails naming it" {
	api GET /nodes
	fp1=$(jq -r '.data[] | select(.node == "pve1") | .ssl_fingerprint' <<<"$output")
	fp2=$(jq -r '.data[] | select(.node == "pve2") | .ssl_fingerprint' <<<"$output")
	[ "$fp1" != "$fp2" ]
	edit_lab lab.yaml "/^  cluster: hl-sim\$/d; s/^  pve1:\$/  pve1:\n    fingerprint: $fp1/; s/^  pve2:\$/  pve2:\n    fingerprint: $fp2/"
	if grep -q "cluster:" "$LAB/lab.yaml"; then false; fi
	runway 0
	check cluster ok "every node's certificate is the one lab.yaml pins"
	# pve2 pinned with pve1's certificate: another machine than the lab's
	sed -i "s/fingerprint: $fp2/fingerprint: $fp1/" "$LAB/lab.yaml"
	runway 1
	check cluster fail "^this is not the lab's cluster: node pve2's certificate is $fp2, not $fp1 that lab.yaml pins$"
}

@test "runway: a token file readable by others is refused; mode 0600 works" {
	f="$BATS_TEST_TMPDIR/token"
	printf '%s\n' "$ROOT_TOKEN" > "$f"
	chmod 644 "$f"
	HL_PVE_TOKEN= HL_PVE_TOKEN_FILE="$f" runway 4
	[[ $stderr == *"may be read by others (mode 0644)"* ]]
	chmod 600 "$f"
	HL_PVE_TOKEN= HL_PVE_TOKEN_FILE="$f" runway 0
	# no variable at all: lab.yaml's pve.token_file, which the simulator
	# wrote, serves (the tools work without the justfile's dotenv)
	[ "$(stat -c %a "$LAB/.hl/sim-token")" = 600 ]
	run -0 --separate-stderr env -u HL_PVE_TOKEN -u HL_PVE_TOKEN_FILE hl-validate -C "$LAB" runway
	check token ok "accepted"
	chmod 640 "$LAB/.hl/sim-token"
	run -4 --separate-stderr env -u HL_PVE_TOKEN -u HL_PVE_TOKEN_FILE hl-validate -C "$LAB" runway
	[[ $stderr == *"the token file '$LAB/.hl/sim-token' may be read by others (mode 0640)"* ]]
	chmod 600 "$LAB/.hl/sim-token"
}

@test "runway: just runway runs it on the lab" {
	need_just
	cp "$TOP/justfile" "$LAB/"
	cd "$LAB"
	run --separate-stderr env PATH="$TOP/bin:$PATH" just bin="$TOP/bin" runway web01
	printf '%s\n%s\n' "$output" "$stderr" >> "$BATS_FILE_TMPDIR/captured"
	[ "$status" = 0 ]
	jq -e '.ok' <<<"$output"
}

@test "runway: ssh-keyscan runs without HL_PVE_* or the token variable in its environment" {
	mkdir -p "$BATS_TEST_TMPDIR/probe"
	real=$(command -v ssh-keyscan)
	printf '#!/bin/sh\nenv > "%s/env.$$"\nexec %s "$@"\n' "$BATS_TEST_TMPDIR" "$real" \
		> "$BATS_TEST_TMPDIR/probe/ssh-keyscan"
	chmod +x "$BATS_TEST_TMPDIR/probe/ssh-keyscan"
	PATH="$BATS_TEST_TMPDIR/probe:$PATH" runway 0
	check ssh:pve1 ok "pinned host key"
	ls "$BATS_TEST_TMPDIR"/env.* >/dev/null
	if grep -h '^HL_PVE_' "$BATS_TEST_TMPDIR"/env.*; then false; fi
	grep -qh '^PATH=' "$BATS_TEST_TMPDIR"/env.*
	# nor the variable lab.yaml's token_env names
	rm -f "$BATS_TEST_TMPDIR"/env.*
	edit_lab lab.yaml 's/^  token_file: .*$/  token_env: MY_PVE_TOKEN/'
	MY_PVE_TOKEN=$HL_PVE_TOKEN HL_PVE_TOKEN= PATH="$BATS_TEST_TMPDIR/probe:$PATH" runway 0
	ls "$BATS_TEST_TMPDIR"/env.* >/dev/null
	if grep -h '^MY_PVE_TOKEN=' "$BATS_TEST_TMPDIR"/env.*; then false; fi
}

@test "runway: no token secret appears in anything the tool printed" {
	[ -s "$BATS_FILE_TMPDIR/captured" ]
	for t in 'root@pam!hl' 'hl@pve!ops' 'hl@pve!audit'; do
		s=$(secret "$t")
		[ -n "$s" ] && [ "$s" != null ]
		if grep -qF "$s" "$BATS_FILE_TMPDIR/captured"; then false; fi
	done
	# nor in the simulator's log of what arrived
	if grep -qF "$(secret 'root@pam!hl')" "$LAB/.hl/sim/sim.log"; then false; fi
}
