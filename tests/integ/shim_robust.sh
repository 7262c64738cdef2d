#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# libhbshim robustness: 32 threads, fork and exec, another library's constructor calling
# socket() before ours, no descriptor left behind (the log file's close-on-exec), the app
# seeing exactly what libc returns (values, errno, flags), and exactly which setsockopt()
# calls each kind of socket costs (strace): none for UDP, AF_UNIX, raw, MPTCP; 4 for TCP in a
# fresh namespace, fewer where the namespace's sysctl already has the value.
. "$(dirname "$0")/_lib.sh"
need_root
need_cmd ss nsenter strace sysctl
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip_all "needs python3"
need_built "$HELPERS"/{ka_client,holdsrv,ka_threads,fdlist,errprobe,sockkinds,ctor.so}
unset_hb_env

NS=$(netns_new robust) || { echo "Bail out! cannot create a network namespace"; exit 1; }
PRE=$(hb_preload)
KA=$HELPERS/ka_client
POLICY=(HB_KEEPIDLE=37 HB_KEEPINTVL=7 HB_KEEPCNT=4 HB_USER_TIMEOUT=9s)
POL="ka=1 idle=37 intvl=7 cnt=4 uto=9000"
DEF="ka=1 idle=60 intvl=10 cnt=6 uto=0"


bg "$HB_TMP/hold" plain "$HELPERS/holdsrv" 127.0.0.1 7001 ::1 7001
wait_port "$NS" 7001 || { echo "Bail out! holdsrv not listening"; exit 1; }

# ---- threads -------------------------------------------------------------------------------
out=$(plain "$HELPERS/ka_threads" 32 100 0 7200 75 9 0 2>&1)
check "ka_threads without the shim: its checks hold (sanity)" [ $? -eq 0 ]
out=$(shimmed "$HELPERS/ka_threads" 32 100 1 60 10 6 0 2>&1)
rc=$?
check_lines "32 threads x 100 sockets concurrently, defaults: every socket right" \
	"0 ops=3200 mismatches=0 forks=0 fork_failures=0" "$rc $out"
out=$(shimmed "${POLICY[@]}" "$HELPERS/ka_threads" -f 32 100 1 37 7 4 9000 2>&1)
rc=$?
check_lines "32 threads plus 40 forks meanwhile, policy: every socket right, no child hangs" \
	"0 ops=3200 mismatches=0 forks=40 fork_failures=0" "$rc $out"
out=$(shimmed "${POLICY[@]}" HB_MATCH=127.0.0.0/8 "$HELPERS/ka_threads" -f 32 100 1 37 7 4 9000 2>&1)
rc=$?
check_lines "32 threads plus forks with HB_MATCH (per-fd tracking at connect)" \
	"0 ops=3200 mismatches=0 forks=40 fork_failures=0" "$rc $out"

# the shim engineer's stress helper (tests/helpers/threads.c), when built
if [ -x "$HELPERS/threads" ]; then
	out=$(shimmed "$HELPERS/threads" socket 2>&1)
	check "threads socket: 32 threads, v4/v6, fd table pages (${out##*, })" [ $? -eq 0 ]
	out=$(shimmed HB_MATCH=127.0.0.1 "$HELPERS/threads" connect 2>&1)
	check "threads connect, HB_MATCH=127.0.0.1 (${out##*, })" [ $? -eq 0 ]
else
	skip "tests/helpers/threads not built"
	skip "tests/helpers/threads not built"
fi

# ---- fork and exec -------------------------------------------------------------------------
# shellcheck disable=SC2016 # python, with a shell command in it
PYFORK='import os, socket, subprocess, sys
def line(h, p):
    s = socket.create_connection((h, p))
    g, T = s.getsockopt, socket.IPPROTO_TCP
    r = "ka=%d idle=%d intvl=%d cnt=%d uto=%d" % (g(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        g(T, socket.TCP_KEEPIDLE), g(T, socket.TCP_KEEPINTVL), g(T, socket.TCP_KEEPCNT),
        g(T, socket.TCP_USER_TIMEOUT))
    s.close()
    return r
h, p = sys.argv[1], int(sys.argv[2])
print("parent", line(h, p), flush=True)
pid = os.fork()
if pid == 0:
    print("fork", line(h, p), flush=True)
    os._exit(0)
_, st = os.waitpid(pid, 0)
print("fork status", st, flush=True)
r = subprocess.run([sys.executable, "-c", sys.argv[3], h, str(p), "x"],
                   capture_output=True, text=True)
print("exec", r.stdout.strip(), r.returncode, repr(r.stderr), flush=True)
r = subprocess.run(["/bin/sh", "-c", "exec \"$0\" \"$@\"", sys.argv[4], h, str(p)],
                   capture_output=True, text=True)
print("sh", r.stdout.strip(), r.returncode, repr(r.stderr), flush=True)'
PYCHILD='import socket, sys
if len(sys.argv) > 3:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    g, T = s.getsockopt, socket.IPPROTO_TCP
    print("ka=%d idle=%d intvl=%d cnt=%d uto=%d" % (g(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
          g(T, socket.TCP_KEEPIDLE), g(T, socket.TCP_KEEPINTVL), g(T, socket.TCP_KEEPCNT),
          g(T, socket.TCP_USER_TIMEOUT)))'
for dst in 127.0.0.1 ::1; do
	out=$(shimmed "${POLICY[@]}" "$PY" -c "$PYFORK" "$dst" 7001 "$PYCHILD" "$KA" 2>"$HB_TMP/fork.err")
	check_lines "python3, $dst: parent, os.fork child, exec'd python child, sh -> exec'd C child" \
		"parent $POL"$'\n'"fork $POL"$'\n'"fork status 0"$'\n'"exec $POL 0 ''"$'\n'"sh $POL 0 ''" "$out"
	check_lines "python3 fork/exec, $dst: nothing on stderr" "" "$(cat "$HB_TMP/fork.err")"
done

# ---- another library's constructor calls socket() before the shim's constructor -------------
# LD_DEBUG=libs shows the order the initializers run in; try ctor.so on both sides of the
# shim, and require that one of the two really ran ctor.so's constructor first.
ctor_first=0
for order in before after; do
	if [ $order = before ]; then p="${PRE%"$SHIM"}$HELPERS/ctor.so:$SHIM"; else p="$PRE:$HELPERS/ctor.so"; fi
	inits=$(plain env LD_PRELOAD="$p" LD_DEBUG=libs CTOR_CONNECT=127.0.0.1:7001 /bin/true 2>&1 >/dev/null |
		sed -n 's/.*calling init: //p' | grep -n -e 'ctor\.so$' -e 'libhbshim\.so$')
	c=$(grep 'ctor\.so$' <<<"$inits" | cut -d: -f1)
	s=$(grep 'libhbshim\.so$' <<<"$inits" | cut -d: -f1)
	first=shim
	[ -n "$c" ] && [ -n "$s" ] && [ "$c" -lt "$s" ] && first=ctor && ctor_first=1
	out=$(plain env LD_PRELOAD="$p" CTOR_CONNECT=127.0.0.1:7001 "${POLICY[@]}" "$KA" ::1 7001 2>&1)
	check_lines "ctor.so listed $order the shim ($first's constructor first): its socket and main's" \
		"ctor: $POL"$'\n'"$POL" "$out"
	out=$(plain env LD_PRELOAD="$p" CTOR_CONNECT=127.0.0.1:7001 /bin/true 2>&1)
	check_lines "ctor.so listed $order the shim, defaults, /bin/true" "ctor: $DEF" "$out"
done
check_lines "ctor.so's constructor ran before the shim's in one of the two orders (LD_DEBUG=libs)" 1 "$ctor_first"

# ---- no descriptor left behind -------------------------------------------------------------
# stderr always to the same file, so that fd 2's target compares equal
base=$(plain "$HELPERS/fdlist" 127.0.0.1 7001 2>"$HB_TMP/fd.err")
check "fdlist without the shim lists begin, end and exec (sanity)" \
	grep -q '^exec fd=2 ' <<<"$base"
check_lines "under the shim: the same descriptors, flags included, before, after sockets, after exec" \
	"$base" "$(shimmed "${POLICY[@]}" "$HELPERS/fdlist" 127.0.0.1 7001 2>"$HB_TMP/fd.err")"
check_lines "under the shim with HB_LOG=info (to stderr): the same descriptors" \
	"$base" "$(shimmed HB_LOG=info "$HELPERS/fdlist" 127.0.0.1 7001 2>"$HB_TMP/fd.err")"
for lvl in info error; do
	log=$HB_TMP/shim-$lvl.log
	out=$(shimmed HB_LOG=$lvl HB_LOG_FILE="$log" "$HELPERS/fdlist" 127.0.0.1 7001 2>"$HB_TMP/fd.err")
	extra=$(diff <(echo "$base") <(echo "$out") | sed -n 's/^> //p')
	bad=$(grep -v -e "^begin fd=[0-9]* cloexec=1 target=$log\$" -e "^end fd=[0-9]* cloexec=1 target=$log\$" <<<"$extra")
	check_lines "HB_LOG=$lvl HB_LOG_FILE: no descriptor but the log file's, and that close-on-exec" "" "$bad"
	check_lines "HB_LOG=$lvl HB_LOG_FILE: after exec (without the shim), not even that one" \
		"$(grep '^exec ' <<<"$base")" "$(grep '^exec ' <<<"$out")"
	check_lines "HB_LOG=$lvl HB_LOG_FILE: nothing on stderr" "" "$(cat "$HB_TMP/fd.err")"
	extra=${extra:-none}
	diag "HB_LOG=$lvl: extra descriptors: ${extra//$'\n'/ | }"
done
check "HB_LOG=info HB_LOG_FILE: the file holds the log" [ -s "$HB_TMP/shim-info.log" ]

# ---- the app sees exactly what libc gives it -------------------------------------------------
base=$(plain "$HELPERS/errprobe" 7001 7009 2>&1)
check "errprobe without the shim (sanity)" grep -q 'ECONNREFUSED' <<<"$base"
for env in "" "${POLICY[*]}" "${POLICY[*]} HB_MATCH=127.0.0.1" "HB_KEEPALIVE=0" \
	"HB_KEEPALIVE=0 HB_USER_TIMEOUT=5s"; do
	# shellcheck disable=SC2086
	out=$(shimmed $env "$HELPERS/errprobe" 7001 7009 2>&1)
	if [ "$out" == "$base" ]; then
		ok "return values, errno (also left alone on success), fd flags as without the shim: ${env:-defaults}"
	else
		not_ok "return values, errno (also left alone on success), fd flags as without the shim: ${env:-defaults}"
		diff <(echo "$base") <(echo "$out") | sed 's/^/#   /'
	fi
done
PYS='import socket
for fam in (socket.AF_INET, socket.AF_INET6):
    s = socket.socket(fam, socket.SOCK_STREAM)
    print(s.family, s.type, s.proto, s.getblocking(), s.gettimeout(), s.get_inheritable())
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1" if fam == socket.AF_INET else "::1", 7009))
    except OSError as e:
        print(type(e).__name__, e.errno)
    s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print(u.type, u.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))
print(socket.socketpair()[0].family)'
plain "$PY" -c "$PYS" >"$HB_TMP/py.plain" 2>&1
shimmed "${POLICY[@]}" "$PY" -c "$PYS" >"$HB_TMP/py.shim" 2>"$HB_TMP/py.err"
check "python3 socket objects: stdout byte-identical with and without the shim" \
	cmp -s "$HB_TMP/py.plain" "$HB_TMP/py.shim"
check_lines "python3 socket objects: stderr empty under the shim" "" "$(cat "$HB_TMP/py.err")"

# ---- which system calls each kind of socket costs (strace) -----------------------------------
# sockkinds brackets each socket between access("/hbmark-KIND-begin") and ("...-end").
OTHER=(udp udp6 unix unixdgram unixseq raw mptcp tcpudp)
TCPK=(tcp tcp6 tcpnb tcpproto)
# strace_kinds NS FILE [VAR=VAL...]: run sockkinds under the shim in NS, strace to FILE
strace_kinds() {
	local n=$1 f=$2
	shift 2
	nsenter --net="/run/netns/$n" strace -f -qq -o "$f" env LD_PRELOAD="$PRE" "$@" \
		"$HELPERS/sockkinds" ::1 127.0.0.1 7001 "${TCPK[@]}" "${OTHER[@]}" "${TCPK[@]}" >"$f.out" 2>&1
}
# between FILE KIND: the system calls (name and arguments) between KIND's markers, in
# sockkinds's last pass over KIND
between() {
	awk -v b="\"/hbmark-$2-begin\"" -v e="\"/hbmark-$2-end\"" '
		index($0, b) { on = 1; n = 0; delete l; next }
		index($0, e) { on = 0; next }
		on { sub(/^[0-9]+ +/, ""); l[++n] = $0 }
		END { for (i = 1; i <= n; i++) print l[i] }' "$1"
}
# setsockopts FILE KIND: "SO_KEEPALIVE=1 TCP_KEEPIDLE=60 ..." sorted
setsockopts() {
	between "$1" "$2" | sed -n -E 's/^setsockopt\([0-9]+, [A-Z_]+, ([A-Z_]+), \[([0-9]+)\].*/\1=\2/p' |
		sort | tr '\n' ' ' | sed 's/ $//'
}
# other_calls FILE KIND: names of system calls beyond what the socket itself needs
other_calls() {
	between "$1" "$2" | sed 's/(.*//' |
		grep -v -x -e socket -e socketpair -e connect -e close -e poll | sort -u | tr '\n' ' '
}
strace_kinds "$NS" "$HB_TMP/st"
check_lines "sockkinds under the shim: every kind as without it" \
	"$(plain "$HELPERS/sockkinds" ::1 127.0.0.1 7001 "${TCPK[@]}" "${OTHER[@]}" "${TCPK[@]}")" "$(cat "$HB_TMP/st.out")"
for k in "${OTHER[@]}"; do
	check_lines "$k socket: no system call of the shim's (strace)" "" "$(other_calls "$HB_TMP/st" "$k")"
done
for k in "${TCPK[@]}"; do
	check_lines "$k socket, fresh namespace (7200/75/9): exactly 4 setsockopt (strace)" \
		"SO_KEEPALIVE=1 TCP_KEEPCNT=6 TCP_KEEPIDLE=60 TCP_KEEPINTVL=10" "$(setsockopts "$HB_TMP/st" "$k")"
done
strace_kinds "$NS" "$HB_TMP/st2" "${POLICY[@]}"
check_lines "tcp socket with the policy: exactly 5 setsockopt (strace)" \
	"SO_KEEPALIVE=1 TCP_KEEPCNT=4 TCP_KEEPIDLE=37 TCP_KEEPINTVL=7 TCP_USER_TIMEOUT=9000" \
	"$(setsockopts "$HB_TMP/st2" tcp6)"
check_lines "udp socket with the policy: no system call of the shim's (strace)" "" \
	"$(other_calls "$HB_TMP/st2" udp)"

# a namespace whose sysctls already have some of the values: those calls are skipped
NS2=$(netns_new sysctl)
nsenter --net="/run/netns/$NS2" "$HELPERS/holdsrv" 127.0.0.1 7001 ::1 7001 >/dev/null 2>&1 </dev/null &
bg_pid $!
wait_port "$NS2" 7001
expect="SO_KEEPALIVE=1 TCP_KEEPCNT=6 TCP_KEEPIDLE=60 TCP_KEEPINTVL=10"
for kv in tcp_keepalive_time=60:TCP_KEEPIDLE=60 tcp_keepalive_intvl=10:TCP_KEEPINTVL=10 \
	tcp_keepalive_probes=6:TCP_KEEPCNT=6; do
	nsenter --net="/run/netns/$NS2" sysctl -qw "net.ipv4.${kv%%:*}"
	expect=$(tr ' ' '\n' <<<"$expect" | grep -v -x "${kv#*:}" | tr '\n' ' ' | sed 's/ $//')
	strace_kinds "$NS2" "$HB_TMP/st3"
	check_lines "namespace with ${kv%%:*}: $(wc -w <<<"$expect") setsockopt (strace)" "$expect" \
		"$(setsockopts "$HB_TMP/st3" tcp)"
	check_lines "namespace with ${kv%%:*}: the socket still carries 60/10/6" "$DEF" \
		"$(nsenter --net="/run/netns/$NS2" env LD_PRELOAD="$PRE" "$KA" 127.0.0.1 7001)"
done
exit 0
