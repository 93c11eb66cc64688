#!/usr/bin/env bats
# hl-validate: the capture keys.  lab.yaml's capture block (restic for
# data, vzdump for boot disks), a host's data paths (its own and its
# stacks', shown together) and boot_capture.

load stacks_helper

# capture_lab: the base lab with a restic repository on app02 and a boot
# storage
capture_lab() {
	base_lab
	cat >> "$LAB/lab.yaml" <<-'EOF'
	capture:
	  restic:
	    repository: sftp:app02
	    password_env: HL_RESTIC_PASSWORD
	    keep: {last: 3, daily: 7}
	  boot:
	    storage: backup
	    mode: snapshot
	    keep: 2
	EOF
}

@test "hl-validate: data paths accumulate (persona, host, then the stacks'), once each; boot_capture defaults to false" {
	capture_lab
	make_stack db
	mkdir -p "$LAB/layers/L4/stacks/db"
	printf 'data: [/srv/db, /srv/shared]\n' > "$LAB/layers/L4/stacks/db/stack.yaml"
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	data: [/srv/shared]
	hosts:
	  app01: {vmid: 301, data: [/var/lib/app, /srv/shared], stacks: [db], boot_capture: true}
	  app02: {vmid: 302}
	EOF
	run -0 --separate-stderr hl-validate -C "$LAB" show
	jq -e '[.hosts[] | {name, data, boot_capture}] == [
		{name: "app01", data: ["/srv/shared", "/var/lib/app", "/srv/db"], boot_capture: true},
		{name: "app02", data: ["/srv/shared"], boot_capture: false}]' <<<"$output"
	run -0 --separate-stderr hl-validate -C "$LAB" specs
	jq -e '.ok and .errors == []' <<<"$output"
}

@test "hl-validate: a data path in a system tree, not normalised, relative or shared is refused at its file:line" {
	capture_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	hosts:
	  app01:
	    vmid: 301
	    data:
	      - /etc/app
	      - /var/lib/docker/volumes
	      - /srv/a/../b
	      - srv/rel
	      - /srv
	      - /
	  app02: {vmid: 302, data: /srv/one}
	EOF
	run -1 --separate-stderr hl-validate -C "$LAB" specs
	assert_errors 7
	jq -e '[.errors[] | "\(.line): \(.message)"] as $m | $m | (
		any(test("^9: data path ./etc/app. is in a system tree \\(/etc\\)")) and
		any(test("^10: data path ./var/lib/docker/volumes. is in a system tree \\(/var/lib/docker\\)")) and
		any(test("^11: data path ./srv/a/../b. is not normalised")) and
		any(test("^12: data path .srv/rel. is not an absolute path")) and
		any(test("^13: data path ./srv. is a directory every program shares")) and
		any(test("^14: data path ./. is the whole file system")) and
		any(test("^15: must be a list")))' <<<"$output"
	[ "$(jq -r '.errors[0].file' <<<"$output")" = personas/app.yaml ]
}

@test "hl-validate: data without capture.restic, or boot_capture without capture.boot, is an error where it is set" {
	base_lab
	lab_file personas/app.yaml <<-'EOF'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	data: [/srv/app]
	hosts:
	  app01: {vmid: 301, boot_capture: true}
	  app02: {vmid: 302, boot_capture: false}
	EOF
	run -1 --separate-stderr hl-validate -C "$LAB" specs
	assert_errors 3
	jq -e '[.errors[] | "\(.file):\(.line): \(.message)"] == [
		"personas/app.yaml:5: host '"'"'app01'"'"' declares data paths, but nothing captures them: lab.yaml has no capture.restic",
		"personas/app.yaml:5: host '"'"'app02'"'"' declares data paths, but nothing captures them: lab.yaml has no capture.restic",
		"personas/app.yaml:7: host '"'"'app01'"'"' has boot_capture, but lab.yaml has no capture.boot (the storage its boot disk goes to)"]' <<<"$output"
	# the same lab with both blocks is clean
	capture_lab_over
}

# capture_lab_over: $LAB's lab.yaml given the capture block of capture_lab,
# which must make it clean
capture_lab_over() {
	local keep
	keep=$(cat "$LAB/personas/app.yaml")
	rm -rf "$LAB"
	capture_lab
	printf '%s\n' "$keep" > "$LAB/personas/app.yaml"
	run -0 --separate-stderr hl-validate -C "$LAB" specs
	jq -e '.ok and .errors == []' <<<"$output"
}

@test "hl-validate: lab.yaml capture: a repository host not in the lab, a bad repository, keep of nothing, a bad mode and unknown keys are refused" {
	base_lab
	cat >> "$LAB/lab.yaml" <<-'EOF'
	capture:
	  restic:
	    repository: sftp:nas09
	    password_env: HL_RESTIC_PASSWORD
	    keep: {last: 0}
	    compress: max
	  boot:
	    storage: backup
	    mode: suspend
	EOF
	run -1 --separate-stderr hl-validate -C "$LAB" specs
	assert_errors 4
	jq -e '[.errors[] | "\(.line): \(.message)"] as $m | $m | (
		any(test("^2[0-9]: repository host .nas09. is not a host of the lab$")) and
		any(test("^2[0-9]: keep nothing would keep any snapshot")) and
		any(test("compress")) and
		any(test("suspend. is not one of: snapshot, stop")))' <<<"$output"
	base_lab_again
	for bad in "sftp:" "sftp:Bad_Host" "relative/path" "/srv/repo/" "s3:bucket" "/srv/../x"; do
		sed -i "s|^    repository: .*|    repository: \"$bad\"|" "$LAB/lab.yaml"
		run -1 --separate-stderr hl-validate -C "$LAB" specs
		jq -e '.errors[0].message | test("is not a repository: sftp:HOST \\(a host of the lab\\) or an absolute path on each host")' <<<"$output"
	done
	sed -i "s|^    repository: .*|    repository: /var/backups/restic|" "$LAB/lab.yaml"
	run -0 --separate-stderr hl-validate -C "$LAB" specs
	# password_env and keep are required
	sed -i '/^    password_env:/d' "$LAB/lab.yaml"
	run -1 --separate-stderr hl-validate -C "$LAB" specs
	jq -e '.errors[0].message | test("password_env")' <<<"$output"
}

# base_lab_again: $LAB anew with a valid capture block (capture_lab)
base_lab_again() {
	rm -rf "$LAB"
	capture_lab
}

@test "hl-validate: boot_capture is for VMs: an external host's is refused" {
	capture_lab
	cat >> "$LAB/personas/app.yaml" <<-'EOF'
	  nas:
	    kind: external
	    address: 10.1.0.50
	    host_key: "SHA256:n2exAQqI2DAZkwAiSfMso7AzIrbGE5qSkUof7RbOx24"
	    boot_capture: true
	EOF
	run -1 --separate-stderr hl-validate -C "$LAB" specs
	jq -e 'any(.errors[]; .message | test("boot_capture"))' <<<"$output"
}

@test "hl-validate: a template made from a boot capture names a boot_capture host, and none of the keys of a build from a url" {
	capture_lab
	lab_file personas/app.yaml <<-'EOF2'
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	hosts:
	  app01: {vmid: 301, boot_capture: true}
	  app02: {vmid: 302}
	EOF2
	lab_file layers/L1/templates/appliance.yaml <<-'EOF2'
	source: {boot_capture: app01}
	vmids: {first: 9200, last: 9209}
	storage: {disk: local-lvm}
	EOF2
	run -0 --separate-stderr hl-validate -C "$LAB" specs
	jq -e '.ok and .errors == []' <<<"$output"
	# a host that is not there, one whose boot disk is not captured
	lab_file layers/L1/templates/nohost.yaml <<-'EOF2'
	source: {boot_capture: app09}
	vmids: {first: 9300, last: 9309}
	storage: {disk: local-lvm}
	EOF2
	lab_file layers/L1/templates/notcaptured.yaml <<-'EOF2'
	source:
	  boot_capture: app02
	vmids: {first: 9400, last: 9409}
	storage: {disk: local-lvm}
	EOF2
	# a build's keys beside a boot capture; both sources; neither
	lab_file layers/L1/templates/mixed.yaml <<-'EOF2'
	source:
	  boot_capture: app01
	  checksum: sha256:0000000000000000000000000000000000000000000000000000000000000000
	agent: install
	vmids: {first: 9500, last: 9509}
	vm: {cores: 2}
	storage: {disk: local-lvm, import: local}
	EOF2
	lab_file layers/L1/templates/both.yaml <<-'EOF2'
	source: {boot_capture: app01, url: "https://example.org/x.qcow2"}
	vmids: {first: 9600, last: 9609}
	storage: {disk: local-lvm}
	EOF2
	lab_file layers/L1/templates/neither.yaml <<-'EOF2'
	source: {}
	vmids: {first: 9700, last: 9709}
	storage: {disk: local-lvm}
	EOF2
	run -1 --separate-stderr hl-validate -C "$LAB" specs
	assert_error_at layers/L1/templates/nohost.yaml 1 "'app09' is not a host of the lab"
	assert_error_at layers/L1/templates/notcaptured.yaml 2 "host 'app02' has no boot_capture: its boot disk is never captured"
	assert_error_at layers/L1/templates/mixed.yaml 3 "'source.checksum' is for a template built from a url"
	assert_error_at layers/L1/templates/mixed.yaml 4 "'agent' is for a template built from a url"
	assert_error_at layers/L1/templates/mixed.yaml 6 "'vm' is for a template built from a url"
	assert_error_at layers/L1/templates/mixed.yaml 7 "'storage.import' is for a template built from a url"
	assert_error_at layers/L1/templates/both.yaml 1 "give exactly one of 'url' .a cloud image. and 'boot_capture'"
	assert_error_at layers/L1/templates/neither.yaml 1 "give exactly one of 'url' .a cloud image. and 'boot_capture'"
	assert_errors 8
}
