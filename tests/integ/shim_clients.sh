#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# libhbshim under real clients and servers, in a private network namespace: the options each
# connection carries, read from inside the process (getsockopt in python3 and in our helper;
# pidfd_getfd + getsockopt for curl, redis-cli and redis-server, which we cannot modify) and
# from outside (`ss -tnoe` shows timer:(keepalive,...)). IPv4 and IPv6, client and server
# side, the application's own choices against HB_FORCE, the match list, and the exact output
# of curl, python3 and redis-cli with and without the shim.
. "$(dirname "$0")/_lib.sh"
need_root
need_cmd ss nsenter curl redis-server redis-cli
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip_all "needs python3"
need_built "$HELPERS"/{ka_client,holdsrv,sockpeek}
unset_hb_env

# check_eq, with multi-line values shown on one line (so that diag output stays TAP comments)

NS=$(netns_new clients) || { echo "Bail out! cannot create a network namespace"; exit 1; }
PRE=$(hb_preload)
KA=$HELPERS/ka_client
# What a connection carries: the shim's defaults, the policy used below, and nothing (the
# kernel defaults of a fresh namespace: sysctls 7200/75/9).
DEF="ka=1 idle=60 intvl=10 cnt=6 uto=0"
POLICY=(HB_KEEPIDLE=37 HB_KEEPINTVL=7 HB_KEEPCNT=4 HB_USER_TIMEOUT=9s)
POL="ka=1 idle=37 intvl=7 cnt=4 uto=9000"
NONE="ka=0 idle=7200 intvl=75 cnt=9 uto=0"

# plain CMD... / shimmed [VAR=VAL...] CMD...: run in the namespace, without / with the shim.
# plain, shimmed and bg (_lib.sh) run programs in $NS, the shim ($PRE) in CMD only
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# finish PID: wait up to 15 s for PID to exit by itself, then kill it; its status, or 124
finish() {
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "$1" 2>/dev/null || { wait "$1"; return; }
		sleep 0.05
	done
	stop "$1"
	return 124
}
# wait_lines FILE N: until FILE has N lines (15 s)
wait_lines() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ -e "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
# peek PID PORT: "LPORT RPORT ka=.. idle=.. intvl=.. cnt=.. uto=.." for each established TCP
# connection of PID with local or remote port PORT, read from the socket itself with
# pidfd_getfd (waits up to 15 s for one to appear)
peek() {
	local i out l r
	for ((i = 0; i < 300; i++)); do
		out=$("$HELPERS/sockpeek" "$1" "$2" 2>/dev/null | grep -v ' R=\* ')
		[ -n "$out" ] && break
		sleep 0.05
	done
	[ -n "$out" ] || return 1
	while read -r l r rest; do
		l=${l##*:} r=${r##*:}
		echo "$l $r $rest"
	done <<<"$out"
}
# ss_ms TEXT: an ss timer as milliseconds: 1min30sec, 59sec, 500ms, and 6.688ms, which
# iproute2 6.1 prints for 6.688 s (DESIGN.md)
ss_ms() {
	local t=$1 ms=0
	if [[ $t == *min* ]]; then ms=$((${t%%min*} * 60000)); t=${t#*min}; fi
	if [[ $t =~ ^([0-9]+)sec$ ]]; then ms=$((ms + BASH_REMATCH[1] * 1000))
	elif [[ $t =~ ^([0-9]+)\.([0-9]{3})ms$ ]]; then ms=$((ms + 10#${BASH_REMATCH[1]} * 1000 + 10#${BASH_REMATCH[2]}))
	elif [[ $t =~ ^([0-9]+)ms$ ]]; then ms=$((ms + BASH_REMATCH[1]))
	elif [ -n "$t" ]; then echo "unparsed:$1"; return; fi
	echo "$ms"
}
# ka_timer PEEKLINE: the keepalive timer of the established connection LPORT -> RPORT (the
# first two fields of a peek line) as ss sees it from outside, in ms; "none" when it has no
# keepalive timer
ka_timer() {
	local line i lp rp
	read -r lp rp _ <<<"$1"
	for ((i = 0; i < 40; i++)); do
		line=$(plain ss -tnoH state established "( sport = :$lp and dport = :$rp )")
		case $line in
		"") echo "no connection"; return ;;
		*"timer:(on,"* | *"timer:(persist,"*) sleep 0.05 ;; # data in flight: look again
		*) break ;;
		esac
	done
	case $line in *"timer:(keepalive,"*) ;; *) echo none; return ;; esac
	line=${line#*timer:(keepalive,}
	ss_ms "${line%%,*}"
}
# check_timer DESC PEEKLINE IDLE: ss shows a keepalive timer for the connection, at most IDLE
# seconds and more than IDLE-8 (the connection is a few seconds old at most; 8 s keeps the
# values used here apart: 15, 37, 45, 60, 300)
check_timer() {
	local t
	t=$(ka_timer "$2")
	if [[ $t =~ ^[0-9]+$ ]] && [ "$t" -le $(($3 * 1000)) ] && [ "$t" -gt $(($3 * 1000 - 8000)) ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "expected timer:(keepalive,...) in ($(($3 - 8)) s, $3 s], got: $t"
		plain ss -tnoe | sed 's/^/#   /'
	fi
}
# opts LINE: the "ka=... uto=..." part of a peek line
opts() { echo "${1#* * }"; }

# ---- servers, all inside the namespace ----------------------------------------------------
bg "$HB_TMP/hold" plain "$HELPERS/holdsrv" 127.0.0.1 7001 127.0.0.2 7002 ::1 7001 ::1 7003
mkdir -p "$HB_TMP/www"
printf 'hello from hbkeep\nline two\n\tbytes: \001\377 end' >"$HB_TMP/www/hello.txt"
bg "$HB_TMP/http" plain "$PY" -m http.server --bind 127.0.0.1 --directory "$HB_TMP/www" 8080
# /wait/NAME answers only once $HB_TMP/release-NAME exists: a client that stays connected
cat >"$HB_TMP/slow.py" <<'EOF'
import http.server, os, socket, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        for _ in range(500):
            if os.path.exists(os.path.join(sys.argv[3], "release-" + name)):
                break
            time.sleep(0.05)
        body = ("slow %s\n" % name).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
EOF
bg "$HB_TMP/slow" plain "$PY" "$HB_TMP/slow.py" 127.0.0.1 8090 "$HB_TMP"
redis() { # redis PORT plain|shim [VAR=VAL...] [--ARGS...]: a redis-server of ours in the namespace
	local port=$1 mode=$2 env=()
	shift 2
	while [ $# -gt 0 ] && [[ $1 == *=* ]]; do env+=("$1"); shift; done
	bg "$HB_TMP/redis$port" "$mode" "${env[@]}" redis-server --port "$port" --bind '127.0.0.1 ::1' --save '' \
		--appendonly no --daemonize no --dir "$HB_TMP" --logfile "$HB_TMP/redis$port.log" "$@"
}
redis 6390 plain
for p in 7001 7002 7003 8080 8090 6390; do
	wait_port "$NS" "$p" || { echo "Bail out! no server on port $p in $NS"; exit 1; }
done

# ---- 1. our C client: every option exactly, IPv4 and IPv6 -----------------------------------
check_lines "no shim: a fresh namespace gives no keepalive (sysctls 7200/75/9)" "$NONE" \
	"$(plain "$KA" 127.0.0.1 7001)"
check_lines "C client, IPv4, nothing set: the defaults 60/10/6" "$DEF" "$(shimmed "$KA" 127.0.0.1 7001)"
check_lines "C client, IPv6 ::1, nothing set: the defaults" "$DEF" "$(shimmed "$KA" ::1 7001)"
check_lines "C client, IPv4: HB_KEEPIDLE/INTVL/CNT/USER_TIMEOUT exactly" "$POL" \
	"$(shimmed "${POLICY[@]}" "$KA" 127.0.0.1 7001)"
check_lines "C client, IPv6: HB_KEEPIDLE/INTVL/CNT/USER_TIMEOUT exactly" "$POL" \
	"$(shimmed "${POLICY[@]}" "$KA" ::1 7001)"
check_lines "C client, IPv4-mapped IPv6 destination" "$POL" \
	"$(shimmed "${POLICY[@]}" "$KA" ::ffff:127.0.0.1 7001)"
check_lines "C client, SOCK_NONBLOCK|SOCK_CLOEXEC (flags kept, non-blocking connect)" "$POL" \
	"$(shimmed "${POLICY[@]}" "$KA" -n 127.0.0.1 7001)"
check_lines "C client, protocol IPPROTO_TCP" "$POL" "$(shimmed "${POLICY[@]}" "$KA" -P ::1 7001)"
check_lines "C client, fd number reused after the app set options on a closed socket" "$POL" \
	"$(shimmed "${POLICY[@]}" "$KA" -r 127.0.0.1 7001)"
check_lines "durations with units: 2m, 15s, 1500ms (cnt: the default 6)" "ka=1 idle=120 intvl=15 cnt=6 uto=1500" \
	"$(shimmed HB_KEEPIDLE=2m HB_KEEPINTVL=15s HB_USER_TIMEOUT=1500ms "$KA" 127.0.0.1 7001)"
check_lines "durations with units: 1h idle, 1h user timeout (intvl, cnt: the defaults)" "ka=1 idle=3600 intvl=10 cnt=6 uto=3600000" \
	"$(shimmed HB_KEEPIDLE=1h HB_USER_TIMEOUT=1h "$KA" 127.0.0.1 7001)"
check_lines "bare integer user timeout is seconds" "ka=1 idle=60 intvl=10 cnt=6 uto=12000" \
	"$(shimmed HB_USER_TIMEOUT=12 "$KA" 127.0.0.1 7001)"

# from outside: ss sees the keepalive timer of the connection the C client holds open
for dst in 127.0.0.1 ::1; do
	bg "$HB_TMP/kac" shim "${POLICY[@]}" "$KA" -w 30 "$dst" 7001
	if c=$(peek "$BG" 7001); then
		check_lines "C client, $dst: the process's socket (pidfd_getfd) carries the policy" "$POL" "$(opts "$c")"
		check_timer "C client, $dst: ss shows timer:(keepalive) of at most 37 s" "$c" 37
	else
		not_ok "C client, $dst: connection not found"; not_ok "C client, $dst: ss"
	fi
	stop "$BG"
done

# ---- the application's own setsockopt() wins, unless HB_FORCE=1 ----------------------------
check_lines "app sets TCP_KEEPIDLE=45 before connect: app wins, the rest is the policy" \
	"ka=1 idle=45 intvl=7 cnt=4 uto=9000" "$(shimmed "${POLICY[@]}" "$KA" -s idle=45 127.0.0.1 7001)"
check_lines "HB_FORCE=1: policy overrides the app's TCP_KEEPIDLE before connect" "$POL" \
	"$(shimmed "${POLICY[@]}" HB_FORCE=1 "$KA" -s idle=45 127.0.0.1 7001)"
check_lines "app sets TCP_KEEPIDLE=45 after connect: app wins" "ka=1 idle=45 intvl=7 cnt=4 uto=9000" \
	"$(shimmed "${POLICY[@]}" "$KA" -S idle=45 ::1 7001)"
check_lines "HB_FORCE=1: policy overrides the app's TCP_KEEPIDLE after connect" "$POL" \
	"$(shimmed "${POLICY[@]}" HB_FORCE=1 "$KA" -S idle=45 ::1 7001)"
check_lines "app turns SO_KEEPALIVE off: app wins" "ka=0 idle=37 intvl=7 cnt=4 uto=9000" \
	"$(shimmed "${POLICY[@]}" "$KA" -S ka=0 127.0.0.1 7001)"
check_lines "HB_FORCE=1: SO_KEEPALIVE stays on" "$POL" \
	"$(shimmed "${POLICY[@]}" HB_FORCE=1 "$KA" -S ka=0 127.0.0.1 7001)"
check_lines "app sets TCP_USER_TIMEOUT, TCP_KEEPCNT, TCP_KEEPINTVL: app wins" \
	"ka=1 idle=37 intvl=3 cnt=2 uto=1000" \
	"$(shimmed "${POLICY[@]}" "$KA" -s uto=1000 -s cnt=2 -S intvl=3 127.0.0.1 7001)"
check_lines "HB_FORCE=1: policy overrides TCP_USER_TIMEOUT, TCP_KEEPCNT, TCP_KEEPINTVL" "$POL" \
	"$(shimmed "${POLICY[@]}" HB_FORCE=1 "$KA" -s uto=1000 -s cnt=2 -S intvl=3 127.0.0.1 7001)"
bg "$HB_TMP/kaoff" shim "${POLICY[@]}" "$KA" -S ka=0 -w 30 127.0.0.1 7001
if c=$(peek "$BG" 7001); then
	check_lines "app turned keepalive off: ss shows no keepalive timer" none "$(ka_timer "$c")"
else
	not_ok "app turned keepalive off: connection not found"
fi
stop "$BG"
bg "$HB_TMP/kaforce" shim "${POLICY[@]}" HB_FORCE=1 "$KA" -S ka=0 -w 30 127.0.0.1 7001
if c=$(peek "$BG" 7001); then
	check_timer "HB_FORCE=1 against the app's SO_KEEPALIVE=0: ss shows the keepalive timer" "$c" 37
else
	not_ok "HB_FORCE=1: connection not found"
fi
stop "$BG"

# ---- python3 (sockets with SOCK_CLOEXEC, protocol IPPROTO_TCP from getaddrinfo) ------------
PYCLI='import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
g, T = s.getsockopt, socket.IPPROTO_TCP
print("ka=%d idle=%d intvl=%d cnt=%d uto=%d" % (g(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
      g(T, socket.TCP_KEEPIDLE), g(T, socket.TCP_KEEPINTVL), g(T, socket.TCP_KEEPCNT),
      g(T, socket.TCP_USER_TIMEOUT)), flush=True)
if len(sys.argv) > 3:
    time.sleep(float(sys.argv[3]))'
check_lines "python3 without the shim: no keepalive" "$NONE" "$(plain "$PY" -c "$PYCLI" 127.0.0.1 7001)"
for dst in 127.0.0.1 ::1; do
	bg "$HB_TMP/py" shim "${POLICY[@]}" "$PY" -c "$PYCLI" "$dst" 7001 30
	wait_lines "$HB_TMP/py" 1
	check_lines "python3, $dst: getsockopt inside the process" "$POL" "$(cat "$HB_TMP/py")"
	if c=$(peek "$BG" 7001); then
		check_timer "python3, $dst: ss shows timer:(keepalive) of at most 37 s" "$c" 37
	else
		not_ok "python3, $dst: connection not found"
	fi
	check_lines "python3, $dst: nothing on stderr" "" "$(cat "$HB_TMP/py.err")"
	stop "$BG"
done
check_lines "python3, nothing set: the defaults" "$DEF" "$(shimmed "$PY" -c "$PYCLI" ::1 7003)"

# ---- curl: it sets SO_KEEPALIVE, TCP_KEEPIDLE=60 and TCP_KEEPINTVL=60 itself (its
# --keepalive-time default), not TCP_KEEPCNT nor TCP_USER_TIMEOUT. Its choice wins; the shim
# fills in the rest; HB_FORCE=1 overrides; with --no-keepalive it does nothing itself. -------
# With a sanitizer build the shim comes with libasan preloaded, and Debian's curl hangs in
# setlocale() at startup with libasan preloaded, shim or no shim (`curl --version` does):
# then the curl cases under the shim cannot run.
curl_shim=
if ! timeout 10 env LD_PRELOAD="$PRE" curl --version >/dev/null 2>&1; then
	curl_shim="curl does not start with LD_PRELOAD=$PRE (sanitizer runtime; curl --version hangs)"
fi
curl_case() { # DESC EXPECT TIMER_S|none MODE [VAR=VAL...] -- [CURL ARGS...]
	local desc=$1 exp=$2 timer=$3 mode=$4 env=() name c
	shift 4
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	if [ "$mode" = shim ] && [ -n "$curl_shim" ]; then
		skip "$curl_shim"; skip "$curl_shim"; skip "$curl_shim"
		return
	fi
	name=c$RANDOM$RANDOM
	bg "$HB_TMP/curl" "$mode" "${env[@]}" curl -s "$@" "http://127.0.0.1:8090/wait/$name"
	if c=$(peek "$BG" 8090); then
		check_lines "curl $desc: socket options (pidfd_getfd)" "$exp" "$(opts "$c")"
		if [ "$timer" = none ]; then
			check_lines "curl $desc: ss shows no keepalive timer" none "$(ka_timer "$c")"
		else
			check_timer "curl $desc: ss shows timer:(keepalive) of at most $timer s" "$c" "$timer"
		fi
	else
		not_ok "curl $desc: connection not found"; not_ok "curl $desc: ss"
	fi
	touch "$HB_TMP/release-$name"
	finish "$BG"
	check_lines "curl $desc: completes with the server's answer (exit 0)" "0 slow $name" \
		"$? $(cat "$HB_TMP/curl")"
}
curl_case "without the shim (its own keepalive)" "ka=1 idle=60 intvl=60 cnt=9 uto=0" 60 plain --
curl_case "under the shim: its idle/intvl win, cnt and user timeout from the shim" \
	"ka=1 idle=60 intvl=60 cnt=4 uto=9000" 60 shim "${POLICY[@]}" --
curl_case "--keepalive-time 45 under the shim" "ka=1 idle=45 intvl=45 cnt=4 uto=9000" 45 \
	shim "${POLICY[@]}" -- --keepalive-time 45
curl_case "under the shim with HB_FORCE=1" "$POL" 37 shim "${POLICY[@]}" HB_FORCE=1 --
curl_case "--no-keepalive without the shim" "$NONE" none plain -- --no-keepalive
curl_case "--no-keepalive under the shim: all the shim's" "$POL" 37 shim "${POLICY[@]}" -- --no-keepalive
curl_case "--no-keepalive, shim defaults" "$DEF" 60 shim -- --no-keepalive

# exact output: curl, python3 with the shim and without
same_output() { # DESC CMD...: stdout byte-identical with and without the shim, stderr empty
	local d=$1
	shift
	plain "$@" >"$HB_TMP/o.plain" 2>"$HB_TMP/e.plain"
	local rp=$?
	shimmed "${POLICY[@]}" "$@" >"$HB_TMP/o.shim" 2>"$HB_TMP/e.shim"
	local rs=$?
	if [ "$rp" -eq 0 ] && [ "$rs" -eq 0 ] && [ -s "$HB_TMP/o.plain" ] &&
		cmp -s "$HB_TMP/o.plain" "$HB_TMP/o.shim"; then
		ok "$d: stdout byte-identical with and without the shim"
	else
		not_ok "$d: stdout byte-identical with and without the shim"
		diag "exit $rp / $rs"; diff <(od -c "$HB_TMP/o.plain") <(od -c "$HB_TMP/o.shim") | head -5 | sed 's/^/#   /'
	fi
	check_lines "$d: stderr empty under the shim" "" "$(cat "$HB_TMP/e.shim")"
}
if [ -z "$curl_shim" ]; then
	same_output "curl -s URL" curl -s http://127.0.0.1:8080/hello.txt
	check "curl -s URL: the file, byte for byte" cmp -s "$HB_TMP/o.shim" "$HB_TMP/www/hello.txt"
	same_output "curl -s -i (headers minus Date)" sh -c \
		'curl -s -i http://127.0.0.1:8080/hello.txt | grep -av "^Date:"'
else
	for i in 1 2 3 4 5; do skip "$curl_shim"; done
fi
same_output "python3 urllib GET" "$PY" -c 'import sys, urllib.request
sys.stdout.buffer.write(urllib.request.urlopen("http://127.0.0.1:8080/hello.txt").read())'
same_output "redis-cli PING" redis-cli -h 127.0.0.1 -p 6390 PING
same_output "redis-cli SET" redis-cli -h 127.0.0.1 -p 6390 SET hbk 'v a l u e'
same_output "redis-cli GET" redis-cli -h 127.0.0.1 -p 6390 GET hbk
check_lines "redis-cli GET under the shim returns the value" "v a l u e" "$(cat "$HB_TMP/o.shim")"
same_output "redis-cli GET missing key, IPv6" redis-cli -h ::1 -p 6390 GET nokey

# ---- redis-cli: anetKeepAlive(fd, 15) sets SO_KEEPALIVE, TCP_KEEPIDLE=15, TCP_KEEPINTVL=5,
# TCP_KEEPCNT=3 itself after connect (REDIS_CLI_KEEPALIVE_INTERVAL); no TCP_USER_TIMEOUT ---------
redis_cli_case() { # DESC EXPECT TIMER_S MODE HOST [VAR=VAL...]
	local desc=$1 exp=$2 timer=$3 mode=$4 host=$5 c
	shift 5
	bg "$HB_TMP/sub" "$mode" "$@" redis-cli -h "$host" -p 6390 SUBSCRIBE hbch
	if wait_lines "$HB_TMP/sub" 3 && c=$(peek "$BG" 6390); then
		check_lines "redis-cli $desc: socket options (pidfd_getfd)" "$exp" "$(opts "$c")"
		check_timer "redis-cli $desc: ss shows timer:(keepalive) of at most $timer s" "$c" "$timer"
	else
		not_ok "redis-cli $desc: SUBSCRIBE connection not found"; not_ok "redis-cli $desc: ss"
	fi
	stop "$BG"
}
redis_cli_case "without the shim (its own 15/5/3)" "ka=1 idle=15 intvl=5 cnt=3 uto=0" 15 plain 127.0.0.1
redis_cli_case "under the shim: its own keepalive wins, user timeout from the shim" \
	"ka=1 idle=15 intvl=5 cnt=3 uto=9000" 15 shim 127.0.0.1 "${POLICY[@]}"
redis_cli_case "under the shim with HB_FORCE=1" "$POL" 37 shim 127.0.0.1 "${POLICY[@]}" HB_FORCE=1
redis_cli_case "IPv6 under the shim with HB_FORCE=1" "$POL" 37 shim ::1 "${POLICY[@]}" HB_FORCE=1

# ---- servers under the shim: accepted sockets carry the options -----------------------------
bg "$HB_TMP/srv" shim "${POLICY[@]}" "$HELPERS/holdsrv" -p 127.0.0.1 7101 ::1 7101
srv=$BG
if wait_port "$NS" 7101; then
	for dst in 127.0.0.1 ::1; do
		bg "$HB_TMP/cli" plain "$KA" -w 30 "$dst" 7101
		n=$([ "$dst" = ::1 ] && echo 2 || echo 1)
		wait_lines "$HB_TMP/srv" "$n"
		check_lines "C server under the shim, $dst: accepted socket (getsockopt inside)" "$POL" \
			"$(sed -n "${n}p" "$HB_TMP/srv")"
		check_lines "C server, $dst: the client without the shim has no keepalive" "$NONE" "$(cat "$HB_TMP/cli")"
		cp=$(peek "$BG" 7101) && cp=${cp%% *}
		if c=$(peek "$srv" 7101 | grep "^7101 $cp "); then
			check_timer "C server, $dst: ss shows the accepted connection's keepalive timer" "$c" 37
		else
			not_ok "C server, $dst: accepted connection not found"
		fi
		stop "$BG"
	done
else
	not_ok "C server under the shim: not listening"
fi
stop "$srv"
PYSRV='import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
l = socket.socket(fam, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen()
c, _ = l.accept()
g, T = c.getsockopt, socket.IPPROTO_TCP
print("ka=%d idle=%d intvl=%d cnt=%d uto=%d" % (g(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
      g(T, socket.TCP_KEEPIDLE), g(T, socket.TCP_KEEPINTVL), g(T, socket.TCP_KEEPCNT),
      g(T, socket.TCP_USER_TIMEOUT)), flush=True)
c.recv(1)'
for dst in 127.0.0.1 ::1; do
	bg "$HB_TMP/pysrv" shim "${POLICY[@]}" "$PY" -c "$PYSRV" "$dst" 7102
	srv=$BG
	if wait_port "$NS" 7102; then
		bg "$HB_TMP/cli" plain "$KA" -w 30 "$dst" 7102
		wait_lines "$HB_TMP/pysrv" 1
		check_lines "python3 server under the shim, $dst: accepted socket (getsockopt inside)" "$POL" \
			"$(cat "$HB_TMP/pysrv")"
		if c=$(peek "$srv" 7102 | grep "^7102 "); then
			check_timer "python3 server, $dst: ss shows the accepted connection's keepalive timer" "$c" 37
		else
			not_ok "python3 server, $dst: accepted connection not found"
		fi
		stop "$BG"
	else
		not_ok "python3 server under the shim, $dst: not listening"
	fi
	stop "$srv"
done
# redis-server sets its own keepalive on accepted clients (tcp-keepalive 300: anetKeepAlive
# -> 300/100/3); with --tcp-keepalive 0 it sets none and the accepted socket keeps what it
# inherited from the listener, i.e. the shim's.
redis 6391 shim "${POLICY[@]}" --tcp-keepalive 0
rs0=$BG
redis 6392 shim "${POLICY[@]}"
rs300=$BG
wait_port "$NS" 6391 && wait_port "$NS" 6392
bg "$HB_TMP/sub6391" plain redis-cli -h 127.0.0.1 -p 6391 SUBSCRIBE hbch
sub6391=$BG
bg "$HB_TMP/sub6392" plain redis-cli -h 127.0.0.1 -p 6392 SUBSCRIBE hbch
sub6392=$BG
if c=$(peek "$rs0" 6391 | grep "^6391 "); then
	check_lines "redis-server --tcp-keepalive 0 under the shim: accepted client carries the policy" \
		"$POL" "$(opts "$c")"
	check_timer "redis-server --tcp-keepalive 0 under the shim: ss on the server side" "$c" 37
else
	not_ok "redis-server --tcp-keepalive 0: accepted connection not found"; not_ok "redis-server: ss"
fi
if c=$(peek "$rs300" 6392 | grep "^6392 "); then
	check_lines "redis-server (tcp-keepalive 300) under the shim: its own 300/100/3 wins, user timeout inherited" \
		"ka=1 idle=300 intvl=100 cnt=3 uto=9000" "$(opts "$c")"
	check_timer "redis-server (tcp-keepalive 300): ss shows its 300 s timer" "$c" 300
else
	not_ok "redis-server (tcp-keepalive 300): accepted connection not found"; not_ok "redis-server: ss"
fi
check_lines "redis-server under the shim: redis-cli PING" PONG "$(plain redis-cli -h ::1 -p 6392 PING)"
check_lines "redis-server under the shim: nothing on stderr" "" "$(cat "$HB_TMP/redis6391.err" "$HB_TMP/redis6392.err")"
stop "$sub6391"; stop "$sub6392"; stop "$rs0"; stop "$rs300"

# ---- the match list: one destination included, another not -----------------------------------
match() { # DESC HB_MATCH EXPECT1 EXPECT2 HOST1 PORT1 HOST2 PORT2
	check_lines "HB_MATCH='$2': $1" "$3"$'\n'"$4" \
		"$(shimmed "${POLICY[@]}" HB_MATCH="$2" "$KA" "$5" "$6" "$7" "$8" 2>&1)"
}
match "included address managed, other not" 127.0.0.1 "$POL" "$NONE" 127.0.0.1 7001 127.0.0.2 7002
match "host:port" 127.0.0.2:7002 "$NONE" "$POL" 127.0.0.1 7001 127.0.0.2 7002
match "port only" :7001 "$POL" "$NONE" 127.0.0.1 7001 127.0.0.2 7002
match "exclusion only" '!127.0.0.2' "$POL" "$NONE" 127.0.0.1 7001 127.0.0.2 7002
match "prefix with an excluded port" '127.0.0.0/8,!:7002' "$POL" "$NONE" 127.0.0.1 7001 127.0.0.2 7002
match "several includes" '10.0.0.0/8,127.0.0.2/32' "$NONE" "$POL" 127.0.0.1 7001 127.0.0.2 7002
match "no include matches" 10.0.0.0/8 "$NONE" "$NONE" 127.0.0.1 7001 127.0.0.2 7002
match "IPv6 [::1]:port" '[::1]:7001' "$POL" "$NONE" ::1 7001 ::1 7003
match "IPv6 prefix, excluded port" '[::1]/128,!:7003' "$POL" "$NONE" ::1 7001 ::1 7003
match "IPv4 pattern does not match IPv6" 127.0.0.1 "$POL" "$NONE" 127.0.0.1 7001 ::1 7001
match "IPv4-mapped destination matched as IPv4" 127.0.0.2 "$NONE" "$POL" ::ffff:127.0.0.1 7001 ::ffff:127.0.0.2 7002
check_lines "HB_MATCH with the app's own TCP_KEEPIDLE: app wins" "ka=1 idle=45 intvl=7 cnt=4 uto=9000" \
	"$(shimmed "${POLICY[@]}" HB_MATCH=:7001 "$KA" -s idle=45 127.0.0.1 7001)"
check_lines "HB_MATCH with HB_FORCE=1: policy overrides the app's TCP_KEEPIDLE" "$POL" \
	"$(shimmed "${POLICY[@]}" HB_MATCH=:7001 HB_FORCE=1 "$KA" -s idle=45 127.0.0.1 7001)"
check_lines "HB_MATCH excluded destination, app's TCP_KEEPIDLE kept, nothing else" \
	"ka=0 idle=45 intvl=75 cnt=9 uto=0" \
	"$(shimmed "${POLICY[@]}" HB_MATCH=:7002 HB_FORCE=1 "$KA" -s idle=45 127.0.0.1 7001)"
bg "$HB_TMP/m" shim "${POLICY[@]}" HB_MATCH=:7001 "$KA" -w 30 127.0.0.1 7001 127.0.0.2 7002
if wait_lines "$HB_TMP/m" 2 && c1=$(peek "$BG" 7001 | grep " 7001 ") && c2=$(peek "$BG" 7002 | grep " 7002 "); then
	check_timer "HB_MATCH=:7001: ss shows the keepalive timer on the included connection" "$c1" 37
	check_lines "HB_MATCH=:7001: ss shows no keepalive timer on the excluded one" none "$(ka_timer "$c2")"
else
	not_ok "HB_MATCH: connections not found"; not_ok "HB_MATCH: ss"
fi
stop "$BG"
# listen(): the local address is matched
bg "$HB_TMP/msrv" shim "${POLICY[@]}" HB_MATCH=:7201 "$HELPERS/holdsrv" -p 127.0.0.1 7201 127.0.0.1 7202
srv=$BG
if wait_port "$NS" 7201 && wait_port "$NS" 7202; then
	bg "$HB_TMP/c1" plain "$KA" -w 30 127.0.0.1 7201
	c1=$BG
	wait_lines "$HB_TMP/msrv" 1
	bg "$HB_TMP/c2" plain "$KA" -w 30 127.0.0.1 7202
	c2=$BG
	wait_lines "$HB_TMP/msrv" 2
	check_lines "HB_MATCH=:7201 server: accepted on the included port carries the policy, the other not" \
		"$POL"$'\n'"$NONE" "$(cat "$HB_TMP/msrv")"
	if c=$(peek "$srv" 7201 | grep "^7201 "); then
		check_timer "HB_MATCH=:7201 server: ss shows the timer on the included port" "$c" 37
	else
		not_ok "HB_MATCH=:7201 server: connection not found"
	fi
	if c=$(peek "$srv" 7202 | grep "^7202 "); then
		check_lines "HB_MATCH=:7201 server: ss shows no timer on the other port" none "$(ka_timer "$c")"
	else
		not_ok "HB_MATCH=:7201 server: connection on 7202 not found"
	fi
	stop "$c1"; stop "$c2"
else
	not_ok "HB_MATCH server: not listening"
fi
stop "$srv"
exit 0
