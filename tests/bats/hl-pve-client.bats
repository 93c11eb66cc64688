#!/usr/bin/env bats
# lib/pve, the Proxmox VE client every tool uses, driven through
# tests/c/pve-client.c against the simulator: PVE's wire rules, error
# messages, bounded retries (never for create), batched reads and task
# waits.  The runway tests cover trust and the token.

load test_helper
load sim_helper

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	sim_start
}

teardown_file() {
	sim_stop
}

setup() {
	common_setup
	sim_env
	PVE_CLIENT=${HL_TEST_BIN:-$TOP/build/tests}/pve-client
	faults '{}'
}


# requests METHOD PATH: how many such requests the simulator saw
requests() {
	curl -sS --cacert "$HL_PVE_CAFILE" -H "Authorization: PVEAPIToken=$HL_PVE_TOKEN" \
		"$HL_PVE_ENDPOINT/sim/requests" |
		jq --arg m "$1" --arg p "/api2/json$2" '[.data[] | select(.method == $m and .path == $p)] | length'
}

client() {
	run --separate-stderr "$PVE_CLIENT" "$@"
}

@test "pve client: a task-starting call and its wait; the form carries booleans as 1/0, arrays repeated, sshkeys encoded twice" {
	key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGtleXQ user@host:x+y/z"
	client task POST /nodes/pve1/qemu vmid:=500 name=px "sshkeys=$key" \
		onboot:=true template:=false net0=virtio,bridge=vmbr0 tags=a,b
	[ "$status" = 0 ]
	jq -e '.data | startswith("UPID:pve1:")' <<<"$output"
	client --kind read call GET /nodes/pve1/qemu/500/config
	[ "$status" = 0 ]
	# PVE keeps sshkeys URL-encoded: what arrived was the key, once encoded
	jq -e '.data.sshkeys | test("^ssh-ed25519%20AAAA[A-Za-z0-9]+%20user%40host%3Ax%2By%2Fz$")' <<<"$output"
	jq -e '.data.onboot == 1 and .data.name == "px" and .data.tags == "a;b"' <<<"$output"
	# an array goes out as repeated keys: both options deleted
	client --kind write call PUT /nodes/pve1/qemu/500/config 'delete:=["onboot","tags"]'
	[ "$status" = 0 ]
	client --kind read call GET /nodes/pve1/qemu/500/config
	jq -e '.data | has("onboot") or has("tags") | not' <<<"$output"
}

@test "pve client: errors read '<what>: <status> <reason>' with PVE's errors map" {
	client --kind read call GET /cluster/nextid vmid:=500
	[ "$status" = 5 ]
	[ "$(jq -r .error <<<"$output")" = "GET /cluster/nextid: 400 Parameter verification failed.; vmid: VM 500 already exists" ]
	jq -e '.status == 400 and .code == 5' <<<"$output"
	client --kind read call GET /nodes/pve1/qemu/999/config
	[ "$(jq -r .error <<<"$output")" = "GET /nodes/pve1/qemu/999/config: 500 Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist" ]
	# numbers PVE sends as strings are read either way
	client --kind read call GET /cluster/nextid
	[ "$status" = 0 ]
}

@test "pve client: a task that fails carries its exit status and last log lines" {
	client task POST /nodes/pve1/qemu vmid:=501 scsi0=local-lvm:0,import-from=local:import/none.qcow2
	[ "$status" = 5 ]
	[[ $(jq -r .error <<<"$output") =~ ^task\ UPID:pve1:.*:qmcreate:501:root@pam!hl:\ failed:\ volume\ \'local:import/none.qcow2\'\ does\ not\ exist ]]
}

@test "pve client: a task that outlasts its timeout is exit 5 naming the UPID" {
	faults '{"task_ms": 5000}'
	client --timeout 1 task POST /nodes/pve1/qemu vmid:=502
	[ "$status" = 5 ]
	[[ $(jq -r .error <<<"$output") =~ ^task\ UPID:pve1:[0-9A-F:]+qmcreate:502:root@pam!hl:\ did\ not\ finish\ within\ 1\ s$ ]]
	[[ $stderr == "" || $stderr == *"waiting for UPID"* ]]
	faults '{}'
	sleep 5
}

@test "pve client: reads survive 5xx and dropped replies; a create is never sent twice" {
	faults '{"fail": [{"path": "/nodes", "nth": 1, "status": 500},
		{"path": "/nodes", "nth": 2, "status": 502}]}'
	n0=$(requests GET /nodes)
	client --kind read call GET /nodes
	[ "$status" = 0 ]
	[ "$(( $(requests GET /nodes) - n0 ))" = 3 ]
	faults '{"fail": [{"method": "POST", "path": "/nodes/pve1/qemu", "nth": 1, "status": 500, "message": "server busy"}]}'
	n0=$(requests POST /nodes/pve1/qemu)
	client task POST /nodes/pve1/qemu vmid:=503
	[ "$status" = 5 ]
	[ "$(jq -r .error <<<"$output")" = "POST /nodes/pve1/qemu: 500 server busy" ]
	[ "$(( $(requests POST /nodes/pve1/qemu) - n0 ))" = 1 ]
}

@test "pve client: a config write is retried on PVE's lock 'got timeout', nothing else" {
	faults '{"fail": [{"method": "PUT", "path": "/nodes/pve1/qemu/500/config", "nth": 1,
		"status": 500, "message": "can'"'"'t lock file '"'"'/var/lock/qemu-server/lock-500.conf'"'"' - got timeout"}]}'
	n0=$(requests PUT /nodes/pve1/qemu/500/config)
	client --kind write call PUT /nodes/pve1/qemu/500/config description=retried
	[ "$status" = 0 ]
	[ "$(( $(requests PUT /nodes/pve1/qemu/500/config) - n0 ))" = 2 ]
	faults '{"fail": [{"method": "PUT", "path": "/nodes/pve1/qemu/500/config", "nth": 1,
		"status": 500, "message": "other trouble"}]}'
	n0=$(requests PUT /nodes/pve1/qemu/500/config)
	client --kind write call PUT /nodes/pve1/qemu/500/config description=once
	[ "$status" = 5 ]
	[ "$(( $(requests PUT /nodes/pve1/qemu/500/config) - n0 ))" = 1 ]
}

@test "pve client: batched reads answer each path on its own" {
	client get-all /version /nodes /nodes/pve9/status /cluster/nextid?vmid=500
	[ "$status" = 5 ]
	jq -e '.[0].data.release == "9.1" and (.[1].data | length) == 2' <<<"$output"
	jq -e '.[2].error | test("^GET /nodes/pve9/status: ")' <<<"$output"
	jq -e '.[3].status == 400' <<<"$output"
}

@test "pve client: 401 is not retried and the token stays out of every message" {
	secret=${HL_PVE_TOKEN##*=}
	n0=$(requests GET /version)
	HL_PVE_TOKEN='root@pam!hl=00000000-0000-0000-0000-000000000000' client --kind read call GET /version
	[ "$status" = 4 ]
	[ "$(jq -r .error <<<"$output")" = "GET /version: 401 authentication failure" ]
	[ "$(( $(requests GET /version) - n0 ))" = 1 ]
	[[ $output != *"$secret"* && $stderr != *"$secret"* ]]
	[[ $output != *00000000-0000* ]]
}

@test "pve client: a lab known by its nodes' certificates: a change is refused (exit 6) before anything is sent unless every pinned node has its certificate" {
	client --kind read call GET /nodes
	fp1=$(jq -r '.data[] | select(.node == "pve1") | .ssl_fingerprint' <<<"$output")
	fp2=$(jq -r '.data[] | select(.node == "pve2") | .ssl_fingerprint' <<<"$output")
	n0=$(requests POST /nodes/pve1/qemu)
	HL_TEST_PINS="pve1=$fp1 pve2=$fp1" client task POST /nodes/pve1/qemu vmid:=505
	[ "$status" = 6 ]
	[ "$(jq -r .error <<<"$output")" = "refusing to change anything: this is not the lab's cluster: node pve2's certificate is $fp2, not $fp1 that lab.yaml pins" ]
	HL_TEST_PINS="pve1=$fp1 pve7=$fp2" client task POST /nodes/pve1/qemu vmid:=505
	[ "$status" = 6 ]
	[[ "$(jq -r .error <<<"$output")" == *"it has no node 'pve7'"* ]]
	[ "$(( $(requests POST /nodes/pve1/qemu) - n0 ))" = 0 ]
	# fingerprints compare without regard to case; both identities at once
	HL_TEST_CLUSTER=hl-sim HL_TEST_PINS="pve1=${fp1,,} pve2=$fp2" client task POST /nodes/pve1/qemu vmid:=505
	[ "$status" = 0 ]
	[ "$(( $(requests POST /nodes/pve1/qemu) - n0 ))" = 1 ]
}

@test "pve client: a change to another cluster than the lab's is refused (exit 6) before anything is sent" {
	n0=$(requests POST /nodes/pve1/qemu)
	HL_TEST_CLUSTER=production client task POST /nodes/pve1/qemu vmid:=504
	[ "$status" = 6 ]
	[ "$(jq -r .error <<<"$output")" = "refusing to change anything: this is cluster 'hl-sim', not cluster 'production' that lab.yaml expects" ]
	[ "$(( $(requests POST /nodes/pve1/qemu) - n0 ))" = 0 ]
	# reads go on; the right cluster may be changed
	HL_TEST_CLUSTER=production client --kind read call GET /version
	[ "$status" = 0 ]
	HL_TEST_CLUSTER=hl-sim client task POST /nodes/pve1/qemu vmid:=504
	[ "$status" = 0 ]
}
