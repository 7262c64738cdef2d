#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl monitor --peers: polling against a persistent connection, in a private network
# namespace and a child cgroup (the monitor is attached to that cgroup only):
#  - a client in the cgroup polls a server every 200 ms with a new connection, another keeps
#    one connection with a request every 500 ms (tests/helpers/poll_peer.py); the servers run
#    in the namespace, outside the cgroup
#  - the polled peer: its handshakes (opened) equal the namespace's TcpActiveOpens delta while
#    only the poller connects, every one of them closed, flagged polled with the cost of a
#    persistent connection; the persistent peer: 1 opened, not polled, no cost
#  - refused connections: attempts (= TcpActiveOpens delta) all failed, none opened
#  - the same counts in the table and in Prometheus text (--textfile), top N only (--peers=1)
#  - with HB_BPF_DENY=tp_btf (the raw_tp twin) the same counts; with tp_btf and raw_tp both
#    refused, the feature is unavailable: said once on stderr, no "peers" in JSON, doctor says
#    monitor/peers missing
# Needs root and BTF; on the project's machines it must not skip.
. "$(dirname "$0")/_monitor.sh"
unset HB_BPF_DENY
PP=$HB_ROOT/tests/helpers/poll_peer.py
N=30

ns_bg "$HB_TMP/srv_poll" python3 "$PP" server 127.0.0.1 7000
ns_bg "$HB_TMP/srv_keep" python3 "$PP" server 127.0.0.1 7001
wait_for "$HB_TMP/srv_poll" ready 30 && wait_for "$HB_TMP/srv_keep" ready 30 ||
	{ echo "Bail out! servers"; exit 1; }
active_opens() { in_ns "$NS" nstat -asz TcpActiveOpens | awk '$1 == "TcpActiveOpens" { print $2 }'; }

# peer_field FILE PEER EXPR: EXPR over p, PEER's row in the last JSON line ("none" if absent)
peer_field() {
	python3 - "$1" "$2" "$3" <<'EOF2'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
d = json.loads(lines[-1]) if lines else {}
if "peers" not in d:
    print("no-peers-key")
    raise SystemExit
m = [p for p in d["peers"] if p["peer"] == sys.argv[2]]
p = m[0] if m else None
print("none" if p is None else eval(sys.argv[3]))
EOF2
}

v=0
for deny in "" tp_btf; do
	tag="HB_BPF_DENY=${deny:-none}"
	v=$((v + 1))
	: >"$HB_TMP/mon.err"
	HB_BPF_DENY=$deny mon_start "$HB_TMP/p$v.json" -j -i 500ms --peers \
		--textfile "$HB_TMP/p$v.prom" || { echo "Bail out! $tag: monitor"; exit 1; }
	# the persistent client first: its one handshake is outside the polling window
	cg_bg "$HB_TMP/keep$v" python3 "$PP" keep 127.0.0.1 7001 0.5; K=$BG
	wait_for "$HB_TMP/keep$v" ready 30 || { echo "Bail out! $tag: keep client"; exit 1; }
	a0=$(active_opens)
	cg_bg "$HB_TMP/poll$v" python3 "$PP" poll 127.0.0.1 7000 $N 0.2
	wait_for "$HB_TMP/poll$v" "done $N" 60 || diag "$tag: poller did not finish"
	a1=$(active_opens)
	sleep 1.2	# two intervals: the last closes are in the JSON
	kill "$K"; wait "$K" 2>/dev/null
	mon_stop
	delta=$((a1 - a0))
	diag "$tag: TcpActiveOpens delta $delta; polled row: $(peer_field "$HB_TMP/p$v.json" 127.0.0.1:7000 p)"
	check_eq "$tag: monitor exits 0" 0 "$MON_RC"
	check_eq "$tag: TcpActiveOpens counts the poller's $N connections" "$N" "$delta"
	check_eq "$tag: polled peer: handshakes = TcpActiveOpens delta, all closed, none failed" \
		"$delta $delta $delta 0" \
		"$(peer_field "$HB_TMP/p$v.json" 127.0.0.1:7000 "'%d %d %d %d' % (p['attempts'], p['opened'], p['closed'], p['failed'])")"
	check_eq "$tag: polled peer flagged, >= 10 per minute, short-lived, with the persistent cost" \
		"True True True True" \
		"$(peer_field "$HB_TMP/p$v.json" 127.0.0.1:7000 "'%s %s %s %s' % (p['polled'], p['opened_per_min'] >= 10, p['median_lifetime_ms'] < 5000, 'keepalive' in (p['persistent_cost'] or ''))")"
	check_eq "$tag: polled peer: bytes per connection (5 out + 3 in)" "8" \
		"$(peer_field "$HB_TMP/p$v.json" 127.0.0.1:7000 "p['bytes_per_conn']")"
	check_eq "$tag: persistent peer: 1 opened, still open, not polled, no cost" \
		"1 0 False None" \
		"$(peer_field "$HB_TMP/p$v.json" 127.0.0.1:7001 "'%d %d %s %s' % (p['opened'], p['closed'], p['polled'], p['persistent_cost'])")"
	check_eq "$tag: top by opened: the polled peer first" "127.0.0.1:7000" \
		"$(peer_field "$HB_TMP/p$v.json" 127.0.0.1:7000 "d['peers'][0]['peer']")"
	check "$tag: Prometheus: the polled peer's handshakes" \
		grep -qx "hbkeep_peer_connections_opened_total{cgroup=\"[^\"]*\",peer=\"127.0.0.1:7000\"} $delta" \
		"$HB_TMP/p$v.prom"
	check "$tag: Prometheus: polled 1" \
		grep -qx 'hbkeep_peer_polled{cgroup="[^"]*",peer="127.0.0.1:7000"} 1' "$HB_TMP/p$v.prom"
	check_eq "$tag: no errors on stderr" "" "$(mon_errors)"
done

# ---- refused connections: attempts and failures, no handshake -------------------------------
: >"$HB_TMP/mon.err"
mon_start "$HB_TMP/f.json" -j -i 300ms --peers || { echo "Bail out! monitor"; exit 1; }
a0=$(active_opens)
cg_bg "$HB_TMP/refused" python3 -c '
import socket
for _ in range(5):
    try:
        socket.create_connection(("127.0.0.1", 7002))
    except ConnectionRefusedError:
        pass
print("done", flush=True)'
wait_for "$HB_TMP/refused" done 30 || diag "refused: client did not finish"
a1=$(active_opens)
sleep 0.7
mon_stop
check_eq "refused: attempts = TcpActiveOpens delta ($((a1 - a0))), all failed, none opened" \
	"$((a1 - a0)) 0 5 0 False" \
	"$(peer_field "$HB_TMP/f.json" 127.0.0.1:7002 "'%d %d %d %d %s' % (p['attempts'], p['opened'], p['failed'], p['closed'], p['polled'])")"

# ---- table mode, --peers=1: the top peer only ------------------------------------------------
: >"$HB_TMP/mon.err"
mon_start "$HB_TMP/t.txt" -i 500ms --peers=1 || { echo "Bail out! table monitor"; exit 1; }
cg_bg "$HB_TMP/keep_t" python3 "$PP" keep 127.0.0.1 7001 0.5; K=$BG
wait_for "$HB_TMP/keep_t" ready 30 || { echo "Bail out! keep client"; exit 1; }
cg_bg "$HB_TMP/poll_t" python3 "$PP" poll 127.0.0.1 7000 15 0.2
wait_for "$HB_TMP/poll_t" "done 15" 60 || diag "table: poller did not finish"
sleep 1.2
kill "$K"; wait "$K" 2>/dev/null
mon_stop
last=$(awk '/^PEERS/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$HB_TMP/t.txt")
check "table: PEERS section with the polled peer: 15 opened, 15 closed, polled" \
	grep -qE '^  127\.0\.0\.1:7000 +15 +15 +0 +[0-9.]+ +[0-9]+ ms +8  yes$' <<<"$last"
check "table: the persistent cost under it" grep -q '^    persistent: 1 connection + a keepalive probe' <<<"$last"
check "table: --peers=1 leaves the second peer out" sh -c "! grep -q '127.0.0.1:7001' <<'E'
$last
E"
check_eq "table: no errors on stderr" "" "$(mon_errors)"

# ---- unavailable: tp_btf and raw_tp refused --------------------------------------------------
: >"$HB_TMP/mon.err"
HB_BPF_DENY=tp_btf,raw_tp mon_start "$HB_TMP/u.json" -j -i 300ms --peers ||
	{ echo "Bail out! monitor without tracepoints"; exit 1; }
cg_bg "$HB_TMP/poll_u" python3 "$PP" poll 127.0.0.1 7000 3 0.1
wait_for "$HB_TMP/poll_u" "done 3" 60 || diag "unavailable: poller did not finish"
sleep 0.7
mon_stop
check_eq "tp_btf,raw_tp refused: monitor exits 0" 0 "$MON_RC"
check_eq "tp_btf,raw_tp refused: no \"peers\" in JSON (absent, not empty)" "no-peers-key" \
	"$(peer_field "$HB_TMP/u.json" 127.0.0.1:7000 p)"
check_eq "tp_btf,raw_tp refused: said once on stderr" 1 \
	"$(grep -c 'no per-peer connection counts' "$HB_TMP/mon.err")"
st=$(HB_BPF_DENY=tp_btf,raw_tp "$HBCTL" doctor -j 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([c["status"] for c in d["checks"] if c["name"] == "monitor/peers"][0])')
check_eq "tp_btf,raw_tp refused: doctor says monitor/peers missing" missing "$st"
st=$("$HBCTL" doctor -j 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([c["status"] for c in d["checks"] if c["name"] == "monitor/peers"][0])')
check_eq "doctor: monitor/peers ok here" ok "$st"
