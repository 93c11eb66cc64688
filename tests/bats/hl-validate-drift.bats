#!/usr/bin/env bats
# hl-validate drift from Git alone: the example lab in a repository of its
# own, the layers' applied commits written to .hl/hosts/ as the tools
# write them, and commits that touch one thing each.  No simulator, no
# host (tests/bats/workflows.bats drives it on real guests).

load test_helper

# applied HOST COMMIT [LAYER...]: HOST's record says LAYERs (default all
# three) were applied at COMMIT
applied() {
	local h=$1 c=$2 l doc='{}'
	shift 2
	[ $# -gt 0 ] || set -- L2 L3 L4
	for l in "$@"; do
		doc=$(jq -c --arg l "$l" --arg c "$c" \
			'.[$l] = {applied: {ok: true, commit: $c}, last: {ok: true, commit: $c}}' <<<"$doc")
	done
	mkdir -p "$LAB/.hl/hosts"
	printf '%s\n' "$doc" > "$LAB/.hl/hosts/$h.json"
}

setup() {
	common_setup
	example_lab
	printf '.hl/\n' > "$LAB/.gitignore"
	git -C "$LAB" init -q
	git -C "$LAB" add -A
	git -C "$LAB" commit -qm lab
	C1=$(git -C "$LAB" rev-parse HEAD)
	for h in db01 nas01 web01 web02; do applied $h "$C1"; done
}

# change MESSAGE: every change in $LAB committed
change() {
	git -C "$LAB" add -A
	git -C "$LAB" commit -qm "$1"
}

drift() {
	run --separate-stderr hl-validate -C "$LAB" drift "$@"
}

# layer HOST LAYER: that host's entry for that layer
layer() {
	jq -c --arg h "$1" --arg l "$2" '.hosts[] | select(.name == $h) | .layers[$l]' <<<"$output"
}

@test "hl-validate drift: every layer at HEAD is none, exit 0 even with --exit-code" {
	drift --exit-code
	[ "$status" -eq 0 ]
	jq -e --arg c "$C1" '.head == $c and ([.hosts[].name] == ["db01", "nas01", "web01", "web02"]) and
		all(.hosts[]; (.rebuild_suggested | not) and all(.layers[]; .action == "none" and .applied == $c))' <<<"$output"
	# nas01 runs no stack: its L4 is none whatever changes
	[ "$(layer nas01 L4 | jq -r .action)" = none ]
}

@test "hl-validate drift: a role's file is L3 of exactly its hosts; --exit-code exits 1" {
	printf -- '- name: more\n  ansible.builtin.debug: {msg: x}\n' >> "$LAB/layers/L3/roles/docker/tasks/main.yml"
	change "docker role"
	drift --exit-code
	[ "$status" -eq 1 ]
	jq -e '[.hosts[] | select(.layers.L3.action == "converge") | .name] == ["db01", "web01", "web02"] and
		all(.hosts[]; .layers.L2.action == "none" and .layers.L4.action == "none")' <<<"$output"
	layer web01 L3 | jq -e '.files == ["layers/L3/roles/docker/tasks/main.yml"] and .keys == []'
	drift
	[ "$status" -eq 0 ]
}

@test "hl-validate drift: a stack's file is L4 of its hosts; a persona's memory L2 by key, its env L4, its roles L3" {
	echo '<p>more</p>' >> "$LAB/layers/L4/stacks/hello/www/index.html"
	change "hello page"
	drift
	jq -e '[.hosts[] | select(.layers.L4.action == "deploy") | .name] == ["web01", "web02"] and
		all(.hosts[]; .layers.L2.action == "none" and .layers.L3.action == "none")' <<<"$output"
	sed -i 's/^memory: 1G/memory: 2G/; s/HELLO_GREETING: hello from hl/HELLO_GREETING: hello again/' "$LAB/personas/web.yaml"
	sed -i 's/^roles: \[docker\]/roles: [docker, restic]/' "$LAB/personas/web.yaml"
	change "web persona"
	drift
	layer web02 L2 | jq -e '.action == "apply" and .keys == ["memory_mib"] and .files == ["personas/web.yaml"]'
	layer web02 L3 | jq -e '.action == "converge" and .keys == ["roles"] and .files == ["personas/web.yaml"]'
	layer web02 L4 | jq -e '.action == "deploy" and .keys == ["env"] and
		.files == ["layers/L4/stacks/hello/www/index.html", "personas/web.yaml"]'
	layer db01 L2 | jq -e '.action == "none"'
}

@test "hl-validate drift: the template's definition or its channel's artifact is a rebuild; data is no layer's" {
	sed -i 's/^  cores: 2$/  cores: 4/' "$LAB/layers/L1/templates/debian-12.yaml"
	change "template"
	drift
	jq -e 'all(.hosts[]; .rebuild_suggested and .layers.L2.action == "rebuild" and
		.layers.L2.files == ["layers/L1/templates/debian-12.yaml"])' <<<"$output"
	for h in db01 nas01 web01 web02; do applied $h "$(git -C "$LAB" rev-parse HEAD)"; done
	# a promotion: the channel points elsewhere on the hosts' nodes
	printf 'debian-12:\n  stable: {pve1: 20261205T000000Z, pve2: 20261205T000000Z}\n' > "$LAB/layers/L1/channels.yaml"
	change "promote"
	drift
	jq -e 'all(.hosts[]; .rebuild_suggested and .layers.L2.files == ["layers/L1/channels.yaml"])' <<<"$output"
	for h in db01 nas01 web01 web02; do applied $h "$(git -C "$LAB" rev-parse HEAD)"; done
	sed -i 's/^tags: \[db\]$/tags: [db]\ndata: [\/srv\/db-extra]/' "$LAB/personas/db.yaml"
	grep -q '^data: \[/srv/db-extra\]' "$LAB/personas/db.yaml"
	change "db data"
	drift --exit-code
	[ "$status" -eq 0 ]
	[ "$(layer db01 L2 | jq -c .keys)" = "[]" ]
}

@test "hl-validate drift: a layer never applied is needed whole; a host new since, all of it; a commit Git lacks is 3" {
	rm "$LAB/.hl/hosts/web02.json"
	applied db01 "$C1" L2
	drift
	layer web02 L2 | jq -e '.action == "apply" and .applied == null and (.reason | test("never applied"))'
	layer db01 L3 | jq -e '.action == "converge" and .applied == null'
	layer db01 L4 | jq -e '.action == "deploy"'
	layer db01 L2 | jq -e '.action == "none"'
	# web03, a host the specs did not have at the commit applied
	sed -i 's/^  web02:$/  web03:\n    vmid: 203\n    node: pve2\n    ip: 10.77.0.23\/24\n  web02:/' "$LAB/personas/web.yaml"
	change "web03"
	applied web03 "$C1"
	drift
	layer web03 L2 | jq -e '.action == "apply" and .keys == "new"'
	applied web01 0123456789abcdef0123456789abcdef01234567
	drift
	[ "$status" -eq 3 ]
	jq -e '.error.message | test("0123456789abcdef0123456789abcdef01234567 is not in the lab.s repository")' <<<"$output"
}

@test "hl-validate drift: usage; a lab without a commit is 3" {
	run -2 --separate-stderr hl-validate -C "$LAB" show --live
	[[ $stderr == *"--live is for drift only"* ]]
	run -2 --separate-stderr hl-validate -C "$LAB" specs --exit-code
	[[ $stderr == *"--exit-code is for drift only"* ]]
	run -0 --separate-stderr hl-validate --help
	[[ $output == *"hl-validate drift [SELECTOR...] [--live] [--exit-code]"* ]]
	rm -rf "$LAB/.git"
	git -C "$LAB" init -q
	drift
	[ "$status" -eq 3 ]
	jq -e '.error.message | test("drift needs the lab in Git, with a commit")' <<<"$output"
}
