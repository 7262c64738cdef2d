#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# make bench: what the kernel policy per cgroup (hbctl policy add) costs a connection, beside
# what the shim costs. tests/bench/hbbench -k connect (socket() + connect() + close() over
# loopback, a thread of the same process accepting and closing) runs in a private network
# namespace from three places, alternating round by round (the order rotates, so that machine
# drift lands on all three):
#   base    a process in a cgroup without a policy
#   policy  a process in a cgroup with `hbctl policy add` (defaults: keepalive on, 60s/10s/6)
#   shim    a process in the base cgroup under LD_PRELOAD=libhbshim.so (the same values)
# The policy's program runs for both ends of each connection (the accepting thread is in the
# cgroup too) and sets four options on each; the shim sets them on the connecting socket only.
# Prints min and median ns per connection, their ratios to base, the extra ns per connection,
# and the median of the per-round ratios (variant / base in the same round: drift cancels),
# on which the policy's target (<= 1.05) is judged. Only prints: no timing makes it
# fail; it exits non-zero only when it cannot run. HB_BENCH_ROUNDS (default 31) sets the
# rounds.
set -u -o pipefail
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 1
O=${O:-build}
case $O in /*) ;; *) O=$PWD/$O ;; esac
HBCTL=$O/hbctl
SHIM=$O/libhbshim.so
BENCH=$O/tests/bench/hbbench
ROUNDS=${HB_BENCH_ROUNDS:-31}

if [ "$(id -u)" -ne 0 ]; then
	echo "bench-policy: skipped: needs root (BPF, cgroups)"
	exit 0
fi
for f in "$HBCTL" "$SHIM" "$BENCH"; do
	[ -e "$f" ] || { echo "bench-policy: $f is missing (run: make bench)" >&2; exit 1; }
done
if [ -z "${HB_BENCH_NETNS:-}" ]; then
	HB_BENCH_NETNS=1 exec unshare --net -- bash "$0" "$@"
	echo "bench-policy: cannot create a private network namespace (unshare)" >&2
	exit 1
fi
ip link set lo up || { echo "bench-policy: cannot bring lo up" >&2; exit 1; }
unset LD_PRELOAD HB_KEEPALIVE HB_KEEPIDLE HB_KEEPINTVL HB_KEEPCNT HB_USER_TIMEOUT HB_MATCH \
	HB_FORCE HB_LOG HB_LOG_FILE KEEPIDLE KEEPINTVL KEEPCNT KEEPALIVE DD_TCP_KEEPALIVE_TIME \
	DD_TCP_KEEPALIVE_INTVL DD_TCP_KEEPALIVE_PROBES DD_USE_KEEPALIVE

# Cgroups next to this script's own (never a policy on the root cgroup).
CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
	/proc/self/mountinfo)
[ -n "$CG2" ] || { echo "bench-policy: no cgroup v2 hierarchy mounted" >&2; exit 1; }
BASE_DIR=$CG2$(sed -n 's/^0:://p' /proc/self/cgroup)
BASE_DIR=${BASE_DIR%/}
CG_BASE=$BASE_DIR/hbbench-pol.$$-base
CG_POL=$BASE_DIR/hbbench-pol.$$-policy
TMP=$(mktemp -d /tmp/hbbench-pol.XXXXXX) || exit 1
# policy add makes its bpffs directories on first use; those this script brought into being go
# with it (rmdir: only while empty, so nobody else's pin is touched; the root last)
PIN_ROOT=${HB_PIN_DIR:-/sys/fs/bpf/hbkeep}
made=()
for d in "$PIN_ROOT" "$PIN_ROOT/policy"; do [ -e "$d" ] || made=("$d" "${made[@]}"); done
cleanup() {
	"$HBCTL" policy rm --cgroup "$CG_POL" >/dev/null 2>&1
	rmdir "$CG_BASE" "$CG_POL" 2>/dev/null
	[ ${#made[@]} -gt 0 ] && rmdir "${made[@]}" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir "$CG_BASE" "$CG_POL" || { echo "bench-policy: cannot make cgroups in $BASE_DIR" >&2; exit 1; }
id=$("$HBCTL" policy add --cgroup "$CG_POL" 2>"$TMP/err") ||
	{ echo "bench-policy: policy add failed: $(cat "$TMP/err")" >&2; exit 1; }

# in_cg DIR CMD...: CMD in cgroup DIR (the shell moves itself, then execs)
in_cg() { bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$@"; }
run_round() { # ROUND VARIANT
	case $2 in
	base) in_cg "$CG_BASE" "$BENCH" -k connect ;;
	policy) in_cg "$CG_POL" "$BENCH" -k connect ;;
	shim) in_cg "$CG_BASE" env LD_PRELOAD="$SHIM" "$BENCH" -k connect ;;
	esac | sed "s/^/$1 $2 /" >>"$TMP/times"
}

echo "hbkeep benchmark: kernel policy per cgroup (sock_ops BPF) against the shim, per connection"
echo "  socket()+connect()+close() over loopback (hbbench -k connect: 1000 warm-up, 2000 timed"
echo "  per round), $ROUNDS rounds per variant in rotating order, private network namespace"
echo "  kernel $(uname -r), $(nproc) CPU(s); policy $id on ${CG_POL#"$CG2"}: keepalive on, 60s/10s/6"
echo "  base: cgroup without a policy; policy: cgroup with it (both ends of each connection);"
echo "  shim: LD_PRELOAD, same values (on the connecting socket; once on the listener, whose"
echo "  accepted sockets inherit them)"
echo
variants=(base policy shim)
for ((r = 0; r < ROUNDS; r++)); do
	for ((k = 0; k < 3; k++)); do
		v=${variants[$(((r + k) % 3))]}
		run_round "$r" "$v" || { echo "bench-policy: hbbench failed ($v)" >&2; exit 1; }
	done
	printf '.'
done
echo
# stats VARIANT: "min median" in ns
stats() {
	awk -v v="$1" '$2 == v && $3 == "connect" { print $4 }' "$TMP/times" | sort -g |
		awk '{ a[NR] = $1 } END { if (!NR) { print "nan nan"; exit }
			m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			printf "%.0f %.0f\n", a[1], m }'
}
# paired VARIANT: median over the rounds of VARIANT / base within the same round (drift
# between rounds cancels)
paired() {
	awk -v v="$1" '$3 == "connect" { t[$1, $2] = $4; r[$1] = 1 }
		END { for (i in r) if (t[i, "base"] > 0 && t[i, v] > 0) print t[i, v] / t[i, "base"] }' \
		"$TMP/times" | sort -g |
		awk '{ a[NR] = $1 } END { if (!NR) { print "nan"; exit }
			printf "%.3f\n", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
read -r bmin bmed <<<"$(stats base)"
printf '   %-8s %17s %17s %17s %8s  %s\n' "variant" "ns/conn" "ratio to base" "extra ns/conn" \
	"paired" "target (paired ratio)"
printf '   %-8s %17s %17s %17s %8s\n' "" "min / median" "min / median" "min / median" "median"
for v in base policy shim; do
	read -r mn md <<<"$(stats "$v")"
	pr=$(paired "$v")
	awk -v v="$v" -v mn="$mn" -v md="$md" -v bmn="$bmin" -v bmd="$bmed" -v pr="$pr" 'BEGIN {
		t = v == "policy" ? sprintf("<= 1.05: %s", pr <= 1.05 ? "met" : "MISSED") : "-"
		printf "   %-8s %17s %17s %17s %8s  %s\n", v, mn " / " md,
			sprintf("%.3f / %.3f", mn / bmn, md / bmd),
			sprintf("%+.0f / %+.0f", mn - bmn, md - bmd), pr, t }'
done
echo "   (paired: the median over the rounds of the variant's time / base's time in that round)"

# The program's own cost, from the kernel's BPF run-time statistics (enabled only for these
# extra rounds, which are not timed: the statistics cost time themselves).
prog=$("$HBCTL" policy ls -j | sed -n "s/.*\"id\":$id,.*\"prog_id\":\([0-9]*\).*/\1/p")
stats_before=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null)
if [ -n "$prog" ] && [ -n "$stats_before" ] && command -v bpftool >/dev/null &&
	sysctl -qw kernel.bpf_stats_enabled=1; then
	trap 'sysctl -qw kernel.bpf_stats_enabled="$stats_before"; cleanup' EXIT
	runstats() { bpftool prog show id "$prog" | sed -n 's/.*run_time_ns \([0-9]*\) run_cnt \([0-9]*\).*/\1 \2/p'; }
	read -r t0 c0 <<<"$(runstats)"
	SROUNDS=5
	for ((r = 0; r < SROUNDS; r++)); do in_cg "$CG_POL" "$BENCH" -k connect >/dev/null; done
	read -r t1 c1 <<<"$(runstats)"
	sysctl -qw kernel.bpf_stats_enabled="$stats_before"
	# hbbench -k connect makes 1000 warm-up + 2000 timed connections per run
	awk -v t=$((${t1:-0} - ${t0:-0})) -v c=$((${c1:-0} - ${c0:-0})) -v n=$((SROUNDS * 3000)) 'BEGIN {
		if (!c) { print "   (BPF run-time statistics: no runs counted)"; exit }
		printf "   the program itself (kernel.bpf_stats_enabled, %d more connections): %.1f runs\n", n, c / n
		printf "   per connection (every sock_ops callback of both ends), %.0f ns per run, %.0f ns\n", t / c, t / n
		printf "   per connection in all\n" }'
fi
applied=$("$HBCTL" policy ls -j | awk -v id="$id" -F'"applied":' '$0 ~ "\"id\":" id "," { split($2, a, ","); print a[1] }')
echo "   (the policy applied its options to $applied sockets during the runs, so it did run)"
exit 0
