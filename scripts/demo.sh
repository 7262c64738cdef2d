#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# make demo: what hbkeep is for, shown end to end in three network namespaces (client, NAT
# router, server; tests/integ/_nat.sh). A router that forgets idle flows after 5 s breaks an
# unmodified client that stays idle 8 s; the same client under LD_PRELOAD=libhbshim.so keeps
# its connection. About 25 s, as root. Exits 0 only when everything came out as narrated.
set -u
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: needs root: it creates network namespaces and a NAT router (try: sudo make demo)" >&2
	exit 1
fi
cd "$(dirname "$0")/.." || exit 1
. tests/integ/_lib.sh
. tests/integ/_nat.sh
# _lib.sh is the test library: keep its cleanup (namespaces, processes, temporary files) but
# not its TAP plan line, and make "cannot run" an error rather than a test skip.
HB_TEST_ID=hbdemo$$
_demo_exit() { _cleanup >/dev/null; }
trap _demo_exit EXIT
skip_all() { echo "demo.sh: cannot run: $*" >&2; exit 1; }
nat_need
nat_clean_env

TIMEOUT=5	# the router forgets an idle flow after this many seconds
IDLE=8		# the client stays silent this long, then sends
WAIT=4		# and waits this long for the echo
PORT=7000
KA_IDLE=2 KA_INTVL=2 KA_CNT=3	# the shim's keepalive: probes well inside the router's timeout
SHIM_ENV=("HB_KEEPIDLE=$KA_IDLE" "HB_KEEPINTVL=$KA_INTVL" "HB_KEEPCNT=$KA_CNT")
REL_SHIM=${SHIM#"$HB_ROOT"/}
T0=$EPOCHREALTIME
failed=0

say() { printf '[%5.1fs] %s\n' "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" "$*"; }
show() { sed 's/^/           | /'; }
fail() { say "UNEXPECTED: $*"; failed=1; }

# The client is an ordinary python3 program: it sets no socket option of its own.
CLIENT='
import select, socket, sys, time
host, port, idle, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.create_connection((host, port))
s.sendall(b"hello\n"); s.recv(100)
def opt(level, name): return s.getsockopt(level, name)
T = socket.IPPROTO_TCP
print("connected local %s:%d" % s.getsockname(), flush=True)
print("sockopts SO_KEEPALIVE=%d TCP_KEEPIDLE=%d TCP_KEEPINTVL=%d TCP_KEEPCNT=%d" % (
    opt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), opt(T, socket.TCP_KEEPIDLE),
    opt(T, socket.TCP_KEEPINTVL), opt(T, socket.TCP_KEEPCNT)), flush=True)
time.sleep(idle)
t = time.monotonic()
s.sendall(b"ping\n")
if not select.select([s], [], [], wait)[0]:
    print("outcome noreply within %g s" % wait, flush=True); sys.exit(1)
try:
    data = s.recv(100)
except OSError as e:
    print("outcome error %s" % e, flush=True); sys.exit(2)
print("outcome reply %r after %.3f s" % (data.decode().strip(), time.monotonic() - t) if data
      else "outcome eof", flush=True)
sys.exit(0 if data else 2)
'

echo "hbkeep demo: an idle TCP connection through a NAT router that forgets idle flows"
echo
say "Creating three network namespaces: client $NAT_CLIENT_IP -> router (NAT) -> server $NAT_SERVER_IP"
nat_setup "$TIMEOUT" || { echo "demo.sh: network setup failed" >&2; exit 1; }
nat_echo_server "$PORT" || { echo "demo.sh: the echo server did not start" >&2; exit 1; }
say "The server runs a python3 echo server on port $PORT. The router masquerades the client,"
say "and forgets a flow after $(nat_router_sysctl net.netfilter.nf_conntrack_tcp_timeout_established) s of silence (its net.netfilter.nf_conntrack_tcp_timeout_established;"
say "real home routers and cloud load balancers do the same after minutes). A segment of a"
say "forgotten flow is dropped (ct state invalid drop), as a real NAT would drop it."
echo

# run_client NAME IDLE_S [ENV...]: the python3 client in the client namespace, in the background
run_client() {
	local name=$1
	shift
	nat_bg "$NAT_CLIENT" "$HB_TMP/$name" env "$@" "$NAT_PY" -c "$CLIENT" "$NAT_SERVER_IP" "$PORT" "$IDLE" "$WAIT"
	nat_wait_line "$HB_TMP/$name" '^sockopts' 10 || { fail "the client did not start: $(cat "$HB_TMP/$name.err")"; return 1; }
	SPORT=$(sed -n 's/^connected local .*:\([0-9]*\)$/\1/p' "$HB_TMP/$name")
}

# ---- 1: without the shim ----------------------------------------------------------------------
say "1) A plain client connects, exchanges one line, stays idle $IDLE s, then sends \"ping\"."
if run_client plain; then
	say "Its socket, as getsockopt() reads it: $(sed -n 's/^sockopts //p' "$HB_TMP/plain")"
	say "(keepalive off: Linux would send nothing on this connection for hours)"
	sleep $((TIMEOUT + 1))
	f=$(nat_flow "$SPORT")
	if [ -z "$f" ]; then
		say "After $((TIMEOUT + 1)) s of silence the router's flow table has no entry for it any more."
	else
		fail "the router still tracks the idle flow:"; echo "$f" | show
	fi
	wait "$NAT_PID"
	out=$(sed -n 's/^outcome //p' "$HB_TMP/plain")
	if [[ $out == noreply* ]]; then
		say "The client sent \"ping\" at $IDLE s: no reply within $WAIT s. The router drops the segment;"
		say "the client would retransmit for ~15 minutes before giving up."
	else
		fail "expected no reply, got: ${out:-nothing} $(cat "$HB_TMP/plain.err")"
	fi
fi
echo

# ---- 2: the same client under the shim ----------------------------------------------------
say "2) The same client under LD_PRELOAD=$REL_SHIM ${SHIM_ENV[*]}"
if run_client shim "${SHIM_ENV[@]}" HB_LOG=info LD_PRELOAD="$(hb_preload)"; then
	say "The shim says (HB_LOG=info):"
	show <"$HB_TMP/shim.err"
	opts=$(sed -n 's/^sockopts //p' "$HB_TMP/shim")
	say "The client's own getsockopt() now reads: $opts"
	[ "$opts" = "SO_KEEPALIVE=1 TCP_KEEPIDLE=$KA_IDLE TCP_KEEPINTVL=$KA_INTVL TCP_KEEPCNT=$KA_CNT" ] ||
		fail "the socket does not carry the shim's settings"
	probes0=$(in_ns "$NAT_CLIENT" nstat -saz TcpExtTCPKeepAlive | awk '$1 == "TcpExtTCPKeepAlive" { print $2 }')
	sleep $((TIMEOUT + 1))
	say "At $((TIMEOUT + 1)) s of application silence, ss -tnoe in the client namespace shows the keepalive timer"
	say "(seconds left until the next probe, and probes sent without an answer):"
	ssl=$(in_ns "$NAT_CLIENT" ss -Htnoe state established "sport = :$SPORT")
	echo "$ssl" | show
	left=$(sed -n 's/.*timer:(keepalive,\([0-9.]*\)ms,.*/\1/p' <<<"$ssl")
	[ -n "$left" ] && ss -V 2>/dev/null | grep -q 'iproute2-6\.1\.' &&
		say "(this ss, iproute2 6.1, labels seconds \"ms\": ${left}ms there means $left s)"
	[[ $ssl == *"timer:(keepalive,"* ]] || fail "no keepalive timer on the client's socket"
	f=$(nat_flow "$SPORT")
	if [ -n "$f" ]; then
		say "and the router still tracks the flow: the probes keep its entry fresh:"
		echo "$f" | show
	else
		fail "the router forgot the flow although keepalive is on"
	fi
	if [ -x "$O/hbctl" ]; then
		say "hbctl ls in the client namespace:"
		"$O/hbctl" -n "$NAT_CLIENT" ls --sport "$SPORT" 2>&1 | show
	fi
	wait "$NAT_PID"
	probes1=$(in_ns "$NAT_CLIENT" nstat -saz TcpExtTCPKeepAlive | awk '$1 == "TcpExtTCPKeepAlive" { print $2 }')
	out=$(sed -n 's/^outcome //p' "$HB_TMP/shim")
	if [[ $out == reply* ]]; then
		say "The client sent \"ping\" at $IDLE s: ${out}. The kernel sent $((probes1 - probes0))"
		say "keepalive probes meanwhile (TcpExtTCPKeepAlive); the program itself was not changed."
	else
		fail "expected a reply, got: ${out:-nothing} $(cat "$HB_TMP/shim.err")"
	fi
fi
echo
if [ "$failed" -ne 0 ]; then
	say "The demonstration did NOT come out as narrated (see UNEXPECTED above)."
	exit 1
fi
say "Done: without the shim the idle connection was silently broken; with it, it survived."
