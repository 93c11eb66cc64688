# Set-up for the .bats files of L4's spec keys (hl-validate-stacks.bats,
# hl-validate-compose.bats): stacks in the base lab, and lab->stacks as
# tests/c/spec-stacks.c prints it.

load test_helper

setup() {
	common_setup
	SPEC_STACKS=${HL_TEST_BIN:-$TOP/build/tests}/spec-stacks
}

# make_stack NAME: a stack in $LAB whose compose.yaml runs one service, app.
make_stack() {
	mkdir -p "$LAB/layers/L4/stacks/$1"
	cat > "$LAB/layers/L4/stacks/$1/compose.yaml" <<-'EOF'
	services:
	  app:
	    image: busybox:1.36
	EOF
}

# The base lab's persona with stacks STACKS (a YAML list) for both hosts.
persona_stacks() {
	lab_file personas/app.yaml <<-EOF
	template: deb
	cores: 1
	memory: 512M
	disk: 4G
	stacks: $1
	hosts:
	  app01: {vmid: 301}
	  app02: {vmid: 302}
	EOF
}

# lab->stacks and the problems, as spec-stacks prints them, in $output.
stacks_json() {
	run -0 --separate-stderr "$SPEC_STACKS" "$LAB"
}
