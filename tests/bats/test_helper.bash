# Hermetic set-up for every .bats file: the fresh build first on PATH, a
# private HOME, no HL_* from the caller, C locale.

bats_require_minimum_version 1.5.0

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
FIXTURES=$TOP/tests/fixtures

setup() {
	common_setup
}

# The hermetic part of every test's set-up; a file with its own setup()
# calls it first.
common_setup() {
	export LC_ALL=C
	# HL_TEST_BIN: another build to test, e.g. build/asan (make asan)
	export PATH="${HL_TEST_BIN:-$TOP/bin}:$PATH"
	export HOME="$BATS_TEST_TMPDIR/home"
	export XDG_CONFIG_HOME="$HOME/.config" XDG_CACHE_HOME="$HOME/.cache"
	export XDG_DATA_HOME="$HOME/.local/share"
	export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t
	export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
	mkdir -p "$HOME"
	unset $(env | sed -n 's/^\(HL_[A-Za-z0-9_]*\)=.*/\1/p')
	LAB="$BATS_TEST_TMPDIR/lab"
}

# A copy of the base test lab in $LAB.
base_lab() {
	cp -r "$FIXTURES/base" "$LAB"
}

# Write stdin to the file FILE of $LAB (replacing it).
lab_file() {
	mkdir -p "$(dirname "$LAB/$1")"
	cat > "$LAB/$1"
}

# A copy of the repository's example lab in $LAB, with the files the
# simulator and "just setup" would write, fixed for golden output.
example_lab() {
	mkdir -p "$LAB/.hl"
	cp -r "$TOP/lab.yaml" "$TOP/personas" "$TOP/layers" "$LAB/"
	cp "$FIXTURES/example-hl/"* "$LAB/.hl/"
}

# hl-validate specs on $LAB, checking the exit status: validate STATUS ARGS...
validate() {
	local want=$1
	shift
	run -"$want" --separate-stderr hl-validate -C "$LAB" specs "$@"
}

# Assert that the output has a problem of KIND (errors or warnings) at
# FILE:LINE whose message matches the extended regex RE.
assert_problem_at() {
	local kind=$1 file=$2 line=$3 re=$4
	jq -e --arg k "$kind" --arg f "$file" --argjson l "$line" --arg re "$re" \
		'any(.[$k][]; .file == $f and .line == $l and (.message | test($re)))' \
		<<<"$output" >/dev/null || {
		echo "no $kind at $file:$line matching /$re/ in:" >&2
		jq --arg k "$kind" '.[$k]' <<<"$output" >&2
		return 1
	}
}

assert_error_at() { assert_problem_at errors "$@"; }
assert_warning_at() { assert_problem_at warnings "$@"; }

# Assert that the number of errors is N.
assert_errors() {
	local n
	n=$(jq '.errors | length' <<<"$output")
	[ "$n" -eq "$1" ] || {
		echo "expected $1 errors, got $n:" >&2
		jq '.errors' <<<"$output" >&2
		return 1
	}
}

# expect_exit WANT CMD...: run CMD ($output its stdout, $stderr apart) and
# fail, showing both, unless it exits WANT
expect_exit() {
	local want=$1
	shift
	run --separate-stderr "$@"
	if [ "$status" != "$want" ]; then
		echo "$1 exited $status, not $want: $output $stderr" >&2
		case $1 in hl-vm|hl-template) sim_consoles >&2 ;; esac
		return 1
	fi
}

# sim_consoles: the end of each guest's console on $SIMLAB's simulator
# (a removed VM's too: VMID.console.last), for a failure's report
sim_consoles() {
	local f
	[ -n "${SIMLAB:-}" ] || return 0
	for f in "$SIMLAB"/.hl/sim/guests/*/console.log "$SIMLAB"/.hl/sim/guests/*.console.last; do
		[ -f "$f" ] || continue
		echo "--- ${f#"$SIMLAB"/.hl/sim/guests/} (last 15 lines)"
		tail -15 "$f"
	done
}

# Fail (never skip) without just: CI installs it, so a missing just is a
# broken set-up, not a reason to leave the justfile untested.
need_just() {
	command -v just >/dev/null && return 0
	echo "just is not installed: scripts/setup installs it" >&2
	return 1
}
