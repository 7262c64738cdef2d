# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers for tests/integ/*.sh: TAP output, private network namespaces, cleanup.
# Source it first thing:  . "$(dirname "$0")/_lib.sh"
# Every namespace, process and file a test creates is registered here and removed by the
# EXIT trap, so nothing outlives the test, whatever way it ends.
set -u
HB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$HB_ROOT/$O ;; esac
SHIM=$O/libhbshim.so
HELPERS=$O/tests/helpers
# Every name a test makes (namespaces, cgroups, pin directories, temporary files) starts with
# HB_TEST_ID. tests/run.sh exports HB_RUN_ID (unique to one run) so that what a test leaves
# behind is known to be this checkout's, even while other checkouts run tests on the machine.
HB_TEST_ID=${HB_RUN_ID:-hb}t$$
_tap_n=0 _tap_fail=0
_cleanup_cmds=()
_netns=()
_pids=()
HB_TMP=$(mktemp -d "/tmp/$HB_TEST_ID.XXXXXX")

ok() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
not_ok() { _tap_n=$((_tap_n + 1)); _tap_fail=$((_tap_fail + 1)); echo "not ok $_tap_n - $*"; }
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # SKIP $*"; }
diag() { printf '# %s\n' "$*"; }
# check DESCRIPTION CMD...: one TAP line from a command's status. A failure shows the command
# and its status, and the last commands it ran as bash traced them (xtrace, to a file of its
# own), arguments expanded: what it compared ("+ '[' 3 = 4 ']'").
check() {
	# (names of its own: an eval'ed command reads the caller's variables, rc and d among them)
	local _check_d=$1 _check_rc
	shift
	exec {_check_fd}>"$HB_TMP/check.trace"
	BASH_XTRACEFD=$_check_fd
	set -x
	"$@"
	_check_rc=$?
	{ set +x; } 2>/dev/null
	unset BASH_XTRACEFD	# closes the file too
	if [ "$_check_rc" -eq 0 ]; then
		ok "$_check_d"
	else
		not_ok "$_check_d"
		diag "failed (status $_check_rc):$(printf ' %q' "$@")"
		grep -Ev '^\+* (set \+x|_check_rc=[0-9]+)$' "$HB_TMP/check.trace" | tail -n 6 |
			cut -c1-300 | while IFS= read -r l; do diag "  $l"; done
	fi
}
# check_lines DESCRIPTION EXPECTED ACTUAL: check_eq over multi-line values, shown on one line
check_lines() { check_eq "$1" "${2//$'\n'/ | }" "${3//$'\n'/ | }"; }
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1"; diag "expected: $2"; diag "got:      $3"; fi
}
# skip_all REASON: nothing here can run (exit 77)
skip_all() { echo "SKIP: $*"; exit 77; }
need_root() { [ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespaces)"; }
need_cmd() { local c; for c; do command -v "$c" >/dev/null || skip_all "needs $c"; done; }
# need_built FILE...: what make builds must be there: a missing one fails the test (not a skip)
need_built() {
	local f
	for f; do
		[ -e "$f" ] || { echo "Bail out! $f not built (make test-bins)"; exit 1; }
	done
}
# unset_hb_env: none of the variables the shim reads (its own, and the names of other
# keepalive preloads it honours) comes from the caller's environment
unset_hb_env() {
	unset HB_KEEPALIVE HB_KEEPIDLE HB_KEEPINTVL HB_KEEPCNT HB_USER_TIMEOUT HB_MATCH HB_FORCE \
		HB_LOG HB_LOG_FILE HB_IDLE_DEFAULT HB_IDLE_MAX KEEPIDLE KEEPINTVL KEEPCNT KEEPALIVE \
		DD_TCP_KEEPALIVE_TIME DD_TCP_KEEPALIVE_INTVL DD_TCP_KEEPALIVE_PROBES DD_USE_KEEPALIVE
}
# usage_case DESCRIPTION EXPECTED ARGS...: hbctl ARGS is a usage error: exit 2, one line on
# stderr containing EXPECTED (starting with it when EXPECTED starts with ^), nothing on stdout
usage_case() {
	local d=$1 want=$2 rc err
	shift 2
	"$HBCTL" "$@" >"$HB_TMP/u.out" 2>"$HB_TMP/u.err"
	rc=$?
	err=$(cat "$HB_TMP/u.err")
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$HB_TMP/u.err")" -eq 1 ] && [ ! -s "$HB_TMP/u.out" ] &&
		if [ "${want:0:1}" = "^" ]; then [[ $err == "${want:1}"* ]]; else [[ $err == *"$want"* ]]; fi
	then
		ok "$d"
	else
		not_ok "$d"
		diag "hbctl$(printf ' %q' "$@"): status $rc (want 2), stderr: $(cat "$HB_TMP/u.err")"
		[ -s "$HB_TMP/u.out" ] && diag "stdout (want none): $(head -c 300 "$HB_TMP/u.out")"
	fi
}

on_exit() { _cleanup_cmds+=("$*"); }
_cleanup() {
	local rc=$? i p
	for ((i = ${#_cleanup_cmds[@]} - 1; i >= 0; i--)); do eval "${_cleanup_cmds[$i]}" >/dev/null 2>&1; done
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for p in "${_netns[@]}" $(cat "$HB_TMP/netns" 2>/dev/null); do netns_del "$p"; done
	rm -rf "$HB_TMP"
	if [ "$_tap_fail" -gt 0 ] && [ "$rc" -eq 0 ]; then rc=1; fi
	echo "1..$_tap_n"
	exit "$rc"
}
trap _cleanup EXIT

# hbctl makes its bpffs directories on first use; one this test brought into being goes with
# it (rmdir: only while empty, so a policy or pin of anyone else's is never touched; the
# root after what is in it). /sys/fs/bpf/hb is where a previous version pinned policies.
for _d in /sys/fs/bpf/hb /sys/fs/bpf/hbkeep /sys/fs/bpf/hbkeep/policy; do
	[ -e "$_d" ] || on_exit "rmdir $_d"
done
trap 'exit 130' INT TERM

# bg_pid PID: kill this process (ours, by PID) on exit
bg_pid() { _pids+=("$1"); }
# run_bg [--ns NS] CMD [ARG...]: starts the program CMD in the background (in network namespace
# NS with nsenter, which execs it), registered to be killed on exit; its PID is in BG_PID.
# Redirections go on the call: run_bg --ns "$NS" srv 7000 >"$HB_TMP/srv" 2>&1
# CMD must be a program: a backgrounded shell function is a subshell, whose PID is not the
# program's, and killing it leaves the program running.
run_bg() {
	if [ "$1" = --ns ]; then
		set -- nsenter --net="/run/netns/$2" "${@:3}"
	fi
	if declare -F "$1" >/dev/null; then
		echo "Bail out! run_bg $1: a shell function, not a program"
		exit 1
	fi
	"$@" &
	BG_PID=$!
	_pids+=("$BG_PID")
}

# netns_new SUFFIX: create namespace $HB_TEST_ID-SUFFIX with lo up; prints its name
netns_new() {
	local n=$HB_TEST_ID-$1
	ip netns add "$n" || return 1
	# recorded in a file too: NS=$(netns_new x) runs in a subshell, whose array is lost
	_netns+=("$n")
	echo "$n" >>"$HB_TMP/netns"
	ip -n "$n" link set lo up
	echo "$n"
}
# netns_del NS: kills what still runs in NS (only the test's own processes can be in a
# namespace it made), then removes it; a process left in it would keep it alive unnamed
netns_del() {
	local pids
	pids=$(ip netns pids "$1" 2>/dev/null)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	ip netns del "$1" 2>/dev/null
}
# in_ns NS CMD...: run in a namespace without remounting /sys (DESIGN.md: ip netns exec hides
# bpffs and cgroup2)
in_ns() { local n=$1; shift; nsenter --net="/run/netns/$n" "$@"; }

# The LD_PRELOAD value for the shim; with SAN=address the ASan runtime must come first.
hb_preload() {
	local p=$SHIM s
	# prepended in reverse: libasan must end up first in the list
	case ${HB_SAN:-} in
	*undefined*) s=$(${CC:-cc} -print-file-name=libubsan.so); p=$s:$p ;;
	esac
	case ${HB_SAN:-} in
	*address*) s=$(${CC:-cc} -print-file-name=libasan.so); p=$s:$p ;;
	esac
	echo "$p"
}
# Foreign programs (python3, curl, redis-cli) leak by design; ASan must not fail them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
# shim CMD...: run CMD with the shim preloaded
shim() { LD_PRELOAD=$(hb_preload) "$@"; }

# The shim tests' three ways to run a program in their namespace $NS, the shim ($PRE, from
# hb_preload) preloaded into the program only, not into nsenter, so that its messages come
# once. plain CMD... and shimmed CMD... run it for 20 s at most.
plain() { timeout 20 nsenter --net="/run/netns/$NS" "$@"; }
shimmed() { timeout 20 nsenter --net="/run/netns/$NS" env LD_PRELOAD="$PRE" "$@"; }
# bg OUT plain|shim [VAR=VAL...] CMD...: starts it in the background, stdout to OUT, stderr to
# OUT.err; BG is its PID (exec all the way down, so that it is CMD's PID), killed on exit
bg() {
	local out=$1 mode=$2
	shift 2
	[ "$mode" = shim ] && set -- env LD_PRELOAD="$PRE" "$@"
	(exec nsenter --net="/run/netns/$NS" "$@") >"$out" 2>"$out.err" </dev/null &
	BG=$!
	bg_pid "$BG"
}

# wait_line FILE REGEX [TIMEOUT_S]: wait until FILE has a line matching REGEX (grep -E;
# default 5 s)
wait_line() {
	local i
	for ((i = 0; i < ${3:-5} * 20; i++)); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# wait_port NS PORT [TIMEOUT_S]: wait until something listens on PORT in NS
wait_port() {
	local n=$1 port=$2 t=${3:-10} i
	for ((i = 0; i < t * 20; i++)); do
		in_ns "$n" ss -Htln "sport = :$port" | grep -q . && return 0
		sleep 0.05
	done
	return 1
}

need_built "$SHIM"
