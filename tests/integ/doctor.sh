#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl doctor: as root on the project's machines everything is present (exit 0, each check
# named); as nobody (setpriv) the missing capabilities are named with how to get them (exit
# 1); in a network namespace whose conntrack established timeout is lowered, the advice says
# that tcp_keepalive_time exceeds it, and goes when the keepalive time is below it.
. "$(dirname "$0")/_lib.sh"
need_root
need_cmd setpriv nsenter ip sysctl python3
HBCTL=$O/hbctl
need_built "$HBCTL"

# ---- as root -------------------------------------------------------------------------------
"$HBCTL" doctor >"$HB_TMP/root.txt" 2>"$HB_TMP/root.err"
rc=$?
check_eq "as root: exit 0" 0 "$rc"
[ "$rc" = 0 ] || diag "$(cat "$HB_TMP/root.txt" "$HB_TMP/root.err")"
line() { grep -E "^$1 +$2 " "$HB_TMP/root.txt"; }
check "as root: kernel version line" eval 'line ok kernel | grep -qF "$(uname -r)"'
check "as root: BTF line" eval 'line ok btf | grep -q /sys/kernel/btf/vmlinux'
cg2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
check "as root: cgroup v2 mount from mountinfo ($cg2)" eval 'line ok cgroup2 | grep -qF " $cg2"'
check "as root: bpffs line" eval 'line ok bpffs | grep -q /sys/fs/bpf'
check "as root: capabilities line names the five" \
	eval 'line ok capabilities | grep -q "CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYS_PTRACE"'
ka=$(sysctl -n net.ipv4.tcp_keepalive_time)
check "as root: the namespace's keepalive sysctls" \
	eval 'line info sysctl | grep -q "tcp_keepalive_time $ka s"'
check "as root: back end of ls/set is bpf-iter" eval 'line ok ls/set | grep -q bpf-iter'
check "as root: policy and monitor available" eval 'line ok policy >/dev/null && line ok monitor >/dev/null'
check "as root: the shim hbctl run uses" eval 'line ok run | grep -q libhbshim.so'
check "as root: nothing missing" grep -qx "everything hbctl needs is present" "$HB_TMP/root.txt"

"$HBCTL" doctor -j >"$HB_TMP/root.json"
check_eq "-j: one JSON object with ok, checks, capabilities, sysctl, backends" \
	"True True True $ka bpf-iter" \
	"$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["ok"], all(c["status"] != "missing" for c in d["checks"]),
      all(d["capabilities"].values()), d["sysctl"]["tcp_keepalive_time"], d["backends"]["ls"])' \
	"$HB_TMP/root.json" 2>&1)"

"$HBCTL" doctor --help >/dev/null
check_eq "doctor --help exits 0" 0 "$?"
"$HBCTL" doctor --bogus >/dev/null 2>&1
check_eq "an unknown option is a usage error (2)" 2 "$?"

# ---- as nobody: no capabilities ------------------------------------------------------------
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	"$HBCTL" doctor >"$HB_TMP/nobody.txt" 2>&1
rc=$?
check_eq "as nobody: exit 1" 1 "$rc"
check "as nobody: names each missing capability" eval \
	'grep -E "^missing +capabilities" "$HB_TMP/nobody.txt" | grep -q "CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_PTRACE"'
check "as nobody: says how to get them (root, or setcap for a dedicated group)" \
	eval 'grep -q "fix: run hbctl as root; or, as Wireshark installs dumpcap, for a dedicated group only" "$HB_TMP/nobody.txt"'
# issue 13 item 3: setcap on a binary everyone can execute let any user change root's
# sockets; every setcap advised comes after the group and mode 0750 that restrict it
check "as nobody: setcap only after chgrp to a dedicated group and chmod 0750" \
	eval 'grep -q "chgrp hbkeep \$f; chmod 0750 \$f; setcap cap_bpf,[a-z_,]*+ep \$f" "$HB_TMP/nobody.txt" &&
	      ! grep "setcap" "$HB_TMP/nobody.txt" | grep -v "chmod 0750 [^;]*; setcap" | grep -q .'
check "as nobody: ls/set fall back to sock_diag (degraded), naming the capabilities" \
	eval 'grep -E "^degraded +ls/set +sock_diag" "$HB_TMP/nobody.txt" | grep -q "needs CAP_BPF and CAP_PERFMON"'
check "as nobody: the summary names what is missing" \
	grep -q "^missing: capabilities" "$HB_TMP/nobody.txt"
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	"$HBCTL" doctor -j >"$HB_TMP/nobody.json" 2>&1
check_eq "as nobody, -j: ok false, CAP_BPF false, capabilities missing" "False False missing" \
	"$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["ok"], d["capabilities"]["CAP_BPF"],
      [c["status"] for c in d["checks"] if c["name"] == "capabilities"][0])' \
	"$HB_TMP/nobody.json" 2>&1)"

# ---- a namespace with a lowered conntrack timeout ------------------------------------------
modprobe nf_conntrack 2>/dev/null
NS=$(netns_new doc) || { echo "Bail out! cannot create a network namespace"; exit 1; }
in_ns "$NS" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established=100 ||
	{ echo "Bail out! conntrack sysctls not visible in a namespace (nf_conntrack)"; exit 1; }
in_ns "$NS" "$HBCTL" doctor >"$HB_TMP/ns.txt" 2>&1
check_eq "netns: still exit 0 (advice is not a failure)" 0 "$?"
check "netns: conntrack timeout shown" \
	eval 'grep -E "^info +conntrack" "$HB_TMP/ns.txt" | grep -q "established 100 s"'
check "netns: advice: tcp_keepalive_time exceeds conntrack's established timeout" \
	grep -q "^- tcp_keepalive_time 7200 s exceeds conntrack's established timeout 100 s" "$HB_TMP/ns.txt"
check "netns: the advice gives a concrete idle below it" grep -q "hbctl run --idle 50" "$HB_TMP/ns.txt"
"$HBCTL" doctor --netns "$NS" >"$HB_TMP/ns2.txt" 2>&1
check "doctor --netns NAME reads that namespace's conntrack" \
	grep -q "exceeds conntrack's established timeout 100 s" "$HB_TMP/ns2.txt"
check "the host namespace's own report has no such advice" \
	eval '! grep -q "exceeds conntrack" "$HB_TMP/root.txt" || [ "$(sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established 2>/dev/null || echo 0)" -le "$ka" ]'
in_ns "$NS" sysctl -qw net.ipv4.tcp_keepalive_time=30
in_ns "$NS" "$HBCTL" doctor -j >"$HB_TMP/ns.json" 2>&1
check_eq "netns: keepalive time 30 s below the timeout: no such advice; sysctl read there" \
	"30 100 False" \
	"$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["sysctl"]["tcp_keepalive_time"], d["conntrack"]["tcp_timeout_established"],
      any("exceeds conntrack" in a for a in d["advice"]))' "$HB_TMP/ns.json" 2>&1)"
