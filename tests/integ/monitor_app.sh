#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl monitor: application heartbeats and idle gaps, in a private network namespace and a
# child cgroup (the monitor is attached to that cgroup only):
#  - idle histogram: one connection with scripted gaps of 50 ms, 1 s and 3 s between data
#    segments lands one gap each in [32,64) ms, [512,1024) ms and [2048,4096) ms
#  - MQTT against a real mosquitto broker: mosquitto_sub (whose keepalive is at least 5 s in
#    Debian's 2.0.11, so -k 5) and a minimal python3 MQTT client with a 2 s keepalive
#    (tests/helpers/mqtt_ping.py): PINGREQ sent and PINGRESP received at the keepalive's
#    rate, per connection, equal to the broker's own log
#  - WebSocket ping/pong and HTTP/2 PING/PING-ACK from small python3 clients and servers
#    (tests/helpers/ws_ping.py, h2_ping.py), both ends in the cgroup: each frame counted once
#    sent and once received
# Needs root and BTF; on the project's machines it must not skip.
. "$(dirname "$0")/_monitor.sh"
need_cmd mosquitto mosquitto_sub
WS=$HB_ROOT/tests/helpers/ws_ping.py
H2=$HB_ROOT/tests/helpers/h2_ping.py
MQ=$HB_ROOT/tests/helpers/mqtt_ping.py

# ---- idle histogram ---------------------------------------------------------------------------
# the server outside the cgroup: only the client's socket records its gaps
ns_bg "$HB_TMP/s1" python3 "$PEER" server 127.0.0.1 5000
wait_for "$HB_TMP/s1" ready 30 || { echo "Bail out! server"; exit 1; }
mon_start "$HB_TMP/h.json" -j -i 250ms --conns || { echo "Bail out! monitor"; exit 1; }
# a second monitor on the same cgroup, in table mode (two monitors do not disturb each other)
"$HBCTL" monitor --cgroup "$CG" --netns "$NS" -d 9s -i 1s >"$HB_TMP/table.txt" \
	2>>"$HB_TMP/mon.err" &
TAB=$!
bg_pid $TAB
# both attached before the client starts (loading can take a second on a busy machine)
for ((i = 0; i < 200; i++)); do
	[ -e "/sys/fs/bpf/hbkeep/monitor_$TAB/sk_stats" ] && break
	sleep 0.05
done
cg_bg "$HB_TMP/c1" python3 "$PEER" client 127.0.0.1 5000 --gaps 0.05,1,3
wait_for "$HB_TMP/c1" done 15 || diag "gap client did not finish"
t_done=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 0.5
p1=$(sed -n 's/^conn \([0-9]*\)/\1/p' "$HB_TMP/c1")
got=$(jq_last "$HB_TMP/h.json" "' '.join('%s:%d' % (b['ge_ms'], b['count']) for b in d['idle_gap_hist'] if b['count'])")
check_eq "idle histogram: 50 ms, 1 s, 3 s gaps in [32,64), [512,1024), [2048,4096) ms" \
	"32:1 512:1 2048:1" "$got"
got=$(jq_last "$HB_TMP/h.json" "(2900 <= conn($p1).get('max_gap_ms', 0) <= 3200, 2900 <= conn($p1).get('last_gap_ms', 0) <= 3200)")
check_eq "per connection: longest and last gap ~3 s" "(True, True)" "$got"
# at the first interval after the last byte (python's own start-up on a busy machine must not
# count)
got=$(python3 - "$HB_TMP/h.json" "$p1" "$t_done" <<'EOF2'
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d["time"] >= sys.argv[3]:
        c = [c for c in d.get("conns", []) if c["local"].endswith(":" + sys.argv[2])]
        print(bool(c) and 0 <= c[0]["idle_ms"] < 1500)
        break
EOF2
)
check_eq "per connection: current idle time since the last data" "True" "$got"
mon_stop
wait $TAB
check_eq "table mode: exit 0 after -d" 0 $?
check "table: bcc-style histogram header" grep -q 'msecs *: count *distribution' "$HB_TMP/table.txt"
check "table: the 3 s gap's row" grep -qE '^ +2048 -> 4095 +: 1 +\|\*+ *\|' "$HB_TMP/table.txt"
check "table: top connections" grep -q '^TOP CONNECTIONS BY PROBES' "$HB_TMP/table.txt"
check "table: sections" sh -c "grep -q '^KEEPALIVE' '$HB_TMP/table.txt' && grep -q '^APP HEARTBEATS' '$HB_TMP/table.txt' && grep -q '^CONNECTIONS CLOSED' '$HB_TMP/table.txt'"

# ---- application heartbeats ----------------------------------------------------------------
# a real broker outside the cgroup, its subscriber inside with a 2 s MQTT keepalive
ns_bg "$HB_TMP/broker" sh -c 'exec mosquitto -p 1883 -v 2>&1'
wait_port "$NS" 1883 || { echo "Bail out! mosquitto did not listen"; exit 1; }
# WebSocket and HTTP/2 servers inside the cgroup
cg_bg "$HB_TMP/ws_s" python3 "$WS" server 127.0.0.1 8080
cg_bg "$HB_TMP/h2_s" python3 "$H2" server 127.0.0.1 8081
wait_for "$HB_TMP/ws_s" ready 30 && wait_for "$HB_TMP/h2_s" ready 30 || { echo "Bail out! ws/h2 servers"; exit 1; }

mon_start "$HB_TMP/a.json" -j -i 500ms --conns || { echo "Bail out! monitor"; exit 1; }
cg_bg "$HB_TMP/sub" mosquitto_sub -h 127.0.0.1 -p 1883 -t hbkeep/test -k 5 -i hbt-sub; SUB=$BG
cg_bg "$HB_TMP/mq" python3 "$MQ" 127.0.0.1 1883 hbt-py 2; MQP=$BG
# the rates count from the 2 s client's CONNECT (python starts slowly on a busy machine)
wait_for "$HB_TMP/mq" connected 15
t0=$(date +%s%N)
cg_bg "$HB_TMP/ws_c" python3 "$WS" client 127.0.0.1 8080 5 0.2
cg_bg "$HB_TMP/h2_c" python3 "$H2" client 127.0.0.1 8081 4 0.2
wait_for "$HB_TMP/ws_c" '^pongs' 15
wait_for "$HB_TMP/h2_c" '^acks' 15
sleep 11
# stop the MQTT clients (their connections stay open): the broker's log and the monitor's last
# interval then cover the same pings
kill -STOP "$SUB" "$MQP"
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
sleep 0.6	# one more interval printed
mon_stop
check_eq "ws client: 5 pongs" "ready pongs 5" "$(tr '\n' ' ' <"$HB_TMP/ws_c" | sed 's/ $//')"
check_eq "h2 client: 4 PING ACKs" "ready acks 4" "$(tr '\n' ' ' <"$HB_TMP/h2_c" | sed 's/ $//')"
a() { jq_last "$HB_TMP/a.json" "$1"; }
det="d['app_heartbeats_detail']"
pr_sub=$(grep -c 'Received PINGREQ from hbt-sub' "$HB_TMP/broker")
pr_py=$(grep -c 'Received PINGREQ from hbt-py' "$HB_TMP/broker")
pongs_py=$(sed -n 's/^pong //p' "$HB_TMP/mq" | tail -n1)
diag "broker log: PINGREQ from mosquitto_sub $pr_sub, from mqtt_ping.py $pr_py, in ${elapsed_ms} ms"
# per connection: the mqtt count is PINGREQ + PINGRESP of that connection
conn_mqtt() { a "[c['app_heartbeats']['mqtt'] for c in d['conns'] if c['comm'] == '$1' and c['peer'].endswith(':1883')]"; }
check_eq "mosquitto_sub -k 5: PINGREQ + PINGRESP of its connection = 2 x the broker's PINGREQs" \
	"[$((2 * pr_sub))]" "$(conn_mqtt mosquitto_sub)"
check "mosquitto_sub -k 5: one PINGREQ per 5 s ($pr_sub in ${elapsed_ms} ms)" \
	test "$pr_sub" -ge $((elapsed_ms / 5000 - 1)) -a "$pr_sub" -le $((elapsed_ms / 5000 + 1))
check_eq "2 s keepalive client: = 2 x the broker's PINGREQs" "[$((2 * pr_py))]" "$(conn_mqtt python3)"
check_eq "2 s keepalive client: the broker saw as many PINGREQ as the client got PINGRESP" \
	"$pr_py" "$pongs_py"
check "2 s keepalive client: one PINGREQ per 2 s ($pr_py in ${elapsed_ms} ms)" \
	test "$pr_py" -ge $((elapsed_ms / 2000 - 1)) -a "$pr_py" -le $((elapsed_ms / 2000))
ping=$((pr_sub + pr_py))
check_eq "MQTT totals: PINGREQ sent, PINGRESP received; nothing for the broker (outside)" \
	"$ping $ping 0 0" \
	"$(a "' '.join(str($det['mqtt'][k]) for k in ('ping_sent', 'pong_recv', 'ping_recv', 'pong_sent'))")"
check_eq "WebSocket: 5 pings and 5 pongs, each sent and received" "5 5 5 5" \
	"$(a "' '.join(str($det['websocket'][k]) for k in ('ping_sent', 'ping_recv', 'pong_sent', 'pong_recv'))")"
check_eq "HTTP/2: 4 PINGs and 4 ACKs, each sent and received" "4 4 4 4" \
	"$(a "' '.join(str($det['http2'][k]) for k in ('ping_sent', 'ping_recv', 'pong_sent', 'pong_recv'))")"
check_eq "app_heartbeats: mqtt websocket http2" "$((2 * ping)) 20 16" \
	"$(a "' '.join(str(d['app_heartbeats'][k]) for k in ('mqtt', 'websocket', 'http2'))")"
check_eq "no keepalive probe counted for heartbeat traffic" "0 0" \
	"$(a "'%d %d' % (d['total']['keepalive_probes_sent'], d['total']['keepalive_probes_recv'])")"
check_eq "no stray monitor errors (beside the notices of fallbacks)" "" "$(mon_errors)"
