# SPDX-License-Identifier: BSD-2-Clause
# Helpers for the kernel policy's tests (tests/integ/policy*.sh). Source it after _lib.sh.
#
# Every cgroup a test makes is a child of the cgroup the test runs in (never the root
# cgroup itself gets a policy), named after the test's PID, and removed on exit together
# with any policy on it and the processes in it; pin directories of the test's policies are
# checked and removed too.

HBCTL=$O/hbctl
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# pol_need: skip (77) unless this can run at all (on the project's machines it always can)
pol_need() {
	need_root
	need_cmd nsenter ip gcc readelf stat
	[ -n "$PY" ] || skip_all "needs python3"
	[ -r /sys/kernel/btf/vmlinux ] || skip_all "needs /sys/kernel/btf/vmlinux (BTF)"
	need_built "$HBCTL"
	CG2=$(pol_cg2_mount)
	[ -n "$CG2" ] || skip_all "needs a cgroup v2 hierarchy"
	# the cgroup this test runs in: the parent of every cgroup it makes
	CG_BASE=$CG2$(sed -n 's/^0:://p' /proc/self/cgroup)
	CG_BASE=${CG_BASE%/}
}

# pol_cg2_mount: the cgroup v2 mount point, from mountinfo (not hard-coded: hybrid hosts have
# it on /sys/fs/cgroup/unified)
pol_cg2_mount() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
		/proc/self/mountinfo
}

# pol_cg_rm DIR: kills what runs in DIR and below (the test's own processes), removes any
# policy on them, then the directories, deepest first
pol_cg_rm() {
	local d=$1 sub i
	[ -d "$d" ] || return 0
	for sub in $(find "$d" -mindepth 1 -type d | sort -r); do pol_cg_rm "$sub"; done
	"$HBCTL" policy rm --cgroup "$d" >/dev/null 2>&1
	for ((i = 0; i < 100; i++)); do
		if [ -w "$d/cgroup.kill" ]; then
			echo 1 >"$d/cgroup.kill"
		else
			xargs -r kill -9 <"$d/cgroup.procs"
		fi 2>/dev/null
		rmdir "$d" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "# could not remove cgroup $d" >&2
	return 1
}

# pol_cg NAME: makes cgroup $CG_BASE/$HB_TEST_ID-NAME (removed on exit); prints its path
pol_cg() {
	local d=$CG_BASE/$HB_TEST_ID-$1
	mkdir "$d" || return 1
	echo "$d"
}
# pol_cg_track DIR: registers DIR for removal on exit (pol_cg runs in a $(...) subshell)
pol_cg_track() { on_exit pol_cg_rm "$1"; }

# in_cg DIR CMD...: runs CMD inside cgroup DIR (the shell moves itself, then execs)
in_cg() {
	local d=$1
	shift
	bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$d" "$@"
}

# pol_build_static OUT SRC: gcc -static; fails the test run when it cannot
pol_build_static() {
	gcc -static -O2 -o "$1" "$2" 2>"$HB_TMP/gcc.err" ||
		{ echo "Bail out! gcc -static $2 failed: $(head -n3 "$HB_TMP/gcc.err")"; exit 1; }
}

# pol_clients: STATIC (gcc -static static_client.c) and RAW (the same source, dynamically
# linked, making raw syscalls with -R)
pol_clients() {
	STATIC=$HB_TMP/static_client
	pol_build_static "$STATIC" "$HB_ROOT/tests/helpers/static_client.c"
	RAW=$HELPERS/static_client
	if [ ! -x "$RAW" ]; then
		RAW=$HB_TMP/raw_client
		gcc -O2 -o "$RAW" "$HB_ROOT/tests/helpers/static_client.c" ||
			{ echo "Bail out! cannot build the raw-syscall client"; exit 1; }
	fi
}

# pol_json EXPR: evaluates a python expression over `hbctl policy ls -j` (as p, a list; by(ID)
# is one policy) and prints the result as python does (True, None; dicts and lists as JSON)
pol_json() {
	"$HBCTL" policy ls -j 2>/dev/null >"$HB_TMP/pls.json"
	"$PY" -c 'import json, sys
p = json.load(open(sys.argv[1]))
def by(i):
    m = [x for x in p if str(x["id"]) == str(i)]
    return m[0] if m else {}
r = eval(sys.argv[2])
print(json.dumps(r) if isinstance(r, (dict, list)) else r)' "$HB_TMP/pls.json" "$1"
}

# ls_vals NS LPORT: the options hbctl ls reads for the socket with local port LPORT in NS, in
# static_client's format (without the ports)
ls_vals() {
	in_ns "$1" "$HBCTL" ls -j --sport "$2" 2>/dev/null | "$PY" -c 'import json, sys
s = [x for x in json.load(sys.stdin) if x["state"] == "established"]
if len(s) != 1:
    print("%d sockets" % len(s)); sys.exit()
s = s[0]
print("ka=%d idle=%s intvl=%s cnt=%s uto=%s" % (s["keepalive"], s["keepidle_s"], s["keepintvl_s"],
      s["keepcnt"], s["user_timeout_ms"]))'
}

# opts LINE: static_client's line without the ports
opts() { sed -n '1s/ lport=.*//p' <<<"$1"; }
# ls_src NS FILTER...: config_source of the one established socket hbctl ls -j FILTER lists,
# as "KEEPALIVE IDLE INTVL CNT" ("program", "policy", ...; None where no source is known)
ls_src() {
	local n=$1
	shift
	in_ns "$n" "$HBCTL" ls -j "$@" 2>/dev/null | "$PY" -c 'import json, sys
s = [x for x in json.load(sys.stdin) if x["state"] == "established"]
if len(s) != 1:
    print("%d sockets" % len(s)); sys.exit()
c = s[0]["config_source"]
print(" ".join(str(c.get(k)) for k in ("keepalive", "keepidle", "keepintvl", "keepcnt")))'
}
# lport LINE: its local port
lport() { sed -n '1s/.* lport=\([0-9]*\) .*/\1/p' <<<"$1"; }

# wait_file FILE REGEX [TIMEOUT_S]: until FILE has a line matching REGEX
wait_file() { wait_line "$1" "$2" "${3:-10}"; }

# POL_PINS: where policies are pinned (the bpffs root, or $HB_PIN_DIR, then policy/)
POL_PINS=${HB_PIN_DIR:-/sys/fs/bpf/hbkeep}/policy
# pins ID: what is pinned for policy ID ("none" if nothing)
pins() {
	local d=${HB_PIN_DIR:-/sys/fs/bpf/hbkeep}/policy
	[ -e "$d/$1" ] || { echo none; return; }
	ls "$d/$1" | sort | tr '\n' ' ' | sed 's/ $//'
}
