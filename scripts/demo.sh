#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# make demo: what hbkeep is for, shown end to end in three network namespaces (client, NAT
# router, server; tests/integ/_nat.sh). A router that forgets idle flows after 5 s breaks an
# unmodified client that stays idle 8 s; the same client under LD_PRELOAD=libhbshim.so keeps
# its connection. A third act gives each connection the idle time its own path needs: one
# path forgets flows after 5 s, another after 20 s (hbctl paths learn / add, policy add
# --idle auto). About 50 s, as root. Exits 0 only when everything came out as narrated.
set -u
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: needs root: it creates network namespaces and a NAT router (try: sudo make demo)" >&2
	exit 1
fi
cd "$(dirname "$0")/.." || exit 1
. tests/integ/_lib.sh
. tests/integ/_nat.sh
. tests/integ/_policy.sh
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

# ---- 3: adaptive keepalive: each connection the idle its own path needs ----------------------
LONG=20			# the second server's path forgets flows after this many seconds
SRV2=198.51.100.3
IDLE3=12
act3() {
	local cg2 cg pid ia ib p0 p1 fixed
	cg2=$(pol_cg2_mount)
	if [ -z "$cg2" ] || [ ! -r /sys/kernel/btf/vmlinux ] || [ ! -x "$HBCTL" ]; then
		say "3) skipped: needs cgroup v2, a kernel with BTF and hbctl built"
		return 0
	fi
	export HB_PATHS_FILE=$HB_TMP/paths HB_PIN_DIR=/sys/fs/bpf/$HB_TEST_ID
	on_exit "rm -f $HB_PIN_DIR/paths; rmdir $HB_PIN_DIR/policy $HB_PIN_DIR 2>/dev/null"
	say "3) Adaptive keepalive. A second server address, $SRV2, whose path the router forgets after"
	say "$LONG s (an nftables ct timeout for that address), while $NAT_SERVER_IP's forgets after $TIMEOUT s."
	nat_add_server "$SRV2" "$LONG" || { fail "second server address or its ct timeout"; return 1; }
	nat_echo_server "$PORT" "$SRV2" || { fail "the echo server on $SRV2 did not start"; return 1; }
	say "hbctl paths learn $NAT_SERVER_IP:$PORT --max 10s measures the first path (probe-nat):"
	in_ns "$NAT_CLIENT" "$HBCTL" paths learn "$NAT_SERVER_IP:$PORT" --max 10s 2>&1 |
		grep -E "forgets|measured|recorded" | show
	say "and the second is known: hbctl paths add $SRV2:$PORT --timeout ${LONG}s. The table:"
	"$HBCTL" paths add "$SRV2:$PORT" --timeout "${LONG}s" || fail "paths add"
	"$HBCTL" paths ls | show
	cg=$cg2$(sed -n 's/^0:://p' /proc/self/cgroup)
	cg=${cg%/}/$HB_TEST_ID
	mkdir "$cg" || { fail "cannot make cgroup $cg"; return 1; }
	on_exit pol_cg_rm "$cg"
	pid=$("$HBCTL" policy add --cgroup "$cg" --idle auto --intvl 2 --cnt 3) ||
		{ fail "policy add --idle auto"; return 1; }
	say "hbctl policy add --cgroup $cg --idle auto --intvl 2 --cnt 3  (policy $pid)"
	say "Two plain clients in that cgroup, one to each server, stay idle $IDLE3 s:"
	p0=$(in_ns "$NAT_CLIENT" nstat -saz TcpExtTCPKeepAlive | awk '$1 == "TcpExtTCPKeepAlive" { print $2 }')
	for x in a b; do
		h=$NAT_SERVER_IP
		[ "$x" = b ] && h=$SRV2
		in_cg "$cg" nsenter --net="/run/netns/$NAT_CLIENT" "$NAT_PY" -c "$CLIENT" "$h" "$PORT" \
			"$IDLE3" "$WAIT" >"$HB_TMP/act3$x" 2>&1 &
		eval "pid_$x=$!"
		bg_pid $!
	done
	nat_wait_line "$HB_TMP/act3a" '^sockopts' 10
	nat_wait_line "$HB_TMP/act3b" '^sockopts' 10
	ia=$(sed -n 's/^sockopts .*TCP_KEEPIDLE=\([0-9]*\) .*/\1/p' "$HB_TMP/act3a")
	ib=$(sed -n 's/^sockopts .*TCP_KEEPIDLE=\([0-9]*\) .*/\1/p' "$HB_TMP/act3b")
	say "  to $NAT_SERVER_IP (forgets after ~$TIMEOUT s): TCP_KEEPIDLE=$ia; to $SRV2 (after $LONG s): TCP_KEEPIDLE=$ib"
	[ "${ia:-0}" -ge 1 ] && [ "${ia:-0}" -lt "$TIMEOUT" ] && [ "${ib:-0}" -ge 10 ] && [ "${ib:-0}" -lt "$LONG" ] ||
		fail "the idle times are not inside their paths"
	wait "$pid_a"; wait "$pid_b"
	p1=$(in_ns "$NAT_CLIENT" nstat -saz TcpExtTCPKeepAlive | awk '$1 == "TcpExtTCPKeepAlive" { print $2 }')
	say "  after $IDLE3 s: $(sed -n 's/^outcome //p' "$HB_TMP/act3a"); $(sed -n 's/^outcome //p' "$HB_TMP/act3b")"
	grep -q '^outcome reply' "$HB_TMP/act3a" && grep -q '^outcome reply' "$HB_TMP/act3b" ||
		fail "a connection did not survive"
	fixed=$((2 * ((IDLE3 - 1) / ${ia:-1})))	# probes due strictly before the send
	say "The kernel sent $((p1 - p0)) keepalive probes for both; the fixed idle the short path needs"
	say "($ia s) on both would have sent at least $fixed."
	"$HBCTL" policy rm "$pid" >/dev/null || fail "policy rm"
}
act3
echo

if [ "$failed" -ne 0 ]; then
	say "The demonstration did NOT come out as narrated (see UNEXPECTED above)."
	exit 1
fi
say "Done: without the shim the idle connection was silently broken; with it, it survived;"
say "and with the path table each connection got the keepalive its own path needs."
