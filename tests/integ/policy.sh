#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The kernel policy per cgroup (hbctl policy add/ls/rm; bpf/policy.bpf.c) in a private network
# namespace and child cgroups that the test makes and removes:
#  - a statically linked client (gcc -static) and one making raw syscalls get the policy's
#    options, read by their own getsockopt() and by hbctl ls; processes outside the cgroup
#    (a sibling cgroup, the test's own) do not
#  - accepted sockets of a server in the cgroup get them (PASSIVE_ESTABLISHED)
#  - match lists: included destination managed, excluded not, IPv6, IPv4-mapped
#  - the program's own choice wins without --force, the policy with it
#  - replacement (same id, same link, new program) and removal (nothing left in bpffs,
#    new connections get nothing); nested cgroups (the inner policy decides); --retrofit
#  - counters in policy ls -j
# Needs root, BTF and cgroup v2; on the project's machines it must not skip.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_policy.sh"
pol_need
need_cmd bpftool
pol_clients

NS=$(netns_new pol) || { echo "Bail out! cannot create a network namespace"; exit 1; }
ip -n "$NS" addr add fd00::1/128 dev lo && ip -n "$NS" addr add fd00::2/128 dev lo ||
	{ echo "Bail out! IPv6 addresses on lo"; exit 1; }
run_bg --ns "$NS" "$HELPERS/holdsrv" 0.0.0.0 7000 :: 7006 >/dev/null 2>&1
wait_port "$NS" 7000 && wait_port "$NS" 7006 || { echo "Bail out! holdsrv did not start"; exit 1; }

A=$(pol_cg a) && B=$(pol_cg b) || { echo "Bail out! cannot make cgroups under $CG_BASE"; exit 1; }
pol_cg_track "$A"
pol_cg_track "$B"
diag "cgroup v2 at $CG2; test cgroups $A (policy) and $B (none)"

# cg_run DIR CMD...: CMD in cgroup DIR and the test's network namespace, output on stdout
cg_run() { local d=$1; shift; in_cg "$d" nsenter --net="/run/netns/$NS" "$@"; }
# cg_bg DIR OUT CMD...: the same in the background until "ready" (PID in BGPID)
cg_bg() {
	local d=$1 out=$2
	shift 2
	cg_run "$d" "$@" >"$out" 2>"$out.err" &
	BGPID=$!
	bg_pid "$BGPID"
	wait_file "$out" '^ready' 10 || diag "$* did not start: $(cat "$out" "$out.err")"
}

check "static_client is statically linked (no dynamic section)" \
	eval 'LC_ALL=C readelf -d "$STATIC" | grep -q "no dynamic section"'

# ---- add, ls, pins -----------------------------------------------------------------------
id=$("$HBCTL" policy add --cgroup "$A" --idle 30 --intvl 5 --cnt 4 --user-timeout 20s 2>"$HB_TMP/err")
rc=$?
check_eq "policy add exits 0" 0 "$rc"
[ "$rc" = 0 ] || diag "$(cat "$HB_TMP/err")"
check_eq "policy add prints the policy id: the cgroup's id" "$(stat -c %i "$A")" "$id"
check_eq "pinned: link, meta, records, setsockopt link, stats under $POL_PINS/$id" \
	"link meta sk sockopt_link stats" "$(pins "$id")"
check "bpftool sees the setsockopt recorder on the cgroup" \
	eval 'bpftool cgroup show "$A" | grep -q "setsockopt.*setsockopt_policy"'
check "bpftool sees a sock_ops program on the cgroup" \
	eval 'bpftool cgroup show "$A" | grep -q "sock_ops.*sockops_policy"'
check_eq "policy ls -j: cgroup, values, state" \
	"$A True 30 5 4 20000 None False active" \
	"$(pol_json "' '.join(str(by($id).get(k)) for k in ('cgroup','keepalive','keepidle_s','keepintvl_s','keepcnt','user_timeout_ms','match','force','state'))")"
check_eq "policy ls -j has every DESIGN.md field" "True" \
	"$(pol_json "all(k in by($id) for k in ('id','cgroup','keepidle_s','keepintvl_s','keepcnt','user_timeout_ms','match','force','matched','applied','failed'))")"
check "policy ls (table) lists it" eval '"$HBCTL" policy ls | grep -Eq "^$id +active +on +30s +5s +4 +20s +no .* $A\$"'

WANT="ka=1 idle=30 intvl=5 cnt=4 uto=20000"
NONE="ka=0 idle=7200 intvl=75 cnt=9 uto=0"

# ---- clients in and out of the cgroup ---------------------------------------------------
cg_bg "$A" "$HB_TMP/st" "$STATIC" -w 60 127.0.0.1 7000
st=$(head -n1 "$HB_TMP/st")
check_eq "static client in the cgroup: its own getsockopt" "$WANT" "$(opts "$st")"
check_eq "static client in the cgroup: hbctl ls" "$WANT" "$(ls_vals "$NS" "$(lport "$st")")"
held_port=$(lport "$st")

cg_bg "$A" "$HB_TMP/raw" "$RAW" -R -w 60 127.0.0.1 7000
raw=$(head -n1 "$HB_TMP/raw")
check_eq "raw-syscall client in the cgroup: its own getsockopt" "$WANT" "$(opts "$raw")"
check_eq "raw-syscall client in the cgroup: hbctl ls" "$WANT" "$(ls_vals "$NS" "$(lport "$raw")")"

r=$(cg_run "$A" "$STATIC" ::1 7006)
check_eq "static client in the cgroup, IPv6" "$WANT" "$(opts "$r")"

cg_bg "$B" "$HB_TMP/out" "$STATIC" -w 60 127.0.0.1 7000
out=$(head -n1 "$HB_TMP/out")
check_eq "static client in a sibling cgroup: nothing (own getsockopt)" "$NONE" "$(opts "$out")"
check_eq "static client in a sibling cgroup: nothing (hbctl ls)" "$NONE" \
	"$(ls_vals "$NS" "$(lport "$out")")"
r=$(in_ns "$NS" "$RAW" -R 127.0.0.1 7000)
check_eq "raw-syscall client in the test's own cgroup: nothing" "$NONE" "$(opts "$r")"

# ---- server side: accepted sockets -------------------------------------------------------
cg_bg "$A" "$HB_TMP/srv" "$STATIC" -l 7100 -a 2 -w 60
r=$(cg_run "$B" "$STATIC" 127.0.0.1 7100)
r6=$(cg_run "$B" "$STATIC" ::1 7100)
for ((i = 0; i < 100; i++)); do
	[ "$(grep -c rport= "$HB_TMP/srv")" -ge 2 ] && break
	sleep 0.05
done
check_eq "server in the cgroup: accepted IPv4 socket gets the policy" "$WANT" \
	"$(sed -n '2p' "$HB_TMP/srv" | sed 's/ lport=.*//')"
check_eq "server in the cgroup: accepted IPv6 socket gets the policy" "$WANT" \
	"$(sed -n '3p' "$HB_TMP/srv" | sed 's/ lport=.*//')"
check_eq "its client, outside the cgroup, does not" "$NONE" "$(opts "$r")"
check_eq "server: the policy set up its listener at listen(), as the shim does" 1 \
	"$(pol_json "by($id)['listeners']")"
check_eq "server: hbctl ls shows the listener with the policy's options" \
	"True 30 5 4 20000" \
	"$(in_ns "$NS" "$HBCTL" ls -j --state listen --sport 7100 | "$PY" -c 'import json,sys
s = json.load(sys.stdin)[0]; print(s["keepalive"], s["keepidle_s"], s["keepintvl_s"], s["keepcnt"], s["user_timeout_ms"])')"
check_eq "counters: matched, applied, failed" "5 5 0" \
	"$(pol_json "' '.join(str(by($id)[k]) for k in ('matched','applied','failed'))")"

# ---- the program's own choice ------------------------------------------------------------
r=$(cg_run "$A" "$STATIC" -s idle=77 -s ka=1 127.0.0.1 7000)
check_eq "without --force: the program's TCP_KEEPIDLE stays, the rest is the policy's" \
	"ka=1 idle=77 intvl=5 cnt=4 uto=20000" "$(opts "$r")"
r=$(cg_run "$A" "$STATIC" -s ka=1 -s idle=77 -s intvl=7 -s cnt=2 -s uto=1234 127.0.0.1 7000)
check_eq "without --force: a program that set everything keeps everything" \
	"ka=1 idle=77 intvl=7 cnt=2 uto=1234" "$(opts "$r")"
check_eq "counted as kept" 1 "$(pol_json "by($id)['kept']")"
r=$(cg_run "$A" "$STATIC" -s ka=0 127.0.0.1 7000)
check_eq "without --force: SO_KEEPALIVE=0 before connect() stays off, as under the shim" \
	"ka=0 idle=30 intvl=5 cnt=4 uto=20000" "$(opts "$r")"
cg_bg "$A" "$HB_TMP/srv0" "$STATIC" -s ka=0 -l 7101 -a 1 -w 60
cg_run "$B" "$STATIC" 127.0.0.1 7101 >/dev/null
wait_file "$HB_TMP/srv0" 'rport=' 10
check_eq "without --force: SO_KEEPALIVE=0 on a listener stays off on the sockets it accepts" \
	"ka=0 idle=30 intvl=5 cnt=4 uto=20000" "$(sed -n '2s/ lport=.*//p' "$HB_TMP/srv0")"
# a setsockopt() with a value larger than a page (the recorder sees only its first page)
r=$(cg_run "$A" "$PY" -c 'import socket, struct
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, struct.pack("i", 77) + bytes(5000))
s.connect(("127.0.0.1", 7000))
print(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
      s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE))' 2>&1)
check_eq "a 5,004-byte TCP_KEEPIDLE before connect(): accepted, and the program's" "1 77" "$r"
# ka_client_bg OUT ARGS: ka_client in cgroup A holding its connection; KPID its PID
ka_client_bg() {
	local out=$1
	shift
	# not through cg_run (a function: $! would be a subshell's), so that KPID is ka_client's
	bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$A" nsenter --net="/run/netns/$NS" \
		"$HELPERS/ka_client" -w 60 "$@" 127.0.0.1 7000 >"$out" 2>"$out.err" &
	KPID=$!
	bg_pid "$KPID"
	wait_file "$out" '^ka=' 10 || diag "ka_client $* did not connect: $(cat "$out.err")"
}
ka_client_bg "$HB_TMP/ka0" -s ka=0
check_eq "SO_KEEPALIVE=0 before connect(): hbctl ls names the program as keepalive's source" \
	"program policy policy policy" "$(ls_src "$NS" --pid "$KPID")"
ka_client_bg "$HB_TMP/idle77" -S idle=77
check_eq "TCP_KEEPIDLE after connect(): the program's value wins (own getsockopt)" \
	"ka=1 idle=77 intvl=5 cnt=4 uto=20000" "$(head -n1 "$HB_TMP/idle77")"
check_eq "TCP_KEEPIDLE after connect(): hbctl ls says program for it, policy for the rest" \
	"policy program policy policy" "$(ls_src "$NS" --pid "$KPID")"
kport=$(in_ns "$NS" "$HBCTL" ls -j --pid "$KPID" 2>/dev/null |
	"$PY" -c 'import json, sys; print(json.load(sys.stdin)[0]["local"].rsplit(":", 1)[1])')
check_eq "TCP_KEEPIDLE after connect(): hbctl ls shows the program's value" \
	"ka=1 idle=77 intvl=5 cnt=4 uto=20000" "$(ls_vals "$NS" "$kport")"
ka_client_bg "$HB_TMP/plain"
check_eq "a program that sets nothing: every value's source is the policy" \
	"policy policy policy policy" "$(ls_src "$NS" --pid "$KPID")"

# ---- replacement -------------------------------------------------------------------------
link1=$(pol_json "by($id)['link_id']")
prog1=$(pol_json "by($id)['prog_id']")
rep=$("$HBCTL" policy add -j --cgroup "$A" --idle 31 --intvl 6 --cnt 5 --force)
check_eq "a second add on the cgroup replaces: same id, replaced" "$id True" \
	"$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["id"], d["replaced"])' "$rep")"
check_eq "replacement: the same BPF link (updated, not re-attached)" "$link1" \
	"$(pol_json "by($id)['link_id']")"
check "replacement: a new program" [ "$(pol_json "by($id)['prog_id']")" != "$prog1" ]
check_eq "replacement: one program on the cgroup" 1 \
	"$(bpftool cgroup show "$A" | grep -c sockops_policy)"
# applied: the 5 connections counted above, the one with idle=77 set before connect(), and
# the five of SO_KEEPALIVE=0 (static, ka_client), a large TCP_KEEPIDLE, TCP_KEEPIDLE after
# connect() and nothing set (the accepted socket that kept its listener's SO_KEEPALIVE=0
# only inherited the policy's other values: counted as kept)
check_eq "replacement: policy ls shows the new values, counters kept" "31 6 5 None True 11" \
	"$(pol_json "' '.join(str(by($id).get(k)) for k in ('keepidle_s','keepintvl_s','keepcnt','user_timeout_ms','force','applied'))")"
r=$(cg_run "$A" "$STATIC" -s idle=77 -s ka=1 127.0.0.1 7000)
check_eq "with --force: the policy wins over the program's TCP_KEEPIDLE" \
	"ka=1 idle=31 intvl=6 cnt=5 uto=0" "$(opts "$r")"
r=$(cg_run "$A" "$STATIC" -s ka=0 127.0.0.1 7000)
check_eq "with --force: SO_KEEPALIVE=0 before connect() is switched on" \
	"ka=1 idle=31 intvl=6 cnt=5 uto=0" "$(opts "$r")"
ka_client_bg "$HB_TMP/fidle77" -S idle=77 -S ka=0
check_eq "with --force: TCP_KEEPIDLE and SO_KEEPALIVE=0 after connect() get the policy's values" \
	"ka=1 idle=31 intvl=6 cnt=5 uto=0" "$(head -n1 "$HB_TMP/fidle77")"
check_eq "with --force: hbctl ls says policy for every value" \
	"policy policy policy policy" "$(ls_src "$NS" --pid "$KPID")"
check_eq "a connection made before the replacement keeps its options" "$WANT" \
	"$(ls_vals "$NS" "$held_port")"
"$HBCTL" policy add --cgroup "$A" --no-replace --idle 9 >/dev/null 2>"$HB_TMP/err"
rc=$?
check "--no-replace on a cgroup with a policy: exit 1 and says so" \
	eval '[ "$rc" = 1 ] && grep -q "has a policy already" "$HB_TMP/err"'
check_eq "--no-replace changed nothing" 31 "$(pol_json "by($id)['keepidle_s']")"

# ---- without the setsockopt recorder (forced refusal): today's behaviour, and said so ---------
F=$(pol_cg f) && pol_cg_track "$F"
fid=$(HB_TEST_NO_SOCKOPT=1 "$HBCTL" policy add --cgroup "$F" --idle 30 --intvl 5 --cnt 4 \
	2>"$HB_TMP/ferr")
check_eq "recorder refused: policy add still exits 0" 0 $?
check_eq "recorder refused: one note says what is degraded and why" \
	"hbctl: policy add: note: the policy's cgroup setsockopt program was refused (HB_TEST_NO_SOCKOPT): a program's own SO_KEEPALIVE=0 before connect() is switched on (the TCP_KEEP* values it sets stay its own), and ls cannot tell the program's values from the policy's" \
	"$(cat "$HB_TMP/ferr")"
check_eq "recorder refused: no setsockopt link pinned" "link meta sk stats" "$(pins "$fid")"
r=$(cg_run "$F" "$STATIC" -s ka=0 -s idle=77 127.0.0.1 7000)
check_eq "recorder refused: SO_KEEPALIVE=0 is switched on, the program's TCP_KEEPIDLE stays" \
	"ka=1 idle=77 intvl=5 cnt=4 uto=0" "$(opts "$r")"
"$HBCTL" policy rm --cgroup "$F" >/dev/null 2>&1

# ---- match lists ---------------------------------------------------------------------------
M=$(pol_cg m) && pol_cg_track "$M"
mid=$("$HBCTL" policy add --cgroup "$M" --idle 33 \
	--match '127.0.0.0/8, !127.0.0.3, [fd00::]/64, ![fd00::2], [::1]:7999')
check_eq "policy ls -j: the match list, normalised" \
	'127.0.0.0/8,!127.0.0.3,[fd00::]/64,![fd00::2],[::1]:7999' "$(pol_json "by($mid)['match']")"
M33="ka=1 idle=33 intvl=10 cnt=6 uto=0"
for c in "127.0.0.2 7000|$M33|included IPv4" "127.0.0.3 7000|$NONE|excluded IPv4" \
	"fd00::1 7006|$M33|included IPv6 prefix" "fd00::2 7006|$NONE|excluded IPv6" \
	"::1 7006|$NONE|IPv6, pattern with another port" \
	"::ffff:127.0.0.2 7000|$M33|IPv4-mapped, included as IPv4" \
	"::ffff:127.0.0.3 7000|$NONE|IPv4-mapped, excluded as IPv4"; do
	IFS='|' read -r dst want what <<<"$c"
	# shellcheck disable=SC2086
	r=$(cg_run "$M" "$STATIC" $dst)
	check_eq "match list: $dst ($what)" "$want" "$(opts "$r")"
done
check_eq "match list: matched counts only the managed ones" "3 7" \
	"$(pol_json "'%d %d' % (by($mid)['matched'], by($mid)['seen'])")"

# ---- nested cgroups: the innermost policy decides ------------------------------------------
P=$(pol_cg p) && pol_cg_track "$P"
mkdir "$P/inner"
pid_=$("$HBCTL" policy add --cgroup "$P" --idle 40 --force)
iid=$("$HBCTL" policy add --cgroup "$P/inner" --idle 41)
r=$(cg_run "$P/inner" "$STATIC" 127.0.0.1 7000)
check_eq "nested: a process in the inner cgroup gets the inner policy (outer has --force)" \
	"ka=1 idle=41 intvl=10 cnt=6 uto=0" "$(opts "$r")"
r=$(cg_run "$P" "$STATIC" 127.0.0.1 7000)
check_eq "nested: a process in the outer cgroup gets the outer policy" \
	"ka=1 idle=40 intvl=10 cnt=6 uto=0" "$(opts "$r")"
check_eq "nested: the outer policy counts the connection it left to the inner one" 1 \
	"$(pol_json "by($pid_)['skipped_inner']")"
"$HBCTL" policy rm "$iid" && "$HBCTL" policy rm "$pid_"

# ---- --retrofit ----------------------------------------------------------------------------
R=$(pol_cg r) && pol_cg_track "$R"
cg_bg "$R" "$HB_TMP/pre" "$STATIC" -w 60 127.0.0.1 7000
pre=$(lport "$(head -n1 "$HB_TMP/pre")")
check_eq "retrofit: a connection made before any policy has none" "$NONE" "$(ls_vals "$NS" "$pre")"
rj=$(in_ns "$NS" "$HBCTL" policy add -j --cgroup "$R" --idle 35 --intvl 3 --retrofit)
check_eq "retrofit: one established connection changed, none failed" "1 0" \
	"$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1])["retrofit"]; print(d["applied"], d["failed"])' "$rj")"
check_eq "retrofit: hbctl ls shows the policy on the existing connection" \
	"ka=1 idle=35 intvl=3 cnt=6 uto=0" "$(ls_vals "$NS" "$pre")"
check_eq "retrofit: hbctl ls names the policy as the source of what it set" \
	"policy policy policy" "$(ls_src "$NS" --sport "$pre" | cut -d' ' -f1-3)"
check_eq "retrofit: a connection of a process outside the cgroup is untouched" "$NONE" \
	"$(ls_vals "$NS" "$(lport "$out")")"
rid=$(stat -c %i "$R")

# ---- removal -------------------------------------------------------------------------------
lid=$(pol_json "by($id)['link_id']")
"$HBCTL" policy rm "$id"
check_eq "policy rm ID exits 0" 0 "$?"
check_eq "after rm: nothing of it in $POL_PINS" none "$(pins "$id")"
check_eq "after rm: no program on the cgroup" 0 "$(bpftool cgroup show "$A" | grep -c sockops)"
check "after rm: its BPF link is gone" eval '! bpftool link show id "$lid" >/dev/null 2>&1'
check_eq "after rm: policy ls does not list it" False "$(pol_json "any(x['id'] == $id for x in p)")"
r=$(cg_run "$A" "$STATIC" 127.0.0.1 7000)
check_eq "after rm: new connections in the cgroup get nothing" "$NONE" "$(opts "$r")"
"$HBCTL" policy rm --cgroup "$M"
check_eq "policy rm --cgroup PATH removes it" none "$(pins "$mid")"
"$HBCTL" policy rm --cgroup "${R#"$CG2"/}"
check_eq "policy rm --cgroup with a path relative to the cgroup v2 mount" none "$(pins "$rid")"
"$HBCTL" policy rm "$id" 2>"$HB_TMP/err"
rc=$?
check "policy rm of an unknown id: exit 1, 'no policy'" \
	eval '[ "$rc" = 1 ] && grep -q "no policy $id" "$HB_TMP/err"'
# a cgroup removed under its policy: an orphan, removable by the path it had
G=$(pol_cg gone) && pol_cg_track "$G"
gid=$("$HBCTL" policy add --cgroup "$G")
rmdir "$G"
check_eq "a policy whose cgroup was removed is an orphan (cgroup gone)" "orphan cgroup gone" \
	"$(pol_json "'%s %s' % (by($gid).get('state'), by($gid).get('reason'))")"
# issue 13 item 12: the path made again with a live policy beside the orphan; rm --cgroup
# removes both and names each (id, state, cgroup), not silently
mkdir "$G" && gid2=$("$HBCTL" policy add --cgroup "$G" --idle 41)
"$HBCTL" policy rm --cgroup "$G" >"$HB_TMP/rmg" 2>"$HB_TMP/rmg.err"
check_eq "policy rm --cgroup: exit 0" 0 "$?"
check_eq "policy rm --cgroup with the removed cgroup's path cleans it" none "$(pins "$gid")"
check_eq "policy rm --cgroup: the live policy on the path made again is removed too" none "$(pins "$gid2")"
check_eq "policy rm --cgroup lists both: the orphan and the live policy" \
	"removed $gid orphan (cgroup gone) $G|removed $gid2 active $G" \
	"$(sort "$HB_TMP/rmg" | tr '\n' '|' | sed 's/|$//')"
gid3=$("$HBCTL" policy add --cgroup "$G" --idle 42)
"$HBCTL" policy rm -j "$gid3" >"$HB_TMP/rmj"
check_eq "policy rm -j ID: a JSON array naming it" "$gid3 $G active" \
	"$("$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(len(d) == 1 and "%d %s %s" % (d[0]["id"], d[0]["cgroup"], d[0]["state"]))' "$HB_TMP/rmj" 2>&1)"
left=$(ls "$POL_PINS" /sys/fs/bpf/hb 2>/dev/null | grep -Ex "$id|$mid|$rid|$pid_|$iid|$gid|$gid2|$gid3")
check_eq "no pin directory of this test's policies is left" "" "$left"
