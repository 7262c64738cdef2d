#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Records a realistic sock_diag dump for hbctl's golden-output tests:
#   scripts/record-diag.sh [OUT]   (default tests/unit/fixtures/diag-basic.raw; needs root)
# In a private network namespace (removed on exit) it opens: IPv4 and IPv6 listeners,
# established IPv4 and IPv6 connections with and without keepalive (one with its own
# TCP_KEEPIDLE/INTVL/CNT and TCP_USER_TIMEOUT), and a time-wait socket; waits a little so
# the ages are not zero; then `hbctl ls --backend diag --dump-raw OUT` writes the raw
# netlink reply. HB_DIAG_FILE=OUT hbctl ls replays it.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
case $O in /*) ;; *) O=$root/$O ;; esac
out=${1:-$root/tests/unit/fixtures/diag-basic.raw}
hbctl=$O/hbctl
[ -x "$hbctl" ] || { echo "record-diag.sh: $hbctl not built (run make)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "record-diag.sh: needs root (network namespace)" >&2; exit 1; }
ns=hbrec$$
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null' EXIT
ip -n "$ns" link set lo up
ready=$(mktemp)
trap 'ip netns del "$ns" 2>/dev/null; rm -f "$ready"' EXIT
nsenter --net="/run/netns/$ns" python3 - "$ready" <<'PY' &
import socket, sys, time
S, T = socket.SOL_SOCKET, socket.IPPROTO_TCP
l4 = socket.socket(); l4.bind(("127.0.0.1", 5432)); l4.listen(8)
l6 = socket.socket(socket.AF_INET6); l6.bind(("::1", 443)); l6.listen(8)
def pair(lst, fam, addr, ka=None):
    c = socket.socket(fam)
    if ka:
        c.setsockopt(S, socket.SO_KEEPALIVE, 1)
        if ka != "on":
            idle, intvl, cnt, uto = ka
            c.setsockopt(T, socket.TCP_KEEPIDLE, idle)
            c.setsockopt(T, socket.TCP_KEEPINTVL, intvl)
            c.setsockopt(T, socket.TCP_KEEPCNT, cnt)
            c.setsockopt(T, socket.TCP_USER_TIMEOUT, uto)
    c.connect(addr)
    a, _ = lst.accept()
    return c, a
keep = [pair(l4, socket.AF_INET, ("127.0.0.1", 5432)),
        pair(l4, socket.AF_INET, ("127.0.0.1", 5432), (60, 10, 6, 30000)),
        pair(l6, socket.AF_INET6, ("::1", 443), "on"),
        pair(l6, socket.AF_INET6, ("::1", 443))]
keep[0][0].send(b"hello"); keep[0][1].recv(5)
time.sleep(0.7)
keep[3][1].send(b"x" * 100); keep[3][0].recv(100)
# time-wait: the side that closes first keeps it
c, a = pair(l4, socket.AF_INET, ("127.0.0.1", 5432))
c.close(); a.recv(1); a.close()
time.sleep(1.3)
open(sys.argv[1], "w").write("ready\n")
time.sleep(10)
PY
pid=$!
for _ in $(seq 100); do [ -s "$ready" ] && break; sleep 0.1; done
[ -s "$ready" ] || { echo "record-diag.sh: socket set-up failed" >&2; exit 1; }
nsenter --net="/run/netns/$ns" "$hbctl" --backend diag ls -p --dump-raw "$out"
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
echo "record-diag.sh: wrote $out ($(stat -c %s "$out") bytes)"
