#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Adaptive keepalive in the shim (DESIGN.md "Paths", HB_KEEPIDLE=auto): the scenario of
# paths.sh without BPF. One router (tests/integ/_nat.sh) forgets server A's idle flows after
# 6 s (an nftables ct timeout object for A's address only) and server B's after 24 s (the
# conntrack sysctl). Both are in the path table (hbctl paths add, the test's own HB_PATHS_FILE);
# the clients run under `hbctl run --idle auto --intvl 2 --cnt 3` (the shim, no root needed):
#  a. each connection gets an idle inside its own path: A 3-5 s (floor(0.8 x 6) = 4), B
#     15-23 s (floor(0.8 x 24) = 19), as the client's own getsockopt reads them; HB_LOG=info
#     says so in one line per connection, naming the path and its timeout
#  b. both survive 40 s of silence (their line after it is echoed)
#  c. the kernel sends fewer keepalive probes in all (TcpExtTCPKeepAlive of the client's
#     namespace) than the fixed idle A needs would cost on both: at least 2 x floor(39 / 4)
#     = 18 (as in paths.sh)
#  d. a destination with no entry gets HB_IDLE_DEFAULT (60, or --idle-default); --idle-max
#     bounds a path that survived with no drop
#  e. a table that cannot be used degrades to HB_IDLE_DEFAULT with exactly one line on stderr:
#     missing, only a bad line, a directory; a bad line beside good ones costs that line only;
#     a FIFO as HB_PATHS_FILE (nobody writing) is refused at once, never blocks the program
#  f. the program's own TCP_KEEPIDLE wins unless HB_FORCE=1 (then the path's idle, whether
#     the program set it before or after connect()); its other values do not stop the
#     path's idle; a non-blocking connect(); HB_MATCH with auto
# About 45 s.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_nat.sh"

nat_need
nat_clean_env
unset HB_PATHS_FILE
C=$HELPERS/nat_client
HBCTL=$O/hbctl
need_built "$C" "$SHIM" "$HBCTL" "$HELPERS/ka_client"

T_A=6 T_B=24		# the router forgets A's, B's idle flows after this many seconds
SILENCE=40		# how long the clients stay silent
INTVL=2 CNT=3
SRV_B=$NAT_SERVER_IP
SRV_A=198.51.100.3	# a second address of the server namespace
PORT=7000
TABLE=$HB_TMP/paths

nat_setup "$T_B" || { echo "Bail out! NAT setup failed"; exit 1; }
nat_add_server "$SRV_A" "$T_A" || { echo "Bail out! second server address or its ct timeout"; exit 1; }
nat_echo_server -q 64 "$PORT" "$SRV_A" "$SRV_B" || { echo "Bail out! echo servers did not start"; exit 1; }

# ---- the table ------------------------------------------------------------------------------
HB_PATHS_FILE=$TABLE "$HBCTL" paths add "$SRV_A:$PORT" --timeout "${T_A}s" &&
	HB_PATHS_FILE=$TABLE "$HBCTL" paths add "$SRV_B:$PORT" --timeout "${T_B}s" ||
	{ echo "Bail out! paths add failed"; exit 1; }
diag "$(HB_PATHS_FILE=$TABLE "$HBCTL" paths ls)"

# With SAN=address the ASan runtime must come first in LD_PRELOAD: the "existing" part that
# hbctl run appends the shim to (as in hbctl_run.sh)
SAN_PRE=$(hb_preload); SAN_PRE=${SAN_PRE%"$SHIM"}; SAN_PRE=${SAN_PRE%:}
idle_of() { sed -n 's/^sockopts .* idle=\([0-9]*\) .*/\1/p' "$HB_TMP/$1"; }
vals_of() { sed -n 's/^sockopts //p' "$HB_TMP/$1"; }
# client NAME IDLE_S [ENV...]: nat_client to NAME's server (A or B, by the name's first
# letter) under HB_KEEPIDLE=auto, in the background for the silent ones
client() {
	local name=$1 silence=$2 srv=$SRV_B
	shift 2
	case $name in a*) srv=$SRV_A ;; esac
	in_ns "$NAT_CLIENT" env ${SAN_PRE:+LD_PRELOAD=$SAN_PRE} HB_PATHS_FILE="$TABLE" "$@" \
		"$HBCTL" run --idle auto --intvl "$INTVL" --cnt "$CNT" -- \
		"$C" "$srv" "$PORT" "$silence" 5 >"$HB_TMP/$name" 2>"$HB_TMP/$name.err"
}

# ---- a, b, c: two silent connections ----------------------------------------------------------
ka0=$(in_ns "$NAT_CLIENT" nstat -az TcpExtTCPKeepAlive | awk '/TcpExtTCPKeepAlive/ { print $2 }')
client a "$SILENCE" HB_LOG=info HB_LOG_FILE="$HB_TMP/a.log" &
pa=$!
bg_pid "$pa"
client b "$SILENCE" HB_LOG=info HB_LOG_FILE="$HB_TMP/b.log" &
pb=$!
bg_pid "$pb"
for x in a b; do
	nat_wait_line "$HB_TMP/$x" '^idle ' 10 || diag "client $x did not start: $(cat "$HB_TMP/$x" "$HB_TMP/$x.err")"
done
ia=$(idle_of a) ib=$(idle_of b)
diag "A: $(vals_of a); B: $(vals_of b)"
check "a: the connection to A (forgotten after ${T_A} s) got an idle inside its path: $ia s (3-5)" \
	eval '[ -n "$ia" ] && [ "$ia" -ge 3 ] && [ "$ia" -le 5 ]'
check "a: the connection to B (forgotten after ${T_B} s) got an idle inside its path: $ib s (15-23)" \
	eval '[ -n "$ib" ] && [ "$ib" -ge 15 ] && [ "$ib" -le 23 ]'
check_eq "a: both with keepalive on and the run's interval and count" \
	"ka=1 intvl=$INTVL cnt=$CNT|ka=1 intvl=$INTVL cnt=$CNT" \
	"$(vals_of a | sed 's/^keepalive=\([0-9]\) .*\(intvl=[0-9]* cnt=[0-9]*\) .*/ka=\1 \2/')|$(vals_of b | sed 's/^keepalive=\([0-9]\) .*\(intvl=[0-9]* cnt=[0-9]*\) .*/ka=\1 \2/')"
diag "A's log: $(cat "$HB_TMP/a.log")"
check_eq "a: HB_LOG=info: one line for A's decision, naming its path and timeout" \
	"1|$SRV_A:$PORT: idle $ia s from path $SRV_A:$PORT (dropped ${T_A} s)" \
	"$(grep -c ': idle .* s from path ' "$HB_TMP/a.log")|$(sed -n 's/^libhbshim: fd [0-9]* \(.* from path .*\)$/\1/p' "$HB_TMP/a.log")"
check_eq "a: HB_LOG=info: one line for B's decision" \
	"1|$SRV_B:$PORT: idle $ib s from path $SRV_B:$PORT (dropped ${T_B} s)" \
	"$(grep -c ': idle .* s from path ' "$HB_TMP/b.log")|$(sed -n 's/^libhbshim: fd [0-9]* \(.* from path .*\)$/\1/p' "$HB_TMP/b.log")"

# ---- d, e: while they are silent, short connections (0.2 s: no probe) ------------------------
# the table without B: no entry, HB_IDLE_DEFAULT
grep -v "^$SRV_B:" "$TABLE" >"$HB_TMP/paths.a"
in_ns "$NAT_CLIENT" env HB_PATHS_FILE="$HB_TMP/paths.a" HB_KEEPIDLE=auto LD_PRELOAD="$(hb_preload)" \
	"$C" "$SRV_B" "$PORT" 0.2 2 >"$HB_TMP/d1" 2>"$HB_TMP/d1.err"
check_eq "d: a destination with no entry gets HB_IDLE_DEFAULT (60), nothing on stderr" \
	"60|" "$(idle_of d1)|$(cat "$HB_TMP/d1.err")"
in_ns "$NAT_CLIENT" env HB_PATHS_FILE="$HB_TMP/paths.a" HB_KEEPIDLE=auto HB_IDLE_DEFAULT=2m \
	LD_PRELOAD="$(hb_preload)" "$C" "$SRV_B" "$PORT" 0.2 2 >"$HB_TMP/d2" 2>&1
check_eq "d: HB_IDLE_DEFAULT=2m: 120" 120 "$(idle_of d2)"
printf '%s survived=30s dropped=none source=probe time=0\n' "$SRV_B:$PORT" >"$HB_TMP/paths.s"
in_ns "$NAT_CLIENT" env HB_PATHS_FILE="$HB_TMP/paths.s" HB_KEEPIDLE=auto \
	LD_PRELOAD="$(hb_preload)" "$C" "$SRV_B" "$PORT" 0.2 2 >"$HB_TMP/d3" 2>&1
in_ns "$NAT_CLIENT" env HB_PATHS_FILE="$HB_TMP/paths.s" HB_KEEPIDLE=auto HB_IDLE_MAX=5m \
	LD_PRELOAD="$(hb_preload)" "$C" "$SRV_B" "$PORT" 0.2 2 >"$HB_TMP/d4" 2>&1
check_eq "d: a path that survived with no drop: HB_IDLE_MAX (600; HB_IDLE_MAX=5m: 300)" \
	"600 300" "$(idle_of d3) $(idle_of d4)"

# degrade CASE TABLE WANT_IDLE WANT_STDERR_REGEX: one short connection to B with HB_PATHS_FILE
# TABLE; it must finish (a FIFO must not block it), get WANT_IDLE and say exactly one line
degrade() {
	local name=$1 table=$2 want=$3 re=$4 rc nerr
	# the shim in the client only (timeout would say its line too)
	in_ns "$NAT_CLIENT" timeout 10 env HB_PATHS_FILE="$table" HB_KEEPIDLE=auto \
		LD_PRELOAD="$(hb_preload)" "$C" "$SRV_A" "$PORT" 0.2 2 >"$HB_TMP/$name" \
		2>"$HB_TMP/$name.err"
	rc=$?
	nerr=$(wc -l <"$HB_TMP/$name.err")
	diag "$name: $(cat "$HB_TMP/$name.err")"
	check "e: $name: exit 0 (rc $rc), idle $want ($(idle_of "$name")), one line on stderr ($nerr) matching '$re'" \
		eval '[ "$rc" -eq 0 ] && [ "$(idle_of "$name")" = "$want" ] && [ "$nerr" -eq 1 ] &&
			grep -Eq "^libhbshim: HB_KEEPIDLE=auto: .*$re" "$HB_TMP/$name.err"'
}
degrade missing "$HB_TMP/no-such-table" 60 "no path table at .*every connection gets idle 60 s"
printf '%s survived=0s dropped=soon\n' "$SRV_A:$PORT" >"$HB_TMP/paths.bad"
degrade bad-only "$HB_TMP/paths.bad" 60 "line 1: .*every connection gets idle 60 s"
mkdir "$HB_TMP/paths.dir"
degrade directory "$HB_TMP/paths.dir" 60 "every connection gets idle 60 s"
{ cat "$TABLE"; echo "10.0.0.0/33 dropped=5s"; } >"$HB_TMP/paths.mixed"
degrade bad-line "$HB_TMP/paths.mixed" 4 "line [0-9]+: .*\(that line is ignored\)"
mkfifo "$HB_TMP/paths.fifo"
degrade fifo "$HB_TMP/paths.fifo" 60 "not a regular file: every connection gets idle 60 s"

# ---- f: the program's own TCP_KEEPIDLE, HB_FORCE, HB_MATCH, non-blocking connect() ----------
KA=$HELPERS/ka_client
# kac NAME ENV... -- ARGS...: ka_client's line for each connection under HB_KEEPIDLE=auto
kac() {
	local -a envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	in_ns "$NAT_CLIENT" env HB_PATHS_FILE="$TABLE" HB_KEEPIDLE=auto "${envs[@]}" \
		LD_PRELOAD="$(hb_preload)" "$KA" "$@" 2>&1 | tr '\n' '|'
}
check_eq "f: the program's TCP_KEEPIDLE after connect() wins (15)" \
	"ka=1 idle=15 intvl=10 cnt=6 uto=0|" "$(kac -- -S idle=15 "$SRV_A" "$PORT")"
check_eq "f: the program's TCP_KEEPIDLE before connect() wins (15)" \
	"ka=1 idle=15 intvl=10 cnt=6 uto=0|" "$(kac -- -s idle=15 "$SRV_A" "$PORT")"
check_eq "f: HB_FORCE=1: the path's idle (4) over the program's, set before or after connect()" \
	"ka=1 idle=4 intvl=10 cnt=6 uto=0|ka=1 idle=4 intvl=10 cnt=6 uto=0|" \
	"$(kac HB_FORCE=1 -- -s idle=15 "$SRV_A" "$PORT")$(kac HB_FORCE=1 -- -S idle=15 "$SRV_A" "$PORT")"
check_eq "f: the program's other values do not stop the path's idle" \
	"ka=1 idle=4 intvl=7 cnt=6 uto=0|" "$(kac -- -s intvl=7 "$SRV_A" "$PORT")"
check_eq "f: non-blocking connect(): the path's idle" \
	"ka=1 idle=4 intvl=10 cnt=6 uto=0|ka=1 idle=19 intvl=10 cnt=6 uto=0|" \
	"$(kac -- -n "$SRV_A" "$PORT" "$SRV_B" "$PORT")"
check_eq "f: HB_MATCH=$SRV_A: A managed with its path's idle, B left alone" \
	"ka=1 idle=4 intvl=10 cnt=6 uto=0|ka=0 idle=7200 intvl=75 cnt=9 uto=0|" \
	"$(kac HB_MATCH="$SRV_A" -- "$SRV_A" "$PORT" "$SRV_B" "$PORT")"

wait "$pa"; rc_a=$?
wait "$pb"; rc_b=$?
ka1=$(in_ns "$NAT_CLIENT" nstat -az TcpExtTCPKeepAlive | awk '/TcpExtTCPKeepAlive/ { print $2 }')
for x in a b; do diag "$x: $(grep -h '^outcome' "$HB_TMP/$x") $(cat "$HB_TMP/$x.err")"; done
check "b: the connection to A survived ${SILENCE} s of silence (its line echoed)" \
	eval '[ "$rc_a" -eq 0 ] && grep -q "^outcome reply" "$HB_TMP/a"'
check "b: the connection to B survived ${SILENCE} s of silence (its line echoed)" \
	eval '[ "$rc_b" -eq 0 ] && grep -q "^outcome reply" "$HB_TMP/b"'
probes=$((ka1 - ka0))
fixed=$((2 * ((SILENCE - 1) / ${ia:-1})))
check "c: fewer keepalive probes in all with HB_KEEPIDLE=auto ($probes) than with the fixed idle A needs on both (at least $fixed at idle $ia s)" \
	eval '[ "$probes" -ge 1 ] && [ "$probes" -lt "$fixed" ]'
