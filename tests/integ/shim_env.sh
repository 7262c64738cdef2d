#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# libhbshim's environment (DESIGN.md "Shim contract"): every bad value of every variable is
# reported in exactly one stderr line naming the variable, ignored, and the program runs on
# with the other values applied; libkeepalive's and libdontdie's variables, and HB_ winning
# over them; HB_KEEPALIVE=off as a pure pass-through (strace); values the user did not set
# coming from the namespace's sysctls; HB_LOG=info and HB_LOG_FILE.
. "$(dirname "$0")/_lib.sh"
need_root
need_cmd nsenter strace sysctl
need_built "$HELPERS"/{ka_client,holdsrv,ka_threads,sockkinds}
ENVVARS="HB_KEEPALIVE HB_KEEPIDLE HB_KEEPINTVL HB_KEEPCNT HB_USER_TIMEOUT HB_MATCH HB_FORCE HB_LOG
HB_LOG_FILE KEEPIDLE KEEPINTVL KEEPCNT KEEPALIVE TCP_KEEPIDLE TCP_KEEPINTVL TCP_KEEPCNT
TCP_USER_TIMEOUT DD_TCP_KEEPALIVE_TIME DD_TCP_KEEPALIVE_INTVL DD_TCP_KEEPALIVE_PROBES DD_USE_KEEPALIVE"
# shellcheck disable=SC2086
unset $ENVVARS

# check_eq, with multi-line values shown on one line (so that diag output stays TAP comments)

NS=$(netns_new env) || { echo "Bail out! cannot create a network namespace"; exit 1; }
PRE=$(hb_preload)
KA=$HELPERS/ka_client
DEF="ka=1 idle=60 intvl=10 cnt=6 uto=0"
NONE="ka=0 idle=7200 intvl=75 cnt=9 uto=0"

nsenter --net="/run/netns/$NS" "$HELPERS/holdsrv" 127.0.0.1 7001 127.0.0.2 7002 ::1 7001 \
	>/dev/null 2>&1 </dev/null &
bg_pid $!
wait_port "$NS" 7001 || { echo "Bail out! holdsrv not listening"; exit 1; }

# run [VAR=VAL...] -- [KA ARGS...]: ka_client to 127.0.0.1 7001 under the shim; sets OUT
# ("rc stdout"), ERR (stderr)
run() {
	local env=()
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	OUT=$(shimmed "${env[@]}" "$KA" "$@" 127.0.0.1 7001 2>"$HB_TMP/err")
	OUT="$? $OUT"
	ERR=$(cat "$HB_TMP/err")
}
# setsockopts [VAR=VAL...]: the setsockopt() calls ka_client (which makes none itself) gets
# from the shim, as strace sees them: "SO_KEEPALIVE=1 TCP_KEEPIDLE=30 ..." sorted
setsockopts() {
	nsenter --net="/run/netns/${SNS:-$NS}" strace -f -qq -e trace=setsockopt -o "$HB_TMP/st" \
		env LD_PRELOAD="$PRE" "$@" "$KA" 127.0.0.1 7001 >/dev/null 2>&1
	sed -n -E 's/^([0-9]+ +)?setsockopt\([0-9]+, [A-Z_]+, ([A-Z_]+), \[([0-9]+)\].*/\2=\3/p' \
		"$HB_TMP/st" | sort | tr '\n' ' ' | sed 's/ $//'
}

# one_line_for VAR: ERR is exactly one line, "libhbshim: VAR: ..."
one_line_for() { [ "$(wc -l <<<"$ERR")" -eq 1 ] && [[ $ERR == "libhbshim: $1: "* ]]; }

# ---- bad values: one line on stderr naming the variable and the value; the program runs on
# with the other variables applied -------------------------------------------------------------
# bad VAR VALUE EXPECT [VAR=VAL...] [-- KA ARGS]: VAR=VALUE plus the valid VAR=VALs
bad() {
	local var=$1 val=$2 exp=$3 env=() ka=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do env+=("$1"); shift; done
	[ $# -gt 0 ] && { shift; ka=("$@"); }
	run "$var=$val" "${env[@]}" -- "${ka[@]}"
	check_lines "$var='$val' ${env[*]}: runs on (exit 0), the rest applied" "0 $exp" "$OUT"
	if one_line_for "$var" &&
		{ [ -z "${val// /}" ] || [[ $val == *,* ]] || [[ $ERR == *"$val"* ]]; }; then
		ok "$var='$val': exactly one stderr line 'libhbshim: $var: ...' quoting the value"
		diag "$ERR"
	else
		not_ok "$var='$val': exactly one stderr line 'libhbshim: $var: ...' quoting the value"
		diag "stderr: $(cat -A "$HB_TMP/err" | tr '\n' '|')"
	fi
}
# Each value given replaces one default (60/10/6): HB_KEEPCNT=4 alone is 60/10/4.
CNT4="ka=1 idle=60 intvl=10 cnt=4 uto=0"
IDLE30="ka=1 idle=30 intvl=10 cnt=6 uto=0"
for v in abc 0 40000 32768 -5 5x +5 ' 30' 1.5 500ms 1500ms 99999999999999999999; do
	bad HB_KEEPIDLE "$v" "$CNT4" HB_KEEPCNT=4
done
for v in abc 0 40000 -1 10x 2.5s; do
	bad HB_KEEPINTVL "$v" "$IDLE30" HB_KEEPIDLE=30
done
for v in 200 0 128 abc -3 5s 0x10; do
	bad HB_KEEPCNT "$v" "$IDLE30" HB_KEEPIDLE=30
done
for v in abc -1 5x 3000000000 2147484s 10ss; do
	bad HB_USER_TIMEOUT "$v" "$IDLE30" HB_KEEPIDLE=30
done
# a match list that cannot be read manages no socket (DESIGN.md: it must never widen to every
# socket; tests/integ/shim_hostsafe.sh has the exclude list with a typo)
for v in '!' 10.0.0.0/33 300.1.1.1 '[::1' :99999 '[::1]/129' 10.0.0.0/ '10.0.0.1,!'; do
	bad HB_MATCH "$v" "$NONE" HB_KEEPIDLE=30
done
many=$(printf '10.0.0.%d,' $(seq 1 40))127.0.0.1
run HB_MATCH="$many" HB_KEEPIDLE=30 --
check_lines "HB_MATCH with 41 patterns (over the limit): no socket managed, runs on" "0 $NONE" "$OUT"
check "HB_MATCH with 41 patterns: exactly one stderr line naming HB_MATCH" one_line_for HB_MATCH
for v in maybe 2 onn; do
	bad HB_KEEPALIVE "$v" "$IDLE30" HB_KEEPIDLE=30
done
# HB_FORCE=2 ignored: the app's own TCP_KEEPIDLE=45 wins
for v in 2 maybe; do
	bad HB_FORCE "$v" "ka=1 idle=45 intvl=10 cnt=6 uto=0" HB_KEEPIDLE=30 -- -s idle=45
done
for v in loud verbose 5; do
	bad HB_LOG "$v" "$IDLE30" HB_KEEPIDLE=30
done
bad KEEPIDLE abc "$CNT4" HB_KEEPCNT=4
bad KEEPIDLE 0 "$CNT4" HB_KEEPCNT=4
bad KEEPINTVL 0 "$IDLE30" HB_KEEPIDLE=30
bad KEEPINTVL x "$IDLE30" HB_KEEPIDLE=30
bad KEEPCNT 500 "$IDLE30" HB_KEEPIDLE=30
bad DD_TCP_KEEPALIVE_TIME -1 "$CNT4" HB_KEEPCNT=4
bad DD_TCP_KEEPALIVE_TIME 99999 "$CNT4" HB_KEEPCNT=4
bad DD_TCP_KEEPALIVE_INTVL x "$IDLE30" HB_KEEPIDLE=30
bad DD_TCP_KEEPALIVE_PROBES 0 "$IDLE30" HB_KEEPIDLE=30
bad HB_LOG_FILE /nonexistent/dir/hb.log "$IDLE30" HB_KEEPIDLE=30

# several at once: one line each; nothing valid left, so the defaults
run HB_KEEPIDLE=abc HB_KEEPCNT=200 HB_USER_TIMEOUT=-1 --
check_lines "three bad values: runs on with the defaults" "0 $DEF" "$OUT"
check_lines "three bad values: one line for each variable" \
	"libhbshim: HB_KEEPCNT: |libhbshim: HB_KEEPIDLE: |libhbshim: HB_USER_TIMEOUT: |" \
	"$(sed -E 's/^(libhbshim: [A-Z_]+: ).*/\1/' "$HB_TMP/err" | sort | tr '\n' '|')"
# once per process, not per socket nor per thread
OUT=$(shimmed HB_KEEPIDLE=abc "$KA" 127.0.0.1 7001 ::1 7001 127.0.0.2 7002 2>"$HB_TMP/err")
check_lines "a bad value, three sockets: three sockets right" "$DEF"$'\n'"$DEF"$'\n'"$DEF" "$OUT"
check_lines "a bad value, three sockets: reported once" 1 "$(wc -l <"$HB_TMP/err")"
OUT=$(shimmed HB_KEEPIDLE=abc "$HELPERS/ka_threads" 32 20 1 60 10 6 0 2>"$HB_TMP/err")
check_lines "a bad value, 32 threads racing to the first socket: all right" \
	"ops=640 mismatches=0 forks=0 fork_failures=0" "$OUT"
check_lines "a bad value, 32 threads racing to the first socket: reported once" 1 "$(wc -l <"$HB_TMP/err")"
# where the report goes
run HB_LOG=off HB_KEEPIDLE=abc --
check_lines "HB_LOG=off: a bad value is still ignored" "0 $DEF" "$OUT"
check_lines "HB_LOG=off: nothing on stderr" "" "$ERR"
run HB_LOG_FILE="$HB_TMP/bad.log" HB_KEEPIDLE=abc --
check_lines "HB_LOG_FILE: a bad value is ignored" "0 $DEF" "$OUT"
check_lines "HB_LOG_FILE: nothing on stderr" "" "$ERR"
check_lines "HB_LOG_FILE: the report is in the file, once" 1 "$(grep -c HB_KEEPIDLE "$HB_TMP/bad.log")"
# valid edge values
run HB_KEEPIDLE=32767 HB_KEEPINTVL=32767 HB_KEEPCNT=127 HB_USER_TIMEOUT=2147483647ms --
check_lines "largest valid values" "0 ka=1 idle=32767 intvl=32767 cnt=127 uto=2147483647" "$OUT"
check_lines "largest valid values: nothing on stderr" "" "$ERR"
run HB_KEEPIDLE=1 HB_KEEPINTVL=1s HB_KEEPCNT=1 HB_USER_TIMEOUT=0 --
check_lines "smallest valid values (user timeout 0: left alone)" "0 ka=1 idle=1 intvl=1 cnt=1 uto=0" "$OUT"
check_lines "smallest valid values: nothing on stderr" "" "$ERR"

# ---- HB_KEEPALIVE ------------------------------------------------------------------------------
for v in 0 off no false OFF False; do
	run HB_KEEPALIVE=$v --
	check_lines "HB_KEEPALIVE=$v: keepalive left alone" "0 $NONE" "$OUT"
	check_lines "HB_KEEPALIVE=$v: pure pass-through, no setsockopt at all (strace)" "" \
		"$(setsockopts HB_KEEPALIVE=$v)"
done
for v in 1 on yes true ON; do
	run HB_KEEPALIVE=$v --
	check_lines "HB_KEEPALIVE=$v: the defaults" "0 $DEF" "$OUT"
done
run HB_KEEPALIVE=0 HB_KEEPIDLE=30 HB_KEEPCNT=4 --
check_lines "HB_KEEPALIVE=0 with HB_KEEPIDLE/HB_KEEPCNT: TCP_KEEP* left alone too" "0 $NONE" "$OUT"
check_lines "HB_KEEPALIVE=0 with HB_KEEPIDLE/HB_KEEPCNT: no setsockopt (strace)" "" \
	"$(setsockopts HB_KEEPALIVE=0 HB_KEEPIDLE=30 HB_KEEPCNT=4)"
run HB_KEEPALIVE=0 HB_USER_TIMEOUT=5s --
check_lines "HB_KEEPALIVE=0 HB_USER_TIMEOUT=5s: only the user timeout" "0 ka=0 idle=7200 intvl=75 cnt=9 uto=5000" "$OUT"
check_lines "HB_KEEPALIVE=0 HB_USER_TIMEOUT=5s: exactly that setsockopt (strace)" "TCP_USER_TIMEOUT=5000" \
	"$(setsockopts HB_KEEPALIVE=0 HB_USER_TIMEOUT=5s)"
nsenter --net="/run/netns/$NS" strace -f -qq -o "$HB_TMP/st" env LD_PRELOAD="$PRE" HB_KEEPALIVE=0 \
	"$HELPERS/sockkinds" ::1 127.0.0.1 7001 tcp tcp6 tcpnb >/dev/null 2>&1
for k in tcp tcp6 tcpnb; do
	calls=$(awk -v b="\"/hbmark-$k-begin\"" -v e="\"/hbmark-$k-end\"" '
		index($0, b) { on = 1; next } index($0, e) { on = 0 }
		on { sub(/^[0-9]+ +/, ""); sub(/\(.*/, ""); print }' "$HB_TMP/st" |
		grep -v -x -e socket -e connect -e close -e poll | sort -u | tr '\n' ' ')
	check_lines "HB_KEEPALIVE=0: $k socket costs no system call of the shim's (strace)" "" "$calls"
done

# ---- compatibility: libkeepalive and libdontdie -------------------------------------------------
compat() { # DESC EXPECT VAR=VAL...
	local d=$1 exp=$2
	shift 2
	run "$@" --
	check_lines "$d ($*)" "0 $exp" "$OUT"
	check_lines "$d: nothing on stderr" "" "$ERR"
}
compat "libkeepalive: all three" "ka=1 idle=31 intvl=8 cnt=5 uto=0" KEEPIDLE=31 KEEPINTVL=8 KEEPCNT=5
compat "libkeepalive: KEEPIDLE alone, the rest the sysctl's" "ka=1 idle=31 intvl=75 cnt=9 uto=0" KEEPIDLE=31
compat "libkeepalive: KEEPINTVL alone" "ka=1 idle=7200 intvl=8 cnt=9 uto=0" KEEPINTVL=8
compat "libkeepalive: KEEPCNT alone" "ka=1 idle=7200 intvl=75 cnt=5 uto=0" KEEPCNT=5
compat "libkeepalive: KEEPALIVE=off" "$NONE" KEEPALIVE=off
check_lines "libkeepalive: KEEPALIVE=off: no setsockopt (strace)" "" "$(setsockopts KEEPALIVE=off)"
compat "libdontdie: all three" "ka=1 idle=32 intvl=9 cnt=3 uto=0" \
	DD_TCP_KEEPALIVE_TIME=32 DD_TCP_KEEPALIVE_INTVL=9 DD_TCP_KEEPALIVE_PROBES=3
compat "libdontdie: DD_TCP_KEEPALIVE_TIME alone" "ka=1 idle=32 intvl=75 cnt=9 uto=0" DD_TCP_KEEPALIVE_TIME=32
compat "libdontdie: DD_TCP_KEEPALIVE_INTVL alone" "ka=1 idle=7200 intvl=9 cnt=9 uto=0" DD_TCP_KEEPALIVE_INTVL=9
compat "libdontdie: DD_TCP_KEEPALIVE_PROBES alone" "ka=1 idle=7200 intvl=75 cnt=3 uto=0" DD_TCP_KEEPALIVE_PROBES=3
compat "libdontdie: DD_USE_KEEPALIVE=1" "ka=1 idle=32 intvl=75 cnt=9 uto=0" DD_USE_KEEPALIVE=1 DD_TCP_KEEPALIVE_TIME=32
compat "libdontdie: DD_USE_KEEPALIVE=0" "$NONE" DD_USE_KEEPALIVE=0
check_lines "libdontdie: DD_USE_KEEPALIVE=0: no setsockopt (strace)" "" "$(setsockopts DD_USE_KEEPALIVE=0)"
# HB_ winning over every compat name of that value: hbkeep's meaning (per-value defaults)
compat "HB_KEEPIDLE wins over KEEPIDLE, TCP_KEEPIDLE and DD_TCP_KEEPALIVE_TIME" \
	"ka=1 idle=20 intvl=10 cnt=6 uto=0" HB_KEEPIDLE=20 KEEPIDLE=31 TCP_KEEPIDLE=33 DD_TCP_KEEPALIVE_TIME=32
compat "HB_KEEPINTVL wins over KEEPINTVL and DD_TCP_KEEPALIVE_INTVL" "ka=1 idle=60 intvl=6 cnt=6 uto=0" \
	HB_KEEPINTVL=6 KEEPINTVL=8 DD_TCP_KEEPALIVE_INTVL=9
compat "HB_KEEPCNT wins over KEEPCNT and DD_TCP_KEEPALIVE_PROBES" "ka=1 idle=60 intvl=10 cnt=2 uto=0" \
	HB_KEEPCNT=2 KEEPCNT=5 DD_TCP_KEEPALIVE_PROBES=3
compat "HB_KEEPALIVE=on wins over KEEPALIVE=off" "$DEF" HB_KEEPALIVE=on KEEPALIVE=off
compat "HB_KEEPALIVE=1 wins over DD_USE_KEEPALIVE=0" "$DEF" HB_KEEPALIVE=1 DD_USE_KEEPALIVE=0
compat "HB_KEEPALIVE=off wins over DD_USE_KEEPALIVE=1 and KEEPIDLE" "$NONE" \
	HB_KEEPALIVE=off DD_USE_KEEPALIVE=1 KEEPIDLE=31
compat "per variable: HB_KEEPIDLE, and KEEPCNT where HB_KEEPCNT is unset" "ka=1 idle=20 intvl=75 cnt=5 uto=0" \
	HB_KEEPIDLE=20 KEEPCNT=5
compat "per variable: HB_KEEPCNT, and DD_TCP_KEEPALIVE_INTVL where HB_KEEPINTVL is unset" \
	"ka=1 idle=7200 intvl=9 cnt=2 uto=0" HB_KEEPCNT=2 DD_TCP_KEEPALIVE_INTVL=9
# msantos/libkeepalive: its names, its defaults 15/15/9, its derived user timeout
compat "msantos: nothing but TCP_KEEPIDLE=30: 30/15/9, user timeout (30 + 15*9) s" \
	"ka=1 idle=30 intvl=15 cnt=9 uto=165000" TCP_KEEPIDLE=30
compat "msantos: all four" "ka=1 idle=20 intvl=4 cnt=3 uto=9000" \
	TCP_KEEPIDLE=20 TCP_KEEPINTVL=4 TCP_KEEPCNT=3 TCP_USER_TIMEOUT=9000
compat "msantos: 0 is the system default (sysctl; no user timeout)" \
	"ka=1 idle=7200 intvl=15 cnt=9 uto=0" TCP_KEEPIDLE=0 TCP_USER_TIMEOUT=0
compat "msantos: TCP_USER_TIMEOUT=-1 derives it" "ka=1 idle=15 intvl=15 cnt=2 uto=45000" \
	TCP_USER_TIMEOUT=-1 TCP_KEEPCNT=2
compat "precedence per value: HB_, libkeepalive, msantos, libdontdie" \
	"ka=1 idle=40 intvl=8 cnt=3 uto=0" HB_KEEPIDLE=40 TCP_KEEPIDLE=20 KEEPINTVL=8 TCP_KEEPINTVL=4 \
	TCP_KEEPCNT=3 DD_TCP_KEEPALIVE_PROBES=4
compat "msantos over libdontdie: msantos's meaning for the rest" \
	"ka=1 idle=15 intvl=9 cnt=9 uto=96000" TCP_KEEPINTVL=9 DD_TCP_KEEPALIVE_INTVL=5
bad TCP_KEEPIDLE abc "ka=1 idle=60 intvl=10 cnt=6 uto=0"
bad TCP_USER_TIMEOUT -5 "ka=1 idle=60 intvl=10 cnt=6 uto=0"
# libkeepalive only knows KEEPALIVE=off, libdontdie DD_USE_KEEPALIVE 0/1: another value may be
# taken as "on" (libkeepalive does) or reported and ignored; either way keepalive stays on,
# the program runs on, and there is at most one line
for kv in KEEPALIVE=maybe DD_USE_KEEPALIVE=maybe; do
	run "$kv" HB_KEEPIDLE=30 --
	check_lines "$kv: runs on, keepalive on, HB_KEEPIDLE applied" "0 $IDLE30" "$OUT"
	if [ -z "$ERR" ] || one_line_for "${kv%%=*}"; then
		ok "$kv: nothing on stderr, or one line naming ${kv%%=*}"
	else
		not_ok "$kv: nothing on stderr, or one line naming ${kv%%=*}"
		diag "stderr: $ERR"
	fi
done

# ---- values the user did not set are the namespace's sysctls ------------------------------------
NS2=$(netns_new sysctl)
nsenter --net="/run/netns/$NS2" sysctl -qw net.ipv4.tcp_keepalive_intvl=33 net.ipv4.tcp_keepalive_probes=7
nsenter --net="/run/netns/$NS2" "$HELPERS/holdsrv" 127.0.0.1 7001 >/dev/null 2>&1 </dev/null &
bg_pid $!
wait_port "$NS2" 7001
in2() { # in2 VAR=VAL...: ka_client in NS2 under the shim; "rc stdout"
	local o
	o=$(nsenter --net="/run/netns/$NS2" env LD_PRELOAD="$PRE" "$@" "$KA" 127.0.0.1 7001 2>&1)
	echo "$? $o"
}
check_lines "sysctls 7200/33/7, nothing set: the defaults 60/10/6" "0 $DEF" "$(in2)"
check_lines "sysctls 7200/33/7, nothing set: 4 setsockopt (strace)" \
	"SO_KEEPALIVE=1 TCP_KEEPCNT=6 TCP_KEEPIDLE=60 TCP_KEEPINTVL=10" "$(SNS=$NS2 setsockopts)"
check_lines "sysctls 7200/33/7, HB_KEEPIDLE=30: 30/10/6 (each value replaces one default)" \
	"0 ka=1 idle=30 intvl=10 cnt=6 uto=0" "$(in2 HB_KEEPIDLE=30)"
check_lines "sysctls 7200/33/7, HB_KEEPIDLE=30: 4 setsockopt (strace)" \
	"SO_KEEPALIVE=1 TCP_KEEPCNT=6 TCP_KEEPIDLE=30 TCP_KEEPINTVL=10" "$(SNS=$NS2 setsockopts HB_KEEPIDLE=30)"
check_lines "sysctls 7200/33/7, HB_KEEPCNT=4: 60/10/4" \
	"0 ka=1 idle=60 intvl=10 cnt=4 uto=0" "$(in2 HB_KEEPCNT=4)"
check_lines "sysctls 7200/33/7, HB_KEEPIDLE=30 HB_KEEPINTVL=33: the interval equals the sysctl, not set" \
	"SO_KEEPALIVE=1 TCP_KEEPCNT=6 TCP_KEEPIDLE=30" "$(SNS=$NS2 setsockopts HB_KEEPIDLE=30 HB_KEEPINTVL=33)"
check_lines "sysctls 7200/33/7, HB_USER_TIMEOUT alone: the defaults and the user timeout" \
	"0 ka=1 idle=60 intvl=10 cnt=6 uto=5000" "$(in2 HB_USER_TIMEOUT=5s)"
check_lines "sysctls 7200/33/7, KEEPIDLE=30 (libkeepalive): interval and count the sysctl's" \
	"0 ka=1 idle=30 intvl=33 cnt=7 uto=0" "$(in2 KEEPIDLE=30)"

# ---- HB_LOG=info: one line per managed socket; HB_LOG_FILE -------------------------------------
OUT=$(shimmed HB_LOG=info "$KA" 127.0.0.1 7001 ::1 7001 2>"$HB_TMP/err")
check_lines "HB_LOG=info: stdout untouched" "$DEF"$'\n'"$DEF" "$OUT"
check_lines "HB_LOG=info: one 'libhbshim: ' line per managed socket (2)" "2 2" \
	"$(wc -l <"$HB_TMP/err") $(grep -c '^libhbshim: ' "$HB_TMP/err")"
OUT=$(shimmed HB_LOG=info HB_MATCH=:7001 "$KA" 127.0.0.1 7001 127.0.0.2 7002 2>"$HB_TMP/err")
check_lines "HB_LOG=info HB_MATCH=:7001: sockets right" "$DEF"$'\n'"$NONE" "$OUT"
check_lines "HB_LOG=info HB_MATCH=:7001: one line, for the managed socket only" 1 "$(wc -l <"$HB_TMP/err")"
OUT=$(shimmed HB_LOG=info "$HELPERS/sockkinds" ::1 127.0.0.1 7001 udp udp6 unix unixdgram 2>"$HB_TMP/err")
check_lines "HB_LOG=info, only UDP and AF_UNIX sockets: works" \
	"udp ok"$'\n'"udp6 ok"$'\n'"unix ok"$'\n'"unixdgram ok" "$OUT"
check_lines "HB_LOG=info, only UDP and AF_UNIX sockets: no line" "" "$(cat "$HB_TMP/err")"
OUT=$(shimmed HB_LOG=info HB_LOG_FILE="$HB_TMP/info.log" "$KA" 127.0.0.1 7001 ::1 7001 127.0.0.2 7002 2>"$HB_TMP/err")
check_lines "HB_LOG=info HB_LOG_FILE: stdout untouched" "$DEF"$'\n'"$DEF"$'\n'"$DEF" "$OUT"
check_lines "HB_LOG=info HB_LOG_FILE: nothing on stderr" "" "$(cat "$HB_TMP/err")"
check_lines "HB_LOG=info HB_LOG_FILE: one line per managed socket in the file (3)" 3 \
	"$(grep -c . "$HB_TMP/info.log" 2>/dev/null)"
OUT=$(shimmed HB_LOG=debug "$KA" 127.0.0.1 7001 2>"$HB_TMP/err")
check_lines "HB_LOG=debug: never prints to stdout" "$DEF" "$OUT"
OUT=$(shimmed HB_LOG=error "$KA" 127.0.0.1 7001 2>"$HB_TMP/err")
check_lines "HB_LOG=error and a valid configuration: nothing on stderr" "" "$(cat "$HB_TMP/err")"
exit 0
