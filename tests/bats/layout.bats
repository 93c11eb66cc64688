#!/usr/bin/env bats
# scripts/check-layout: lib/'s rooms and rules (README.md, docs/library.md),
# on this checkout and on small trees that break one rule each.

load test_helper

# A tree with a clean core/ and vm/ room, then FILE with CONTENT added.
tree_with() {
	T="$BATS_TEST_TMPDIR/tree"
	mkdir -p "$T/lib/core" "$T/lib/vm" "$T/lib/template" "$T/tools"
	printf '#include "core/buf.h"\n' > "$T/lib/core/buf.c"
	: > "$T/lib/core/buf.h"
	printf '#include "core/buf.h"\n#include "vm/vm_impl.h"\n' > "$T/lib/vm/plan.c"
	: > "$T/lib/vm/vm_impl.h"
	: > "$T/lib/template/template_impl.h"
	printf '#include "vm/vm.h"\n' > "$T/tools/hl-vm.c"
	mkdir -p "$(dirname "$T/$1")"
	printf '%s\n' "$2" >> "$T/$1"
}

@test "layout: this checkout keeps lib/'s rules" {
	run -0 --separate-stderr "$TOP/scripts/check-layout"
	[ "$stderr" = "" ]
}

@test "layout: a clean tree passes" {
	tree_with lib/vm/status.c '#include "state/owner.h"'
	run -0 --separate-stderr "$TOP/scripts/check-layout" "$T"
}

@test "layout: a layer including another layer's header is refused" {
	tree_with lib/vm/status.c '#include "template/template.h"'
	run -1 --separate-stderr "$TOP/scripts/check-layout" "$T"
	[[ $stderr == *"lib/vm/status.c:1: vm/ may not include 'template/template.h'"* ]]
}

@test "layout: a lower room including an upper one is refused" {
	tree_with lib/core/json.c '#include "cli/run.h"'
	run -1 --separate-stderr "$TOP/scripts/check-layout" "$T"
	[[ $stderr == *"lib/core/json.c:1: core/ may not include 'cli/run.h'"* ]]
}

@test "layout: a room's private header is its own" {
	tree_with tools/hl-template.c '#include "template/template_impl.h"'
	run -1 --separate-stderr "$TOP/scripts/check-layout" "$T"
	[[ $stderr == *"tools/hl-template.c:1: includes a room's private header"* ]]
}

@test "layout: a file outside any room is refused" {
	tree_with lib/loose.c '/* nothing */'
	run -1 --separate-stderr "$TOP/scripts/check-layout" "$T"
	[[ $stderr == *"lib/loose.c: a library file outside any room"* ]]
}

@test "layout: printing or exiting in lib/ outside lib/cli/ is refused" {
	tree_with lib/vm/apply.c '	fprintf(stderr, "hl-vm: %s\n", msg);'
	run -1 --separate-stderr "$TOP/scripts/check-layout" "$T"
	[[ $stderr == *"lib/vm/apply.c:1:"*"fprintf(stderr"* ]]
	[[ $stderr == *"only lib/cli/ prints or exits"* ]]
	# the printer in lib/cli/ may; a comment or a string naming stderr
	# is no print
	rm "$T/lib/vm/apply.c"
	tree_with lib/cli/run.c '	fprintf(stderr, "%s\n", msg);'
	tree_with lib/vm/apply.c '	/* nothing goes to stderr from here */'
	tree_with lib/vm/apply.c '	m = "(see stderr)";'
	run -0 --separate-stderr "$TOP/scripts/check-layout" "$T"
}

@test "layout: a number parsed outside core/num.c is refused" {
	tree_with lib/vm/plan.c '	n = atoi(s);'
	run -1 --separate-stderr "$TOP/scripts/check-layout" "$T"
	[[ $stderr == *"lib/vm/plan.c:3:"*"atoi(s)"* ]]
	[[ $stderr == *"numbers are parsed by lib/core/num.c only"* ]]
}
