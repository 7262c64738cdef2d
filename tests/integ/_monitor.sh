# SPDX-License-Identifier: BSD-2-Clause
# Shared by tests/integ/monitor*.sh: a private network namespace NS and a child cgroup CG
# (named after the test's PID, under the cgroup v2 mount found in /proc/self/mountinfo); the
# monitor is attached only to CG and scoped to NS (--netns), never to the root cgroup.
# Everything is removed by the EXIT trap: the monitor gets SIGTERM, the processes in CG are
# killed, CG and NS are deleted.
. "$(dirname "$0")/_lib.sh"
need_root
[ -r /sys/kernel/btf/vmlinux ] || skip_all "needs /sys/kernel/btf/vmlinux (BTF)"
need_cmd nsenter nstat python3 bpftool nft curl
HBCTL=$O/hbctl
need_built "$HBCTL"
PEER=$HB_ROOT/tests/helpers/mon_peer.py
unset HB_BACKEND HB_DIAG_FILE

CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
	/proc/self/mountinfo | head -n1)
[ -n "$CG2" ] || skip_all "no cgroup v2 hierarchy mounted"
CG=$CG2/$HB_TEST_ID-mon
mkdir "$CG" || { echo "Bail out! mkdir $CG"; exit 1; }
# kill what is left in the cgroup, then remove it (runs before _lib.sh kills bg_pid's)
cg_rm() {
	local i p
	for ((i = 0; i < 50; i++)); do
		p=$(cat "$1/cgroup.procs" 2>/dev/null)
		[ -z "$p" ] && break
		kill -9 $p 2>/dev/null
		sleep 0.1
	done
	rmdir "$1"
}
on_exit "cg_rm $CG"

NS=$(netns_new mon) || { echo "Bail out! cannot create a network namespace"; exit 1; }

# cg_bg OUT CMD...: CMD in CG and NS, stdout to OUT; its pid in BG (killed on exit)
cg_bg() {
	local out=$1; shift
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" nsenter --net="/run/netns/$NS" "$@" \
		>"$out" 2>>"$HB_TMP/peers.err" &
	BG=$!
	bg_pid "$BG"
}
# ns_bg OUT CMD...: CMD in NS only (not in the monitored cgroup)
ns_bg() {
	local out=$1; shift
	nsenter --net="/run/netns/$NS" "$@" >"$out" 2>>"$HB_TMP/peers.err" &
	BG=$!
	bg_pid "$BG"
}
# wait_for FILE REGEX [TIMEOUT_S]
wait_for() {
	local i t=${3:-10}
	for ((i = 0; i < t * 20; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# TcpExtTCPKeepAlive of NS
ka_count() { in_ns "$NS" nstat -asz TcpExtTCPKeepAlive | awk '$1 == "TcpExtTCPKeepAlive" { print $2 }'; }

# mon_start OUT ARGS...: hbctl monitor on CG, scoped to NS, in the background (MON); waits
# until it has pinned its socket storage, i.e. is attached (the iterator "conns" is pinned
# only where the kernel allows one)
MON=
mon_start() {
	local out=$1 i; shift
	"$HBCTL" monitor --cgroup "$CG" --netns "$NS" "$@" >"$out" 2>>"$HB_TMP/mon.err" &
	MON=$!
	bg_pid "$MON"
	for ((i = 0; i < 200; i++)); do
		[ -e "/sys/fs/bpf/hbkeep/monitor_$MON/sk_stats" ] && return 0
		kill -0 "$MON" 2>/dev/null || break
		sleep 0.05
	done
	diag "monitor did not start: $(tail -n3 "$HB_TMP/mon.err")"
	return 1
}
# mon_errors: the monitors' stderr without the one-line notices of what runs on a fallback
# (tests/integ/bpf_fallback.sh checks those against hbctl doctor)
mon_errors() {
	grep -v -e '^$' -e 'per-connection rows come from iter/tcp instead' \
		-e 'close causes are not counted' -e 'close causes come from raw_tp instead' \
		-e 'no per-connection rows' -e 'no per-peer connection counts' "$HB_TMP/mon.err"
}
# mon_stop: SIGTERM and wait; its exit status in MON_RC
mon_stop() {
	kill -TERM "$MON" 2>/dev/null
	wait "$MON"
	MON_RC=$?
}
# jq_last FILE EXPR: a Python expression over d, the last JSON line of FILE
jq_last() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
d = json.loads(lines[-1]) if lines else {}
def conn(port):
    m = [c for c in d.get("conns", []) if c["local"].endswith(":%s" % port)]
    return m[0] if m else {}
print(eval(sys.argv[2]))
EOF
}
