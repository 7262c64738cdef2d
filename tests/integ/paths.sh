#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Adaptive keepalive (DESIGN.md "Paths"): one router (tests/integ/_nat.sh) forgets server A's
# idle flows after 6 s (an nftables ct timeout object set in a prerouting chain at priority
# filter, for A's address only) and server B's after 24 s (the conntrack sysctl). With both
# in the path table (A before the policy is loaded, B after it: the live update of the pinned
# map) and `policy add --idle auto --intvl 2 --cnt 3` on the client's cgroup:
#  a. each connection gets an idle inside its own path: A 3-5 s (floor(0.8 x 6) = 4), B
#     15-23 s (floor(0.8 x 24) = 19), as the client's own getsockopt reads them
#  b. both survive 40 s of silence (their line after it is echoed)
#  c. the kernel sends fewer keepalive probes in all (TcpExtTCPKeepAlive of the client's
#     namespace) than the fixed idle A needs would cost on both: at least
#     2 x floor(39 / 4) = 18 (a probe every idle seconds of silence, the answer restarting
#     the timer; only those due strictly before the send at 40 s)
#  d. a destination removed from the table (paths rm, live) gets --idle-default; one never in
#     it too
#  e. paths learn against A and B records brackets that contain 6 and 24 (source probe)
#  f. the paths map is pinned beside the policies while an --idle auto policy exists, and
#     unpinned with it; errors: --idle-max without --idle auto (run, policy add)
#  g. --retrofit: a connection established before the policy gets its path's idle
#  h. run --kernel --idle auto --idle-max: the bound reaches the kernel policy
# The table is the test's own (HB_PATHS_FILE), the pins too (HB_PIN_DIR). About 75 s.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_nat.sh"
. "$(dirname "$0")/_policy.sh"

nat_need
pol_need
nat_clean_env
C=$HELPERS/nat_client
[ -x "$C" ] || { echo "Bail out! $C not built (make test-bins)"; exit 1; }

T_A=6 T_B=24		# the router forgets A's, B's idle flows after this many seconds
SILENCE=40		# how long the clients stay silent
INTVL=2 CNT=3
SRV_B=$NAT_SERVER_IP
SRV_A=198.51.100.3	# a second address of the server namespace
PORT=7000
export HB_PATHS_FILE=$HB_TMP/paths
export HB_PIN_DIR=/sys/fs/bpf/$HB_TEST_ID
# the root hbctl made (policy/ in it, the paths map beside it; both empty or gone by now)
on_exit "rm -f $HB_PIN_DIR/paths; rmdir $HB_PIN_DIR/policy $HB_PIN_DIR 2>/dev/null"

nat_setup "$T_B" || { echo "Bail out! NAT setup failed"; exit 1; }
nat_add_server "$SRV_A" "$T_A" || { echo "Bail out! second server address or its ct timeout"; exit 1; }
nat_echo_server "$PORT" "$SRV_A" "$SRV_B" || { echo "Bail out! echo servers did not start"; exit 1; }

K=$(pol_cg auto) || { echo "Bail out! cannot make a cgroup"; exit 1; }
pol_cg_track "$K"

# ---- f: errors first (no BPF needed) --------------------------------------------------------
err_case() {
	local out rc
	out=$("$HBCTL" "$@" 2>&1 >/dev/null)
	rc=$?
	check "usage error, exit 2, one line: hbctl $* ($out)" \
		eval '[ "$rc" -eq 2 ] && [ "$(wc -l <<<"$out")" -eq 1 ]'
}
err_case run --idle 30 --idle-max 600 -- true
err_case policy add --cgroup "$K" --idle 30 --idle-max 600
err_case policy add --cgroup "$K" --idle auto --idle-max 0
err_case paths add "$SRV_A" --timeout soon
err_case paths add ":$PORT" --timeout 6s

# ---- the table and the policy -------------------------------------------------------------
"$HBCTL" paths add "$SRV_A:$PORT" --timeout "${T_A}s" ||
	{ echo "Bail out! paths add A failed"; exit 1; }
pid=$("$HBCTL" policy add --cgroup "$K" --idle auto --intvl "$INTVL" --cnt "$CNT") ||
	{ echo "Bail out! policy add --idle auto failed"; exit 1; }
diag "policy $pid (--idle auto --intvl $INTVL --cnt $CNT) on $K; pins: $(ls "$HB_PIN_DIR" | tr '\n' ' ')"
check "f: the paths map is pinned beside the policies ($HB_PIN_DIR/paths)" \
	test -e "$HB_PIN_DIR/paths"
# B after the policy: paths add updates the loaded map
"$HBCTL" paths add "$SRV_B:$PORT" --timeout "${T_B}s" ||
	{ echo "Bail out! paths add B failed"; exit 1; }
diag "$("$HBCTL" paths ls)"
check_eq "paths ls -j: both entries with the idle they give" \
	"$SRV_A:$PORT 4 6 manual|$SRV_B:$PORT 19 24 manual" \
	"$("$HBCTL" paths ls -j | "$PY" -c 'import json, sys
print("|".join("%s %d %g %s" % (e["dest"], e["idle_s"], e["dropped_s"], e["source"]) for e in json.load(sys.stdin)))')"

# ---- a, b, c: two silent connections -------------------------------------------------------
ka0=$(in_ns "$NAT_CLIENT" nstat -az TcpExtTCPKeepAlive | awk '/TcpExtTCPKeepAlive/ { print $2 }')
in_cg "$K" nsenter --net="/run/netns/$NAT_CLIENT" "$C" "$SRV_A" "$PORT" "$SILENCE" 5 \
	>"$HB_TMP/a" 2>"$HB_TMP/a.err" &
pa=$!
bg_pid "$pa"
in_cg "$K" nsenter --net="/run/netns/$NAT_CLIENT" "$C" "$SRV_B" "$PORT" "$SILENCE" 5 \
	>"$HB_TMP/b" 2>"$HB_TMP/b.err" &
pb=$!
bg_pid "$pb"
for x in a b; do
	nat_wait_line "$HB_TMP/$x" '^idle ' 10 || diag "client $x did not start: $(cat "$HB_TMP/$x" "$HB_TMP/$x.err")"
done
idle_of() { sed -n 's/^sockopts .* idle=\([0-9]*\) .*/\1/p' "$HB_TMP/$1"; }
ia=$(idle_of a) ib=$(idle_of b)
diag "A: $(sed -n 's/^sockopts //p' "$HB_TMP/a"); B: $(sed -n 's/^sockopts //p' "$HB_TMP/b")"
check "a: the connection to A (forgotten after ${T_A} s) got an idle inside its path: $ia s (3-5)" \
	eval '[ -n "$ia" ] && [ "$ia" -ge 3 ] && [ "$ia" -le 5 ]'
check "a: the connection to B (forgotten after ${T_B} s) got an idle inside its path: $ib s (15-23)" \
	eval '[ -n "$ib" ] && [ "$ib" -ge 15 ] && [ "$ib" -le 23 ]'
check_eq "a: both with the policy's interval and count" "intvl=$INTVL cnt=$CNT|intvl=$INTVL cnt=$CNT" \
	"$(sed -n 's/^sockopts .* \(intvl=[0-9]* cnt=[0-9]*\) .*/\1/p' "$HB_TMP/a")|$(sed -n 's/^sockopts .* \(intvl=[0-9]* cnt=[0-9]*\) .*/\1/p' "$HB_TMP/b")"

# ---- d: while they are silent, the live table (new connections only) ------------------------
"$HBCTL" paths rm "$SRV_B:$PORT" || not_ok "d: paths rm B"
in_cg "$K" nsenter --net="/run/netns/$NAT_CLIENT" "$C" "$SRV_B" "$PORT" 0.2 2 >"$HB_TMP/d1" 2>&1
check_eq "d: after paths rm, a new connection to B gets --idle-default (60)" 60 "$(idle_of d1)"
"$HBCTL" paths add "$SRV_B:$PORT" --timeout "${T_B}s" || not_ok "d: paths add B again"
in_cg "$K" nsenter --net="/run/netns/$NAT_CLIENT" "$C" "$SRV_B" "$PORT" 0.2 2 >"$HB_TMP/d2" 2>&1
check_eq "d: added again, a new connection to B gets 19 s" 19 "$(idle_of d2)"
# the two short connections sent no keepalive probe (0.2 s of silence); c counts from ka0

wait "$pa"; rc_a=$?
wait "$pb"; rc_b=$?
ka1=$(in_ns "$NAT_CLIENT" nstat -az TcpExtTCPKeepAlive | awk '/TcpExtTCPKeepAlive/ { print $2 }')
for x in a b; do diag "$x: $(grep -h '^outcome' "$HB_TMP/$x") $(cat "$HB_TMP/$x.err")"; done
check "b: the connection to A survived ${SILENCE} s of silence (its line echoed)" \
	eval '[ "$rc_a" -eq 0 ] && grep -q "^outcome reply" "$HB_TMP/a"'
check "b: the connection to B survived ${SILENCE} s of silence (its line echoed)" \
	eval '[ "$rc_b" -eq 0 ] && grep -q "^outcome reply" "$HB_TMP/b"'
probes=$((ka1 - ka0))
fixed=$((2 * ((SILENCE - 1) / ia)))
check "c: fewer keepalive probes in all with --idle auto ($probes) than with the fixed idle A needs on both (at least $fixed at idle $ia s)" \
	eval '[ "$probes" -ge 1 ] && [ "$probes" -lt "$fixed" ]'

# ---- e: learn ---------------------------------------------------------------------------------
# one after the other: the echo server's accept backlog is Python's 5, and two runs side by
# side would overflow it (SYN cookies: a connection the server never accepted answers its
# probe with a reset, as probe-nat's man page says)
nsenter --net="/run/netns/$NAT_CLIENT" "$HBCTL" paths learn "$SRV_A:$PORT" --max 40s \
	>"$HB_TMP/la" 2>&1
rc_la=$?
nsenter --net="/run/netns/$NAT_CLIENT" "$HBCTL" paths learn "$SRV_B:$PORT" --max 40s \
	>"$HB_TMP/lb" 2>&1
rc_lb=$?
sed 's/^/#   /' "$HB_TMP/la" "$HB_TMP/lb"
"$HBCTL" paths ls -j >"$HB_TMP/ls.json"
bracket() {
	"$PY" -c 'import json, sys
e = [x for x in json.load(open(sys.argv[1])) if x["dest"] == sys.argv[2]]
print("%s %s %s" % (e[0]["survived_s"], e[0]["dropped_s"], e[0]["source"]) if e else "none")' \
		"$HB_TMP/ls.json" "$1"
}
read -r sa da srca < <(bracket "$SRV_A:$PORT")
read -r sb db srcb < <(bracket "$SRV_B:$PORT")
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
check "e: paths learn A: exit 0, recorded by probe, the bracket $sa-$da contains ${T_A}" \
	eval '[ "$rc_la" -eq 0 ] && [ "$srca" = probe ] && le "$sa" "$T_A" && le "$T_A" "$da"'
check "e: paths learn B: exit 0, recorded by probe, the bracket $sb-$db contains ${T_B}" \
	eval '[ "$rc_lb" -eq 0 ] && [ "$srcb" = probe ] && le "$sb" "$T_B" && le "$T_B" "$db"'

# ---- g: --retrofit -----------------------------------------------------------------------------
K2=$(pol_cg retro) || { echo "Bail out! cannot make a cgroup"; exit 1; }
pol_cg_track "$K2"
in_cg "$K2" nsenter --net="/run/netns/$NAT_CLIENT" "$C" "$SRV_B" "$PORT" 8 2 >"$HB_TMP/g" 2>&1 &
bg_pid $!
nat_wait_line "$HB_TMP/g" '^idle ' 10
gport=$(sed -n 's/^connected local .*:\([0-9]*\)$/\1/p' "$HB_TMP/g")
want=$("$HBCTL" paths ls -j | "$PY" -c 'import json, sys
print([x["idle_s"] for x in json.load(sys.stdin) if x["dest"] == sys.argv[1]][0])' "$SRV_B:$PORT")
pid2=$(in_ns "$NAT_CLIENT" "$HBCTL" policy add --cgroup "$K2" --idle auto --retrofit 2>"$HB_TMP/g.add") ||
	not_ok "g: policy add --retrofit: $(cat "$HB_TMP/g.add")"
check_eq "g: --retrofit: the connection to B made before the policy now has B's idle ($want s)" \
	"ka=1 idle=$want" "$(ls_vals "$NAT_CLIENT" "$gport" | cut -d' ' -f1-2)"
"$HBCTL" policy rm "$pid2" || not_ok "policy rm $pid2"

# ---- h: run --kernel --idle auto --idle-max: the bound reaches the kernel policy ---------------
out=$(nsenter --net="/run/netns/$NAT_CLIENT" "$HBCTL" run --kernel --idle auto --idle-max 10 -- \
	"$HELPERS/ka_client" "$SRV_A" "$PORT" "$SRV_B" "$PORT" 2>&1 | tr '\n' '|')
check_eq "h: run --kernel --idle auto --idle-max 10: A 4 s, B min(19, 10) = 10 s" \
	"ka=1 idle=4 intvl=10 cnt=6 uto=0|ka=1 idle=10 intvl=10 cnt=6 uto=0|" "$out"

# ---- f: unpinned with the last --idle auto policy ----------------------------------------------
check "f: the paths map stays while another --idle auto policy is loaded" test -e "$HB_PIN_DIR/paths"
"$HBCTL" policy rm "$pid" || not_ok "policy rm $pid"
check "f: policy rm: the paths map is unpinned with the last --idle auto policy" \
	eval '[ ! -e "$HB_PIN_DIR/paths" ]'
