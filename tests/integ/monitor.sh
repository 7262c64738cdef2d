#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl monitor (bpf/hbmon.bpf.c) in a private network namespace and a child cgroup:
#  - exactness: keepalive probes sent/received and their ACKs equal the namespace's change of
#    TcpExtTCPKeepAlive, with both ends in the cgroup and with either end alone; a busy
#    connection (data every 200 ms) counts no probe
#  - zero-window probes: equal to TcpExtTCPWinProbe, none counted as keepalive
#  - death: the peer's ACKs dropped (nftables): probes unanswered, close = keepalive_timeout;
#    also reset_sent/reset_recv (SO_LINGER 0), user_timeout and retrans_timeout
#  - outputs: the -j fields, promtool on the endpoint and on the textfile, hbctl ls showing
#    per-socket counters while the monitor runs
#  - lifecycle: after SIGTERM nothing attached to the cgroup and nothing pinned; --pin/--unpin
# Needs root and BTF; on the project's machines it must not skip.
. "$(dirname "$0")/_monitor.sh"
need_cmd promtool
PROMPORT=$((20000 + $$ % 20000))

# mon_peer servers: S1 (port 5000) inside the cgroup, S2 (port 5002) outside it
cg_bg "$HB_TMP/s1" python3 "$PEER" server 127.0.0.1 5000
ns_bg "$HB_TMP/s2" python3 "$PEER" server 127.0.0.1 5002
wait_for "$HB_TMP/s1" ready 30 && wait_for "$HB_TMP/s2" ready 30 || { echo "Bail out! servers"; exit 1; }
progs_before=$(bpftool prog show 2>/dev/null | grep -c 'name cgskb_egress')

port_of() { sed -n 's/^conn \([0-9]*\)/\1/p' "$1" | head -n1; }

# ---- 1. exactness, both ends in the cgroup; a busy connection beside it -------------------
n0=$(ka_count)
mon_start "$HB_TMP/m1.json" -j -i 200ms --conns --prometheus "127.0.0.1:$PROMPORT" \
	--textfile "$HB_TMP/hb.prom" || { echo "Bail out! monitor"; exit 1; }
cg_bg "$HB_TMP/c_idle" python3 "$PEER" client 127.0.0.1 5000 --ka 1,1,9; C_IDLE=$BG
cg_bg "$HB_TMP/c_busy" python3 "$PEER" client 127.0.0.1 5000 --ka 1,1,9 --busy 200 --hold 60
C_BUSY=$BG
wait_for "$HB_TMP/c_idle" ready 30 && wait_for "$HB_TMP/c_busy" ready 30 || { echo "Bail out! clients"; exit 1; }
p_idle=$(port_of "$HB_TMP/c_idle") p_busy=$(port_of "$HB_TMP/c_busy")
sleep 5.5

# while it runs: hbctl ls shows the counters (JSON "monitor" object, table column)
in_ns "$NS" "$HBCTL" ls -j >"$HB_TMP/ls.json" 2>"$HB_TMP/ls.err"
got=$(python3 -c '
import json, sys
s = [x for x in json.load(open(sys.argv[1])) if x["local"] == "127.0.0.1:" + sys.argv[2]]
m = s[0].get("monitor", {}) if s else {}
print(m.get("keepalive_probes_sent", -1) >= 4, m.get("keepalive_acks_recv", -1) >= 4,
      "idle_ms" in m and "max_gap_ms" in m)' "$HB_TMP/ls.json" "$p_idle")
check_eq "ls -j: the idle client's socket carries the monitor's counters" "True True True" "$got"
in_ns "$NS" "$HBCTL" ls --port 5000 >"$HB_TMP/ls.txt" 2>&1
check "ls table: a PROBES(S/R/U) column while the monitor runs" \
	grep -q 'PROBES(S/R/U)' "$HB_TMP/ls.txt"
row=$(awk -v p=":$p_idle" 'substr($2, length($2) - length(p) + 1) == p' "$HB_TMP/ls.txt")
check "ls table: the idle client's row shows its probes" grep -qE ' [1-9][0-9]*/0/0( |$)' <<<"$row"
[ $_tap_fail -eq 0 ] || diag "$(head -c 600 "$HB_TMP/ls.txt")"

# Prometheus endpoint and textfile, checked by promtool
curl -sf "http://127.0.0.1:$PROMPORT/metrics" >"$HB_TMP/scrape.txt"
check "the Prometheus endpoint answers" test -s "$HB_TMP/scrape.txt"
check "promtool check metrics: endpoint" sh -c "promtool check metrics <'$HB_TMP/scrape.txt' >'$HB_TMP/promtool1' 2>&1"
[ -s "$HB_TMP/promtool1" ] && diag "$(head -n 5 "$HB_TMP/promtool1")"
check "promtool check metrics: textfile" sh -c "promtool check metrics <'$HB_TMP/hb.prom' >'$HB_TMP/promtool2' 2>&1"
[ -s "$HB_TMP/promtool2" ] && diag "$(head -n 5 "$HB_TMP/promtool2")"
check "endpoint: hbkeep_keepalive_probes_sent_total counts" \
	grep -qE '^hbkeep_keepalive_probes_sent_total\{cgroup="[^"]*"\} [1-9]' "$HB_TMP/scrape.txt"
for m in hbkeep_keepalive_probes_unanswered_total hbkeep_app_heartbeats_total hbkeep_idle_gap_seconds_bucket \
	hbkeep_connections_closed_total hbkeep_open_connections hbkeep_connection_idle_seconds; do
	check "endpoint and textfile have $m" sh -c "grep -q '^$m{' '$HB_TMP/scrape.txt' && grep -q '^$m{' '$HB_TMP/hb.prom'"
done
check "hbkeep_open_connections has the owner's comm" \
	grep -qE '^hbkeep_open_connections\{cgroup="[^"]*",comm="python3",keepalive="on"\} 2' "$HB_TMP/scrape.txt"
check_eq "curl /other: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PROMPORT/other")"

busy=$(jq_last "$HB_TMP/m1.json" "(conn($p_busy).get('keepalive_probes_sent'), conn($p_busy).get('keepalive_probes_recv'), conn($p_busy).get('app_heartbeats_sent'))")
check_eq "a busy connection (data every 200 ms) counts no probe" "(0, 0, 0)" "$busy"
kill -9 "$C_IDLE" "$C_BUSY" 2>/dev/null
wait "$C_IDLE" "$C_BUSY" 2>/dev/null
sleep 0.6
n1=$(ka_count)
mon_stop
check_eq "monitor exits 0 on SIGTERM" 0 "$MON_RC"
delta=$((n1 - n0))
diag "TcpExtTCPKeepAlive went from $n0 to $n1"
[ $((n1 - n0)) -gt 8 ] && diag "$(python3 -c "import json,sys; [print(c["local"], c["peer"], c["keepalive_probes_sent"], c["keepalive_probes_recv"]) for c in json.loads(open(sys.argv[1]).readlines()[-8])["conns"]]" "$HB_TMP/m1.json")"
check "the idle connection sent probes (kernel: $delta)" test "$delta" -ge 4
got=$(jq_last "$HB_TMP/m1.json" "' '.join(str(d['total'][k]) for k in ('keepalive_probes_sent', 'keepalive_probes_recv', 'keepalive_acks_sent', 'keepalive_acks_recv', 'keepalive_probes_unanswered', 'zero_window_probes'))")
check_eq "both ends: sent recv acks_sent acks_recv unanswered zwp = kernel delta" \
	"$delta $delta $delta $delta 0 0" "$got"

# JSON shape (DESIGN.md)
python3 - "$HB_TMP/m1.json" >"$HB_TMP/shape" 2>&1 <<'EOF'
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(lines) >= 20, "one line per 200 ms interval: %d" % len(lines)
C = ["keepalive_probes_sent", "keepalive_probes_recv", "keepalive_acks_sent",
     "keepalive_acks_recv", "keepalive_probes_unanswered", "zero_window_probes"]
for d in lines:
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$", d["time"]), d["time"]
    assert isinstance(d["interval_s"], (int, float)) and 0 < d["interval_s"] < 1
    for k in ("total", "delta"):
        for c in C:
            assert isinstance(d[k][c], int) and d[k][c] >= 0, (k, c)
    h = d["idle_gap_hist"]
    assert isinstance(h, list) and len(h) >= 20
    for b in h:
        assert isinstance(b["count"], int) and ("le_ms" in b)
    assert [b["le_ms"] for b in h[:3]] == [2, 4, 8]
    assert set(d["closed"]) == {"normal", "reset_recv", "reset_sent", "keepalive_timeout",
                                "user_timeout", "retrans_timeout"}
    assert set(d["app_heartbeats"]) == {"mqtt", "websocket", "http2"}
    for c in d["conns"]:
        for k in ["local", "peer", "pid", "comm"] + C:
            assert k in c, k
# deltas add up to the totals
for c in C:
    assert sum(d["delta"][c] for d in lines) == lines[-1]["total"][c], c
rows = [c for d in lines for c in d["conns"] if c["pid"]]
assert rows and all(c["comm"] == "python3" for c in rows), "pid/comm of the rows"
print("ok")
EOF
check "-j: every line has DESIGN.md's fields; deltas add up to totals" grep -qx ok "$HB_TMP/shape"
grep -qx ok "$HB_TMP/shape" || diag "$(tail -n 3 "$HB_TMP/shape")"

# ---- 2. one end only: the client in the cgroup, the server (S2) outside -------------------
n0=$(ka_count)
mon_start "$HB_TMP/m2.json" -j -i 200ms || { echo "Bail out! monitor"; exit 1; }
cg_bg "$HB_TMP/c2" python3 "$PEER" client 127.0.0.1 5002 --ka 1,1,9; C2=$BG
wait_for "$HB_TMP/c2" ready 30
sleep 4.5
kill -9 "$C2"; wait "$C2" 2>/dev/null
sleep 0.5
n1=$(ka_count)
mon_stop
delta=$((n1 - n0))
got=$(jq_last "$HB_TMP/m2.json" "' '.join(str(d['total'][k]) for k in ('keepalive_probes_sent', 'keepalive_probes_recv', 'keepalive_acks_sent', 'keepalive_acks_recv'))")
check "client only: probes were sent ($delta)" test "$delta" -ge 3
check_eq "client only: sent=delta recv=0 acks_sent=0 acks_recv=delta" "$delta 0 0 $delta" "$got"

# ---- 3. one end only: the server (S1) in the cgroup, the client outside --------------------
n0=$(ka_count)
mon_start "$HB_TMP/m3.json" -j -i 200ms || { echo "Bail out! monitor"; exit 1; }
ns_bg "$HB_TMP/c3" python3 "$PEER" client 127.0.0.1 5000 --ka 1,1,9; C3=$BG
wait_for "$HB_TMP/c3" ready 30
sleep 4.5
kill -9 "$C3"; wait "$C3" 2>/dev/null
sleep 0.5
n1=$(ka_count)
mon_stop
delta=$((n1 - n0))
got=$(jq_last "$HB_TMP/m3.json" "' '.join(str(d['total'][k]) for k in ('keepalive_probes_sent', 'keepalive_probes_recv', 'keepalive_acks_sent', 'keepalive_acks_recv'))")
check "server only: probes were received ($delta)" test "$delta" -ge 3
check_eq "server only: sent=0 recv=delta acks_sent=delta acks_recv=0" "0 $delta $delta 0" "$got"

# ---- 4. death by keepalive: the server's segments dropped ---------------------------------
mon_start "$HB_TMP/m4.json" -j -i 200ms --conns || { echo "Bail out! monitor"; exit 1; }
n0=$(ka_count)
cg_bg "$HB_TMP/c4" python3 "$PEER" client 127.0.0.1 5002 --ka 1,1,3
wait_for "$HB_TMP/c4" ready 30 || diag "the client did not start"
p4=$(port_of "$HB_TMP/c4")
[ -n "$p4" ] || { echo "Bail out! no client port"; exit 1; }
in_ns "$NS" nft -f - <<EOF
table inet hbmon {
	chain in {
		type filter hook input priority 0; policy accept;
		tcp sport 5002 tcp dport $p4 drop
	}
}
EOF
for ((i = 0; i < 200; i++)); do
	[ "$(jq_last "$HB_TMP/m4.json" "d.get('closed', {}).get('keepalive_timeout')")" = 1 ] && break
	sleep 0.1
done
n1=$(ka_count)
sleep 0.3
check_eq "keepalive death: closed.keepalive_timeout" 1 "$(jq_last "$HB_TMP/m4.json" "d['closed']['keepalive_timeout']")"
got=$(python3 - "$HB_TMP/m4.json" "$p4" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    for e in json.loads(l).get("closes", []):
        if e["local"].endswith(":" + sys.argv[2]):
            print(e["cause"], e["keepalive_probes_sent"], e["keepalive_probes_unanswered"],
                  e["keepalive_acks_recv"], e["err"], e["idle_ms"] >= 3000)
EOF
)
check_eq "death event: cause, probes sent, unanswered, acks, err ETIMEDOUT, idle at death" \
	"keepalive_timeout 3 3 0 110 True" "$got"
[ "$got" = "keepalive_timeout 3 3 0 110 True" ] || diag "$(grep -o '"closes":\[[^]]*\]' "$HB_TMP/m4.json" | sort | uniq -c)"
check_eq "death: unanswered total = kernel's probes" "$((n1 - n0)) $((n1 - n0))" \
	"$(jq_last "$HB_TMP/m4.json" "'%d %d' % (d['total']['keepalive_probes_sent'], d['total']['keepalive_probes_unanswered'])")"
mon_stop
in_ns "$NS" nft delete table inet hbmon

# ---- 4b. zero-window probes: counted apart, never as keepalive -------------------------------
# a receiver that never reads, a sender (keepalive 1 s) that fills its window: the kernel sends
# zero-window probes (TcpExtTCPWinProbe), and no keepalive probe (data is queued)
cat >"$HB_TMP/zwp.py" <<'PYEOF'
import socket, sys, time
if sys.argv[1] == "server":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind(("127.0.0.1", 5004)); ls.listen(1)
    print("ready", flush=True)
    c, _ = ls.accept()
    time.sleep(600)
s = socket.create_connection(("127.0.0.1", 5004))
for o, v in ((socket.TCP_KEEPIDLE, 1), (socket.TCP_KEEPINTVL, 1)):
    s.setsockopt(socket.IPPROTO_TCP, o, v)
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.setblocking(False)
try:
    while True:
        s.send(b"z" * 65536)
except BlockingIOError:
    pass
print("full", flush=True)
time.sleep(600)
PYEOF
wp() { in_ns "$NS" nstat -asz TcpExtTCPWinProbe | awk '$1 == "TcpExtTCPWinProbe" { print $2 }'; }
cg_bg "$HB_TMP/zs" python3 "$HB_TMP/zwp.py" server; ZS=$BG
wait_for "$HB_TMP/zs" ready 30
w0=$(wp) n0=$(ka_count)
mon_start "$HB_TMP/m4b.json" -j -i 200ms || { echo "Bail out! monitor"; exit 1; }
cg_bg "$HB_TMP/zc" python3 "$HB_TMP/zwp.py" client; ZC=$BG
wait_for "$HB_TMP/zc" full 30
sleep 3.5
w1=$(wp) n1=$(ka_count)
# the receiver goes first: closing with unread data resets the connection, so that no orphan
# lingers into the next monitor
kill -9 "$ZS" "$ZC"; wait "$ZS" "$ZC" 2>/dev/null
sleep 0.5
mon_stop
diag "TcpExtTCPWinProbe went from $w0 to $w1, TcpExtTCPKeepAlive from $n0 to $n1"
check "zero-window probes were sent ($((w1 - w0)))" test $((w1 - w0)) -ge 2
check_eq "zero-window probes sent, received = TcpExtTCPWinProbe; keepalive = TcpExtTCPKeepAlive (0)" \
	"$((w1 - w0)) $((w1 - w0)) $((n1 - n0)) 0" \
	"$(jq_last "$HB_TMP/m4b.json" "'%d %d %d %d' % tuple(d['total'][k] for k in ('zero_window_probes', 'zero_window_probes_recv', 'keepalive_probes_sent', 'keepalive_probes_recv'))")"

# ---- 5. the other causes -------------------------------------------------------------------
# reset: a client in the cgroup closes with SO_LINGER 0 (reset_sent), S1 gets the RST
# (reset_recv); user timeout and retransmission timeout: data into a black hole
CLOSER=$HB_ROOT/tests/helpers/closer.py
in_ns "$NS" sysctl -qw net.ipv4.tcp_retries2=2
mon_start "$HB_TMP/m5.json" -j -i 200ms --conns || { echo "Bail out! monitor"; exit 1; }
cg_bg "$HB_TMP/c5" python3 "$CLOSER" linger0 5000 -
wait_for "$HB_TMP/c5" done 30
cg_bg "$HB_TMP/c6" python3 "$CLOSER" uto 5002 "$HB_TMP/dropping"
wait_for "$HB_TMP/c6" '^conn' 30
p6=$(port_of "$HB_TMP/c6")
cg_bg "$HB_TMP/c7" python3 "$CLOSER" plain 5002 "$HB_TMP/dropping"
wait_for "$HB_TMP/c7" '^conn' 30
p7=$(port_of "$HB_TMP/c7")
in_ns "$NS" nft add table inet hbmon
in_ns "$NS" nft add chain inet hbmon in '{ type filter hook input priority 0; policy accept; }'
in_ns "$NS" nft add rule inet hbmon in tcp sport 5002 tcp dport "{ $p6, $p7 }" drop
touch "$HB_TMP/dropping"
wait_for "$HB_TMP/c6" '^error' 15
wait_for "$HB_TMP/c7" '^error' 20
sleep 0.5
mon_stop
got=$(jq_last "$HB_TMP/m5.json" "' '.join('%s=%d' % (k, d['closed'][k]) for k in ('reset_sent', 'reset_recv', 'user_timeout', 'retrans_timeout', 'keepalive_timeout'))")
check_eq "closes: SO_LINGER 0, its peer, TCP_USER_TIMEOUT, retransmissions" \
	"reset_sent=1 reset_recv=1 user_timeout=1 retrans_timeout=1 keepalive_timeout=0" "$got"
in_ns "$NS" nft delete table inet hbmon

# ---- 6. lifecycle ----------------------------------------------------------------------------
check_eq "after SIGTERM: nothing attached to the cgroup" "" \
	"$(bpftool cgroup show "$CG" 2>&1 | grep -v '^ID' | grep .)"
check "after SIGTERM: the monitor's pins are gone" test ! -e "/sys/fs/bpf/hbkeep/monitor_$MON"
# (the root is shared: policies and the paths table may keep it)
check "after SIGTERM: nothing of the monitor's left in the pin root" \
	eval '! ls /sys/fs/bpf/hbkeep 2>/dev/null | grep -qvxE "policy|paths"'
for ((i = 0; i < 40; i++)); do
	[ "$(bpftool prog show 2>/dev/null | grep -c 'name cgskb_egress')" -le "$progs_before" ] && break
	sleep 0.1
done
check "after SIGTERM: the programs are freed" \
	test "$(bpftool prog show 2>/dev/null | grep -c 'name cgskb_egress')" -le "$progs_before"

# --pin: everything stays attached and pinned after exit; --unpin removes it
if [ -e /sys/fs/bpf/hbkeep/monitor ]; then
	skip "--pin: a monitor is already pinned on this machine"
else
	"$HBCTL" monitor --cgroup "$CG" --netns "$NS" --pin -d 300ms -q 2>>"$HB_TMP/mon.err"
	check_eq "--pin: exit 0" 0 $?
	check "--pin: pinned after exit" test -e /sys/fs/bpf/hbkeep/monitor/sk_stats
	check "--pin: still attached to the cgroup" sh -c "bpftool cgroup show '$CG' | grep -q cgskb_egress"
	"$HBCTL" monitor --cgroup "$CG" --netns "$NS" --pin -d 300ms -j >"$HB_TMP/m7.json" \
		2>>"$HB_TMP/mon.err"
	check_eq "--pin again: reads the pinned monitor" True \
		"$(jq_last "$HB_TMP/m7.json" "d['total']['keepalive_probes_sent'] >= 0")"
	# a pinned monitor that lost a pin is not read: one line naming it and the way out
	rm /sys/fs/bpf/hbkeep/monitor/events
	"$HBCTL" monitor --cgroup "$CG" --netns "$NS" --pin -d 300ms -q 2>"$HB_TMP/m8.err"
	check_eq "--pin onto an incomplete pinned monitor: exit 1" 1 $?
	check_lines "--pin onto an incomplete pinned monitor: one line naming the pin and --unpin" \
		"hbctl: monitor: /sys/fs/bpf/hbkeep/monitor/events: No such file or directory (the monitor pinned there is incomplete); remove it with hbctl monitor --unpin" \
		"$(cat "$HB_TMP/m8.err")"
	"$HBCTL" monitor --unpin
	check_eq "--unpin: exit 0" 0 $?
	check "--unpin: nothing pinned" eval '! ls /sys/fs/bpf/hbkeep 2>/dev/null | grep -qvxE "policy|paths"'
	check_eq "--unpin: nothing attached" "" "$(bpftool cgroup show "$CG" 2>&1 | grep -v '^ID' | grep .)"
	"$HBCTL" monitor --unpin 2>/dev/null
	check_eq "--unpin with nothing pinned: exit 3" 3 $?
fi
check_eq "no stray monitor errors (beside the notices of fallbacks)" "" "$(mon_errors)"
