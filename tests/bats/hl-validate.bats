#!/usr/bin/env bats
# hl-validate: the spec model, "specs" and "show", selectors, Git state.
# YAML and hostile input: hl-validate-yaml.bats.

load test_helper

# --- the command line ------------------------------------------------

@test "hl-validate: --help prints usage and the exit table, exit 0" {
	run -0 --separate-stderr hl-validate --help
	[[ "$output" == *"usage: hl-validate specs"* ]]
	[[ "$output" == *"6  refused for safety"* ]]
	[ -z "$stderr" ]
}

@test "hl-validate: --version names the tool" {
	run -0 hl-validate --version
	[[ "$output" == "hl-validate "* ]]
}

@test "hl-validate: no verb is a usage error (2) with one line and a hint" {
	run -2 --separate-stderr hl-validate
	[ -z "$output" ]
	[[ "$stderr" == *"missing verb"*"try 'hl-validate --help'"* ]]
}

@test "hl-validate: an unknown verb or option is a usage error (2)" {
	run -2 --separate-stderr hl-validate frobnicate
	[[ "$stderr" == *"unknown verb 'frobnicate'"* ]]
	run -2 --separate-stderr hl-validate specs --frob
	[[ "$stderr" == *"try 'hl-validate --help'"* ]]
	run -2 --separate-stderr hl-validate specs --progress=xml
	[[ "$stderr" == *"--progress takes human or json"* ]]
}

@test "hl-validate: a malformed selector is a usage error (2)" {
	base_lab
	run -2 --separate-stderr hl-validate -C "$LAB" specs 'persona:'
	[[ "$stderr" == *"bad selector 'persona:'"* ]]
	run -2 --separate-stderr hl-validate -C "$LAB" specs 'web;rm -rf /'
	[[ "$stderr" == *"bad selector"* ]]
}

@test "hl-validate: no lab anywhere upwards exits 3 with an error document" {
	mkdir -p "$BATS_TEST_TMPDIR/empty/sub"
	cd "$BATS_TEST_TMPDIR/empty/sub"
	run -3 --separate-stderr hl-validate specs
	jq -e '.error.code == 3 and (.error.message | test("no lab.yaml"))
		and .meta.tool == "hl-validate"' <<<"$output"
	[[ "$stderr" == *"no lab.yaml in this directory or any above it"* ]]
}

@test "hl-validate: -C to a directory without lab.yaml exits 3" {
	mkdir -p "$BATS_TEST_TMPDIR/nolab"
	run -3 --separate-stderr hl-validate -C "$BATS_TEST_TMPDIR/nolab" specs
	jq -e '.error.message | test("no lab.yaml in")' <<<"$output"
}

@test "hl-validate: finds the lab upwards from a subdirectory, and through HL_LAB" {
	base_lab
	cd "$LAB/personas"
	run -0 --separate-stderr hl-validate specs
	jq -e '.ok and .meta.lab == "t1"' <<<"$output"
	cd "$BATS_TEST_TMPDIR"
	HL_LAB="$LAB" run -0 --separate-stderr hl-validate specs
	jq -e '.hosts == ["app01", "app02"]' <<<"$output"
}

@test "hl-validate: a failed write to stdout exits 7" {
	base_lab
	run -7 --separate-stderr sh -c 'hl-validate -C "$1" specs > /dev/full' sh "$LAB"
	[[ "$stderr" == *"cannot write the output"* ]]
}

@test "hl-validate: output is compact by default, indented with --pretty, with meta" {
	base_lab
	run -0 --separate-stderr hl-validate -C "$LAB" specs
	[ "${#lines[@]}" -eq 1 ]
	jq -e '.meta | .tool == "hl-validate" and .lab == "t1" and
		(.duration_ms | type) == "number" and has("version") and has("git")' <<<"$output"
	run -0 --separate-stderr hl-validate -C "$LAB" specs --pretty
	[ "${#lines[@]}" -gt 5 ]
}

# --- the example lab ---------------------------------------------------

@test "hl-validate: the example lab is valid and shows its golden configuration" {
	example_lab
	run -0 --separate-stderr hl-validate -C "$LAB" specs
	jq -e '.ok and .errors == [] and .warnings == [] and
		.hosts == ["db01", "nas01", "web01", "web02"]' <<<"$output"
	run -0 --separate-stderr hl-validate -C "$LAB" show
	diff -u "$TOP/tests/golden/show-example.json" <(jq -S 'del(.meta)' <<<"$output")
}

@test "hl-validate: the example lab before the simulator ran warns once per file, and is valid" {
	example_lab
	rm "$LAB/.hl/"sim*.env "$LAB/.hl/ca.pem"
	run -0 --separate-stderr hl-validate -C "$LAB" specs
	jq -e '.ok and (.warnings | length) == 4' <<<"$output"
	assert_warning_at lab.yaml 11 "'.hl/sim.env' does not exist yet"
	assert_warning_at lab.yaml 22 "'.hl/sim-nodes.env' does not exist yet"
	assert_warning_at lab.yaml 61 "'.hl/sim-mirror.env' does not exist yet"
	assert_warning_at lab.yaml 46 "'.hl/sim-net.env' does not exist yet"
}

@test "hl-validate: the example lab without the setup key names the missing key file" {
	example_lab
	rm "$LAB/.hl/id_ed25519.pub"
	validate 1
	assert_error_at lab.yaml 41 "id_ed25519.pub' does not exist.*just setup"
}

@test "hl-validate: no token or other .hl/ secret reaches stdout or stderr" {
	example_lab
	run -0 --separate-stderr hl-validate -C "$LAB" show --pretty
	[[ "$output$stderr" != *"not-a-real-token"* ]]
	lab_file lab.yaml <<-'EOF'
	id: t1
	pve:
	  endpoint: {from: .hl/sim.env, key: HL_PVE_TOKEN}
	  cluster: {from: .hl/sim.env, key: HL_PVE_ENDPOINT}
	nodes: {}
	EOF
	validate 1
	assert_error_at lab.yaml 3 "names a secret"
	# a value read from .hl/ is named in errors, never shown
	assert_error_at lab.yaml 4 "HL_PVE_ENDPOINT in .hl/sim.env is not a Proxmox cluster name"
	[[ "$output$stderr" != *"not-a-real-token"* ]]
	[[ "$output$stderr" != *"18006"* ]]
}

@test "hl-validate: a {from} value needs a file under .hl/ and a key it has" {
	example_lab
	lab_file lab.yaml <<-'EOF'
	id: t1
	pve:
	  endpoint: {from: .hl/sim.env, key: HL_NOPE}
	  cluster: {from: /etc/passwd, key: ROOT}
	  tls: {fingerprint: {from: .hl/sim.env, kye: X}}
	nodes: {}
	EOF
	validate 1
	assert_error_at lab.yaml 3 "'.hl/sim.env' has no HL_NOPE"
	assert_error_at lab.yaml 4 "must name a file under .hl/"
	assert_error_at lab.yaml 5 "unknown key 'kye' \\(did you mean 'key'\\?\\)"
	assert_error_at lab.yaml 5 "missing required key 'key'"
}

# --- keys, types and ranges --------------------------------------------

@test "hl-validate: the base test lab is valid" {
	base_lab
	validate 0
	jq -e '.ok == true and .errors == [] and .warnings == []' <<<"$output"
}

@test "hl-validate: an unknown key is named with its line and a suggestion" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cpus: 2
	hosts:
	  app01: {vmid: 301, memroy: 1G, capture: [web]}
	EOF
	validate 1
	assert_error_at personas/app.yaml 2 "unknown key 'cpus' \\(did you mean 'cores'\\?\\)"
	assert_error_at personas/app.yaml 4 "unknown key 'memroy' \\(did you mean 'memory'\\?\\)"
	assert_error_at personas/app.yaml 4 "^unknown key 'capture'$"
	jq -e '.errors[] | select(.message | test("cpus")) | .path == ".cpus" and .col == 1' <<<"$output"
}

@test "hl-validate: cores must be an integer in range" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	memory: 1G
	disk: 4G
	cores: 0
	hosts:
	  app01: {vmid: 301, cores: "two"}
	  app02: {vmid: 302, cores: 1.5}
	EOF
	validate 1
	assert_error_at personas/app.yaml 4 "integer from 1 to 512"
	assert_error_at personas/app.yaml 6 "must be an integer, not a string"
	assert_error_at personas/app.yaml 7 "integer from 1 to 512"
}

@test "hl-validate: memory and disk need sizes with binary units" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 2048
	disk: 10GB
	hosts:
	  app01: {vmid: 301, memory: 1.5G, disk: 512M}
	  app02: {vmid: 302, memory: 8M, disk: 1G}
	EOF
	validate 1
	assert_error_at personas/app.yaml 3 "needs a unit"
	assert_error_at personas/app.yaml 4 "ambiguous: write G or GiB"
	assert_error_at personas/app.yaml 6 "whole number of the unit"
	assert_error_at personas/app.yaml 6 "'512M' is not a whole number of GiB"
	assert_error_at personas/app.yaml 7 "'8M' is out of range \\(16MiB"
}

@test "hl-validate: a vmid outside 100-999999999 or inside a template range is refused" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 1G
	disk: 4G
	hosts:
	  app01: {vmid: 99}
	  app02: {vmid: 9050}
	EOF
	validate 1
	assert_error_at personas/app.yaml 6 "integer from 100 to 999999999"
	assert_error_at personas/app.yaml 7 "vmid 9050 of host 'app02' is inside the vmid range of template 'deb'"
}

@test "hl-validate: addresses, MACs, gateways and DNS servers are checked" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 1G
	disk: 4G
	hosts:
	  app01: {vmid: 301, ip: 10.1.0.300/24}
	  app02: {vmid: 302, ip: 10.1.0.12, mac: "01:00:5E:00:00:01"}
	  app03: {vmid: 303, ip: 10.1.0.13/24, mac: "BC:24:11:zz:00:01", gateway: 10.1.0.01}
	  app04: {vmid: 304, dns: [1.1.1.1, nameserver], mac: bc-24-11-00-00-04}
	EOF
	validate 1
	assert_error_at personas/app.yaml 6 "'10.1.0.300/24' is not an IPv4 address with a prefix"
	assert_error_at personas/app.yaml 7 "'10.1.0.12' is not an IPv4 address with a prefix"
	assert_error_at personas/app.yaml 7 "not a unicast MAC"
	assert_error_at personas/app.yaml 8 "'BC:24:11:zz:00:01' is not a unicast MAC"
	assert_error_at personas/app.yaml 8 "'10.1.0.01' is not an IPv4 address"
	assert_error_at personas/app.yaml 9 "'nameserver' is not an IPv4 address"
	assert_error_at personas/app.yaml 9 "'bc-24-11-00-00-04' is not a unicast MAC"
	assert_errors 7
}

@test "hl-validate: an address outside its gateway's subnet names both places" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 1G
	disk: 4G
	hosts:
	  app01: {vmid: 301, ip: 10.2.0.11/24}
	  app02: {vmid: 302, ip: 10.1.0.0/24}
	EOF
	validate 1
	assert_error_at personas/app.yaml 6 "10.2.0.11/24 of host 'app01' is outside the subnet of its gateway 10.1.0.1 \\(lab.yaml:18\\)"
	jq -e '.errors[0].related == {file: "lab.yaml", line: 18, col: 12}' <<<"$output"
	assert_error_at personas/app.yaml 7 "network address of its subnet"
}

@test "hl-validate: host names must be RFC 1123 names in the identifier grammar" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 1G
	disk: 4G
	hosts:
	  App01: {vmid: 301}
	  app_02: {vmid: 302}
	  -app03: {vmid: 303}
	  app04-: {vmid: 304}
	EOF
	validate 1
	assert_error_at personas/app.yaml 6 "'App01' is not a name of \\[a-z0-9\\]"
	assert_error_at personas/app.yaml 7 "'app_02' is not an RFC 1123 host name"
	assert_error_at personas/app.yaml 8 "'-app03' is not a name"
	assert_error_at personas/app.yaml 9 "'app04-' is not an RFC 1123 host name"
	jq -e '.hosts == []' <<<"$output"
}

@test "hl-validate: tags follow the identifier grammar and hl-* is reserved" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 1G
	disk: 4G
	tags: [Web, hl-t1, "a;b", ok-tag]
	hosts:
	  app01: {vmid: 301}
	EOF
	validate 1
	assert_error_at personas/app.yaml 5 "'Web' is not a name"
	assert_error_at personas/app.yaml 5 "tag 'hl-t1' is reserved"
	assert_error_at personas/app.yaml 5 "'a;b' is not a name"
	assert_errors 3
}

@test "hl-validate: persona and template file names follow the identifier grammar" {
	base_lab
	cp "$LAB/personas/app.yaml" "$LAB/personas/Bad Name.yaml"
	cp "$LAB/layers/L1/templates/deb.yaml" "$LAB/layers/L1/templates/x.y.yaml"
	echo "notes" > "$LAB/personas/README.md"
	validate 1
	assert_error_at "personas/Bad Name.yaml" 1 "persona name 'Bad Name'"
	assert_error_at layers/L1/templates/x.y.yaml 1 "template name 'x.y'"
	jq -e 'any(.warnings[]; .message | test("personas/README.md. is ignored"))' <<<"$output"
}

@test "hl-validate: user names, storages, bridges and VLANs are checked" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 1G
	disk: 4G
	user: Root
	storage: Local_LVM
	bridge: 0vmbr
	vlan: 4095
	pool: "a pool"
	search_domain: bad_domain.lab
	hosts:
	  app01: {vmid: 301}
	EOF
	validate 1
	assert_error_at personas/app.yaml 5 "'Root' is not a user name"
	assert_error_at personas/app.yaml 6 "'Local_LVM' is not a Proxmox storage ID"
	assert_error_at personas/app.yaml 7 "'0vmbr' is not a bridge name"
	assert_error_at personas/app.yaml 8 "integer from 1 to 4094"
	assert_error_at personas/app.yaml 9 "'a pool' is not a Proxmox pool ID"
	assert_error_at personas/app.yaml 10 "'bad_domain.lab' is not an RFC 1123 domain name"
}

@test "hl-validate: required keys are named where they are missing" {
	base_lab
	lab_file lab.yaml <<-'EOF'
	pve: {cluster: c}
	nodes:
	  pve1: {ssh: {address: 127.0.0.1}}
	EOF
	lab_file personas/app.yaml <<-'EOF'
	cores: 1
	hosts:
	  app01: {ip: dhcp}
	EOF
	validate 1
	assert_error_at lab.yaml 1 "missing required key 'id'"
	assert_error_at lab.yaml 1 "missing required key 'endpoint'"
	assert_error_at lab.yaml 3 "missing required key 'host_key'"
	assert_error_at personas/app.yaml 3 "host 'app01' has no 'vmid'"
	assert_error_at personas/app.yaml 3 "host 'app01' has no 'template' \\(set it on the host, in persona 'app' or in lab.yaml defaults\\)"
	assert_error_at personas/app.yaml 3 "has no 'memory'"
	jq -e '.meta.lab == null' <<<"$output"
}

@test "hl-validate: lab.yaml needs a cluster identity" {
	base_lab
	sed -i '/cluster: testc/d' "$LAB/lab.yaml"
	validate 1
	assert_error_at lab.yaml 3 "no cluster identity"
	# a fingerprint on every node is an identity too
	sed -i 's/^  pve1:$/  pve1:\n    fingerprint: AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89/' "$LAB/lab.yaml"
	validate 1
	sed -i 's/^  pve2:$/  pve2:\n    fingerprint: ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89/' "$LAB/lab.yaml"
	validate 0
}

@test "hl-validate: endpoints, fingerprints, host keys and checksums are checked" {
	base_lab
	lab_file lab.yaml <<-'EOF'
	id: t1
	pve:
	  endpoint: http://127.0.0.1:8006
	  token_env: hl-token
	  tls: {fingerprint: "AB:CD", ca_file: no/such/ca.pem}
	  cluster: testc
	  token_file: /etc/pve-token
	nodes:
	  pve1:
	    ssh: {address: "bad host", host_key: "ssh-ed25519 AAAAnotakey"}
	  PVE_2:
	    ssh: {address: 127.0.0.1, host_key: "SHA256:short", port: 70000}
	EOF
	validate 1
	assert_error_at lab.yaml 3 "is not an https:// URL"
	assert_error_at lab.yaml 4 "not an environment variable name"
	assert_error_at lab.yaml 5 "'AB:CD' is not a SHA-256 fingerprint"
	assert_error_at lab.yaml 5 "CA file 'no/such/ca.pem' does not exist"
	assert_error_at lab.yaml 7 "'/etc/pve-token' is not a file below .hl/"
	assert_error_at lab.yaml 10 "'bad host' is not an IPv4 address or an RFC 1123 host name"
	assert_error_at lab.yaml 10 "neither an OpenSSH public key line nor a SHA256: fingerprint"
	assert_error_at lab.yaml 11 "'PVE_2' is not an RFC 1123 host name label"
	assert_error_at lab.yaml 12 "integer from 1 to 65535"
	assert_error_at lab.yaml 12 "'SHA256:short' is neither"
}

@test "hl-validate: a template needs a pinned source with exactly one checksum" {
	base_lab
	lab_file layers/L1/templates/deb.yaml <<-'EOF'
	source:
	  url: ftp://example.org/x.qcow2
	  checksum: md5:d41d8cd98f00b204e9800998ecf8427e
	agent: maybe
	vmids: {first: 9000, last: 8999}
	vm: {scsihw: virtio, cores: 2}
	storage: {disk: local-lvm}
	EOF
	lab_file layers/L1/templates/two.yaml <<-'EOF'
	source:
	  url: https://example.org/two.qcow2
	  checksum_file: {url: https://example.org/SHA512SUMS, algorithm: sha512}
	  checksum: sha256:0000000000000000000000000000000000000000000000000000000000000000
	agent: install
	vmids: {first: 9090, last: 9199}
	storage: {disk: local-lvm, import: local}
	EOF
	validate 1
	assert_error_at layers/L1/templates/deb.yaml 2 "is not an http:// or https:// URL"
	assert_error_at layers/L1/templates/deb.yaml 3 "is not a checksum 'sha256:<64 hex>'"
	assert_error_at layers/L1/templates/deb.yaml 4 "'maybe' is not one of: builtin, install"
	assert_error_at layers/L1/templates/deb.yaml 5 "vmid range 9000-8999 is empty"
	assert_error_at layers/L1/templates/deb.yaml 6 "'virtio' is not one of: virtio-scsi-single"
	assert_error_at layers/L1/templates/deb.yaml 7 "missing required key 'import'"
	assert_error_at layers/L1/templates/two.yaml 1 "give exactly one of 'checksum' and 'checksum_file'"
}

@test "hl-validate: template vmid ranges may not overlap" {
	base_lab
	sed 's/first: 9000, last: 9099/first: 9050, last: 9150/' \
		"$LAB/layers/L1/templates/deb.yaml" > "$LAB/layers/L1/templates/deb2.yaml"
	validate 1
	assert_error_at layers/L1/templates/deb.yaml 5 "vmid range 9000-9099 overlaps template 'deb2' \\(9050-9150\\)"
}

# --- references ----------------------------------------------------------

@test "hl-validate: with apt_proxy, each VM host's template must name a snippets storage (each VM's vendor-data goes there)" {
	base_lab
	printf 'apt_proxy: http://10.1.0.1:3142\n' >> "$LAB/lab.yaml"
	validate 1
	assert_error_at personas/app.yaml 1 "host 'app01' uses template 'deb', which names no snippets storage \\(storage.snippets\\): lab.yaml sets apt_proxy"
	assert_error_at personas/app.yaml 1 "host 'app02' uses template 'deb'"
	assert_errors 2
	sed -i 's/^storage: {disk: local-lvm, import: local}$/storage: {disk: local-lvm, import: local, snippets: local}/' \
		"$LAB/layers/L1/templates/deb.yaml"
	validate 0
}

@test "hl-validate: a template reference needs the template and a known channel" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	cores: 1
	memory: 1G
	disk: 4G
	hosts:
	  app01: {vmid: 301, template: ubuntu-24}
	  app02: {vmid: 302, template: deb@beta}
	  app03: {vmid: 303, template: deb@canary}
	EOF
	validate 1
	assert_error_at personas/app.yaml 5 "uses template 'ubuntu-24', which has no layers/L1/templates/ubuntu-24.yaml"
	assert_error_at personas/app.yaml 6 "unknown channel 'beta' \\(channels are stable and canary\\)"
	assert_errors 2
}

@test "hl-validate: nodes must be declared in lab.yaml" {
	base_lab
	sed -i 's/node: pve2/node: pve9/' "$LAB/personas/app.yaml"
	sed -i 's/node: pve1/node: pve7/' "$LAB/lab.yaml"
	validate 1
	assert_error_at lab.yaml 15 "default node 'pve7' is not declared"
	assert_error_at personas/app.yaml 12 "host 'app02' is placed on node 'pve9'"
}

@test "hl-validate: an SSH key file that holds a private key is refused naming the line" {
	base_lab
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/k"
	cp "$BATS_TEST_TMPDIR/k" "$LAB/keys/id.pub"
	validate 1
	assert_error_at keys/id.pub 1 "is a private key, not an OpenSSH public key \\(named at lab.yaml:20\\)"
	[[ "$output" != *"PRIVATE KEY-----"* ]]
}

@test "hl-validate: an SSH key file with a bad line names that line" {
	base_lab
	{
		echo "# operator keys"
		cat "$FIXTURES/base/keys/id.pub"
		echo ""
		echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBogus== x"
		echo "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl mismatched"
	} > "$LAB/keys/id.pub"
	validate 1
	assert_error_at keys/id.pub 4 "line 4 has a truncated or malformed key blob"
	assert_errors 1
	printf 'hello world\n' > "$LAB/keys/id.pub"
	validate 1
	assert_error_at keys/id.pub 1 "is not an OpenSSH public key"
	: > "$LAB/keys/id.pub"
	validate 1
	assert_error_at lab.yaml 20 "holds no public key"
}

@test "hl-validate: an SSH key blob that names another key type is refused" {
	base_lab
	sed 's/^ssh-ed25519/ssh-rsa/' "$FIXTURES/base/keys/id.pub" > "$LAB/keys/id.pub"
	validate 1
	assert_error_at keys/id.pub 1 "does not match its key type"
}

# --- lab-wide uniqueness ---------------------------------------------------

@test "hl-validate: a host name declared in two personas names both places" {
	base_lab
	lab_file personas/other.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 1G
	disk: 4G
	hosts:
	  app01: {vmid: 401}
	EOF
	validate 1
	assert_error_at personas/other.yaml 6 "host 'app01' is declared twice \\(also in personas/app.yaml:7\\)"
	jq -e '.errors[0].related == {file: "personas/app.yaml", line: 7, col: 3}' <<<"$output"
}

@test "hl-validate: duplicate vmid, IP and MAC name both positions" {
	base_lab
	lab_file personas/other.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 1G
	disk: 4G
	hosts:
	  db01: {vmid: 301, ip: 10.1.0.11/24, mac: "bc:24:11:00:00:01"}
	  db02: {vmid: 402, ip: 10.1.0.12/24, mac: "BC:24:11:00:00:01"}
	EOF
	validate 1
	assert_error_at personas/other.yaml 6 "vmid 301 of host 'db01' is already used by host 'app01' \\(personas/app.yaml:8\\)"
	assert_error_at personas/other.yaml 6 "address 10.1.0.11 of host 'db01' is already used by host 'app01' \\(personas/app.yaml:9\\)"
	assert_error_at personas/other.yaml 7 "MAC BC:24:11:00:00:01 of host 'db02' is already used by host 'db01' \\(personas/other.yaml:6\\)"
	assert_errors 3
	jq -e '[.errors[].related.line] == [8, 9, 6]' <<<"$output"
}

# --- precedence, kinds, warnings -------------------------------------------

@test "hl-validate: host overrides persona overrides defaults; tags accumulate" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb@canary
	cores: 2
	memory: 1G
	disk: 4G
	storage: fast
	tags: [app]
	hosts:
	  app01: {vmid: 301, cores: 4, tags: [blue, app], ip: 10.1.0.11/24, mac: "bc:24:11:00:00:0a"}
	  app02: {vmid: 302}
	EOF
	run -0 --separate-stderr hl-validate -C "$LAB" show app01 app02
	jq -e '.hosts[0] | .cores == 4 and .storage == "fast" and .bridge == "vmbr0"
		and .memory_mib == 1024 and .disk_gib == 4 and .tags == ["app", "blue"]
		and .template == {name: "deb", channel: "canary"} and .node == "pve1"
		and .mac == "BC:24:11:00:00:0A" and .gateway == "10.1.0.1"
		and .source == {file: "personas/app.yaml", line: 8}' <<<"$output"
	jq -e '.hosts[1] | .cores == 2 and .ip == "dhcp" and .tags == ["app"]
		and .mac == null and .dns == [] and .vlan == null' <<<"$output"
}

@test "hl-validate: an external host needs an address and host key, and takes no VM keys" {
	base_lab
	lab_file personas/nas.yaml <<-'EOF'
	cores: 2
	hosts:
	  nas01:
	    kind: external
	    address: nas.home.arpa
	    host_key: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
	    tags: [storage]
	  nas02:
	    kind: external
	    vmid: 500
	    ip: 10.1.0.50/24
	  vm01:
	    kind: vm
	    template: deb
	    memory: 1G
	    disk: 4G
	    vmid: 501
	    address: 10.1.0.51
	EOF
	validate 1
	assert_error_at personas/nas.yaml 8 "host 'nas02' has no 'address'"
	assert_error_at personas/nas.yaml 8 "host 'nas02' has no 'host_key'"
	assert_error_at personas/nas.yaml 10 "'vmid' does not apply to a host of kind external"
	assert_error_at personas/nas.yaml 11 "'ip' does not apply to a host of kind external"
	assert_error_at personas/nas.yaml 18 "'address' does not apply to a host of kind vm"
	assert_errors 5
	lab_file personas/nas.yaml <<-'EOF'
	cores: 2
	hosts:
	  nas01:
	    kind: external
	    address: nas.home.arpa
	    host_key: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
	    tags: [storage]
	EOF
	run -0 --separate-stderr hl-validate -C "$LAB" show nas01
	jq -e '.hosts == [{name: "nas01", persona: "nas", kind: "external",
		address: "nas.home.arpa", port: 22, user: "debian", tags: ["storage"],
		host_key: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
		roles: [], vars: {}, stacks: [], env: {}, data: [],
		source: {file: "personas/nas.yaml", line: 3}}]' <<<"$output"
}

@test "hl-validate: power is running or stopped at any level, running by default, and not for an external host" {
	base_lab
	printf 'power: off\n' >> "$LAB/lab.yaml"
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  power: halted/' "$LAB/lab.yaml"
	lab_file personas/nas.yaml <<-'EOF'
	power: stopped
	hosts:
	  nas01:
	    kind: external
	    address: nas.home.arpa
	    host_key: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
	    power: running
	EOF
	validate 1
	assert_error_at lab.yaml 17 "'halted' is not one of: running, stopped"
	assert_error_at lab.yaml 22 "unknown key 'power'"
	assert_error_at personas/nas.yaml 7 "'power' does not apply to a host of kind external"
	assert_errors 3
	# the default, a persona's value, and a host's over it
	rm -r "$LAB"
	base_lab
	sed -i 's/^  app02:$/  app02:\n    power: running/' "$LAB/personas/app.yaml"
	sed -i 's/^disk: 4G$/disk: 4G\npower: stopped/' "$LAB/personas/app.yaml"
	validate 0
	run -0 --separate-stderr hl-validate -C "$LAB" show app01 app02
	jq -e '[.hosts[] | {name, power}] == [{name: "app01", power: "stopped"},
		{name: "app02", power: "running"}]' <<<"$output"
	rm -r "$LAB"
	base_lab
	run -0 --separate-stderr hl-validate -C "$LAB" show app01
	jq -e '.hosts[0].power == "running"' <<<"$output"
}

@test "hl-validate: reboot_batch is a name at any level, a host's over its persona's, null by default, and not for an external host" {
	base_lab
	sed -i 's/^disk: 4G$/disk: 4G\nreboot_batch: Front_End/' "$LAB/personas/app.yaml"
	lab_file personas/nas.yaml <<-'EOF'
	hosts:
	  nas01:
	    kind: external
	    address: nas.home.arpa
	    host_key: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
	    reboot_batch: nas
	EOF
	validate 1
	assert_error_at personas/app.yaml 5 "'Front_End' is not a name of"
	assert_error_at personas/nas.yaml 6 "'reboot_batch' does not apply to a host of kind external"
	assert_errors 2
	rm -r "$LAB"
	base_lab
	sed -i 's/^disk: 4G$/disk: 4G\nreboot_batch: front/' "$LAB/personas/app.yaml"
	sed -i 's/^  app02:$/  app02:\n    reboot_batch: back_2/' "$LAB/personas/app.yaml"
	validate 0
	run -0 --separate-stderr hl-validate -C "$LAB" show app01 app02
	jq -e '[.hosts[] | {name, reboot_batch}] == [{name: "app01", reboot_batch: "front"},
		{name: "app02", reboot_batch: "back_2"}]' <<<"$output"
	rm -r "$LAB"
	base_lab
	run -0 --separate-stderr hl-validate -C "$LAB" show app01
	jq -e '.hosts[0].reboot_batch == null' <<<"$output"
}

# --- roles and vars (L3) -------------------------------------------------

# The roles NAME... in $LAB, each with the one file a role must have.
make_roles() {
	local r
	for r in "$@"; do
		mkdir -p "$LAB/layers/L3/roles/$r/tasks"
		printf -- '---\n' > "$LAB/layers/L3/roles/$r/tasks/main.yml"
	done
}

@test "hl-validate: roles accumulate over defaults, persona and host in declared order, repeats dropped" {
	base_lab
	make_roles base zeta docker restic alpha
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  roles: [base, zeta]/' "$LAB/lab.yaml"
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	roles: [docker, base, restic]
	hosts:
	  app01: {vmid: 301, roles: [alpha, restic, zeta, alpha]}
	  app02: {vmid: 302}
	EOF
	run -0 --separate-stderr hl-validate -C "$LAB" show
	jq -e '[.hosts[] | {name, roles}] == [
		{name: "app01", roles: ["base", "zeta", "docker", "restic", "alpha"]},
		{name: "app02", roles: ["base", "zeta", "docker", "restic"]}]' <<<"$output"
	# none anywhere: an empty list
	rm -r "$LAB"
	base_lab
	run -0 --separate-stderr hl-validate -C "$LAB" show app01
	jq -e '.hosts[0].roles == [] and .hosts[0].vars == {}' <<<"$output"
}

@test "hl-validate: vars merge by name over the three levels, a higher level replacing a value whole" {
	base_lab
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  vars: {a: 1, b: {x: 1, y: 2}, c: [1, 2], d: keep}/' "$LAB/lab.yaml"
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	vars:
	  b: {x: 9}
	  e: null
	  f: true
	hosts:
	  app01:
	    vmid: 301
	    vars: {a: "two", c: [{k: v}], g: 1.5}
	  app02: {vmid: 302}
	EOF
	run -0 --separate-stderr hl-validate -C "$LAB" show
	jq -e '.hosts[0].vars == {a: "two", b: {x: 9}, c: [{k: "v"}], d: "keep",
		e: null, f: true, g: 1.5}' <<<"$output"
	jq -e '.hosts[1].vars == {a: 1, b: {x: 9}, c: [1, 2], d: "keep", e: null,
		f: true}' <<<"$output"
}

@test "hl-validate: a role must exist as layers/L3/roles/NAME/tasks/main.yml, named at its place in the list" {
	base_lab
	make_roles base
	mkdir -p "$LAB/layers/L3/roles/dir/tasks/main.yml" "$LAB/layers/L3/roles/empty"
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  roles: [base, nope]/' "$LAB/lab.yaml"
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	roles:
	  - base
	  - empty
	  - dir
	hosts:
	  app01:
	    vmid: 301
	    roles: [Bad_Name, base, 7]
	EOF
	validate 1
	assert_error_at lab.yaml 17 "^role 'nope' does not exist: no layers/L3/roles/nope/tasks/main.yml$"
	jq -e 'any(.errors[]; .line == 17 and .col == 17 and .path == ".defaults.roles[1]")' <<<"$output"
	assert_error_at personas/app.yaml 7 "^role 'empty' does not exist: no layers/L3/roles/empty/tasks/main.yml$"
	assert_error_at personas/app.yaml 8 "^role 'dir': layers/L3/roles/dir/tasks/main.yml is not a regular file$"
	assert_error_at personas/app.yaml 12 "'Bad_Name' is not a role name of"
	assert_error_at personas/app.yaml 12 "must be a role name, not a number"
	assert_errors 5
	# reported once where it is written, however many hosts inherit it
	[[ $stderr == *"lab.yaml:17:17: error: role 'nope' does not exist"* ]]
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	hosts:
	  app01: {vmid: 301, roles: base}
	EOF
	validate 1
	assert_error_at personas/app.yaml 6 "must be a list, not a string"
}

@test "hl-validate: vars names are Ansible variable names; ansible_*, hl_*, Python keywords and Ansible's own are refused" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	vars:
	  ansible_user: root
	  hl_x: 1
	  9lives: 1
	  bad-name: 1
	  class: 1
	  hostvars: 1
	  Fine_Name_2: 1
	  _private: 1
	  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: 1
	hosts:
	  app01: {vmid: 301, vars: [a, b]}
	EOF
	validate 1
	assert_error_at personas/app.yaml 6 "^variable 'ansible_user' is reserved: ansible_\\* variables"
	assert_error_at personas/app.yaml 7 "^variable 'hl_x' is reserved: hl_\\* variables"
	assert_error_at personas/app.yaml 8 "'9lives' is not a variable name of \\[A-Za-z_\\]\\[A-Za-z0-9_\\]\\{0,63\\}"
	assert_error_at personas/app.yaml 9 "'bad-name' is not a variable name"
	assert_error_at personas/app.yaml 10 "'class' is a Python keyword"
	assert_error_at personas/app.yaml 11 "variable 'hostvars' is reserved: it is one of Ansible's special variables"
	assert_error_at personas/app.yaml 14 "is not a variable name"
	assert_error_at personas/app.yaml 16 "must be a mapping, not a list"
	assert_errors 8
	# the same names at the other levels
	rm -r "$LAB"
	base_lab
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  vars: {ansible_host: x}/' "$LAB/lab.yaml"
	sed -i 's/^    ip: dhcp$/    ip: dhcp\n    vars: {hl_role: x}/' "$LAB/personas/app.yaml"
	validate 1
	assert_error_at lab.yaml 17 "variable 'ansible_host' is reserved"
	assert_error_at personas/app.yaml 14 "variable 'hl_role' is reserved"
	assert_errors 2
}

@test "hl-validate: a string in vars Ansible would evaluate as a template is refused at its line, at any depth" {
	base_lab
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  vars: {motd: "hi {{ lookup(\x27pipe\x27, \x27id\x27) }}"}/' "$LAB/lab.yaml"
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	vars:
	  list:
	    - fine
	    - "{% if x %}"
	  map:
	    inner:
	      deeper: ["ok", "a {# comment"]
	    "{{ key }}": 1
	  braces: "{ not a template }"
	hosts:
	  app01: {vmid: 301}
	EOF
	validate 1
	assert_error_at lab.yaml 17 "holds '\\{\\{': Ansible would evaluate it as a template"
	assert_error_at personas/app.yaml 8 "'\\{% if x %\\}' holds '\\{%': Ansible would evaluate it as a template"
	assert_error_at personas/app.yaml 11 "'a \\{# comment' holds '\\{#'"
	assert_error_at personas/app.yaml 12 "'\\{\\{ key \\}\\}' holds '\\{\\{'"
	jq -e 'any(.errors[]; .path == ".vars.list[1]") and
		any(.errors[]; .path == ".vars.map.inner.deeper[1]")' <<<"$output"
	assert_errors 4
}

@test "hl-validate: a var may be taken from .hl/, resolved in show, and refused when it holds a template" {
	base_lab
	mkdir -p "$LAB/.hl"
	printf 'HL_MIRROR=http://10.1.0.1:5000\nHL_EVIL="{{ lookup(\x27env\x27, \x27HOME\x27) }}"\n' > "$LAB/.hl/net.env"
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  vars: {mirror: {from: .hl\/net.env, key: HL_MIRROR}}/' "$LAB/lab.yaml"
	sed -i 's/^    ip: dhcp$/    ip: dhcp\n    vars: {deep: [{url: {from: .hl\/net.env, key: HL_MIRROR}}], late: {from: .hl\/later.env, key: X}}/' "$LAB/personas/app.yaml"
	run -0 --separate-stderr hl-validate -C "$LAB" show
	jq -e '.hosts[0].vars == {mirror: "http://10.1.0.1:5000"} and
		.hosts[1].vars == {mirror: "http://10.1.0.1:5000",
		deep: [{url: "http://10.1.0.1:5000"}], late: null}' <<<"$output"
	[[ $stderr == *"personas/app.yaml:14:70: warning: '.hl/later.env' does not exist yet"* ]]
	cat >> "$LAB/personas/app.yaml" <<-'EOF'
	vars:
	  evil: {from: .hl/net.env, key: HL_EVIL}
	  gone: {from: .hl/net.env, key: HL_NONE}
	  typo: {from: .hl/net.env, kye: HL_MIRROR}
	EOF
	validate 1
	# named, not shown: values from .hl/ are never printed
	assert_error_at personas/app.yaml 16 "^HL_EVIL in .hl/net.env holds '\\{\\{': Ansible would evaluate it as a template"
	assert_error_at personas/app.yaml 17 "'.hl/net.env' has no HL_NONE"
	assert_error_at personas/app.yaml 18 "unknown key 'kye' \\(did you mean 'key'\\?\\)"
	[[ "$output$stderr" != *"lookup("* ]]
}

@test "hl-validate: an external host takes roles and vars, and show gives them" {
	base_lab
	make_roles base nas
	sed -i 's/^  storage: local-lvm$/  storage: local-lvm\n  roles: [base]\n  vars: {site: home}/' "$LAB/lab.yaml"
	lab_file personas/nas.yaml <<-'EOF'
	roles: [nas]
	hosts:
	  nas01:
	    kind: external
	    address: nas.home.arpa
	    host_key: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
	    vars: {share: /srv/data, site: nas}
	EOF
	run -0 --separate-stderr hl-validate -C "$LAB" show nas01 app01
	jq -e '[.hosts[] | {name, kind, roles, vars}] == [
		{name: "app01", kind: "vm", roles: ["base"], vars: {site: "home"}},
		{name: "nas01", kind: "external", roles: ["base", "nas"],
		 vars: {share: "/srv/data", site: "nas"}}]' <<<"$output"
}

@test "hl-validate: a persona without hosts and an unused mirror entry are warnings" {
	base_lab
	lab_file personas/spare.yaml <<-'EOF'
	template: deb
	EOF
	cat >> "$LAB/lab.yaml" <<-'EOF'
	mirror:
	  https://example.org/other.qcow2:
	    url: http://127.0.0.1:8080/other.qcow2
	    checksum: sha256:1111111111111111111111111111111111111111111111111111111111111111
	EOF
	validate 0
	jq -e '.ok and .errors == [] and (.warnings | length) == 2' <<<"$output"
	assert_warning_at personas/spare.yaml 1 "persona 'spare' has no hosts"
	assert_warning_at lab.yaml 22 "mirror entry matches no template source URL"
	[[ "$stderr" == *"personas/spare.yaml:1:1: warning: persona 'spare' has no hosts"* ]]
}

@test "hl-validate: show refuses an invalid lab with exit 1 and its errors" {
	base_lab
	sed -i 's/vmid: 302/vmid: 301/' "$LAB/personas/app.yaml"
	run -1 --separate-stderr hl-validate -C "$LAB" show
	jq -e '.error.code == 1 and (.errors | length) == 1 and (has("hosts") | not)' <<<"$output"
}

@test "hl-validate: problems go to stderr as FILE:LINE:COL, or NDJSON with --progress=json" {
	base_lab
	sed -i 's/cores: 1/cores: 0/' "$LAB/personas/app.yaml"
	validate 1
	[ "$stderr" = "hl-validate: personas/app.yaml:2:8: error: 'cores' must be an integer from 1 to 512" ]
	run -1 --separate-stderr hl-validate -C "$LAB" specs --progress=json
	jq -e '.level == "error" and .file == "personas/app.yaml" and .line == 2' <<<"$stderr"
}

# --- selectors ----------------------------------------------------------------

@test "hl-validate: selectors pick by name, @tag, persona: and all, and add up" {
	base_lab
	lab_file personas/db.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 1G
	disk: 4G
	hosts:
	  db01: {vmid: 401, tags: [backup]}
	  db02: {vmid: 402}
	EOF
	sed -i 's/^    vmid: 302$/    vmid: 302\n    tags: [backup]/' "$LAB/personas/app.yaml"
	run -0 --separate-stderr hl-validate -C "$LAB" specs @backup
	jq -e '.hosts == ["app02", "db01"]' <<<"$output"
	run -0 --separate-stderr hl-validate -C "$LAB" show persona:db app01
	jq -e '[.hosts[].name] == ["app01", "db01", "db02"]' <<<"$output"
	run -0 --separate-stderr hl-validate -C "$LAB" specs all
	jq -e '.hosts | length == 4' <<<"$output"
}

@test "hl-validate: a selector that matches nothing is a usage error (2) naming it, with the near miss" {
	base_lab
	validate 2 app01 @nope persona:ghost
	[ "$output" = "" ]
	[[ $stderr == "hl-validate: selector '@nope' matches no host; selector 'persona:ghost' matches no host"* ]]
	validate 2 ap01
	[[ $stderr == *"selector 'ap01' matches no host (did you mean 'app01'?)"* ]]
	validate 2 persona:ap
	[[ $stderr == *"(did you mean 'persona:app'?)"* ]]
	run -2 --separate-stderr hl-vm -C "$LAB" plan app02x
	[[ $stderr == "hl-vm: selector 'app02x' matches no host (did you mean 'app02'?)"* ]]
	# with spec problems (a host may be left out for its own), the
	# problems are what to see: exit 1, the selector among them
	sed -i 's/^\( *\)vmid: 301$/\1vmid: banana/' "$LAB/personas/app.yaml"
	validate 1 app01 nosuch
	jq -e '.ok == false and .hosts == ["app01"] and ([.errors[].message] | any(test("vmid")) and
		any(. == "selector '"'"'nosuch'"'"' matches no host"))' <<<"$output"
}

# --- Git ----------------------------------------------------------------------

@test "hl-validate: a lab outside any repository reports git null" {
	base_lab
	GIT_CEILING_DIRECTORIES="$BATS_TEST_TMPDIR" run -0 --separate-stderr \
		hl-validate -C "$LAB" specs
	jq -e '.meta.git == null' <<<"$output"
}

@test "hl-validate: git reports HEAD and whether hand-written specs are dirty" {
	base_lab
	cd "$LAB"
	git init -q -b main .
	run -0 --separate-stderr hl-validate specs
	jq -e '.meta.git == {commit: null, dirty: true}' <<<"$output"
	git add -A && git commit -qm init
	head=$(git rev-parse HEAD)
	run -0 --separate-stderr hl-validate specs
	jq -e --arg h "$head" '.meta.git == {commit: $h, dirty: false}' <<<"$output"
	# tool-written files and other paths do not make the specs dirty
	mkdir -p layers/L1/artifacts/deb/pve1
	echo '{}' > layers/L1/artifacts/deb/pve1/x.json
	echo 'stable: {}' > layers/L1/channels.yaml
	echo notes > NOTES.md
	run -0 --separate-stderr hl-validate specs
	jq -e '.meta.git.dirty == false' <<<"$output"
	# a staged, an unstaged and an untracked spec change each do
	echo '# x' >> personas/app.yaml
	run -0 --separate-stderr hl-validate specs
	jq -e '.meta.git.dirty == true' <<<"$output"
	git checkout -q personas/app.yaml
	mkdir -p layers/L3 && echo 'x: 1' > layers/L3/site.yml
	run -0 --separate-stderr hl-validate specs
	jq -e '.meta.git.dirty == true' <<<"$output"
	rm -r layers/L3
	echo '# y' >> lab.yaml && git add lab.yaml
	run -0 --separate-stderr hl-validate specs
	jq -e '.meta.git.dirty == true' <<<"$output"
}

@test "hl-validate: a repository that cannot be read fails every tool the same way (3), not as 'outside Git'" {
	base_lab
	cd "$LAB"
	git init -q -b main . && git add -A && git commit -qm init
	echo garbage > .git/HEAD
	run -3 --separate-stderr hl-validate specs
	jq -e '.error.reason == "lab" and .error.code == 3 and (.error.message | test("cannot read the Git status")) and .meta.git == null' <<<"$output"
	[[ $stderr == *"hl-validate: cannot read the Git status of '$LAB': "* ]]
	run -3 --separate-stderr hl-vm plan
	jq -e '.error.reason == "lab" and (.error.message | test("cannot read the Git status"))' <<<"$output"
	run -3 --separate-stderr hl-template list
	jq -e '.error.reason == "lab"' <<<"$output"
	echo 'ref: refs/heads/main' > .git/HEAD
	run -0 --separate-stderr hl-validate specs
	jq -e '.meta.git.dirty == false' <<<"$output"
}

@test "hl-validate: a lab in a subdirectory of a repository is tracked there" {
	mkdir -p "$BATS_TEST_TMPDIR/repo"
	LAB="$BATS_TEST_TMPDIR/repo/labs/home"
	mkdir -p "$(dirname "$LAB")"
	cp -r "$FIXTURES/base" "$LAB"
	cd "$BATS_TEST_TMPDIR/repo"
	git init -q -b main . && git add -A && git commit -qm init
	echo '# x' >> "$LAB/personas/app.yaml"
	run -0 --separate-stderr hl-validate -C "$LAB" specs
	jq -e '.meta.git.dirty == true and (.meta.git.commit | length) == 40' <<<"$output"
	git -C "$BATS_TEST_TMPDIR/repo" checkout -q .
	echo '# x' >> "$BATS_TEST_TMPDIR/repo/personas.txt"
	run -0 --separate-stderr hl-validate -C "$LAB" specs
	jq -e '.meta.git.dirty == false' <<<"$output"
}

# --- the justfile ---------------------------------------------------------

@test "hl-validate: just validate and just show run it on the lab, selectors passed whole" {
	need_just
	example_lab
	cp "$TOP/justfile" "$LAB/"
	ln -s "$TOP/bin" "$LAB/bin"
	cd "$LAB"
	run -0 --separate-stderr just validate
	jq -e '.ok and .meta.lab == "demo" and (.hosts | length) == 4' <<<"$output"
	run -0 --separate-stderr just show @web
	jq -e '[.hosts[].name] == ["web01", "web02"]' <<<"$output"
	run -2 --separate-stderr just validate 'web01; touch pwned'
	[[ "$stderr" == *"bad selector 'web01; touch pwned'"* ]]
	[ ! -e pwned ]
}

# --- found in review ------------------------------------------------------

@test "hl-validate: a host key with a newline cannot smuggle a second known_hosts line" {
	base_lab
	key=$(cut -d' ' -f1,2 "$FIXTURES/base/keys/id.pub")
	lab_file personas/nas.yaml <<-EOF
	hosts:
	  nas01:
	    kind: external
	    address: nas.home.arpa
	    user: admin
	    host_key: "$key nas\n* ssh-rsa AAAAB3NzaC1yc2E attacker"
	EOF
	validate 1
	assert_error_at personas/nas.yaml 6 "value has a control character"
}

@test "hl-validate: names that look like addresses, and the host names all and 123, are refused" {
	base_lab
	lab_file personas/nas.yaml <<-'EOF'
	hosts:
	  nas01: {kind: external, address: 256.300.1.1, user: a, host_key: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"}
	  nas02: {kind: external, address: "1.2.3", user: a, host_key: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"}
	  all: {kind: external, address: nas.lan, user: a, host_key: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"}
	  "123": {kind: external, address: nas.lan, user: a, host_key: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"}
	EOF
	validate 1
	assert_error_at personas/nas.yaml 2 "'256.300.1.1' is not an IPv4 address or an RFC 1123 host name"
	assert_error_at personas/nas.yaml 3 "'1.2.3' is not an IPv4 address"
	assert_error_at personas/nas.yaml 4 "host name 'all' is reserved"
	assert_error_at personas/nas.yaml 5 "'123' is not an RFC 1123 host name"
	assert_errors 4
}

@test "hl-validate: a bad kind or a malformed defaults block is reported once, not as a cascade" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	hosts:
	  app01: {vmid: 301, kind: externel}
	EOF
	validate 1
	assert_error_at personas/app.yaml 3 "'externel' is not one of: vm, external"
	assert_errors 1
	base_lab_defaults_list() { sed -i 's/^defaults:$/defaults: [1]\nunused:/' "$LAB/lab.yaml"; }
	cp "$FIXTURES/base/personas/app.yaml" "$LAB/personas/app.yaml"
	base_lab_defaults_list
	validate 1
	assert_error_at lab.yaml 14 "must be a mapping, not a list"
	assert_error_at lab.yaml 15 "unknown key 'unused'"
	assert_errors 2
}

@test "hl-validate: directories where files belong are named as such" {
	base_lab
	example_lab
	rm "$LAB/.hl/sim.env"
	mkdir "$LAB/.hl/sim.env"
	sed -i 's|ssh_keys: \[keys/id.pub\]|ssh_keys: [keys]|; s|ssh_keys: \[.hl/id_ed25519.pub\]|ssh_keys: [keys]|' "$LAB/lab.yaml"
	sed -i 's|ca_file: .*|ca_file: keys|' "$LAB/lab.yaml"
	validate 1
	assert_error_at lab.yaml 11 "'.hl/sim.env' is not a regular file"
	assert_error_at lab.yaml 14 "CA file 'keys' is not a readable file"
	assert_error_at lab.yaml 41 "SSH key file 'keys' is not a regular file"
}

@test "hl-validate: hidden files in spec directories are reported as ignored" {
	base_lab
	cp "$LAB/personas/app.yaml" "$LAB/personas/.old.yaml"
	touch "$LAB/personas/.gitkeep"
	validate 0
	jq -e '[.warnings[].message] == ["'"'"'personas/.old.yaml'"'"' is ignored: spec files are NAME.yaml"]' <<<"$output"
}
