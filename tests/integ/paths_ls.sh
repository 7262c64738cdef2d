#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl ls beside the path table (DESIGN.md "Paths"), in a private network namespace on its
# loopback addresses (no NAT: what is judged is ls's view, not the middlebox). The table is
# the test's own (HB_PATHS_FILE): 127.0.0.2:7000 dropped=10s (idle 8), 127.0.0.3 dropped=2s
# (idle 1); 127.0.0.1 has no entry. A kernel policy `--idle auto --idle-default 45 --intvl 2
# --cnt 3` on a test cgroup:
#  a. ls -j: a client in the cgroup to 127.0.0.2:7000 has keepidle_s 8 and
#     config_source.keepidle "path 127.0.0.2:7000"; to 127.0.0.3:7001 idle 1 and
#     "path 127.0.0.3"; to 127.0.0.1 (no entry) 45 and "policy"; a client in the cgroup that
#     set idle 8 itself: "program"; a client outside any policy with idle 8 set itself:
#     "socket" (ls does not guess from a value alone)
#  b. ls --nat-timeout auto: each connection by its own path's timeout: the policy's
#     connections at_risk false (8 < 10, 1 < 2) with nat_timeout_ms 10000 / 2000; one with
#     keepalive off to 127.0.0.3, silent for longer than its path's 2 s, at_risk true and
#     counted "already idle that long"; no entry: not judged (null, a blank RISK cell); the
#     summary line says so; a fixed --nat-timeout still judges every one
#  c. errors: --nat-timeout autox (usage, exit 2), an unreadable table with auto (exit 1,
#     one line)
# About 10 s.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_policy.sh"
pol_need
CL=$HELPERS/static_client
[ -x "$CL" ] || { echo "Bail out! $CL not built (make test-bins)"; exit 1; }

export HB_PATHS_FILE=$HB_TMP/paths
export HB_PIN_DIR=/sys/fs/bpf/$HB_TEST_ID
on_exit "rm -f $HB_PIN_DIR/paths; rmdir $HB_PIN_DIR/policy $HB_PIN_DIR 2>/dev/null"

NS=$(netns_new pls) || { echo "Bail out! cannot create a network namespace"; exit 1; }
run_bg --ns "$NS" "$HELPERS/holdsrv" 0.0.0.0 7000 0.0.0.0 7001 >/dev/null 2>&1
wait_port "$NS" 7000 && wait_port "$NS" 7001 || { echo "Bail out! holdsrv did not start"; exit 1; }
K=$(pol_cg auto) && F=$(pol_cg free) || { echo "Bail out! cannot make cgroups"; exit 1; }
pol_cg_track "$K"
pol_cg_track "$F"

"$HBCTL" paths add 127.0.0.2:7000 --timeout 10s && "$HBCTL" paths add 127.0.0.3 --timeout 2s ||
	{ echo "Bail out! paths add failed"; exit 1; }
pid=$("$HBCTL" policy add --cgroup "$K" --idle auto --idle-default 45 --intvl 2 --cnt 3) ||
	{ echo "Bail out! policy add --idle auto failed"; exit 1; }
diag "policy $pid on $K; table: $("$HBCTL" paths ls | tr '\n' '|')"

# cl NAME CGROUP ARGS...: static_client in CGROUP and the namespace, kept open 60 s; its line
# in $HB_TMP/NAME, its local port in P_NAME
cl() {
	local n=$1 d=$2
	shift 2
	in_cg "$d" nsenter --net="/run/netns/$NS" "$CL" -w 60 "$@" >"$HB_TMP/$n" 2>"$HB_TMP/$n.err" &
	bg_pid $!
	wait_file "$HB_TMP/$n" '^ready' 10 || diag "$n did not start: $(cat "$HB_TMP/$n" "$HB_TMP/$n.err")"
	printf -v "P_$n" '%s' "$(lport "$(head -n1 "$HB_TMP/$n")")"
}
cl a "$K" 127.0.0.2 7000
cl b "$K" 127.0.0.3 7001
cl c "$K" 127.0.0.1 7000
cl d "$K" -s idle=8 127.0.0.2 7000
cl e "$F" -s ka=1 -s idle=8 127.0.0.2 7000
cl f "$F" 127.0.0.3 7001				# keepalive off, no policy
T0=$(date +%s.%N)

# ls_field NAME EXPR [LS ARGS...]: EXPR (python, over the one established socket as s) for
# the client NAME's socket in ls -j
ls_field() {
	local n=$1 e=$2 p
	shift 2
	p=P_$n
	in_ns "$NS" "$HBCTL" ls -j --sport "${!p}" "$@" 2>/dev/null | "$PY" -c 'import json, sys
s = [x for x in json.load(sys.stdin) if x["state"] == "established"]
if len(s) != 1:
    print("%d sockets" % len(s)); sys.exit()
s = s[0]
print(eval(sys.argv[1]))' "$e"
}
SRC='"%s %s" % (s["keepidle_s"], s["config_source"]["keepidle"])'
check_eq "a: in the cgroup to 127.0.0.2:7000: the path's idle and source" \
	"8 path 127.0.0.2:7000" "$(ls_field a "$SRC")"
check_eq "a: its interval and count are the policy's" "2 policy 3 policy" \
	"$(ls_field a '"%s %s %s %s" % (s["keepintvl_s"], s["config_source"]["keepintvl"], s["keepcnt"], s["config_source"]["keepcnt"])')"
check_eq "a: in the cgroup to 127.0.0.3:7001 (entry without a port): its path's" \
	"1 path 127.0.0.3" "$(ls_field b "$SRC")"
check_eq "a: in the cgroup to 127.0.0.1 (no entry): --idle-default, the policy's" \
	"45 policy" "$(ls_field c "$SRC")"
check_eq "a: in the cgroup, idle 8 set by the program itself: the program's" \
	"8 program" "$(ls_field d "$SRC")"
check_eq "a: no policy, idle 8 set by the program (= the path's): the socket's, no guess" \
	"8 socket" "$(ls_field e "$SRC")"

# ---- b: --nat-timeout auto -----------------------------------------------------------------
# f must have been silent for longer than its path's 2 s
sleep "$("$PY" -c 'import sys, time; print(max(0, 2.5 - (time.time() - float(sys.argv[1]))))' "$T0")"
RISK='"%s %s" % (s.get("nat_timeout_ms", "absent"), s["at_risk"])'
check_eq "b: auto: a (idle 8, its path drops after 10 s) is not at risk" "10000 False" \
	"$(ls_field a "$RISK" --nat-timeout auto)"
check_eq "b: auto: b (idle 1, its path drops after 2 s) is not at risk" "2000 False" \
	"$(ls_field b "$RISK" --nat-timeout auto)"
check_eq "b: auto: c (no entry for its path) is not judged" "None None" \
	"$(ls_field c "$RISK" --nat-timeout auto)"
check_eq "b: auto: f (keepalive off, silent $(ls_field f 's["idle_ms"]') ms, its path drops after 2 s) is at risk" \
	"2000 True" "$(ls_field f "$RISK" --nat-timeout auto)"
check "b: auto: f has been idle longer than its path's timeout" \
	eval '[ "$(ls_field f "s[\"idle_ms\"] >= 2000")" = True ]'
check_eq "b: a fixed --nat-timeout 5s judges c too (45 >= 5), and has no nat_timeout_ms" \
	"absent True" "$(ls_field c "$RISK" --nat-timeout 5s)"

# the summary line (stderr with -j) and the table, over the clients' sockets only
ports=()
for n in a b c d e f; do p=P_$n; ports+=(--sport "${!p}"); done
sum=$(in_ns "$NS" "$HBCTL" ls -j --state established "${ports[@]}" --nat-timeout auto 2>&1 >/dev/null)
check_eq "b: the summary: 1 at risk (f), already idle that long, 1 not judged (c)" \
	"1 of 6 connections at risk for their paths' NAT timeouts (1 already idle that long); 1 not judged (no timeout known for its path)" \
	"$sum"
in_ns "$NS" "$HBCTL" ls --state established "${ports[@]}" --nat-timeout auto >"$HB_TMP/tab" 2>&1
sed 's/^/#   /' "$HB_TMP/tab"
# risk_cell NAME: the RISK cell (the last column) of NAME's row, "" when blank
risk_cell() {
	local p=P_$1
	awk -v p=":${!p}" 'NR == 1 { i = index($0, "RISK") } $2 ~ p"$" { print substr($0, i) }' \
		"$HB_TMP/tab"
}
check_eq "b: the table's RISK cells: a no, c blank, f yes" "no||yes" \
	"$(risk_cell a)|$(risk_cell c)|$(risk_cell f)"
check "b: the table's summary line" \
	grep -qx "1 of 6 connections at risk for their paths' NAT timeouts (1 already idle that long); 1 not judged (no timeout known for its path)" "$HB_TMP/tab"

# ---- c: errors -------------------------------------------------------------------------------
out=$(in_ns "$NS" "$HBCTL" ls --nat-timeout autox 2>&1 >/dev/null); rc=$?
check "c: --nat-timeout autox: usage error, exit 2 ($out)" \
	eval '[ "$rc" -eq 2 ] && grep -q "nat-timeout" <<<"$out"'
out=$(HB_PATHS_FILE=$HB_TMP in_ns "$NS" "$HBCTL" ls --nat-timeout auto 2>&1 >/dev/null); rc=$?
check "c: --nat-timeout auto with a table that is a directory: exit 1, one line ($out)" \
	eval '[ "$rc" -eq 1 ] && [ "$(wc -l <<<"$out")" -eq 1 ]'
out=$(HB_PATHS_FILE=$HB_TMP/none in_ns "$NS" "$HBCTL" ls --state established "${ports[@]}" --nat-timeout auto 2>&1); rc=$?
check "c: --nat-timeout auto with no table: exit 0, a warning, nothing judged" \
	eval '[ "$rc" -eq 0 ] && grep -q "warning: .*no connection is judged" <<<"$out" && grep -q "6 not judged" <<<"$out"'

"$HBCTL" policy rm "$pid" >/dev/null || not_ok "policy rm $pid"
