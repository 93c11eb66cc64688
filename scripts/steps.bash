# Shared by scripts/up, scripts/rebuild and scripts/sync (sourced, not
# run): a workflow is a sequence of steps, each one hl tool call whose JSON
# document is kept in a run record, .hl/runs/UTC-WORKFLOW[-HOST].ndjson,
# one line per step:
#
#   {"step", "tool", "argv", "code", "ok", "started", "duration_s", "doc", ...}
#
# The first line is the run's own ({"run": WORKFLOW, "host", "started",
# ...}), the last {"done": true, "ok": ...} once it ended, well or not
# at its end.  The tools print progress on stderr, which goes to the
# operator as it comes.

# -h, --help: the script's own header comment, as its usage
case ${1:-} in
-h | --help)
	sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
	exit 0 ;;
esac

# The lab, found as the tools find it: $HL_LAB, else the nearest directory
# upwards holding lab.yaml.
bin=${HL_BIN:-$root/bin}
find_lab() {
	local d=$PWD
	[ -n "${HL_LAB:-}" ] && { (cd "$HL_LAB" && pwd); return; }
	while [ "$d" != / ] && [ ! -f "$d/lab.yaml" ]; do d=$(dirname "$d"); done
	[ -f "$d/lab.yaml" ] && echo "$d"
}
lab=$(find_lab) && [ -n "$lab" ] || { echo "$workflow: no lab.yaml here or above (or HL_LAB)" >&2; exit 3; }
export HL_LAB=$lab
runs=$lab/.hl/runs

say() { printf '%s: %s\n' "$workflow" "$*" >&2; }
die() { say "$*"; exit "${2:-1}"; }

# now: UTC, as the tools write it
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# record JSON: a line appended to the run record
record() { printf '%s\n' "$1" >> "$run_record"; }

# step_done STEP: whether the run record holds STEP's success
step_done() {
	# (-s: jq 1.6's -e looks at the last input's result only)
	jq -se --arg s "$1" 'any(.[]; .step == $s and .ok)' "$run_record" >/dev/null 2>&1
}

# step_doc STEP: the document of STEP's last success in the run record
step_doc() {
	jq -c --arg s "$1" 'select(.step == $s and .ok) | .doc' "$run_record" | tail -1
}

# tool STEP OKCODES TOOL ARGS...: TOOL run, its document kept in $doc and
# its exit status in $code, the step's line recorded (ok when the status
# is one of OKCODES, a comma-separated list); returns 0 when ok.
tool() {
	local step=$1 okcodes=$2 name=$3 t0 started ok extra=${extra:-'{}'}
	shift 3
	started=$(now)
	t0=$EPOCHREALTIME
	say "$step: $name $*"
	code=0
	doc=$("$bin/$name" "$@") || code=$?
	jq -e . >/dev/null 2>&1 <<<"$doc" || doc=null
	ok=false
	[[ ",$okcodes," == *",$code,"* ]] && ok=true
	record "$(jq -cn --arg step "$step" --arg tool "$name" --arg started "$started" \
		--argjson code "$code" --argjson ok "$ok" --argjson doc "$doc" \
		--argjson extra "$extra" \
		--argjson d "$(awk -v s="$t0" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }')" \
		--args '{step: $step, tool: $tool, argv: $ARGS.positional, code: $code, ok: $ok,
			started: $started, duration_s: $d, doc: $doc} + $extra' -- "$@")"
	[ "$ok" = true ]
}

# skip STEP WHY [EXTRA]: a step that had nothing to do, recorded as done
skip() {
	say "$1: skipped: $2"
	record "$(jq -cn --arg step "$1" --arg why "$2" --arg started "$(now)" \
		--argjson extra "${3:-{\}}" \
		'{step: $step, tool: null, code: 0, ok: true, skipped: $why,
		started: $started, duration_s: 0, doc: null} + $extra')"
}

# summary_steps: the run's steps in order, each as its last line says:
# [{step, ok, code, duration_s[, skipped]}]
summary_steps() {
	jq -sc '[.[] | select(.step)] |
		reduce .[] as $l ({order: [], by: {}};
			(if .by[$l.step] then . else .order += [$l.step] end) |
			.by[$l.step] = ({step: $l.step, ok: $l.ok, code: $l.code,
				duration_s: $l.duration_s} +
				(if $l.skipped then {skipped: $l.skipped} else {} end))) |
		[.order[] as $s | .by[$s]]' "$run_record"
}
