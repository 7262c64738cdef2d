#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl run --kernel: CMD runs in a transient cgroup (below the cgroup hbctl is in) under a
# kernel policy, both removed when CMD exits, also when hbctl gets SIGINT/SIGTERM (passed on
# to CMD); CMD's exit status is hbctl's; static binaries and raw syscalls are covered. A CMD
# that daemonizes: its child keeps the policy until it exits, hbctl waits and says so. After
# a SIGKILL of hbctl, policy ls shows the orphan and policy rm --all cleans it.
# Needs root, BTF and cgroup v2; on the project's machines it must not skip.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_policy.sh"
pol_need
pol_clients
# This test ends with `policy rm --all`: its policies live in a pin directory of its own, so
# that --all means all of this test's, never a policy of the host's.
export HB_PIN_DIR=/sys/fs/bpf/$HB_TEST_ID
on_exit "rm -rf $HB_PIN_DIR"

NS=$(netns_new run) || { echo "Bail out! cannot create a network namespace"; exit 1; }
run_bg --ns "$NS" "$HELPERS/holdsrv" 0.0.0.0 7000 >/dev/null 2>&1
wait_port "$NS" 7000 || { echo "Bail out! holdsrv did not start"; exit 1; }

# Everything below runs in a cgroup of the test's own, so that the transient cgroups hbctl
# makes (next to itself) are the test's too, and go with it.
T=$(pol_cg t) || { echo "Bail out! cannot make a cgroup under $CG_BASE"; exit 1; }
pol_cg_track "$T"
# hb ARGS: hbctl in the test's cgroup and network namespace
hb() { in_cg "$T" nsenter --net="/run/netns/$NS" "$HBCTL" "$@"; }
# hb_bg OUT ARGS: the same in the background, output to OUT; hpid is hbctl's PID (each step
# execs the next). Background jobs start with SIGINT ignored, which CMD would inherit: env
# gives it back its default.
hb_bg() {
	local out=$1
	shift
	bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$T" nsenter --net="/run/netns/$NS" \
		env --default-signal=INT "$HBCTL" "$@" >"$out" 2>&1 &
	hpid=$!
	bg_pid "$hpid"
}
# transient: the transient cgroups in $T ("none" when there are none)
transient() {
	local l
	l=$(cd "$T" && ls -d hbkeep-run.* 2>/dev/null | tr '\n' ' ')
	echo "${l:-none}" | sed 's/ $//'
}
# hb_pids_policies: ids of the transient policies whose cgroup is in $T
our_policies() { pol_json "' '.join(str(x['id']) for x in p if x['cgroup'].startswith('$T/'))"; }

WANT="ka=1 idle=25 intvl=5 cnt=3 uto=0"

# ---- the command's sockets get the policy; everything goes afterwards ---------------------
r=$(hb run --kernel --idle 25 --intvl 5 --cnt 3 -- "$STATIC" 127.0.0.1 7000 2>"$HB_TMP/err")
rc=$?
check_eq "run --kernel static client: exit 0" 0 "$rc"
[ "$rc" = 0 ] || diag "$(cat "$HB_TMP/err")"
check_eq "run --kernel: the static client's own getsockopt" "$WANT" "$(opts "$r")"
r=$(hb run --kernel --idle 25 --intvl 5 --cnt 3 -- "$RAW" -R 127.0.0.1 7000)
check_eq "run --kernel: the raw-syscall client's own getsockopt" "$WANT" "$(opts "$r")"
r=$(hb run --kernel --idle 25 --match '!127.0.0.0/8' -- "$STATIC" 127.0.0.1 7000)
check_eq "run --kernel --match: an excluded destination gets nothing" \
	"ka=0 idle=7200 intvl=75 cnt=9 uto=0" "$(opts "$r")"
r=$(hb run --kernel --idle 25 --intvl 5 --cnt 3 -- "$STATIC" -s ka=0 127.0.0.1 7000)
check_eq "run --kernel: SO_KEEPALIVE=0 before connect() stays off, as under the shim" \
	"ka=0 idle=25 intvl=5 cnt=3 uto=0" "$(opts "$r")"
r=$(hb run --kernel --idle 25 --intvl 5 --cnt 3 -- "$HELPERS/ka_client" -S idle=77 127.0.0.1 7000)
check_eq "run --kernel: TCP_KEEPIDLE set after connect() is the program's" \
	"ka=1 idle=77 intvl=5 cnt=3 uto=0" "$r"
# every option of run reaches the kernel policy: per-value defaults, --force, --off with
# --user-timeout, --idle auto (the path table's idle; the last --idle given wins)
r=$(hb run --kernel --idle 25 -- "$STATIC" 127.0.0.1 7000)
check_eq "run --kernel --idle alone: hbkeep's defaults for the others" \
	"ka=1 idle=25 intvl=10 cnt=6 uto=0" "$(opts "$r")"
r=$(hb run --kernel --idle 25 --intvl 5 --cnt 3 --force -- "$STATIC" -s idle=77 -s ka=0 127.0.0.1 7000)
check_eq "run --kernel --force: the policy wins over the program's settings before connect()" \
	"$WANT" "$(opts "$r")"
r=$(hb run --kernel --off --user-timeout 5s -- "$STATIC" 127.0.0.1 7000)
check_eq "run --kernel --off --user-timeout: the user timeout alone" \
	"ka=0 idle=7200 intvl=75 cnt=9 uto=5000" "$(opts "$r")"
export HB_PATHS_FILE=$HB_TMP/paths
"$HBCTL" paths add 127.0.0.1:7000 --timeout 30s >/dev/null ||
	{ echo "Bail out! paths add failed"; exit 1; }
r=$(hb run --kernel --idle auto --intvl 5 --cnt 3 -- "$STATIC" 127.0.0.1 7000)
check_eq "run --kernel --idle auto: the idle of the path's entry (floor(0.8 x 30))" \
	"ka=1 idle=24 intvl=5 cnt=3 uto=0" "$(opts "$r")"
r=$(hb run --kernel --idle 25 --idle auto --intvl 5 --cnt 3 -- "$STATIC" 127.0.0.1 7000)
check_eq "run --kernel --idle 25 --idle auto: auto, the last one given" \
	"ka=1 idle=24 intvl=5 cnt=3 uto=0" "$(opts "$r")"
r=$(hb run --kernel --idle auto --idle 25 --intvl 5 --cnt 3 -- "$STATIC" 127.0.0.1 7000)
check_eq "run --kernel --idle auto --idle 25: 25, the last one given" "$WANT" "$(opts "$r")"
r=$(hb run --kernel --idle auto --idle-max 20 --intvl 5 --cnt 3 -- "$STATIC" 127.0.0.1 7000)
check_eq "run --kernel --idle auto --idle-max 20: the bound reaches the kernel (24 capped at 20)" \
	"ka=1 idle=20 intvl=5 cnt=3 uto=0" "$(opts "$r")"
unset HB_PATHS_FILE
usage_case "run --kernel --off alone" \
	"hbctl: run: --off without --user-timeout leaves nothing to do" run --kernel --off -- true
usage_case "run --kernel --match junk" "hbctl: run: --match:" run --kernel --match '10.0.0.0/99' -- true
usage_case "run --kernel --idle-default without --idle auto" \
	"hbctl: run: --idle-default and --idle-max go with --idle auto" \
	run --kernel --idle 30 --idle-default 30 -- true
check_eq "after CMD exits: no transient cgroup left" none "$(transient)"
check_eq "after CMD exits: no policy left" "" "$(our_policies)"

# ---- while it runs: listed, with its owner; hbctl ls agrees -------------------------------
hb_bg "$HB_TMP/bg" run --kernel --idle 25 --intvl 5 --cnt 3 -- "$STATIC" -w 30 127.0.0.1 7000
wait_file "$HB_TMP/bg" '^ready' 10 || diag "run --kernel did not start: $(cat "$HB_TMP/bg")"
cg=$T/hbkeep-run.$hpid
id=$(stat -c %i "$cg" 2>/dev/null)
check_eq "run --kernel makes hbkeep-run.PID next to hbctl" "hbkeep-run.$hpid" "$(transient)"
check_eq "policy ls -j: the transient policy, its cgroup, owner and state" \
	"$cg True $hpid active" \
	"$(pol_json "' '.join(str(by($id).get(k)) for k in ('cgroup','transient','owner_pid','state'))")"
check_eq "hbctl ls: the command's socket has the policy's options" "$WANT" \
	"$(ls_vals "$NS" "$(lport "$(head -n1 "$HB_TMP/bg")")")"
check "the command runs in the transient cgroup, hbctl does not" \
	eval 'grep -qx "$(pgrep -P "$hpid" | head -n1)" "$cg/cgroup.procs" && ! grep -qx "$hpid" "$cg/cgroup.procs"'

# ---- SIGTERM and SIGINT: passed on to CMD, then everything goes ----------------------------
kill -TERM "$hpid"
wait "$hpid"
rc=$?
check_eq "SIGTERM to hbctl: CMD is terminated by it, hbctl exits 128+15" 143 "$rc"
check_eq "after SIGTERM: no transient cgroup left" none "$(transient)"
check_eq "after SIGTERM: nothing of the policy in bpffs" none "$(pins "$id")"

# a CMD that handles SIGINT and exits 3: hbctl passes the signal on and returns CMD's status
hb_bg "$HB_TMP/int" run --kernel -- \
	bash -c 'trap "exit 3" INT; echo ready; while :; do sleep 0.05; done'
wait_file "$HB_TMP/int" '^ready' 10
id=$(stat -c %i "$T/hbkeep-run.$hpid" 2>/dev/null)
kill -INT "$hpid"
wait "$hpid"
rc=$?
check_eq "SIGINT to hbctl: passed on; CMD's own exit status (3) is hbctl's" 3 "$rc"
check_eq "after SIGINT: no transient cgroup, no pins" "none none" "$(transient) $(pins "$id")"

# ---- exit status ---------------------------------------------------------------------------
hb run --kernel -- sh -c 'exit 7'
check_eq "CMD's exit status is hbctl's (7)" 7 "$?"
hb run --kernel -- /nonexistent/cmd 2>"$HB_TMP/err"
rc=$?
check "a missing CMD: 127 and a message" eval '[ "$rc" = 127 ] && grep -q "/nonexistent/cmd" "$HB_TMP/err"'
check_eq "after those: no transient cgroup, no policy left" "none " "$(transient) $(our_policies)"

# ---- a daemonizing CMD (issue 13 item 10) ------------------------------------------------------
# CMD starts a background child and exits at once; the child connects only after the test saw
# how hbctl reacted to CMD's exit (the GO file). Before: hbctl removed policy and cgroup when
# CMD exited and the child connected with nothing. Now: hbctl says it keeps the policy until
# the child exits, the child's connection gets the policy, and only then does everything go.
GO=$HB_TMP/go
hb_bg "$HB_TMP/d.err" run --kernel --idle 25 --intvl 5 --cnt 3 -- sh -c \
	'(while [ ! -e "$0" ]; do sleep 0.05; done; exec "$1" -w 60 127.0.0.1 7000 >"$2") & exit 5' \
	"$GO" "$STATIC" "$HB_TMP/d.out"
dcg=$T/hbkeep-run.$hpid
for ((i = 0; i < 200; i++)); do
	grep -q "keeping the policy" "$HB_TMP/d.err" 2>/dev/null && break
	kill -0 "$hpid" 2>/dev/null || break
	sleep 0.05
done
did=$(stat -c %i "$dcg" 2>/dev/null)
check "daemonizing CMD: hbctl says the child stays under the policy until it exits" \
	grep -Eq "^hbctl: run: sh exited; [0-9]+ process(es)? it started (is|are) still in $dcg: keeping the policy until (it exits|they exit)" \
	"$HB_TMP/d.err"
touch "$GO"
wait_file "$HB_TMP/d.out" '^ready' 10 || diag "the daemon did not connect: $(cat "$HB_TMP/d.err")"
dpid=$(cat "$dcg/cgroup.procs" 2>/dev/null | head -n1)
[ -n "$dpid" ] && bg_pid "$dpid"
check_eq "daemonizing CMD: the child's connection, made after CMD exited, has the policy" \
	"$WANT" "$(opts "$(head -n1 "$HB_TMP/d.out")")"
check "daemonizing CMD: hbctl still runs, the child is in the transient cgroup, policy active" \
	eval 'kill -0 "$hpid" && [ -n "$dpid" ] && [ "$(pol_json "by($did).get(\"state\")")" = active ]'
kill -TERM "$dpid"
wait "$hpid"
check_eq "daemonizing CMD: when the child exits, hbctl returns CMD's status (5)" 5 "$?"
check_eq "daemonizing CMD: then no transient cgroup, no pins" "none none" "$(transient) $(pins "$did")"

# a signal to hbctl while it waits is passed on to what is left in the cgroup
hb_bg "$HB_TMP/d2.err" run --kernel -- sh -c '(trap "exit 0" TERM; while :; do sleep 0.05; done) & exit 0'
for ((i = 0; i < 200; i++)); do
	grep -q "keeping the policy" "$HB_TMP/d2.err" 2>/dev/null && break
	kill -0 "$hpid" 2>/dev/null || break
	sleep 0.05
done
did=$(stat -c %i "$T/hbkeep-run.$hpid" 2>/dev/null)
for p in $(cat "$T/hbkeep-run.$hpid/cgroup.procs" 2>/dev/null); do bg_pid "$p"; done
kill -TERM "$hpid"
wait "$hpid"
check_eq "SIGTERM to hbctl while it waits: passed on to the child; CMD's status (0)" 0 "$?"
check_eq "... then no transient cgroup, no pins" "none none" "$(transient) $(pins "$did")"

# ---- SIGKILL: the orphan is shown and cleaned ----------------------------------------------
orphan_run() { # OUT: starts run --kernel -- sleep 300 and SIGKILLs hbctl; sets hpid, id, spid
	hb_bg "$1" run --kernel --idle 26 -- sh -c 'echo ready; exec sleep 300'
	wait_file "$1" '^ready' 10
	id=$(stat -c %i "$T/hbkeep-run.$hpid" 2>/dev/null)
	spid=$(pgrep -P "$hpid" | head -n1)
	bg_pid "$spid"
	kill -KILL "$hpid"
	wait "$hpid" 2>/dev/null
}
orphan_run "$HB_TMP/k1"
"$HBCTL" policy ls >"$HB_TMP/ls" 2>"$HB_TMP/ls.err"
check_eq "after SIGKILL of hbctl: policy ls -j shows the orphan (owner gone)" \
	"orphan owner gone 26" \
	"$(pol_json "'%s %s %s' % (by($id).get('state'), by($id).get('reason'), by($id).get('keepidle_s'))")"
check "policy ls (table) marks it" grep -Eq "^$id +orphan " "$HB_TMP/ls"
check_eq "policy ls (table) says how to remove it, one line" \
	"hbctl: policy ls: $id is orphan (owner gone): remove it with hbctl policy rm $id (or --all)" \
	"$(cat "$HB_TMP/ls.err")"
check "the orphaned command still runs under its policy" kill -0 "$spid"
"$HBCTL" policy rm --all
check_eq "policy rm --all: exit 0" 0 "$?"
check_eq "policy rm --all: nothing of the orphan in bpffs" none "$(pins "$id")"
check_eq "policy rm --all: its transient cgroup is gone" none "$(transient)"
check "policy rm --all: the command was moved out, not killed" \
	eval 'kill -0 "$spid" && grep -qx "$spid" "$T/cgroup.procs"'
kill "$spid" 2>/dev/null

# the command gone too: the cgroup is empty
orphan_run "$HB_TMP/k2"
kill -KILL "$spid"
for ((i = 0; i < 100; i++)); do
	[ "$(cat "$T/hbkeep-run.$hpid/cgroup.events" 2>/dev/null | sed -n 's/^populated //p')" = 0 ] && break
	sleep 0.05
done
check_eq "after SIGKILL of hbctl and its command: orphan, cgroup empty" \
	"orphan cgroup empty, owner gone" \
	"$(pol_json "'%s %s' % (by($id).get('state'), by($id).get('reason'))")"
"$HBCTL" policy rm --all
check_eq "policy rm --all cleans that one too" "none none" "$(pins "$id") $(transient)"

# ---- without privileges --------------------------------------------------------------------
if command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$HBCTL" run --kernel -- true 2>"$HB_TMP/err"
	rc=$?
	check "run --kernel as nobody: exit 1, needs CAP_BPF..." \
		eval '[ "$rc" = 1 ] && grep -q "CAP_BPF" "$HB_TMP/err"'
	diag "$(cat "$HB_TMP/err")"
else
	skip "setpriv not installed"
fi
check_eq "at the end: no transient cgroup, no policy of this test" "none " \
	"$(transient) $(our_policies)"
