#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The NAT scenario of tests/integ/nat.sh (a router that forgets idle flows after a few
# seconds, tests/integ/_nat.sh), with the statically linked NAT client, which the shim
# cannot reach, rescued by a kernel policy on its cgroup instead:
#  a. the static client under LD_PRELOAD (the shim, keepalive 1/1/3): nothing changes,
#     no reply after its idle time
#  b. the static client in a cgroup with policy --idle 1 --intvl 1 --cnt 3: gets its reply
#  c. the static client in a cgroup with policy --off --user-timeout 3s: ETIMEDOUT within
#     the user timeout (+ slack) of its send into the forgotten flow
# The only timing bounds are protocol timeouts plus 2-3 s of slack. About 12 s.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_nat.sh"
. "$(dirname "$0")/_policy.sh"

nat_need
pol_need
nat_clean_env
SC=$HB_TMP/nat_client_static
pol_build_static "$SC" "$HB_ROOT/tests/helpers/nat_client.c"

TIMEOUT=3	# the router's nf_conntrack_tcp_timeout_established, s
IDLE=6		# how long the clients stay silent: twice the router's timeout
NOREPLY_WAIT=4	# a: how long the client waits for a reply that should not come
UTO=3		# c: --user-timeout, s
SLACK=3
PORT=7000

nat_setup "$TIMEOUT" || { echo "Bail out! NAT setup failed"; exit 1; }
nat_echo_server "$PORT" || { echo "Bail out! echo server did not start"; exit 1; }
K=$(pol_cg ka) && U=$(pol_cg uto) || { echo "Bail out! cannot make cgroups"; exit 1; }
pol_cg_track "$K"
pol_cg_track "$U"
kid=$("$HBCTL" policy add --cgroup "$K" --idle 1 --intvl 1 --cnt 3) &&
	uid_=$("$HBCTL" policy add --cgroup "$U" --off --user-timeout "${UTO}s") ||
	{ echo "Bail out! policy add failed"; exit 1; }
diag "policies $kid (keepalive 1/1/3) on $K, $uid_ (user timeout ${UTO}s) on $U"

check "the NAT client is statically linked (no dynamic section)" \
	eval 'LC_ALL=C readelf -d "$SC" | grep -q "no dynamic section"'

# cg_nat_bg DIR OUT CMD...: CMD in cgroup DIR (or none: "-") in the client namespace,
# stdout to OUT; PID (CMD's: each step execs the next) in NPID
cg_nat_bg() {
	local d=$1 out=$2
	shift 2
	if [ "$d" = - ]; then
		nsenter --net="/run/netns/$NAT_CLIENT" "$@" >"$out" 2>"$out.err" &
	else
		bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$d" \
			nsenter --net="/run/netns/$NAT_CLIENT" "$@" >"$out" 2>"$out.err" &
	fi
	NPID=$!
	bg_pid "$NPID"
}
cg_nat_bg - "$HB_TMP/a" env HB_KEEPIDLE=1 HB_KEEPINTVL=1 HB_KEEPCNT=3 \
	LD_PRELOAD="$(hb_preload)" "$SC" "$NAT_SERVER_IP" "$PORT" "$IDLE" "$NOREPLY_WAIT"
pid_a=$NPID
cg_nat_bg "$K" "$HB_TMP/b" "$SC" "$NAT_SERVER_IP" "$PORT" "$IDLE" "$NOREPLY_WAIT"
pid_b=$NPID
cg_nat_bg "$U" "$HB_TMP/c" "$SC" "$NAT_SERVER_IP" "$PORT" "$IDLE" $((UTO + SLACK + 4))
pid_c=$NPID
for x in a b c; do
	nat_wait_line "$HB_TMP/$x" '^idle ' 10 || diag "client $x did not start: $(cat "$HB_TMP/$x" "$HB_TMP/$x.err")"
done
sockopts() { sed -n 's/^sockopts //p' "$HB_TMP/$1"; }
sport() { sed -n 's/^connected local .*:\([0-9]*\)$/\1/p' "$HB_TMP/$1"; }
check_eq "a: the static client under the shim has no keepalive (LD_PRELOAD cannot reach it)" \
	"keepalive=0 idle=7200 intvl=75 cnt=9 user_timeout_ms=0" "$(sockopts a)"
check_eq "b: the static client under the policy: its own getsockopt shows 1/1/3" \
	"keepalive=1 idle=1 intvl=1 cnt=3 user_timeout_ms=0" "$(sockopts b)"
check_eq "c: the static client under the --off --user-timeout policy: only the user timeout" \
	"keepalive=0 idle=7200 intvl=75 cnt=9 user_timeout_ms=$((UTO * 1000))" "$(sockopts c)"

if command -v conntrack >/dev/null; then
	sleep "$(awk -v t="$TIMEOUT" -v i="$IDLE" 'BEGIN { print t + (i - t) / 2 }')"
	check "a: the router forgot the idle flow of the static client under the shim" \
		eval '[ -z "$(nat_flow "$(sport a)")" ]'
	check "b: the router still tracks the flow the policy keeps alive" \
		eval '[ -n "$(nat_flow "$(sport b)")" ]'
else
	skip "conntrack(8) not installed: flow table not inspected"
fi

wait "$pid_a"; rc_a=$?
wait "$pid_b"; rc_b=$?
wait "$pid_c"; rc_c=$?
for x in a b c; do diag "$x: $(grep -h '^outcome' "$HB_TMP/$x") $(cat "$HB_TMP/$x.err")"; done
check "a: static client under the shim: no reply within ${NOREPLY_WAIT}s after ${IDLE}s idle" \
	eval '[ "$rc_a" -eq 1 ] && grep -q "^outcome noreply" "$HB_TMP/a"'
check "b: static client under the kernel policy (keepalive 1/1/3): the exchange gets its reply" \
	eval '[ "$rc_b" -eq 0 ] && grep -q "^outcome reply" "$HB_TMP/b"'
t_c=$(sed -n 's/^outcome error ETIMEDOUT after \([0-9.]*\) s$/\1/p' "$HB_TMP/c")
check "c: policy --user-timeout ${UTO}s: ETIMEDOUT within $((UTO + SLACK)) s of the send (took ${t_c:-none})" \
	eval '[ "$rc_c" -eq 2 ] && [ -n "$t_c" ] && awk -v t="$t_c" -v b=$((UTO + SLACK)) "BEGIN { exit !(t <= b) }"'
check_eq "the policies counted one applied connection each" "1 1 0 0" \
	"$(pol_json "'%d %d %d %d' % (by($kid)['applied'], by($uid_)['applied'], by($kid)['failed'], by($uid_)['failed'])")"
