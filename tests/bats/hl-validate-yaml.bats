#!/usr/bin/env bats
# hl-validate: YAML loading, anchors and merges, and hostile input, each
# bounded and rejected with file:line.

load test_helper

@test "hl-validate: a YAML syntax error names its file and line, exit 1" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	hosts:
	  app01: {vmid: 301, ip: [10.1.0.11/24}
	EOF
	validate 1
	assert_error_at personas/app.yaml 3 "^YAML syntax: "
	[[ "$stderr" == *"hl-validate: personas/app.yaml:3:"*"error: YAML syntax"* ]]
}

@test "hl-validate: problems in several files are all reported in one run" {
	base_lab
	echo 'id: [' >> "$LAB/lab.yaml"
	echo 'agent: sometimes' >> "$LAB/layers/L1/templates/deb.yaml"
	sed -i 's/cores: 1/cores: 999/' "$LAB/personas/app.yaml"
	validate 1
	jq -e '[.errors[].file] | unique == ["lab.yaml", "layers/L1/templates/deb.yaml", "personas/app.yaml"]' <<<"$output"
	assert_errors 4
}

@test "hl-validate: anchors, aliases and merge keys work, own keys winning" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	hosts:
	  app01: &big
	    vmid: 301
	    cores: 4
	    memory: &mem 4G
	    tags: &tags [big, app]
	  app02:
	    <<: *big
	    vmid: 302
	  app03:
	    <<: [{cores: 8, disk: 9G}, *big]
	    vmid: 303
	    memory: *mem
	    tags: *tags
	EOF
	run -0 --separate-stderr hl-validate -C "$LAB" show
	jq -e '[.hosts[] | [.name, .vmid, .cores, .memory_mib, .disk_gib, .tags]] == [
		["app01", 301, 4, 4096, 4, ["app", "big"]],
		["app02", 302, 4, 4096, 4, ["app", "big"]],
		["app03", 303, 8, 4096, 9, ["app", "big"]]]' <<<"$output"
}

@test "hl-validate: a problem inside a merged value points at the merge" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	hosts:
	  app01: &h
	    vmid: 301
	    ip: dhcp
	  app02:
	    <<: *h
	EOF
	validate 1
	assert_error_at personas/app.yaml 10 "vmid 301 of host 'app02' is already used by host 'app01'"
}

@test "hl-validate: an alias bomb is stopped at a node cap, with its line" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	a: &a [x, x, x, x, x, x, x, x, x, x]
	b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
	c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
	d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
	e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
	f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
	g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
	h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
	i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
	EOF
	run -1 --separate-stderr timeout 20 hl-validate -C "$LAB" specs
	assert_error_at personas/app.yaml 7 "expands to more than 2000000 values"
	assert_errors 1
}

@test "hl-validate: nesting deeper than 64 levels is refused at its line" {
	base_lab
	{ echo "template: deb"; printf 'hosts: '; printf '[%.0s' $(seq 100); echo; } \
		> "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 2 "nesting deeper than 64 levels"
}

@test "hl-validate: a file over 8 MiB is refused without being parsed" {
	base_lab
	{ echo "template: deb"; head -c 9000000 /dev/zero | tr '\0' '#'; echo; } \
		> "$LAB/personas/app.yaml"
	validate 1
	jq -e '.errors == [{file: "personas/app.yaml", line: null, col: null,
		path: null, message: "file is larger than 8 MiB"}]' <<<"$output"
}

@test "hl-validate: an empty file, a comment-only file and an empty document are refused" {
	base_lab
	: > "$LAB/personas/empty.yaml"
	printf '# only a comment\n\n' > "$LAB/personas/comment.yaml"
	printf '# the document\n---\n...\n' > "$LAB/personas/nodoc.yaml"
	printf '\n~\n' > "$LAB/personas/null.yaml"
	validate 1
	assert_error_at personas/empty.yaml 1 "^empty file$"
	assert_error_at personas/comment.yaml 1 "^empty file$"
	assert_error_at personas/nodoc.yaml 3 "^empty document$"
	assert_error_at personas/null.yaml 2 "^empty document$"
	assert_errors 4
}

@test "hl-validate: a document that is not a mapping is refused" {
	base_lab
	printf -- '- app01\n- app02\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 1 "must be a mapping, not a list"
}

@test "hl-validate: a duplicate key reports both positions" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 1G
	disk: 4G
	cores: 2
	hosts:
	  app01: {vmid: 301, vmid: 302}
	EOF
	validate 1
	assert_error_at personas/app.yaml 5 "duplicate key 'cores' \\(first at line 2\\)"
	assert_error_at personas/app.yaml 7 "duplicate key 'vmid' \\(first at line 7\\)"
	jq -e '.errors[0] | .related == {file: "personas/app.yaml", line: 2, col: 1}
		and .path == ".cores"' <<<"$output"
	jq -e '.errors[1].related == {file: "personas/app.yaml", line: 7, col: 11}' <<<"$output"
}

@test "hl-validate: several documents in one file are refused at the second" {
	base_lab
	printf 'template: deb\n---\ntemplate: deb\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 2 "more than one YAML document"
	assert_errors 1
}

@test "hl-validate: explicit tags and %TAG directives are refused" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: !!str deb
	cores: !!int "1"
	memory: !custom 1G
	disk: 4G
	hosts: !!map
	  app01: {vmid: 301}
	EOF
	validate 1
	assert_error_at personas/app.yaml 1 "explicit tag 'tag:yaml.org,2002:str' is not allowed"
	assert_error_at personas/app.yaml 2 "explicit tag 'tag:yaml.org,2002:int'"
	assert_error_at personas/app.yaml 3 "explicit tag '!custom'"
	assert_error_at personas/app.yaml 5 "explicit tag 'tag:yaml.org,2002:map'"
	printf '%%TAG !e! tag:example.com,2000:\n---\ntemplate: deb\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 1 "%TAG directives are not allowed"
}

@test "hl-validate: a NUL byte is refused at its line" {
	base_lab
	printf 'template: deb\ncores: 1\nmemory: 1\0G\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 3 "^NUL byte in file$"
	printf 'template: deb\ncores: 1\nuser: "ro\\0ot"\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 3 "^NUL character in a string$"
}

@test "hl-validate: invalid UTF-8 is refused at its line, overlong forms included" {
	base_lab
	printf 'template: deb\n# caf\xc3\xa9 is fine\nuser: b\xffd\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 3 "^invalid UTF-8$"
	assert_errors 1
	printf 'template: deb\nuser: \xc0\xaf\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 2 "^invalid UTF-8$"
	printf 'template: deb\nuser: \xed\xa0\x80\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 2 "^invalid UTF-8$"
}

@test "hl-validate: an unknown alias and a collection as a key are refused" {
	base_lab
	printf 'template: *nope\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 1 "unknown alias '\\*nope'"
	printf 'template: deb\n? [a, b]\n: c\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 2 "a mapping key must be a plain string"
}

@test "hl-validate: a spec file that is not a regular file is refused" {
	base_lab
	rm "$LAB/personas/app.yaml"
	mkdir "$LAB/personas/app.yaml"
	validate 1
	jq -e 'any(.errors[]; .file == "personas/app.yaml" and .message == "not a regular file")' <<<"$output"
}

@test "hl-validate: scalars follow YAML 1.2: no, on and MAC-like values stay strings" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 1G
	disk: 4G
	user: no
	tags: [on, off, yes, "007"]
	hosts:
	  app01: {vmid: 301, mac: 52:54:00:12:34:56}
	  app02: {vmid: 302, mac: "52:54:00:12:34:57", tags: [null]}
	EOF
	validate 1
	assert_error_at personas/app.yaml 9 "must be a name of .*, not nothing"
	assert_errors 1
	sed -i 's/, tags: \[null\]//' "$LAB/personas/app.yaml"
	run -0 --separate-stderr hl-validate -C "$LAB" show app01
	jq -e '.hosts[0] | .user == "no" and .tags == ["007", "off", "on", "yes"]
		and .mac == "52:54:00:12:34:56"' <<<"$output"
}

@test "hl-validate: a merge keeps the mapping's own line and its own values' lines" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	memory: 1G
	disk: 4G
	hosts:
	  app01: &b {vmid: 301, cores: 1}
	  app02:
	    <<: *b
	    vmid: 302
	  app03: {vmid: abc,
	    <<: {vmid: 5, cores: 1}}
	EOF
	validate 1
	assert_error_at personas/app.yaml 9 "'vmid' must be an integer"
	assert_errors 1
	sed -i 's/vmid: abc/vmid: 303/' "$LAB/personas/app.yaml"
	run -0 --separate-stderr hl-validate -C "$LAB" show app02
	jq -e '.hosts[0].source == {file: "personas/app.yaml", line: 6}' <<<"$output"
}

@test "hl-validate: a bad value under a duplicate key is reported where it stands" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	memory: 1G
	disk: 4G
	cores: lots
	hosts:
	  app01: {vmid: 301}
	cores: 2
	EOF
	validate 1
	assert_error_at personas/app.yaml 4 "'cores' must be an integer"
	assert_error_at personas/app.yaml 7 "duplicate key 'cores' \\(first at line 4\\)"
	assert_errors 2
}

@test "hl-validate: control characters and Unicode line separators are refused at their line" {
	base_lab
	printf 'template: deb\nuser: "a\x01b"\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 2 "^control character in file$"
	printf 'template: deb\nuser: "a\xe2\x80\xa8b"\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 2 "Unicode line separator"
	printf 'template: deb\nuser: "a\\nb"\n"t\\u0007x": 1\n' > "$LAB/personas/app.yaml"
	validate 1
	assert_error_at personas/app.yaml 2 "value has a control character"
	# a key quoted back in a message cannot split the stderr line
	assert_error_at personas/app.yaml 3 "^unknown key 't\\?x'$"
	[[ "$stderr" == *"personas/app.yaml:3:1: error: unknown key 't?x'"* ]]
}

@test "hl-validate: a mapping key that YAML reads as a number, boolean or null is refused" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	hosts:
	  101: {vmid: 301}
	  true: {vmid: 302}
	EOF
	validate 1
	assert_error_at personas/app.yaml 3 "mapping key '101' is not a string \\(quote it\\)"
	assert_error_at personas/app.yaml 4 "mapping key 'true' is not a string"
}

@test "hl-validate: a FIFO or a device among the spec files is refused without waiting" {
	base_lab
	mkfifo "$LAB/personas/pipe.yaml"
	sed -i 's|keys/id.pub|/dev/zero|' "$LAB/lab.yaml"
	run -1 --separate-stderr timeout 20 hl-validate -C "$LAB" specs
	jq -e 'any(.errors[]; .file == "personas/pipe.yaml" and .message == "not a regular file")' <<<"$output"
	assert_error_at lab.yaml 20 "'/dev/zero' is not a regular file"
}

@test "hl-validate: past 1000 problems the rest are counted, not listed" {
	base_lab
	{
		printf 'template: deb\nmemory: 1G\ndisk: 4G\nhosts:\n'
		for i in $(seq 1 1500); do echo "  h$i: {vmid: $((1000 + i)), cores: 0}"; done
	} > "$LAB/personas/app.yaml"
	validate 1
	jq -e '(.errors | length) == 1001 and .errors[-1].message == "500 more problems not shown"' <<<"$output"
}
