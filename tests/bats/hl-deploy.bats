#!/usr/bin/env bats
# hl-deploy against real guests: the example lab's four hosts made by
# hl-vm and converged by hl-converge (Docker from the docker role), then
# the example stacks deployed once by setup_file: hello (busybox httpd,
# from the simulator's registry mirror) on web01 and web02, notes (its
# data under /srv/notes, a secret) on db01.  Tests that break a stack put
# it back.

load test_helper
load sim_helper

SECRET=notes-secret-4f1c9a7e

setup_file() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP
	DLAB="$BATS_FILE_TMPDIR/lab"
	guest_lab "$DLAB"
	export PATH="$TOP/bin:$PATH"
	hl-converge -C "$DLAB" apply > /dev/null 2> "$BATS_FILE_TMPDIR/converge.err"
	local t0=$SECONDS
	set +e
	NOTES_TOKEN=$SECRET hl-deploy -C "$DLAB" apply > "$BATS_FILE_TMPDIR/first.json" \
		2> "$BATS_FILE_TMPDIR/first.err"
	echo $? > "$BATS_FILE_TMPDIR/first.rc"
	set -e
	echo "# cost: first deploy of 3 hosts: $((SECONDS - t0)) s" >&3
	export DLAB
}

teardown_file() {
	"$TOP/sim/hl-sim" stop --lab "$DLAB" 2>/dev/null || true
}

setup() {
	common_setup
	LAB=$DLAB
	SIMLAB=$DLAB
	sim_env
	export NOTES_TOKEN=$SECRET
}

# dp WANT ARGS...: hl-deploy on the lab, which must exit WANT
dp() {
	expect_exit "$1" hl-deploy -C "$LAB" "${@:2}"
}

# stack HOST NAME: that stack's entry in $output
stack() {
	jq -c --arg h "$1" --arg s "$2" '.hosts[] | select(.name == $h) | .stacks[] | select(.name == $s)' <<<"$output"
}

# ids HOST: the host's containers, id and start time, one a line
ids() {
	root_on "$1" 'docker ps -q | sort | xargs -r docker inspect -f "{{.Id}} {{.State.StartedAt}}"'
}

@test "hl-deploy apply: hello on both web hosts and notes on db01, healthy; the page answers from the machine; the commit recorded beside the release" {
	[ "$(cat "$BATS_FILE_TMPDIR/first.rc")" = 0 ] || { cat "$BATS_FILE_TMPDIR/first.err" >&2; false; }
	output=$(cat "$BATS_FILE_TMPDIR/first.json")
	stack web01 hello | jq -e '.action == "deployed" and .healthy == true and .rolled_back == false and
		(.digest | length) == 20 and .previous == null and
		(.containers | length) == 1 and .containers[0].state == "running" and .containers[0].health == "healthy"'
	stack web02 hello | jq -e '.action == "deployed" and .healthy == true'
	stack db01 notes | jq -e '.action == "deployed" and .healthy == true'
	jq -e '.hosts[] | select(.name == "db01") | [.stacks[].name] == ["notes"]' <<<"$output"
	# nas01 runs no stack and has no Docker: nothing to do there, no error
	jq -e '.hosts[] | select(.name == "nas01") | .stacks == [] and .error == null' <<<"$output"
	run -0 curl -sS --max-time 10 http://10.77.0.21:8080/
	[[ $output == *"hello"* ]]
	run -0 curl -sS --max-time 10 http://10.77.0.22:8080/
	[[ $output == *"hello"* ]]
	# the release on the host: current, root-only .env, the commit applied
	run -0 root_on web01 'readlink /opt/hl/stacks/hello/current; stat -c %a:%U /opt/hl/stacks/hello/current/.env; cat /opt/hl/stacks/hello/deployed.json'
	[[ ${lines[0]} == releases/* ]]
	[ "${lines[1]}" = "600:root" ]
	jq -e --arg c "$(git -C "$LAB" rev-parse HEAD)" '.commit == $c' <<<"${lines[2]}"
}

@test "hl-deploy: a second apply touches nothing (same containers, same start times); plan says unchanged and --exit-code 0; --force makes them anew" {
	local before1 before2
	before1=$(ids web01)
	before2=$(ids db01)
	dp 0 apply
	jq -e '[.hosts[].stacks[].action] | unique == ["unchanged"]' <<<"$output"
	[ "$(ids web01)" = "$before1" ]
	[ "$(ids db01)" = "$before2" ]
	dp 0 plan --exit-code
	jq -e '[.hosts[].stacks[].action] | unique == ["unchanged"]' <<<"$output"
	# --force: the same release, its containers made anew, still serving
	dp 0 apply --force web01
	stack web01 hello | jq -e '.action == "deployed" and .healthy == true'
	[ "$(ids web01)" != "$before1" ]
	run -0 curl -sS --max-time 10 http://10.77.0.21:8080/
	[[ $output == *"hello"* ]]
}

@test "hl-deploy: one file changed redeploys only that stack on its hosts; plan names the file first" {
	local db_before
	db_before=$(ids db01)
	echo "<h1>hello again</h1>" > "$LAB/layers/L4/stacks/hello/www/index.html"
	commit_all "a new page"
	dp 1 plan --exit-code
	stack web01 hello | jq -e '.action == "deploy" and .reason == "changed" and .files == ["www/index.html"] and .env == []'
	stack db01 notes | jq -e '.action == "unchanged"'
	dp 0 apply
	stack web01 hello | jq -e '.action == "deployed" and .healthy == true and .previous != null'
	stack web02 hello | jq -e '.action == "deployed"'
	stack db01 notes | jq -e '.action == "unchanged"'
	[ "$(ids db01)" = "$db_before" ]
	run -0 curl -sS --max-time 10 http://10.77.0.21:8080/
	[[ $output == *"hello again"* ]]
	# the example's page back, for the tests after
	spec_reset layers/L4/stacks/hello
	dp 0 apply @web
}

@test "hl-deploy: a release whose health check fails is rolled back (5): the previous release serves again, the JSON has the failing containers' state and logs" {
	local page
	page=$(curl -sS --max-time 10 http://10.77.0.21:8080/)
	# a healthcheck that can never pass, and a short gate
	sed -i 's|http://127.0.0.1:8080/|http://127.0.0.1:9/|' "$LAB/layers/L4/stacks/hello/compose.yaml"
	sed -i 's/^timeout: .*/timeout: 8/' "$LAB/layers/L4/stacks/hello/stack.yaml"
	commit_all "a broken health check"
	dp 5 apply web01
	spec_reset layers/L4/stacks/hello
	stack web01 hello | jq -e '.action == "failed" and .healthy == false and .rolled_back == true and
		.rollback_healthy == true and (.problems | length) > 0 and (.logs | type) == "object"'
	jq -e '.error.code == 5' <<<"$output"
	[[ $stderr == *"web01: hello: release "*" failed its health gate; the previous release is back and healthy"* ]]
	run -0 curl -sS --max-time 10 http://10.77.0.21:8080/
	[ "$output" = "$page" ]
	dp 0 apply web01
}

@test "hl-deploy: a missing secret fails before any host is touched (3), naming the variable" {
	local before
	before=$(root_on db01 'ls /opt/hl/stacks/notes/releases')
	unset NOTES_TOKEN
	dp 3 apply --force
	[[ $stderr == *"NOTES_TOKEN"* ]]
	jq -e '.error.code == 3 and (.hosts == null)' <<<"$output"
	dp 3 plan
	[ "$(root_on db01 'ls /opt/hl/stacks/notes/releases')" = "$before" ]
}

@test "hl-deploy: the secret's value is in the release's root-only .env and nowhere else: not in any output, not in ps on either side while it deploys" {
	local samples=$BATS_TEST_TMPDIR/ps
	# both sides' process lists, sampled while the deploy runs
	( while :; do ps -eo args; root_on db01 'ps -eo args' 2>/dev/null; done > "$samples" ) &
	local sampler=$!
	dp 0 apply --force db01
	kill "$sampler"
	wait "$sampler" 2>/dev/null || true
	stack db01 notes | jq -e '.action == "deployed" and .healthy == true'
	[ -s "$samples" ]
	grep -q "python3" "$samples"
	run ! grep -c "$SECRET" "$samples"
	[[ $output != *"$SECRET"* && $stderr != *"$SECRET"* ]]
	# on the host: only the current release's .env (and older releases')
	run -0 root_on db01 "grep -rl $SECRET /opt/hl /root /home /tmp /var/tmp 2>/dev/null || true"
	[ -n "$output" ]
	local f
	while read -r f; do
		[[ $f =~ ^/opt/hl/stacks/notes/releases/[0-9a-f]+/\.env$ ]] || { echo "secret in $f" >&2; false; }
	done <<<"$output"
	# and nothing in the lab's files (but the simulator's guest disks,
	# which hold the hosts' own files)
	run ! grep -rl --exclude-dir=sim "$SECRET" "$LAB"
}

@test "hl-deploy: a stack no longer declared is an orphan; --prune needs --yes (6); --prune --yes brings it down and keeps its data" {
	root_on db01 'test -d /srv/notes'
	sed -i '/^stacks:/d' "$LAB/personas/db.yaml"
	commit_all "no notes"
	dp 1 plan --exit-code db01
	stack db01 notes | jq -e '.action == "orphan"'
	dp 0 apply db01
	stack db01 notes | jq -e '.action == "orphan"'
	dp 6 apply --prune db01
	dp 0 apply --prune --yes db01
	stack db01 notes | jq -e '.action == "pruned"'
	run -0 root_on db01 'docker ps -q --filter label=com.docker.compose.project=notes | wc -l; test -d /opt/hl/stacks/notes && echo left || echo gone; test -d /srv/notes && echo data'
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = gone ]
	[ "${lines[2]}" = data ]
	spec_reset personas/db.yaml
	dp 0 apply db01
	stack db01 notes | jq -e '.action == "deployed" and .healthy == true'
}

@test "hl-deploy: a host whose key is not the one in .hl/known_hosts is refused (4), the others are planned" {
	cp "$LAB/.hl/known_hosts" "$BATS_TEST_TMPDIR/known_hosts"
	{ grep -v '^web01 ' "$BATS_TEST_TMPDIR/known_hosts"; sed -n 's/^web02 /web01 /p' "$BATS_TEST_TMPDIR/known_hosts"; } \
		> "$LAB/.hl/known_hosts"
	dp 4 plan
	cp "$BATS_TEST_TMPDIR/known_hosts" "$LAB/.hl/known_hosts"
	jq -e '.hosts[] | select(.name == "web01") | .error.code == 4 and (.error.message | test("another host key"))' <<<"$output"
	stack web02 hello | jq -e '.action == "unchanged"'
}

@test "hl-deploy: usage errors, dirty specs, --help" {
	dp 2 plan --force
	dp 2 apply --exit-code
	dp 2 apply --yes
	[[ $stderr == *"--yes goes with --prune"* ]]
	dp 2 frob
	dp 2 plan --parallel 0
	echo "# edited" >> "$LAB/personas/web.yaml"
	dp 6 apply web01
	spec_reset personas/web.yaml
	run -0 hl-deploy --help
	for o in --exit-code --parallel --force --prune --yes --allow-dirty --dry-run; do
		[[ $output == *"$o "* ]]
	done
}
