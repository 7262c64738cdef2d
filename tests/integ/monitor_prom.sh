#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl monitor --prometheus with hostile clients, hostile process names and a real Prometheus
# (issue 13, items 4, 5 and 15), in a private network namespace and a child cgroup:
#  - availability: a client sending one byte every 0.9 s and 40 silent connections; another
#    scrape still answers within 3 s and the interval output keeps coming (the endpoint that
#    served inside the monitor's loop made a scrape wait 24.7 s and froze the output)
#  - UTF-8: two keepalive clients whose names (prctl PR_SET_NAME) are not UTF-8, one of them
#    cut by the kernel at 15 bytes in the middle of a character: promtool check metrics passes
#    on the endpoint and the textfile, the labels carry \xNN, and the monitor's table and
#    hbctl ls -p print \xNN instead of the raw bytes
#  - Debian's prometheus scrapes the endpoint (loopback, a temporary config and TSDB): the
#    probe counter it stored equals the namespace's TcpExtTCPKeepAlive delta
. "$(dirname "$0")/_monitor.sh"
need_cmd promtool prometheus
PROMPORT=$((30000 + $$ % 15000))
PPORT=$((PROMPORT + 15000))

cg_bg "$HB_TMP/s1" python3 "$PEER" server 127.0.0.1 5000
wait_for "$HB_TMP/s1" ready 30 || { echo "Bail out! server"; exit 1; }

n0=$(ka_count)
mon_start "$HB_TMP/mon.out" -i 500ms --conns --prometheus "127.0.0.1:$PROMPORT" \
	--textfile "$HB_TMP/hb.prom" || { echo "Bail out! monitor"; exit 1; }

# ---- a real Prometheus scraping the endpoint every second -----------------------------------
cat >"$HB_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: hbkeep
    static_configs:
      - targets: ["127.0.0.1:$PROMPORT"]
EOF
prometheus --config.file="$HB_TMP/prometheus.yml" --storage.tsdb.path="$HB_TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$HB_TMP/prometheus.log" 2>&1 &
bg_pid $!
# promq EXPR: "TIMESTAMP VALUE" of the first result of an instant query (nothing if none)
promq() {
	curl -sf -m 5 --get --data-urlencode "query=$1" "http://127.0.0.1:$PPORT/api/v1/query" |
		python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][0], r[0]["value"][1]) if r else None'
}

# ---- keepalive clients with hostile names ----------------------------------------------------
# NAME_HEX is set with prctl(PR_SET_NAME) after connecting; keepalive 1 s/1 s/9
named_client() {
	cg_bg "$1" python3 -c '
import ctypes, socket, sys, time
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.connect(("127.0.0.1", 5000))
ctypes.CDLL(None).prctl(15, bytes.fromhex(sys.argv[1]))
print("ready", open("/proc/self/comm", "rb").read().rstrip(b"\n").hex(), flush=True)
time.sleep(3600)' "$2"
}
# 0xff 0xfe (never UTF-8) then "bad"; and "abcdefghijklmn" + "é" (16 bytes, cut at 15)
named_client "$HB_TMP/c1" fffe626164
C1=$BG
named_client "$HB_TMP/c2" 6162636465666768696a6b6c6d6ec3a9
C2=$BG
wait_for "$HB_TMP/c1" ready 30 && wait_for "$HB_TMP/c2" ready 30 || { echo "Bail out! clients"; exit 1; }
check_eq "the kernel cut the second name in the middle of a character" \
	"ready 6162636465666768696a6b6c6d6ec3" "$(cat "$HB_TMP/c2")"

# ---- 4. one slow client and 40 silent connections ---------------------------------------------
python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for b in b"GET /metrics HTTP/1.1\r\nHost: slow\r\nX-Slow: " + b"x" * 1000:
    s.send(bytes([b])); time.sleep(0.9)' "$PROMPORT" >/dev/null 2>&1 &
bg_pid $!
python3 -c '
import socket, sys, time
c = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(40)]
print("ready", flush=True)
time.sleep(3600)' "$PROMPORT" >"$HB_TMP/silent" 2>&1 &
bg_pid $!
wait_for "$HB_TMP/silent" ready 10 || diag "the silent connections did not all connect"
sleep 1
ticks() { grep -c '^hbctl monitor ' "$HB_TMP/mon.out"; }
t0=$(ticks)
worst=0
for i in 1 2 3 4 5; do
	r=$(curl -s -m 20 -o "$HB_TMP/scrape$i.txt" -w '%{http_code} %{time_total}' \
		"http://127.0.0.1:$PROMPORT/metrics")
	code=${r% *} took=${r#* }
	[ "$code" = 200 ] || diag "scrape $i: HTTP $code after $took s"
	worst=$(awk -v a="$worst" -v b="$took" 'BEGIN { print (b > a) ? b : a }')
	sleep 1
done
t1=$(ticks)
diag "during the attack: slowest scrape $worst s, $((t1 - t0)) interval outputs in ~5.5 s (-i 500ms)"
check "a scrape beside a slow client and 40 silent connections answers within 3 s" \
	awk -v w="$worst" 'BEGIN { exit !(w < 3) }'
check "every scrape during the attack answered 200" \
	sh -c "for i in 1 2 3 4 5; do grep -q '^hbkeep_keepalive_probes_sent_total' '$HB_TMP/scrape'\$i.txt || exit 1; done"
check "the interval output kept coming during the attack (at least 6 in ~5.5 s)" \
	test $((t1 - t0)) -ge 6

# ---- 5. names that are not UTF-8 -----------------------------------------------------------
S=$HB_TMP/scrape5.txt
# no_high FILE: FILE has text, and no byte >= 0x80 (what the escaping leaves is ASCII here)
no_high() { [ -s "$1" ] && ! LC_ALL=C grep -qP '[\x80-\xff]' "$1"; }
check "promtool check metrics: endpoint with names that are not UTF-8" \
	sh -c "promtool check metrics <'$S' >'$HB_TMP/pt1' 2>&1"
[ -s "$HB_TMP/pt1" ] && diag "$(head -n 5 "$HB_TMP/pt1")"
check "promtool check metrics: textfile with names that are not UTF-8" \
	sh -c "promtool check metrics <'$HB_TMP/hb.prom' >'$HB_TMP/pt2' 2>&1"
[ -s "$HB_TMP/pt2" ] && diag "$(head -n 5 "$HB_TMP/pt2")"
check "the label carries the invalid bytes as \\xNN" \
	grep -qF 'comm="\\xff\\xfebad",keepalive="on"} 1' "$S"
check "the label carries a name cut mid-character as \\xNN" \
	grep -qF 'comm="abcdefghijklmn\\xc3",keepalive="on"} 1' "$S"
check "no raw byte >= 0x80 in the exposition" no_high "$S"
check "monitor table: the names escaped" \
	sh -c "grep -qF '/\\xff\\xfebad' '$HB_TMP/mon.out' && grep -qF '/abcdefghijklmn\\xc3' '$HB_TMP/mon.out'"
check "monitor table: no raw byte >= 0x80" no_high "$HB_TMP/mon.out"
in_ns "$NS" "$HBCTL" ls -p --dport 5000 >"$HB_TMP/ls.txt" 2>&1
check "hbctl ls -p: the names escaped" \
	sh -c "grep -qF '/\\xff\\xfebad/' '$HB_TMP/ls.txt' && grep -qF '/abcdefghijklmn\\xc3/' '$HB_TMP/ls.txt'"
check "hbctl ls -p: no raw byte >= 0x80" no_high "$HB_TMP/ls.txt"
[ $_tap_fail -eq 0 ] || diag "$(head -c 800 "$HB_TMP/ls.txt")"

# ---- 15. what Prometheus stored equals the kernel's count ------------------------------------
kill "$C1" "$C2" 2>/dev/null
wait "$C1" "$C2" 2>/dev/null
sleep 1.5	# the last probe's answer is in, and the monitor has published after it
n1=$(ka_count)
after=$(date +%s.%N)
stored= up=
for ((i = 0; i < 60; i++)); do
	r=$(promq "hbkeep_keepalive_probes_sent_total")
	# a sample scraped at least one interval after the kernel's count was read
	if [ -n "$r" ] && awk -v t="${r% *}" -v a="$after" 'BEGIN { exit !(t > a + 0.6) }'; then
		stored=${r#* }
		up=$(promq 'up{job="hbkeep"}')
		break
	fi
	sleep 0.5
done
diag "TcpExtTCPKeepAlive went from $n0 to $n1; Prometheus stored '${stored:-nothing}'"
[ -n "$stored" ] || diag "$(tail -n 5 "$HB_TMP/prometheus.log")"
check_eq "Prometheus scraped the endpoint (up == 1)" 1 "${up#* }"
check "the kernel counted probes" test $((n1 - n0)) -gt 2
check_eq "the probe counter Prometheus stored equals the TcpExtTCPKeepAlive delta" \
	"$((n1 - n0))" "$stored"

mon_stop
check_eq "monitor exits 0 on SIGTERM" 0 "$MON_RC"
