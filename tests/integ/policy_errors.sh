#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl policy's errors, each a one-line message and the documented exit status: a missing
# cgroup path, a path that is no cgroup v2 directory, no cgroup v2 at all (a private mount
# namespace without it), no privilege (setpriv to nobody), bpffs not mounted (mounted by
# hbctl as root; a clear message without root), and usage errors. Nothing is left behind.
# Needs root, BTF and cgroup v2; on the project's machines it must not skip.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_policy.sh"
pol_need
need_cmd unshare setpriv mount umount

# expect DESC STATUS REGEX CMD...: CMD exits with STATUS and its stderr matches REGEX
expect() {
	local d=$1 want=$2 re=$3 rc
	shift 3
	"$@" >"$HB_TMP/out" 2>"$HB_TMP/err"
	rc=$?
	if [ "$rc" = "$want" ] && grep -Eq -- "$re" "$HB_TMP/err"; then
		ok "$d"
	else
		not_ok "$d"
		diag "exit $rc (want $want), stderr: $(cat "$HB_TMP/err")"
	fi
}

E=$(pol_cg e) || { echo "Bail out! cannot make a cgroup under $CG_BASE"; exit 1; }
pol_cg_track "$E"
before=$(ls "$POL_PINS" 2>/dev/null | sort | tr '\n' ' ')

# ---- paths ---------------------------------------------------------------------------------
expect "missing cgroup path: exit 1, 'does not exist'" 1 \
	"^hbctl: policy add: cgroup '$HB_TEST_ID-nosuch' does not exist" \
	"$HBCTL" policy add --cgroup "$HB_TEST_ID-nosuch"
expect "missing absolute cgroup path: exit 1" 1 "does not exist" \
	"$HBCTL" policy add --cgroup "$E/nosuch"
expect "a directory that is no cgroup: exit 1, 'not a cgroup v2 directory'" 1 \
	"$HB_TMP is not a cgroup v2 directory" "$HBCTL" policy add --cgroup "$HB_TMP"
expect "a file in a cgroup: exit 1, 'not a cgroup directory'" 1 "not a cgroup directory" \
	"$HBCTL" policy add --cgroup "$E/cgroup.procs"
v1=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup") { print $5; exit } break } }' \
	/proc/self/mountinfo)
if [ -n "$v1" ]; then
	expect "a cgroup v1 directory ($v1): exit 1, names cgroup v1" 1 "is a cgroup v1 directory" \
		"$HBCTL" policy add --cgroup "$v1"
else
	ok "no cgroup v1 hierarchy on this host: nothing to check"
fi

# ---- no cgroup v2 --------------------------------------------------------------------------
# a private mount namespace in which the cgroup v2 hierarchy is unmounted
nocg2() { unshare -m --propagation private bash -c 'umount -l "$0" && exec "$@"' "$CG2" "$@"; }
expect "no cgroup v2 mounted: policy add says so" 1 "no cgroup v2 hierarchy is mounted" \
	nocg2 "$HBCTL" policy add --cgroup "${E#"$CG2"/}"
expect "no cgroup v2 mounted: run --kernel says so" 1 "no cgroup v2 hierarchy is mounted" \
	nocg2 "$HBCTL" run --kernel -- true

# ---- no privilege --------------------------------------------------------------------------
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"; }
expect "as nobody: policy add needs CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON" 1 \
	"^hbctl: policy add: not permitted: .*CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON.*run as root" \
	nobody "$HBCTL" policy add --cgroup "$E"
id=$("$HBCTL" policy add --cgroup "$E" --idle 50)	# makes sure $POL_PINS exists (0700)
expect "as nobody: policy ls says the policies are root's" 1 \
	"^hbctl: policy ls: $POL_PINS: Permission denied \(policies are root's" \
	nobody "$HBCTL" policy ls
expect "as nobody: policy rm says the same" 1 "Permission denied \(policies are root's" \
	nobody "$HBCTL" policy rm "$id"
check_eq "as nobody: nothing was removed" "link meta sk sockopt_link stats" "$(pins "$id")"
"$HBCTL" policy rm "$id"

# ---- bpffs not mounted ---------------------------------------------------------------------
# In a private mount namespace without bpffs on /sys/fs/bpf: as root, hbctl mounts it and
# pins there (the policy then lives as long as that mount: it goes with the namespace).
cat >"$HB_TMP/nobpffs.sh" <<'EOF'
while grep -q " /sys/fs/bpf bpf " /proc/self/mounts; do umount -l /sys/fs/bpf || exit 9; done
"$@"
rc=$?
grep -q " /sys/fs/bpf bpf " /proc/self/mounts && echo "mounted" >&2
exit $rc
EOF
expect "bpffs not mounted, as root: policy add mounts it and works" 0 "^mounted$" \
	unshare -m --propagation private bash "$HB_TMP/nobpffs.sh" "$HBCTL" policy add --cgroup "$E"
for ((i = 0; i < 100; i++)); do
	bpftool cgroup show "$E" 2>/dev/null | grep -q sockops || break
	sleep 0.05
done
check_eq "...and the policy went with that namespace's bpffs" 0 \
	"$(bpftool cgroup show "$E" 2>/dev/null | grep -c sockops)"
# Without root but with the BPF capabilities it cannot mount bpffs: it says what to do.
expect "bpffs not mounted, not root: says how to mount it" 1 \
	"bpffs is not mounted on /sys/fs/bpf \(as root: mount -t bpf bpf /sys/fs/bpf\)" \
	unshare -m --propagation private bash "$HB_TMP/nobpffs.sh" \
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+bpf,+net_admin,+perfmon \
	--ambient-caps=+bpf,+net_admin,+perfmon "$HBCTL" policy add --cgroup "$E"

# ---- usage errors (exit 2) -----------------------------------------------------------------
expect "add without --cgroup: usage error" 2 "--cgroup PATH is required" "$HBCTL" policy add
expect "bad --idle: usage error naming it" 2 "^hbctl: policy add: --idle: " \
	"$HBCTL" policy add --cgroup "$E" --idle 0
expect "bad --match: usage error naming it" 2 "^hbctl: policy add: --match: " \
	"$HBCTL" policy add --cgroup "$E" --match 'example.com'
expect "--off alone: nothing to do" 2 "nothing to do" "$HBCTL" policy add --cgroup "$E" --off
expect "rm with nothing to remove: usage error" 2 "one of ID, --cgroup PATH, --all" \
	"$HBCTL" policy rm
expect "rm with a bad id: usage error" 2 "is not a policy id" "$HBCTL" policy rm 12x
expect "rm of an unknown id: runtime error" 1 "no policy 1" "$HBCTL" policy rm 1
expect "rm --cgroup without a policy: runtime error" 1 "no policy on cgroup" \
	"$HBCTL" policy rm --cgroup "$E"
expect "unknown subcommand: usage error" 2 "unknown subcommand 'frob'" "$HBCTL" policy frob
# issue 13 item 12: an empty path is a usage error as other empty values are; a directory
# as the file says so, not "Input/output error"
expect "add --cgroup '': usage error, one line" 2 "^hbctl: policy add: --cgroup: empty path" \
	"$HBCTL" policy add --cgroup '' --idle 5
expect "rm --cgroup '': usage error" 2 "^hbctl: policy rm: --cgroup: empty path" \
	"$HBCTL" policy rm --cgroup ''
expect "apply --scope '': usage error" 2 "^hbctl: policy apply: --scope: empty path" \
	"$HBCTL" policy apply --scope '' /dev/null
expect "apply DIRECTORY: runtime error, 'Is a directory'" 1 \
	"^hbctl: policy apply: $HB_TMP: Is a directory$" "$HBCTL" policy apply "$HB_TMP"
check "apply DIRECTORY: one line, no 'Input/output error'" \
	eval '[ "$(wc -l <"$HB_TMP/err")" = 1 ] && ! grep -q "Input/output" "$HB_TMP/err"'
expect "policy ls with an argument: usage error" 2 "unexpected argument" "$HBCTL" policy ls x

after=$(ls "$POL_PINS" 2>/dev/null | sort | tr '\n' ' ')
check_eq "nothing of this test is left in $POL_PINS" "$before" "$after"
