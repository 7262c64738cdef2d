#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl probe-nat against a 30 s NAT (tests/integ/_nat.sh's three namespaces, the router's
# conntrack forgetting an idle flow after 30 s): how long it takes to bracket the timeout to
# 1 s, how wide the bracket is, how many flows it opens and what the server sees (accepted
# connections, segments in and out, from the server namespace's counters). Target (issue 14):
# bracketed to 1 s in at most 45 s (1.5 x the timeout) with at most 64 flows.
# Prints figures only (exit 0 unless it cannot run); removes its namespaces.
# Usage: scripts/bench-probe-nat.sh [TIMEOUT_S]     (default 30)
HB_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$HB_ROOT/tests/integ/_lib.sh"
. "$HB_ROOT/tests/integ/_nat.sh"
T=${1:-30}
say() { printf '%s\n' "$*"; }
if [ "$(id -u)" -ne 0 ]; then
	say "bench-probe-nat: skipped: needs root (network namespaces)"
	exit 0
fi
HBCTL=$O/hbctl
[ -x "$HBCTL" ] || { say "bench-probe-nat: $HBCTL not built (make)"; exit 1; }
nat_clean_env
nat_setup "$T" >/dev/null || { say "bench-probe-nat: NAT setup failed"; exit 1; }
nsenter --net="/run/netns/$NAT_SERVER" "$NAT_PY" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7000))
s.listen(128)
held = []
while True:
    held.append(s.accept()[0])
' "$NAT_SERVER_IP" >/dev/null 2>&1 &
bg_pid $!
wait_port "$NAT_SERVER" 7000 10 || { say "bench-probe-nat: listener did not start"; exit 1; }
snap() { nsenter --net="/run/netns/$NAT_SERVER" nstat -az TcpPassiveOpens TcpInSegs TcpOutSegs |
	awk '/^Tcp/ { printf "%s ", $2 }'; }
read -r po0 in0 out0 < <(snap)
t0=$EPOCHREALTIME
nsenter --net="/run/netns/$NAT_CLIENT" "$HBCTL" probe-nat "$NAT_SERVER_IP:7000" --max 30m -j \
	>"$HB_TMP/pn.json" 2>"$HB_TMP/pn.err"
rc=$?
t1=$EPOCHREALTIME
read -r po1 in1 out1 < <(snap)
[ "$rc" -eq 0 ] || { say "bench-probe-nat: probe-nat failed ($rc): $(cat "$HB_TMP/pn.err")"; exit 1; }
"$NAT_PY" - "$HB_TMP/pn.json" "$T" "$t0" "$t1" "$((po1 - po0))" "$((in1 - in0))" "$((out1 - out0))" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t = float(sys.argv[2]); el = float(sys.argv[4]) - float(sys.argv[3])
po, sin, sout = map(int, sys.argv[5:8])
s, dr = d["survived_s"], d["dropped_s"]
w = dr - s if dr is not None else float("nan")
print("== probe-nat: a %g s NAT (router conntrack), defaults (--parallel %d, --max 30m)" % (t, d["parallel"]))
print("  bracket      %g-%s s (width %.2f s; contains %g: %s)" % (s, dr, w, t, "yes" if dr is not None and s <= t <= dr else "NO"))
print("  wall time    %.1f s (%.2f x the timeout), %d round(s)" % (el, el / t, d["rounds"]))
print("  flows        %d connections (at most %d at a time)" % (d["connections"], d["parallel"]))
print("  server load  %d connections accepted, %d segments in, %d out (%.1f segments/s in)" % (po, sin, sout, sin / el))
ok = dr is not None and s <= t <= dr and w <= 1.1 and el <= 1.5 * t and d["connections"] <= 64
print("  target       bracketed to 1 s in <= %.0f s with <= 64 flows: %s" % (1.5 * t, "met" if ok else "NOT met"))
PY
