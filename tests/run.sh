#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs the unit and/or integration suites and prints one summary line over all of them:
#   N passed, N failed, N skipped
# Every test speaks TAP ("ok N - name", "not ok N - name", "ok N # SKIP why"). A test program
# that exits non-zero without a "not ok" line counts as one failure; exit 77 with no line is
# one skip. With HB_NO_SKIP=1 (CI on the project's machines) a skip counts as a failure.
# A test must leave nothing behind, pass or fail: before and after each one, tests/leftovers.py
# lists the processes started from the checkout, the network namespaces, cgroups, bpffs
# entries, kernel policies and temporary directories a test of this run could have made
# (their names start with HB_RUN_ID, exported here, which _lib.sh builds HB_TEST_ID from), and
# whatever a test added counts as one failure naming the test; then it is removed (processes
# by PID), unless HB_KEEP_LEFTOVERS=1.
# Usage: tests/run.sh unit|integ... [-k PATTERN]
# HB_INTEG_DIR (default tests/integ) is where the integration tests are (a test of run.sh
# itself points it elsewhere).
set -u
O=${O:-build}
HB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export HB_RUN_ID=hbr$$
integ_dir=${HB_INTEG_DIR:-tests/integ}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
pattern=
suites=()
while [ $# -gt 0 ]; do
	case $1 in
	-k) pattern=$2; shift 2 ;;
	*) suites+=("$1"); shift ;;
	esac
done
[ ${#suites[@]} -gt 0 ] || suites=(unit integ)

logdir=$O/test-logs
mkdir -p "$logdir"
pass=0 fail=0 skip=0
failed_names=()
per_test_timeout=${HB_TEST_TIMEOUT:-600}

# leftovers: what this run could have left (KIND<TAB>KEY<TAB>DESCRIPTION lines, sorted)
leftovers() {
	"$py" "$HB_ROOT/tests/leftovers.py" "$HB_ROOT" "$HB_RUN_ID" $$ "$O/hbctl" ||
		printf 'error\tleftovers.py\tthe leftovers check itself failed (status %s)\n' "$?"
}
# new_leftovers BEFORE: the lines of leftovers that are not in BEFORE (by KIND and KEY); a
# process that is on its way out gets two seconds
new_leftovers() {
	local before=$1 now i
	for ((i = 0; i < 5; i++)); do
		[ "$i" -gt 0 ] && sleep 0.5
		now=$(leftovers | awk -F'\t' 'NR == FNR { seen[$1 "\t" $2] = 1; next }
			$1 == "error" || !(($1 "\t" $2) in seen)' <(printf '%s\n' "$before") -)
		grep -q '^process' <<<"$now" || break
	done
	printf '%s\n' "$now"
}
# (a failing check is a line too: it fails the test rather than pass it unchecked)
# remove_leftovers LINES: removes what a test left (only what leftovers listed: this run's)
remove_leftovers() {
	local kind key desc pids
	while IFS=$'\t' read -r kind key desc; do
		case $kind in
		process) kill -9 "$key" ;;
		netns)
			pids=$(ip netns pids "$key")
			[ -n "$pids" ] && kill -9 $pids
			ip netns del "$key" ;;
		cgroup)
			[ -w "$key/cgroup.kill" ] && echo 1 >"$key/cgroup.kill"
			find "$key" -depth -type d -exec rmdir {} + ;;
		policy) "$O/hbctl" policy rm "$key" ;;
		bpffs|tmp) rm -rf "$key" ;;
		esac >/dev/null 2>&1
	done <<<"$1"
}

run_one() { # suite name cmd...
	local suite=$1 name=$2; shift 2
	local log=$logdir/$suite-$name.log rc p=0 f=0 s=0 line before left
	printf '== %s/%s\n' "$suite" "$name"
	before=$(leftovers)
	CMOCKA_MESSAGE_OUTPUT=tap MALLOC_PERTURB_=${MALLOC_PERTURB_:-165} \
		timeout --kill-after=10 "$per_test_timeout" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	while IFS= read -r line; do
		case $line in
		"not ok"*) f=$((f + 1)); printf '   %s\n' "$line" ;;
		"ok"*"# SKIP"*|"ok"*"# skip"*) s=$((s + 1)); printf '   %s\n' "$line" ;;
		"ok"*) p=$((p + 1)); [ -n "${HB_TEST_VERBOSE:-}" ] && printf '   %s\n' "$line" ;;
		esac
	done <"$log"
	if [ "$rc" -eq 77 ] && [ $((p + f + s)) -eq 0 ]; then
		s=1; printf '   skipped: %s\n' "$(tail -n1 "$log")"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1; printf '   not ok - %s exited with status %s\n' "$name" "$rc"
	elif [ "$rc" -eq 0 ] && [ $((p + f + s)) -eq 0 ]; then
		f=1; printf '   not ok - %s ran no test\n' "$name"
	fi
	left=$(new_leftovers "$before")
	if [ -n "$left" ]; then
		f=$((f + 1))
		printf '   not ok - %s left behind:\n' "$name"
		cut -f1,3 <<<"$left" | sed 's/\t/ /; s/^/   |   /'
		[ -n "${HB_KEEP_LEFTOVERS:-}" ] || remove_leftovers "$left"
	fi
	if [ "$f" -gt 0 ]; then
		failed_names+=("$suite/$name")
		printf '   --- last lines of %s:\n' "$log"
		tail -n 25 "$log" | sed 's/^/   | /'
	fi
	if [ -n "${HB_NO_SKIP:-}" ] && [ "$s" -gt 0 ]; then
		printf '   not ok - %s skipped %s test(s), which CI counts as failures\n' "$name" "$s"
		f=$((f + s)); s=0
		failed_names+=("$suite/$name (skipped)")
	fi
	printf '   %d passed, %d failed, %d skipped\n' "$p" "$f" "$s"
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}

for suite in "${suites[@]}"; do
	case $suite in
	unit)
		for t in "$O"/tests/unit/test_*; do
			[ -x "$t" ] || continue
			n=$(basename "$t")
			[ -n "$pattern" ] && [[ $n != *$pattern* ]] && continue
			run_one unit "$n" "$t"
		done ;;
	integ)
		for t in "$integ_dir"/*.sh; do
			n=$(basename "$t" .sh)
			case $n in _*) continue ;; esac
			[ -n "$pattern" ] && [[ $n != *$pattern* ]] && continue
			run_one integ "$n" bash "$t"
		done ;;
	*) echo "tests/run.sh: unknown suite '$suite' (unit, integ)" >&2; exit 2 ;;
	esac
done

echo
[ ${#failed_names[@]} -gt 0 ] && printf 'failed: %s\n' "${failed_names[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
