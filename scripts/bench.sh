#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# make bench: what libhbshim.so costs a program, against the same program without it.
#  1. time per operation (tests/bench/hbbench): socket()+close() for TCP, UDP and AF_UNIX, and
#     socket()+connect()+close() over loopback; base and shim runs alternate round by round
#     (ABBA order), so that machine drift lands on both; min and median over the rounds.
#  2. extra system calls per socket, counted with strace -f -c.
#  3. extra user-space instructions per socket()+close(), counted with callgrind (issue 11's
#     targets: TCP < +100, UDP and AF_UNIX < +30; the anchors it reports printed beside).
# Each count is a slope between two runs of N1 and N2 operations, so that start-up costs
# (loading the shim, reading the sysctls once) cancel out. Everything runs in a private
# network namespace. It only prints: no timing makes it fail; it exits non-zero only when it
# cannot run. HB_BENCH_ROUNDS (default 31) sets the number of timing rounds per variant.
set -u -o pipefail
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 1
O=${O:-build}
case $O in /*) ;; *) O=$PWD/$O ;; esac
SHIM=$O/libhbshim.so
BENCH=$O/tests/bench/hbbench
ROUNDS=${HB_BENCH_ROUNDS:-31}
for f in "$SHIM" "$BENCH"; do
	[ -e "$f" ] || { echo "bench.sh: $f is missing (run: make bench)" >&2; exit 1; }
done

# A private network namespace: a loopback of our own, and the kernel's default keepalive
# sysctls (7200/75/9) whatever the host has.
if [ -z "${HB_BENCH_NETNS:-}" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		HB_BENCH_NETNS=1 exec unshare --net -- bash "$0" "$@"
	else
		HB_BENCH_NETNS=1 exec unshare --net --map-root-user -- bash "$0" "$@"
	fi
	echo "bench.sh: cannot create a private network namespace (unshare)" >&2
	exit 1
fi
ip link set lo up || { echo "bench.sh: cannot bring lo up in the private namespace" >&2; exit 1; }
# Only the variables set below reach the shim.
unset LD_PRELOAD HB_KEEPALIVE HB_KEEPIDLE HB_KEEPINTVL HB_KEEPCNT HB_USER_TIMEOUT HB_MATCH \
	HB_FORCE HB_LOG HB_LOG_FILE HB_IDLE_DEFAULT HB_IDLE_MAX HB_PATHS_FILE KEEPIDLE KEEPINTVL \
	KEEPCNT KEEPALIVE TCP_KEEPIDLE TCP_KEEPINTVL \
	TCP_KEEPCNT TCP_USER_TIMEOUT DD_TCP_KEEPALIVE_TIME DD_TCP_KEEPALIVE_INTVL \
	DD_TCP_KEEPALIVE_PROBES DD_USE_KEEPALIVE
TMP=$(mktemp -d /tmp/hbbench.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT

ka_time=$(sysctl -n net.ipv4.tcp_keepalive_time)
ka_intvl=$(sysctl -n net.ipv4.tcp_keepalive_intvl)
ka_probes=$(sysctl -n net.ipv4.tcp_keepalive_probes)
# The shim's built-in policy (DESIGN.md) against this namespace's sysctls
differ=0
[ "$ka_time" != 60 ] && differ=$((differ + 1))
[ "$ka_intvl" != 10 ] && differ=$((differ + 1))
[ "$ka_probes" != 6 ] && differ=$((differ + 1))
SAME_ENV=(HB_KEEPIDLE="$ka_time" HB_KEEPINTVL="$ka_intvl" HB_KEEPCNT="$ka_probes")

# verdict EXPR: "met" or "MISSED" for an awk expression over numbers (printed, never fatal)
verdict() { awk "BEGIN { print ($1) ? \"met\" : \"MISSED\" }"; }

KINDS=(tcp udp unix connect)
declare -A LABEL=([tcp]="socket()+close() TCP" [udp]="socket()+close() UDP"
	[unix]="socket()+close() AF_UNIX" [connect]="socket()+connect()+close() TCP lo")

echo "hbkeep benchmark: shim = LD_PRELOAD=${SHIM#"$PWD"/} with its built-in policy"
echo "  (keepalive on, idle 60 s, intvl 10 s, cnt 6), base = the same binary without it"
echo "  kernel $(uname -r), $(nproc) CPU(s), $(ldd --version 2>/dev/null | head -n1 | sed 's/^ldd //')"
echo "  private netns sysctls: tcp_keepalive_time $ka_time, intvl $ka_intvl, probes $ka_probes" \
	"($differ of the policy's 3 values differ)"
echo

# ---- 1. time per operation ----------------------------------------------------------------
printf '1. Time per operation: %d rounds per variant, base and shim alternating (ABBA);\n' "$ROUNDS"
echo "   a round is one process: 1000 warm-up operations, then 5 timed batches of 4000 (connect:"
echo "   400); the round's figure is its fastest batch"
run_round() { # VARIANT
	if [ "$1" = shim ]; then
		LD_PRELOAD=$SHIM "$BENCH"
	else
		"$BENCH"
	fi | sed "s/^/$1 /" >>"$TMP/times" || return 1
}
for ((r = 0; r < ROUNDS; r++)); do
	if [ $((r % 2)) -eq 0 ]; then order="base shim"; else order="shim base"; fi
	for v in $order; do
		run_round "$v" || { echo "bench.sh: hbbench failed" >&2; exit 1; }
	done
	printf '.'
done
echo
# stats VARIANT KIND: "min median" in ns
stats() {
	awk -v v="$1" -v k="$2" '$1 == v && $2 == k { print $3 }' "$TMP/times" | sort -g |
		awk '{ a[NR] = $1 } END { if (!NR) { print "nan nan"; exit }
			m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			printf "%.0f %.0f\n", a[1], m }'
}
printf '   %-34s %15s %15s %15s  %s\n' "operation" "base ns" "shim ns" "shim/base" "target (on min)"
printf '   %-34s %15s %15s %15s\n' "" "min / median" "min / median" "min / median"
for k in "${KINDS[@]}"; do
	read -r bmin bmed <<<"$(stats base "$k")"
	read -r smin smed <<<"$(stats shim "$k")"
	rmin=$(awk -v a="$smin" -v b="$bmin" 'BEGIN { printf "%.3f", a / b }')
	rmed=$(awk -v a="$smed" -v b="$bmed" 'BEGIN { printf "%.3f", a / b }')
	case $k in
	udp|unix) target="<= 1.02: $(verdict "$rmin <= 1.02")" ;;
	*) target="-" ;;
	esac
	printf '   %-34s %15s %15s %15s  %s\n' "${LABEL[$k]}" "$bmin / $bmed" "$smin / $smed" \
		"$rmin / $rmed" "$target"
done
echo

# ---- 2. system calls per operation --------------------------------------------------------
N1=200 N2=1200
echo "2. System calls per operation (strace -f -c, slope between $N1 and $N2 operations)"
# sc_counts OUT KIND N [ENV...]: strace's per-syscall call counts, "name calls" lines
sc_counts() {
	local out=$1 k=$2 n=$3 e args=()
	shift 3
	for e; do args+=(-E "$e"); done
	strace -f -c -o "$out.raw" "${args[@]}" "$BENCH" -c -k "$k" -n "$n" >/dev/null 2>&1 || return 1
	awk 'NF >= 5 && $1 ~ /^[0-9.]+$/ && $NF != "total" { print $NF, $4 }' "$out.raw" >"$out"
}
# sc_slope KIND TAG [ENV...]: per-operation counts by syscall into $TMP/sc.TAG.KIND
sc_slope() {
	local k=$1 tag=$2
	shift 2
	sc_counts "$TMP/sc1" "$k" "$N1" "$@" && sc_counts "$TMP/sc2" "$k" "$N2" "$@" || return 1
	awk -v d=$((N2 - N1)) 'NR == FNR { a[$1] = $2; next } { b[$1] = $2 }
		END { for (s in b) { x = (b[s] - a[s]) / d; if (x > 0.005 || x < -0.005) printf "%s %.2f\n", s, x }
		      for (s in a) if (!(s in b)) printf "%s %.2f\n", s, -a[s] / d }' \
		"$TMP/sc1" "$TMP/sc2" | sort >"$TMP/sc.$tag.$k"
}
# sc_total FILE: sum of the per-operation counts
sc_total() { awk '{ t += $2 } END { printf "%.2f", t }' "$1"; }
# sc_extra BASE SHIM: "+1.00 setsockopt ..." by syscall, or "none"
sc_extra() {
	join -a1 -a2 -e 0 -o 0,1.2,2.2 "$2" "$1" |
		awk '{ x = $2 - $3; if (x > 0.005 || x < -0.005) { printf "%s%+.2f %s", sep, x, $1; sep = ", " } }
			END { if (!sep) printf "none" }'
}
if command -v strace >/dev/null; then
	printf '   %-34s %6s %6s %6s  %-22s %s\n' "operation" "base" "shim" "extra" "extra, by syscall" "target (extra)"
	# KIND:TAG:ENV:MAX extra:what the target is
	rows=("tcp:tcp::$((1 + differ)):1 + $differ values differing from the sysctl"
		"tcp:tcp-same:${SAME_ENV[*]}:1:policy = sysctl, SO_KEEPALIVE only"
		"udp:udp::0:no extra syscall" "unix:unix::0:no extra syscall" "connect:connect::$((1 + differ)):as TCP socket()")
	ok=1
	for row in "${rows[@]}"; do
		IFS=: read -r k tag envs max what <<<"$row"
		read -ra env_arr <<<"$envs"
		[ -e "$TMP/sc.base.$k" ] || sc_slope "$k" base || ok=0
		sc_slope "$k" "shim-$tag" LD_PRELOAD="$SHIM" "${env_arr[@]}" || ok=0
		[ "$ok" = 1 ] || break
		label=${LABEL[$k]}
		[ "$tag" = tcp-same ] && label="  same, HB_KEEP* = the sysctls"
		b=$(sc_total "$TMP/sc.base.$k")
		s=$(sc_total "$TMP/sc.shim-$tag.$k")
		x=$(awk -v a="$s" -v b="$b" 'BEGIN { printf "%.2f", a - b }')
		printf '   %-34s %6s %6s %6s  %-22s %s\n' "$label" "$b" "$s" "$x" \
			"$(sc_extra "$TMP/sc.base.$k" "$TMP/sc.shim-$tag.$k")" \
			"$([ "$max" = 0 ] && echo "=" || echo "<=") $max ($what): $(verdict "$x <= $max + 0.01")"
	done
	[ "$ok" = 1 ] || echo "   strace failed here (ptrace not permitted?): syscall counts skipped"
	echo "   (base, shim: all system calls per operation, both threads; connect includes the"
	echo "   listener thread's accept() and close())"
else
	echo "   strace is not installed: skipped (scripts/deps.sh installs it)"
fi
echo

# ---- 3. user-space instructions per operation ---------------------------------------------
# Issue 11: fewer than 100 user-space instructions per TCP socket() beyond libc's own, UDP and
# AF_UNIX under 30, measured as a callgrind differential over 2,000 and 4,000 calls. The
# anchors (other keepalive preload libraries, measured the same way) are the figures
# reported in issue 11; this script does not build them.
C1=2000 C2=4000
echo "3. User-space instructions per socket()+close() (callgrind Ir, slope between $C1 and $C2 pairs)"
echo "   base, shim: every instruction of the program per pair; extra = shim - base (the"
echo "   shim's wrappers and its setsockopt() calls; the kernel is never counted); in wrapper:"
echo "   inclusive Ir of the shim's socket() per call, libc's socket() included"
# cg_run OUT KIND N [ENV...]: total Ir on stdout; the profile stays in OUT
cg_run() {
	local out=$1 k=$2 n=$3
	shift 3
	env "$@" valgrind --tool=callgrind --callgrind-out-file="$out" "$BENCH" -c -k "$k" -n "$n" \
		>/dev/null 2>&1 || return 1
	sed -n 's/^totals: *//p' "$out" | head -n1
}
# cg_wrapper PROFILE: inclusive Ir of libhbshim.so's socket()
cg_wrapper() {
	callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
		awk '/:socket \[[^]]*libhbshim\.so\]$/ { gsub(",", "", $1); print $1; exit }'
}
if command -v valgrind >/dev/null; then
	printf '   %-34s %7s %7s %7s %11s  %s\n' "operation" "base" "shim" "extra" "in wrapper" "target (extra)"
	for k in tcp udp unix; do
		b1=$(cg_run "$TMP/cg.b1" "$k" $C1) && b2=$(cg_run "$TMP/cg.b2" "$k" $C2) &&
			s1=$(cg_run "$TMP/cg.s1" "$k" $C1 LD_PRELOAD="$SHIM") &&
			s2=$(cg_run "$TMP/cg.s2" "$k" $C2 LD_PRELOAD="$SHIM") ||
			{ echo "   valgrind failed: instruction counts skipped"; break; }
		w1=$(cg_wrapper "$TMP/cg.s1") w2=$(cg_wrapper "$TMP/cg.s2")
		max=30
		[ "$k" = tcp ] && max=100
		awk -v b1="$b1" -v b2="$b2" -v s1="$s1" -v s2="$s2" -v w1="${w1:-0}" -v w2="${w2:-0}" \
			-v d=$((C2 - C1)) -v l="${LABEL[$k]}" -v max="$max" 'BEGIN {
			b = (b2 - b1) / d; s = (s2 - s1) / d; w = (w2 - w1) / d
			printf "   %-34s %7.0f %7.0f %+7.0f %11s  < +%d: %s\n", l, b, s, s - b,
				w2 ? sprintf("%.0f", w) : "?", max, s - b < max ? "met" : "MISSED" }'
	done
	# HB_KEEPIDLE=auto (DESIGN.md "Paths"): every TCP socket is tracked and connect() looks
	# its destination up (a table of one entry covering 127.0.0.1, so connect() also makes
	# its one setsockopt(TCP_KEEPIDLE)); no target, reported beside the default policy
	printf '%s survived=0s dropped=30s source=manual time=0\n' 127.0.0.1 >"$TMP/paths"
	for row in "connect|socket()+connect()+close()|" \
		"tcp|socket()+close() TCP, auto|HB_KEEPIDLE=auto" \
		"connect|socket()+connect()+close(), auto|HB_KEEPIDLE=auto"; do
		IFS='|' read -r k l e <<<"$row"
		n1=$C1 n2=$C2
		[ "$k" = connect ] && n1=$((C1 / 4)) n2=$((C2 / 4))
		set -- LD_PRELOAD="$SHIM" HB_PATHS_FILE="$TMP/paths"
		[ -n "$e" ] && set -- "$@" "$e"
		b1=$(cg_run "$TMP/cg.b1" "$k" $n1) && b2=$(cg_run "$TMP/cg.b2" "$k" $n2) &&
			s1=$(cg_run "$TMP/cg.s1" "$k" $n1 "$@") &&
			s2=$(cg_run "$TMP/cg.s2" "$k" $n2 "$@") ||
			{ echo "   valgrind failed: $l skipped"; continue; }
		awk -v b1="$b1" -v b2="$b2" -v s1="$s1" -v s2="$s2" -v d=$((n2 - n1)) -v l="$l" '
		BEGIN { b = (b2 - b1) / d; s = (s2 - s1) / d
			printf "   %-34s %7.0f %7.0f %+7.0f %11s  %s\n", l, b, s, s - b, "", "(no target)" }'
	done
	echo "   anchors for TCP socket(), extra instructions measured the same way (reported in"
	echo "   issue 11, not re-measured here): libdontdie +126, msantos/libkeepalive +164,"
	echo "   libkeepalive 0.3 +1,621; libhbshim before the precomputed plan: +464"
else
	echo "   valgrind is not installed: skipped (scripts/deps.sh installs it)"
fi
exit 0
