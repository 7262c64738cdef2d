#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The job hbkeep exists for, end to end: a NAT router between client and server forgets idle
# flows after a few seconds (tests/integ/_nat.sh draws the three namespaces).
#  a. without the shim, a client that stays idle longer than that and then sends gets no reply
#  b. the same client under the shim with a short keepalive idle gets its reply
#  c. under the shim with HB_USER_TIMEOUT (keepalive off), the client that sends into the
#     forgotten flow gets ETIMEDOUT after about the user timeout, not after ~15 minutes
#  d. when the server vanishes, a client blocked in read() gets ETIMEDOUT within
#     idle + intvl * cnt (+ slack) under the shim, and is still blocked without it
# The only timing bounds are protocol timeouts plus 2-3 s of slack. About 20 s.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_nat.sh"

nat_need
nat_clean_env
need_built "$HELPERS"/{nat_client,nat_reader}

TIMEOUT=3		# the router's nf_conntrack_tcp_timeout_established, s
IDLE=6			# how long the clients stay silent: twice the router's timeout
NOREPLY_WAIT=4		# a: how long the client waits for a reply that should not come
UTO=3			# c: HB_USER_TIMEOUT, s
SLACK=3			# c: ETIMEDOUT expected within UTO + SLACK
KA=(HB_KEEPIDLE=1 HB_KEEPINTVL=1 HB_KEEPCNT=3)	# b, d: keepalive well inside TIMEOUT
DEAD_BOUND=$((1 + 1 * 3 + 2))	# d: idle + intvl * cnt + 2 s
PORT=7000
PRELOAD=$(hb_preload)

host_timeout_before=$(sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established)
nat_setup "$TIMEOUT" || { echo "Bail out! NAT setup failed"; exit 1; }
diag "namespaces $NAT_CLIENT ($NAT_CLIENT_IP) -> $NAT_ROUTER (masquerade) -> $NAT_SERVER ($NAT_SERVER_IP)"

# The scenario stands on the router's sysctls being its own: check before relying on them.
check_eq "router namespace reads back its conntrack established timeout" \
	"$TIMEOUT" "$(nat_router_sysctl net.netfilter.nf_conntrack_tcp_timeout_established)"
check_eq "router namespace reads back nf_conntrack_tcp_loose=0" \
	0 "$(nat_router_sysctl net.netfilter.nf_conntrack_tcp_loose)"
check_eq "the host's conntrack timeout is untouched (the sysctl is per namespace)" \
	"$host_timeout_before" "$(sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established)"
check "the client namespace has its own conntrack timeout" \
	[ "$(in_ns "$NAT_CLIENT" sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established)" != "$TIMEOUT" ]

nat_echo_server "$PORT" || { echo "Bail out! echo server did not start"; cat "$HB_TMP/echo-server.log"; exit 1; }

# ---- a, b, c: three clients side by side, each on its own flow through the router ----------
C=$HELPERS/nat_client
nat_bg "$NAT_CLIENT" "$HB_TMP/a" "$C" "$NAT_SERVER_IP" "$PORT" "$IDLE" "$NOREPLY_WAIT"
pid_a=$NAT_PID
nat_bg "$NAT_CLIENT" "$HB_TMP/b" env "${KA[@]}" HB_LOG=info LD_PRELOAD="$PRELOAD" \
	"$C" "$NAT_SERVER_IP" "$PORT" "$IDLE" "$NOREPLY_WAIT"
pid_b=$NAT_PID
nat_bg "$NAT_CLIENT" "$HB_TMP/c" env HB_KEEPALIVE=0 HB_USER_TIMEOUT="${UTO}s" HB_LOG=info \
	LD_PRELOAD="$PRELOAD" "$C" "$NAT_SERVER_IP" "$PORT" "$IDLE" $((UTO + SLACK + 4))
pid_c=$NAT_PID
for x in a b c; do
	nat_wait_line "$HB_TMP/$x" '^idle ' 10 || diag "client $x did not start: $(cat "$HB_TMP/$x" "$HB_TMP/$x.err")"
done
sport() { sed -n 's/^connected local .*:\([0-9]*\)$/\1/p' "$HB_TMP/$1"; }
sockopts() { sed -n 's/^sockopts //p' "$HB_TMP/$1"; }
check_eq "a: plain client has no keepalive" \
	"keepalive=0 idle=7200 intvl=75 cnt=9 user_timeout_ms=0" "$(sockopts a)"
check_eq "b: shim client's own getsockopt shows keepalive 1/1/3" \
	"keepalive=1 idle=1 intvl=1 cnt=3 user_timeout_ms=0" "$(sockopts b)"
check_eq "c: shim client with HB_KEEPALIVE=0 has only the user timeout" \
	"keepalive=0 idle=7200 intvl=75 cnt=9 user_timeout_ms=$((UTO * 1000))" "$(sockopts c)"

if command -v conntrack >/dev/null; then
	for x in a b c; do
		f=$(nat_flow "$(sport $x)")
		check "$x: router tracks the flow, masqueraded, with a timeout <= $TIMEOUT s" \
			eval '[[ $f =~ ^tcp\ +6\ +([0-9]+)\ ESTABLISHED.*\ dst=$NAT_ROUTER_SIP\  ]] &&
				[ "${BASH_REMATCH[1]}" -le "$TIMEOUT" ]'
		[ -n "$f" ] || diag "conntrack: $(in_ns "$NAT_ROUTER" conntrack -L 2>&1)"
	done
	# Halfway between the router's timeout and the clients' next send.
	sleep "$(awk -v t="$TIMEOUT" -v i="$IDLE" 'BEGIN { print t + (i - t) / 2 }')"
	check "a: router forgot the idle plain flow" eval '[ -z "$(nat_flow "$(sport a)")" ]'
	check "b: router still tracks the flow kept alive by the shim" eval '[ -n "$(nat_flow "$(sport b)")" ]'
	check "c: router forgot the idle flow that has only a user timeout" \
		eval '[ -z "$(nat_flow "$(sport c)")" ]'
else
	skip "conntrack(8) not installed: flow table not inspected"
fi

wait "$pid_a"; rc_a=$?
wait "$pid_b"; rc_b=$?
wait "$pid_c"; rc_c=$?
for x in a b c; do diag "$x: $(grep -h '^outcome' "$HB_TMP/$x") $(cat "$HB_TMP/$x.err")"; done
check "a: without the shim, no reply within ${NOREPLY_WAIT}s after ${IDLE}s idle" \
	eval '[ "$rc_a" -eq 1 ] && grep -q "^outcome noreply" "$HB_TMP/a"'
check "b: under the shim (keepalive 1/1/3) the same exchange gets its reply" \
	eval '[ "$rc_b" -eq 0 ] && grep -q "^outcome reply" "$HB_TMP/b"'
t_c=$(sed -n 's/^outcome error ETIMEDOUT after \([0-9.]*\) s$/\1/p' "$HB_TMP/c")
check "c: HB_USER_TIMEOUT=${UTO}s: ETIMEDOUT within $((UTO + SLACK)) s of the send (took ${t_c:-none})" \
	eval '[ "$rc_c" -eq 2 ] && [ -n "$t_c" ] && awk -v t="$t_c" -v b=$((UTO + SLACK)) "BEGIN { exit !(t <= b) }"'

# ---- d: dead peer while the client blocks in read() -------------------------------------
R=$HELPERS/nat_reader
nat_bg "$NAT_CLIENT" "$HB_TMP/d-shim" env "${KA[@]}" LD_PRELOAD="$PRELOAD" "$R" "$NAT_SERVER_IP" "$PORT"
pid_ds=$NAT_PID
nat_bg "$NAT_CLIENT" "$HB_TMP/d-plain" "$R" "$NAT_SERVER_IP" "$PORT"
pid_dp=$NAT_PID
nat_wait_line "$HB_TMP/d-shim" '^ready' 10 && nat_wait_line "$HB_TMP/d-plain" '^ready' 10 ||
	diag "readers did not start: $(cat "$HB_TMP"/d-*)"
sleep 0.5	# both in read(), the shim's keepalive probes answered
nat_server_down
t0=$EPOCHREALTIME
end=$(awk -v t="$t0" -v b="$DEAD_BOUND" 'BEGIN { printf "%.6f", t + b }')
# The reader prints how read() ended just before it exits: watch for that line.
while ! grep -q '^read ' "$HB_TMP/d-shim" && awk -v n="$EPOCHREALTIME" -v e="$end" 'BEGIN { exit !(n < e) }'; do
	sleep 0.05
done
t_d=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
# Whatever happened to the shim's reader, the plain one has now waited the whole bound.
while awk -v n="$EPOCHREALTIME" -v e="$end" 'BEGIN { exit !(n < e) }'; do sleep 0.05; done
diag "d: shim reader: $(grep -h '^read ' "$HB_TMP/d-shim") (${t_d}s after the link went down)"
diag "d: plain reader: $(grep -h '^read ' "$HB_TMP/d-plain" || echo blocked) $(cat "$HB_TMP/d-plain.err")"
check "d: under the shim, read() fails with ETIMEDOUT within ${DEAD_BOUND}s of the server vanishing (${t_d}s)" \
	eval 'grep -q "^read error ETIMEDOUT" "$HB_TMP/d-shim" && awk -v t="$t_d" -v b="$DEAD_BOUND" "BEGIN { exit !(t <= b) }"'
check "d: without the shim, read() is still blocked after ${DEAD_BOUND}s" \
	eval 'kill -0 "$pid_dp" 2>/dev/null && ! grep -q "^read " "$HB_TMP/d-plain"'
kill "$pid_dp" "$pid_ds" 2>/dev/null
