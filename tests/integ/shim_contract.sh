#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The shim's side of DESIGN.md "The policy" (issue 11):
#  - msantos/libkeepalive's names, with that library's meaning: its own scenarios, an `nc`
#    client and an `nc -l` listener under `strace -f -e trace=network`, show exactly the
#    setsockopt() values that library sets (SO_KEEPALIVE 1, TCP_KEEPIDLE 15,
#    TCP_KEEPCNT 9, TCP_KEEPINTVL 15, TCP_USER_TIMEOUT 150000);
#  - the program's own choice wins and HB_LOG=info says so in one line per socket
#    (`fd N: program set TCP_KEEPIDLE 15; HB_FORCE=1 overrides`): redis-cli, redis-server,
#    curl, which all set keepalive themselves; HB_FORCE=1 makes the shim's values stick;
#  - SO_KEEPALIVE=0 set by the program before or after connect() stays off (socket() mode and
#    match-list mode); HB_FORCE=1 switches it back on;
#  - `hbctl run` (shim) with one value given: per-value defaults.
. "$(dirname "$0")/_lib.sh"
need_root
need_cmd nsenter strace nc redis-server redis-cli curl sysctl
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip_all "needs python3"
for h in ka_client holdsrv; do
	[ -x "$HELPERS/$h" ] || { echo "Bail out! $HELPERS/$h not built (make test-bins)"; exit 1; }
done
unset HB_KEEPALIVE HB_KEEPIDLE HB_KEEPINTVL HB_KEEPCNT HB_USER_TIMEOUT HB_MATCH HB_FORCE HB_LOG \
	HB_LOG_FILE KEEPIDLE KEEPINTVL KEEPCNT KEEPALIVE TCP_KEEPIDLE TCP_KEEPINTVL TCP_KEEPCNT \
	TCP_USER_TIMEOUT DD_TCP_KEEPALIVE_TIME DD_TCP_KEEPALIVE_INTVL DD_TCP_KEEPALIVE_PROBES \
	DD_USE_KEEPALIVE
check_lines() { check_eq "$1" "${2//$'\n'/ | }" "${3//$'\n'/ | }"; }

NS=$(netns_new contract) || { echo "Bail out! cannot create a network namespace"; exit 1; }
# Every sysctl differs from every value below (also msantos's cnt 9), so that each value the
# policy wants shows up as a setsockopt() call.
in_ns "$NS" sysctl -qw net.ipv4.tcp_keepalive_time=7000 net.ipv4.tcp_keepalive_intvl=70 \
	net.ipv4.tcp_keepalive_probes=8
PRE=$(hb_preload)
KA=$HELPERS/ka_client
in_ns "$NS" "$HELPERS/holdsrv" 127.0.0.1 7001 >/dev/null 2>&1 </dev/null &
bg_pid $!
wait_port "$NS" 7001 || { echo "Bail out! holdsrv not listening"; exit 1; }
# setsockopts FILE: "LEVEL OPT=VAL" of our keepalive options in an strace file, one per line
setsockopts() {
	sed -n -E 's/^([0-9]+ +)?setsockopt\([0-9]+, [A-Z_]+, ((SO|TCP)_(KEEPALIVE|KEEPIDLE|KEEPINTVL|KEEPCNT|USER_TIMEOUT)), \[([0-9]+)\], 4\) = 0$/\2=\5/p' \
		"$1" | sort | tr '\n' ' ' | sed 's/ $//'
}
MSANTOS="SO_KEEPALIVE=1 TCP_KEEPCNT=9 TCP_KEEPIDLE=15 TCP_KEEPINTVL=15 TCP_USER_TIMEOUT=150000"

# ---- msantos/libkeepalive's scenarios: nc client and nc -l listener -----------------------------
# Its documented set-up with its documented values (15/15/9; the user timeout derived).
MS_ENV=(TCP_KEEPIDLE=15 TCP_KEEPINTVL=15 TCP_KEEPCNT=9)
nsenter --net="/run/netns/$NS" strace -f -e trace=network -o "$HB_TMP/nc-l.st" \
	env LD_PRELOAD="$PRE" "${MS_ENV[@]}" nc -l 127.0.0.1 9090 >"$HB_TMP/nc-l.out" 2>&1 </dev/null &
ncl=$!
bg_pid "$ncl"
wait_port "$NS" 9090 || diag "nc -l did not listen"
echo hello | nsenter --net="/run/netns/$NS" strace -f -e trace=network -o "$HB_TMP/nc.st" \
	env LD_PRELOAD="$PRE" "${MS_ENV[@]}" nc -N 127.0.0.1 9090 >/dev/null 2>&1
for ((i = 0; i < 100; i++)); do kill -0 "$ncl" 2>/dev/null || break; sleep 0.05; done
check_lines "msantos names, nc client (strace -e trace=network): the library's setsockopt values" \
	"$MSANTOS" "$(setsockopts "$HB_TMP/nc.st")"
check_lines "msantos names, nc -l listener (strace -e trace=network): the library's values" \
	"$MSANTOS" "$(setsockopts "$HB_TMP/nc-l.st")"
check_lines "msantos names, nc -l: the data went through" "hello" "$(cat "$HB_TMP/nc-l.out")"
# Only one of its names: that library's meaning for the rest (15/15/9 and the user timeout)
nsenter --net="/run/netns/$NS" strace -f -e trace=network -o "$HB_TMP/nc2.st" \
	env LD_PRELOAD="$PRE" TCP_KEEPIDLE=30 nc -N -w 2 127.0.0.1 7001 </dev/null >/dev/null 2>&1
check_lines "TCP_KEEPIDLE=30 alone, nc client: 30/15/9 and (30 + 15*9) * 1000 ms" \
	"SO_KEEPALIVE=1 TCP_KEEPCNT=9 TCP_KEEPIDLE=30 TCP_KEEPINTVL=15 TCP_USER_TIMEOUT=165000" \
	"$(setsockopts "$HB_TMP/nc2.st")"
out=$(shimmed TCP_KEEPIDLE=30 "$KA" 127.0.0.1 7001 2>&1)
check_lines "TCP_KEEPIDLE=30 alone: the socket's values (getsockopt)" \
	"ka=1 idle=30 intvl=15 cnt=9 uto=165000" "$out"

# ---- per-value defaults: hbctl run (the shim) ---------------------------------------------------
if [ -x "$O/hbctl" ]; then
	# with SAN=address the sanitizer runtime stays first: the "existing" LD_PRELOAD that hbctl
	# run appends the shim to (as hbctl_run.sh does)
	pre=$(hb_preload); base=${pre%"$SHIM"}; base=${base%:}
	out=$(timeout 20 nsenter --net="/run/netns/$NS" env ${base:+LD_PRELOAD=$base} HB_SHIM="$SHIM" \
		"$O/hbctl" run --idle 30 -- \
		"$KA" 127.0.0.1 7001 2>&1)
	check_lines "hbctl run --idle 30: 30/10/6 (one value replaces one default)" \
		"ka=1 idle=30 intvl=10 cnt=6 uto=0" "$out"
	out=$(timeout 20 nsenter --net="/run/netns/$NS" env ${base:+LD_PRELOAD=$base} HB_SHIM="$SHIM" \
		"$O/hbctl" run --cnt 3 -- \
		"$KA" 127.0.0.1 7001 2>&1)
	check_lines "hbctl run --cnt 3: 60/10/3" "ka=1 idle=60 intvl=10 cnt=3 uto=0" "$out"
else
	skip "hbctl not built"; skip "hbctl not built"
fi
out=$(shimmed HB_KEEPIDLE=30 "$KA" 127.0.0.1 7001 2>&1)
check_lines "HB_KEEPIDLE=30: 30/10/6, never 30/<sysctl>" "ka=1 idle=30 intvl=10 cnt=6 uto=0" "$out"

# ---- SO_KEEPALIVE=0 by the program, before and after connect ------------------------------------
OFF="ka=0 idle=60 intvl=10 cnt=6 uto=0"
for mode in "socket() mode:" "match-list mode:HB_MATCH=127.0.0.0/8"; do
	label=${mode%%:*} envs=()
	[ -n "${mode#*:}" ] && envs=("${mode#*:}")
	out=$(shimmed "${envs[@]}" "$KA" -s ka=0 127.0.0.1 7001 2>&1)
	check_lines "$label program sets SO_KEEPALIVE=0 before connect: keepalive stays off" "$OFF" "$out"
	out=$(shimmed "${envs[@]}" "$KA" -S ka=0 127.0.0.1 7001 2>&1)
	check_lines "$label program sets SO_KEEPALIVE=0 after connect: keepalive stays off" "$OFF" "$out"
	out=$(shimmed "${envs[@]}" HB_FORCE=1 "$KA" -s ka=0 127.0.0.1 7001 2>&1)
	check_lines "$label SO_KEEPALIVE=0 before connect with HB_FORCE=1: on" \
		"ka=1 idle=60 intvl=10 cnt=6 uto=0" "$out"
	out=$(shimmed "${envs[@]}" HB_FORCE=1 "$KA" -S ka=0 127.0.0.1 7001 2>&1)
	check_lines "$label SO_KEEPALIVE=0 after connect with HB_FORCE=1: on" \
		"ka=1 idle=60 intvl=10 cnt=6 uto=0" "$out"
	shimmed "${envs[@]}" HB_LOG=info "$KA" -S ka=0 127.0.0.1 7001 >/dev/null 2>"$HB_TMP/err"
	check_lines "$label HB_LOG=info names the program's SO_KEEPALIVE 0, once" \
		"1" "$(grep -c -E '^libhbshim: fd [0-9]+: program set SO_KEEPALIVE 0; HB_FORCE=1 overrides$' "$HB_TMP/err")"
done
# Idle before connect in match-list mode: the line comes at connect, when the shim skips it
shimmed HB_MATCH=127.0.0.0/8 HB_LOG=info "$KA" -s idle=45 127.0.0.1 7001 >/dev/null 2>"$HB_TMP/err"
check_lines "match-list mode, TCP_KEEPIDLE=45 before connect: one override line" \
	"1" "$(grep -c -E '^libhbshim: fd [0-9]+: program set TCP_KEEPIDLE 45; HB_FORCE=1 overrides$' "$HB_TMP/err")"
# The same value as the policy's is no override: no line
shimmed HB_LOG=info "$KA" -S idle=60 127.0.0.1 7001 >/dev/null 2>"$HB_TMP/err"
check_lines "program sets the policy's own value (TCP_KEEPIDLE 60): no override line" \
	"0" "$(grep -c 'program set' "$HB_TMP/err")"

# ---- real programs that set keepalive themselves ------------------------------------------------
in_ns "$NS" redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
	--dir "$HB_TMP" --logfile "$HB_TMP/redis.log" >/dev/null 2>&1 </dev/null &
bg_pid $!
wait_port "$NS" 6390 || diag "redis-server did not start"
# redis-cli sets SO_KEEPALIVE, TCP_KEEPIDLE 15, TCP_KEEPINTVL 5, TCP_KEEPCNT 3 after connect
# (checked here without the shim, so that the test notices if that ever changes)
plain strace -f -e trace=setsockopt -o "$HB_TMP/rc.st" redis-cli -h 127.0.0.1 -p 6390 PING >/dev/null 2>&1
check_lines "redis-cli without the shim sets keepalive itself (strace)" \
	"SO_KEEPALIVE=1 TCP_KEEPCNT=3 TCP_KEEPIDLE=15 TCP_KEEPINTVL=5" "$(setsockopts "$HB_TMP/rc.st")"
out=$(shimmed HB_LOG=info HB_KEEPIDLE=30 HB_KEEPINTVL=5 HB_KEEPCNT=4 \
	redis-cli -h 127.0.0.1 -p 6390 PING 2>"$HB_TMP/err")
check_lines "README's redis-cli example: PONG" "PONG" "$out"
check_lines "README's redis-cli example: the shim's line, then the override line" \
	"libhbshim: fd 3 inet: keepalive on idle 30 intvl 5 cnt 4 (4 setsockopt)"$'\n'"libhbshim: fd 3: program set TCP_KEEPIDLE 15; HB_FORCE=1 overrides" \
	"$(sed -E 's/fd [0-9]+/fd 3/' "$HB_TMP/err")"
# what the connection ends with: redis-cli's values, or with HB_FORCE=1 the shim's
strace_vals() { # the last value set per option, as the kernel has it at the end
	awk -F'[][]' '/setsockopt\(3, SOL_(TCP|SOCKET), (SO_KEEPALIVE|TCP_KEEP)/ {
		split($1, a, ", "); v[a[3]] = $2 } END { printf "ka=%s idle=%s intvl=%s cnt=%s",
		v["SO_KEEPALIVE"], v["TCP_KEEPIDLE"], v["TCP_KEEPINTVL"], v["TCP_KEEPCNT"] }' "$1"
}
nsenter --net="/run/netns/$NS" strace -e trace=setsockopt -o "$HB_TMP/rc2.st" env LD_PRELOAD="$PRE" \
	HB_KEEPIDLE=30 HB_KEEPINTVL=5 HB_KEEPCNT=4 redis-cli -h 127.0.0.1 -p 6390 PING >/dev/null 2>&1
check_lines "redis-cli under the shim: the connection ends at redis-cli's 15/5/3 (strace)" \
	"ka=1 idle=15 intvl=5 cnt=3" "$(strace_vals "$HB_TMP/rc2.st")"
nsenter --net="/run/netns/$NS" strace -e trace=setsockopt -o "$HB_TMP/rc3.st" env LD_PRELOAD="$PRE" \
	HB_KEEPIDLE=30 HB_KEEPINTVL=5 HB_KEEPCNT=4 HB_FORCE=1 redis-cli -h 127.0.0.1 -p 6390 PING \
	>/dev/null 2>&1
check_lines "redis-cli under the shim with HB_FORCE=1: the shim's 30/5/4 (strace)" \
	"ka=1 idle=30 intvl=5 cnt=4" "$(strace_vals "$HB_TMP/rc3.st")"
shimmed HB_LOG=info HB_FORCE=1 HB_KEEPIDLE=30 redis-cli -h 127.0.0.1 -p 6390 PING >/dev/null 2>"$HB_TMP/err"
check_lines "redis-cli with HB_FORCE=1: no override line (nothing was overridden)" \
	"0" "$(grep -c 'program set' "$HB_TMP/err")"

# redis-server: its accepted connections get its tcp-keepalive 300 (TCP_KEEPIDLE 300)
in_ns "$NS" env LD_PRELOAD="$PRE" HB_LOG=info HB_LOG_FILE="$HB_TMP/srv.log" redis-server --port 6391 \
	--bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$HB_TMP" \
	--logfile "$HB_TMP/redis2.log" >/dev/null 2>&1 </dev/null &
bg_pid $!
wait_port "$NS" 6391 || diag "redis-server under the shim did not start"
plain redis-cli -h 127.0.0.1 -p 6391 PING >/dev/null 2>&1
plain redis-cli -h 127.0.0.1 -p 6391 PING >/dev/null 2>&1
for ((i = 0; i < 40; i++)); do
	[ "$(grep -c 'program set' "$HB_TMP/srv.log" 2>/dev/null)" -ge 2 ] && break
	sleep 0.05
done
check_lines "redis-server under the shim: one override line per accepted connection (2)" "2" \
	"$(grep -c -E '^libhbshim: fd [0-9]+: program set TCP_KEEPIDLE 300; HB_FORCE=1 overrides$' "$HB_TMP/srv.log")"

# curl: sets SO_KEEPALIVE, TCP_KEEPIDLE 60 and TCP_KEEPINTVL 60 itself
mkdir -p "$HB_TMP/www" && echo hi >"$HB_TMP/www/x"
in_ns "$NS" "$PY" -m http.server --bind 127.0.0.1 --directory "$HB_TMP/www" 8080 >/dev/null 2>&1 </dev/null &
bg_pid $!
wait_port "$NS" 8080 || diag "http.server did not start"
if timeout 10 env LD_PRELOAD="$PRE" curl --version >/dev/null 2>&1; then
	out=$(shimmed HB_LOG=info HB_KEEPIDLE=30 curl -s http://127.0.0.1:8080/x 2>"$HB_TMP/err")
	check_lines "curl under the shim: its answer" "hi" "$out"
	check_lines "curl under the shim: the shim's line, then the override line" \
		"libhbshim: fd 5 inet: keepalive on idle 30 intvl 10 cnt 6 (4 setsockopt)"$'\n'"libhbshim: fd 5: program set TCP_KEEPIDLE 60; HB_FORCE=1 overrides" \
		"$(sed -E 's/fd [0-9]+/fd 5/' "$HB_TMP/err")"
else
	skip "curl does not start with LD_PRELOAD=$PRE (sanitizer runtime)"
	skip "curl does not start with LD_PRELOAD=$PRE (sanitizer runtime)"
fi
exit 0
