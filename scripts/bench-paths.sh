#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A model, not a measurement: keepalive probes of a host with 1,000 idle connections spread
# evenly over 10 paths whose NAT timeouts run from 30 s to 600 s, with --idle auto against the
# best fixed idle that keeps every path alive. The idle of each path comes from hbctl itself
# (`hbctl paths ls -j` on a table of the 10 timeouts: the rule the kernel policy applies,
# floor(0.8 x timeout)); the fixed idle is the same rule for the shortest timeout. An idle
# connection sends one probe every idle seconds (the answer restarts the timer), which
# tests/integ/paths.sh checks against the kernel's TcpExtTCPKeepAlive.
# Usage: scripts/bench-paths.sh        (needs hbctl built; no root)
HB_ROOT=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$HB_ROOT/$O ;; esac
HBCTL=$O/hbctl
[ -x "$HBCTL" ] || { echo "bench-paths: $HBCTL not built (make)"; exit 1; }
TMP=$(mktemp -d /tmp/hbpaths.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export HB_PATHS_FILE=$TMP/paths
TIMEOUTS="30 60 90 120 180 240 300 350 480 600"	# home routers .. Azure LB 240, AWS NLB 350, GCP 600
CONNS=100					# per path
i=0
for t in $TIMEOUTS; do
	i=$((i + 1))
	"$HBCTL" paths add "10.0.$i.0/24" --timeout "${t}s" >/dev/null || exit 1
done
"$HBCTL" paths ls -j | python3 -c '
import json, sys
conns = int(sys.argv[1])
e = json.load(sys.stdin)
fixed = min(x["idle_s"] for x in e)		# the shortest path decides a fixed idle
auto = sum(conns / x["idle_s"] for x in e)	# probes per second
fix = len(e) * conns / fixed
print("== adaptive keepalive (a model: %d idle connections over %d paths, timeouts %s s)" %
      (len(e) * conns, len(e), "/".join("%g" % x["dropped_s"] for x in e)))
print("  idle per path (--idle auto): %s s" % "/".join(str(x["idle_s"]) for x in e))
print("  fixed idle %d s (the best that keeps the 30 s path alive): %.1f probes/s, %d per hour" % (fixed, fix, round(fix * 3600)))
print("  --idle auto: %.1f probes/s, %d per hour: %.1fx fewer (%.0f%% saved)" % (auto, round(auto * 3600), fix / auto, 100 * (1 - auto / fix)))
' "$CONNS"
