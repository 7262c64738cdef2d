#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# make bench: what `hbctl monitor` costs the traffic it watches. In a private network
# namespace, over loopback:
#  1. bulk throughput: iperf3 -c (the sender) to iperf3 -s
#  2. 1-byte request/response: tests/helpers/pingpong client (the sender) to its server
# each run with the sender in a cgroup without and in a cgroup with `hbctl monitor --cgroup`
# attached (two sibling child cgroups, the monitor attached once, so that runs alternate
# without attaching in between), ABBA, for HB_BENCH_MON_ROUNDS rounds (default 10) of
# HB_BENCH_MON_SECS (default 1 s) per run. Printed: medians and the median of the per-round
# ratios (the two runs of a round saw the same machine) against the target, within 3% of no
# monitor; the per-packet cost from the ping-pong (each transaction is one packet out and one
# in on the monitored socket); and the programs' own run time from the kernel's BPF
# statistics (kernel.bpf_stats_enabled, in a separate run: its clock reads would load the
# timed ones).
# Prints figures only; exits non-zero only when it cannot run. Cleans up whatever way it ends.
set -u -o pipefail
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 1
O=${O:-build}
case $O in /*) ;; *) O=$PWD/$O ;; esac
HBCTL=$O/hbctl
PP=$O/tests/helpers/pingpong
ROUNDS=${HB_BENCH_MON_ROUNDS:-10}
SECS=${HB_BENCH_MON_SECS:-1}

say() { printf '%s\n' "$*"; }
if [ "$(id -u)" -ne 0 ]; then
	say "bench-monitor: skipped: needs root (BPF, cgroups, network namespaces)"
	exit 0
fi
for f in "$HBCTL" "$PP"; do
	[ -x "$f" ] || { say "bench-monitor: $f not built (make all; make $PP)"; exit 1; }
done
command -v iperf3 >/dev/null || { say "bench-monitor: needs iperf3 (scripts/deps.sh)"; exit 1; }
[ -r /sys/kernel/btf/vmlinux ] || { say "bench-monitor: skipped: no kernel BTF"; exit 0; }

# a private network namespace: re-run inside one
if [ -z "${HB_BENCH_MON_NETNS:-}" ]; then
	HB_BENCH_MON_NETNS=1 exec unshare --net -- bash "$0" "$@"
	say "bench-monitor: cannot create a network namespace (unshare)"
	exit 1
fi
ip link set lo up || exit 1

CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
	/proc/self/mountinfo | head -n1)
[ -n "$CG2" ] || { say "bench-monitor: no cgroup v2 hierarchy"; exit 1; }
CGB=$CG2/hbbench-base-$$
CGM=$CG2/hbbench-mon-$$
TMP=$(mktemp -d /tmp/hbbench-mon.XXXXXX) || exit 1
MON= SRV1= SRV2= stats_old=
cg_rm() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$(cat "$1/cgroup.procs" 2>/dev/null)
		[ -z "$p" ] && break
		kill -9 $p 2>/dev/null
		sleep 0.1
	done
	rmdir "$1" 2>/dev/null
}
cleanup() {
	local p
	[ -n "$MON" ] && kill -TERM "$MON" 2>/dev/null && wait "$MON" 2>/dev/null
	for p in $SRV1 $SRV2; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	cg_rm "$CGB"
	cg_rm "$CGM"
	[ -n "$stats_old" ] && sysctl -qw kernel.bpf_stats_enabled="$stats_old"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir "$CGB" "$CGM" || exit 1

# Sender and receiver on one CPU (the last): left to the scheduler, the placement changes the
# ping-pong rate fourfold from run to run (a wake-up across CPUs costs more than a switch).
PIN_S= PIN_R= CPU=$(($(nproc) - 1))
if command -v taskset >/dev/null; then
	PIN_S="taskset -c $CPU" PIN_R="taskset -c $CPU"
fi
# in_cg CGROUP CMD...: CMD as a member of CGROUP
in_cg() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$@"; }

$PIN_R iperf3 -s -p 5201 >/dev/null 2>&1 &
SRV1=$!
$PIN_R "$PP" server 127.0.0.1 5300 >"$TMP/pp.srv" &
SRV2=$!
for ((i = 0; i < 100; i++)); do
	grep -q ready "$TMP/pp.srv" 2>/dev/null && ss -Htln 'sport = :5201' | grep -q . && break
	sleep 0.05
done

"$HBCTL" monitor --cgroup "$CGM" -q -i 1h 2>>"$TMP/mon.err" &
MON=$!
for ((i = 0; i < 200; i++)); do
	[ -e "/sys/fs/bpf/hbkeep/monitor_$MON/conns" ] && break
	kill -0 "$MON" 2>/dev/null || break
	sleep 0.05
done
[ -e "/sys/fs/bpf/hbkeep/monitor_$MON/conns" ] ||
	{ say "bench-monitor: the monitor did not start: $(tail -n2 "$TMP/mon.err")"; exit 1; }

# one measurement in CGROUP; prints the figure
bulk() { in_cg "$1" $PIN_S iperf3 -c 127.0.0.1 -p 5201 -t "$SECS" -J 2>/dev/null |
	python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["end"]["sum_sent"]["bits_per_second"])'; }
rr() { in_cg "$1" $PIN_S "$PP" client 127.0.0.1 5300 "$SECS" | awk '{ print $3 }'; }

say "bench-monitor: $ROUNDS rounds of ${SECS} s runs, the sender without (base) and with (mon)"
say "hbctl monitor on its cgroup, alternating ABBA; $(nproc) CPUs, kernel $(uname -r)"
[ -n "$PIN_S" ] && say "sender and receiver on CPU $CPU"
: >"$TMP/rounds"
declare -A B T
for ((r = 0; r < ROUNDS; r++)); do
	if ((r % 2 == 0)); then order="base mon"; else order="mon base"; fi
	for v in $order; do
		cg=$CGB
		[ "$v" = mon ] && cg=$CGM
		B[$v]=$(bulk "$cg")
		T[$v]=$(rr "$cg")
	done
	printf '  round %2d  bulk Gbit/s base %6.2f mon %6.2f   1-byte rr tps base %7s mon %7s\n' \
		"$r" "$(awk -v b="${B[base]:-0}" 'BEGIN { print b / 1e9 }')" \
		"$(awk -v b="${B[mon]:-0}" 'BEGIN { print b / 1e9 }')" "${T[base]:-fail}" "${T[mon]:-fail}"
	echo "${B[base]:-0} ${B[mon]:-0} ${T[base]:-0} ${T[mon]:-0}" >>"$TMP/rounds"
done

# the programs' own time per run, from the kernel's statistics (a separate, untimed run)
sum_stats() {
	local id
	for id in $1; do bpftool prog show id "$id" 2>/dev/null; done |
		awk '{ for (i = 1; i < NF; i++) { if ($i == "run_time_ns") t += $(i + 1); if ($i == "run_cnt") c += $(i + 1) } }
		     END { print t + 0, c + 0 }'
}
stats_old=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo)
prog_ns=
if [ -n "$stats_old" ] && sysctl -qw kernel.bpf_stats_enabled=1; then
	ids=$(bpftool cgroup show "$CGM" 2>/dev/null | awk '$NF ~ /^cgskb_/ { print $1 }')
	before=$(sum_stats "$ids")
	in_cg "$CGM" $PIN_S iperf3 -c 127.0.0.1 -p 5201 -t 1 >/dev/null 2>&1
	in_cg "$CGM" $PIN_S "$PP" client 127.0.0.1 5300 1 >/dev/null
	after=$(sum_stats "$ids")
	prog_ns=$(awk -v b="$before" -v a="$after" 'BEGIN { split(b, x, " "); split(a, y, " ");
		c = y[2] - x[2]; if (c > 0) printf "%.0f %d", (y[1] - x[1]) / c, c }')
	sysctl -qw kernel.bpf_stats_enabled="$stats_old"
	stats_old=
fi

say ""
python3 - "$TMP/rounds" "${prog_ns:-}" <<'PYEOF'
import statistics as st, sys
rows = [[float(x) for x in l.split()] for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if all(r)]
prog = sys.argv[2].split()
if not rows:
    sys.exit("bench-monitor: no complete round")
bb = st.median(r[0] for r in rows); bm = st.median(r[1] for r in rows)
tb = st.median(r[2] for r in rows); tm = st.median(r[3] for r in rows)
# per-round ratios: both runs of a round saw the same machine, whatever else ran on it
rb = st.median(r[1] / r[0] for r in rows); rt = st.median(r[3] / r[2] for r in rows)
cost = st.median((1 / r[3] - 1 / r[2]) * 1e9 for r in rows)
ok = lambda x: "yes" if x >= 0.97 else "NO"
print("%-32s %11s %11s %16s  %s" % ("median over %d rounds" % len(rows), "no monitor", "monitor",
                                     "per-round ratio", "within 3%"))
print("%-32s %11.2f %11.2f %15.2f%%  %s" % ("bulk throughput (Gbit/s)", bb / 1e9, bm / 1e9,
                                            (rb - 1) * 100, ok(rb)))
print("%-32s %11.0f %11.0f %15.2f%%  %s" % ("1-byte request/response (tps)", tb, tm,
                                            (rt - 1) * 100, ok(rt)))
print("per-packet cost from the ping-pong: %+.0f ns per transaction = %+.0f ns per packet "
      "(one out, one in)" % (cost, cost / 2))
if prog:
    print("the programs' own run time: %s ns per packet on average over %s packets\n"
          "  (kernel.bpf_stats_enabled; includes the statistics' own two clock reads)"
          % (prog[0], prog[1]))
PYEOF
