#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/run.sh fails a test that leaves something behind, and names it: a nested run.sh runs
# fake tests (in a directory of this test's) that each leave one kind of thing (a process
# outside any namespace, a server in a namespace deleted under it as the old policy tests
# did, a network namespace, a cgroup, a bpffs directory, a kernel policy on a removed cgroup)
# and one that cleans up after itself. The nested run must fail each leaking test by name
# with what it left, pass the clean one, and remove what was left.
# Needs root (namespaces, cgroups, bpffs).
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_policy.sh"
pol_need

D=$HB_TMP/fake
mkdir "$D"
# every fake test sources _lib.sh (for HB_TEST_ID, from the nested run's HB_RUN_ID) and
# prints one passing TAP line
head_=". '$HB_ROOT/tests/integ/_lib.sh'; . '$HB_ROOT/tests/integ/_policy.sh'; pol_need; ok fake"
cat >"$D/clean.sh" <<EOF
$head_
NS=\$(netns_new c)
run_bg --ns "\$NS" sleep 300
C=\$(pol_cg c) && pol_cg_track "\$C"
id=\$("\$HBCTL" policy add --cgroup "\$C")
# not the test's: what someone else runs in the checkout meanwhile (no tag, the host's
# namespace, a program from elsewhere) is never blamed on a test (nor killed)
(exec env -i /bin/sleep 304 >/dev/null 2>&1 & echo \$! >"$HB_TMP/other.pid")
EOF
cat >"$D/leak_proc.sh" <<EOF
$head_
(exec sleep 301 >/dev/null 2>&1 &)
EOF
# the bug of the old policy tests: the PID killed was a subshell's, the server lived on in
# its namespace, nameless once the name was deleted
cat >"$D/leak_server.sh" <<EOF
$head_
ip netns add "\$HB_TEST_ID-srv"
in_ns_srv() { nsenter --net="/run/netns/\$HB_TEST_ID-srv" "\$@"; }
in_ns_srv sleep 302 >/dev/null 2>&1 &
on_exit "kill \$!; ip netns del \$HB_TEST_ID-srv"
sleep 0.2
EOF
# a server that cleared its environment (no HB_RUN_ID), in a namespace deleted under it
cat >"$D/leak_untagged.sh" <<EOF
$head_
ip netns add "\$HB_TEST_ID-unt"
(exec nsenter --net="/run/netns/\$HB_TEST_ID-unt" env -i /bin/sleep 303 >/dev/null 2>&1 &)
sleep 0.2
ip netns del "\$HB_TEST_ID-unt"
EOF
cat >"$D/leak_netns.sh" <<EOF
$head_
ip netns add "\$HB_TEST_ID-gone"
EOF
cat >"$D/leak_cgroup.sh" <<EOF
$head_
mkdir "\$CG_BASE/\$HB_TEST_ID-cg"
EOF
cat >"$D/leak_pin.sh" <<EOF
$head_
mkdir "/sys/fs/bpf/\$HB_TEST_ID"
EOF
cat >"$D/leak_policy.sh" <<EOF
$head_
C=\$(pol_cg pol)
"\$HBCTL" policy add --cgroup "\$C" >"\$HB_TMP/id"
echo "\$(cat "\$HB_TMP/id") \$C" >"$HB_TMP/policy"
rmdir "\$C"
EOF

# the nested run: its own HB_RUN_ID, logs in a directory of this test's
(cd "$HB_ROOT" && HB_INTEG_DIR=$D O=$O HB_NO_SKIP= HB_KEEP_LEFTOVERS= \
	bash tests/run.sh integ >"$HB_TMP/run.out" 2>&1)
rc=$?
run_id=$(grep -o 'hbr[0-9]*t' "$HB_TMP/run.out" | head -n1)
run_id=${run_id%t}
sed "s/^/# /" "$HB_TMP/run.out"
check_eq "the nested run fails" 1 "$rc"
check_eq "it counts each leaking test as one failure" "8 passed, 7 failed, 0 skipped" \
	"$(tail -n1 "$HB_TMP/run.out")"
check "it names the failed tests" grep -qx "failed: integ/leak_cgroup integ/leak_netns \
integ/leak_pin integ/leak_policy integ/leak_proc integ/leak_server integ/leak_untagged" "$HB_TMP/run.out"
# left: NAME KIND PATTERN: the report of test NAME has a leftover line of KIND matching PATTERN
left() {
	awk -v t="$1" '/^== / { cur = $2 } cur == "integ/" t' "$HB_TMP/run.out" |
		grep -Eq "^   \|   $2 $3"
}
check "leak_proc: the process, by PID and command line" left leak_proc process '[0-9]+ sleep 301 '
check "leak_server: the server in the deleted namespace" left leak_server process '[0-9]+ sleep 302 '
check "leak_untagged: the server without the run's tag" left leak_untagged process '[0-9]+ /bin/sleep 303 '
check "leak_netns: the namespace" left leak_netns netns 'network namespace hbr[0-9]+t[0-9]+-gone$'
check "leak_cgroup: the cgroup" left leak_cgroup cgroup "cgroup $CG_BASE/hbr[0-9]+t[0-9]+-cg\$"
check "leak_pin: the bpffs directory" left leak_pin bpffs 'bpffs /sys/fs/bpf/hbr[0-9]+t[0-9]+$'
read -r pid_ pcg <"$HB_TMP/policy"
check "leak_policy: the policy, by id and cgroup" left leak_policy policy \
	"kernel policy $pid_ on $pcg "
check "the clean test passes" eval 'awk "/^== integ\/clean/,/passed/" "$HB_TMP/run.out" |
	grep -q "1 passed, 0 failed, 0 skipped"'
check "each leaking test passed its own checks (only what it left failed it)" eval \
	'[ "$(grep -c "^   not ok - leak_[a-z]* left behind:" "$HB_TMP/run.out")" = 7 ]'

# and the nested run removed what they left
# tagged: the PIDs of the processes that carry the nested run's HB_RUN_ID
tagged() {
	local p
	for p in $(pgrep -x sleep); do
		{ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qx "HB_RUN_ID=$run_id" &&
			echo "$p"
	done
}
check "the nested run's id was found" [ -n "$run_id" ]
check_eq "no process of the nested run is left" "" "$(tagged)"
check_eq "no namespace, cgroup, pin, policy or temporary directory of the nested run is left" "" \
	"$(python3 "$HB_ROOT/tests/leftovers.py" "$HB_ROOT" "$run_id" $$ "$HBCTL" | grep -v '^process' | cut -f1,3)"
other=$(cat "$HB_TMP/other.pid" 2>/dev/null)
check "a process someone else started in the checkout meanwhile was not blamed" \
	eval '[ -n "$other" ] && ! grep -q "^   |   process $other " "$HB_TMP/run.out"'
check "nor killed" kill -0 "$other"
[ -n "$other" ] && kill "$other"
