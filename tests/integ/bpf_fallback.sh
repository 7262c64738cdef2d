#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Every BPF fallback, forced with HB_BPF_DENY (the loaders refuse the named programs with EPERM
# as a kernel that does not allow them would), on any machine: this one refuses map iterators
# for real, others allow everything.
#  - monitor, once per refusal set: keepalive probes sent/received and their ACKs still equal
#    the namespace's TcpExtTCPKeepAlive delta; --conns rows and the hbctl ls columns appear
#    whenever iter_conns or its iter/tcp twin loads, and are absent (not empty) when neither
#    does; close causes are counted (tp_btf, else its raw_tp twins), or null when both are
#    refused; stderr says once what is missing and why
#  - hbctl doctor's verdict for each monitor feature against that real run, its exit status;
#    without cgroup_skb (essential) the monitor does not start and doctor says missing
#  - ls and set with the iterator back end refused: sock_diag, the same sockets, the reason
#    under -v, and set still changes the socket
#  - policy add --retrofit refused while doctor says the policy is degraded; without it, works
# Needs root and BTF; on the project's machines it must not skip.
. "$(dirname "$0")/_monitor.sh"
unset HB_BPF_DENY

cg_bg "$HB_TMP/s1" python3 "$PEER" server 127.0.0.1 5000
wait_for "$HB_TMP/s1" ready 30 || { echo "Bail out! server"; exit 1; }
port_of() { sed -n 's/^conn \([0-9]*\)/\1/p' "$1" | head -n1; }

# doctor_status DENY NAME: the status doctor -j gives check NAME with HB_BPF_DENY=DENY
doctor_status() {
	HB_BPF_DENY=$1 "$HBCTL" doctor -j 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([c["status"] for c in d["checks"] if c["name"] == sys.argv[1]][0])' "$2"
}

# ---- the monitor, once per refusal set -------------------------------------------------------
# "": whatever this kernel allows; iter_conns: the iter/tcp twin; map_iter,iter_conns_tcp: no
# per-connection rows; tp_btf: the raw_tp twins; tp_btf,raw_tp: no close causes;
# tp_btf,iter_conns: both fallbacks at once
v=0
for deny in "" iter_conns map_iter,iter_conns_tcp tp_btf tp_btf,raw_tp tp_btf,iter_conns; do
	tag="HB_BPF_DENY=$deny"
	v=$((v + 1))	# a file per run: cg_bg's redirection truncates it only when the child starts
	: >"$HB_TMP/mon.err"
	n0=$(ka_count)
	HB_BPF_DENY=$deny mon_start "$HB_TMP/m$v.json" -j -i 200ms --conns ||
		{ echo "Bail out! $tag: monitor"; exit 1; }
	cg_bg "$HB_TMP/c$v" python3 "$PEER" client 127.0.0.1 5000 --ka 1,1,9; C=$BG
	wait_for "$HB_TMP/c$v" ready 30 || { echo "Bail out! $tag: client"; exit 1; }
	pc=$(port_of "$HB_TMP/c$v")
	sleep 4.5
	in_ns "$NS" "$HBCTL" -v ls -j >"$HB_TMP/ls.json" 2>"$HB_TMP/ls.err"
	ls_mon=$(python3 -c '
import json, sys
s = [x for x in json.load(open(sys.argv[1])) if x["local"] == "127.0.0.1:" + sys.argv[2]]
m = s[0].get("monitor") if s else None
print("none" if m is None else m.get("keepalive_probes_sent", 0) >= 2)' "$HB_TMP/ls.json" "$pc")
	kill -9 "$C"; wait "$C" 2>/dev/null
	sleep 0.6
	n1=$(ka_count)
	mon_stop
	delta=$((n1 - n0))
	check_eq "$tag: monitor exits 0" 0 "$MON_RC"
	check "$tag: probes were sent ($delta)" test "$delta" -ge 3
	check_eq "$tag: sent recv acks_sent acks_recv = TcpExtTCPKeepAlive delta" \
		"$delta $delta $delta $delta" \
		"$(jq_last "$HB_TMP/m$v.json" "' '.join(str(d['total'][k]) for k in ('keepalive_probes_sent', 'keepalive_probes_recv', 'keepalive_acks_sent', 'keepalive_acks_recv'))")"
	# what the monitor ran on, as it said on stderr (once) and as doctor predicts
	rows=$(python3 - "$HB_TMP/m$v.json" "$pc" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
if any("conns" in d for d in lines):
    print(any(c["local"].endswith(":" + sys.argv[2]) and c["keepalive_probes_sent"] >= 2
              for d in lines for c in d.get("conns", [])))
else:
    print("none")
EOF
)
	closes=$(python3 - "$HB_TMP/m$v.json" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
c = [d["closed"] for d in lines]
print("null" if all(x is None for x in c) else
      "counted" if all(x is not None for x in c) and sum(c[-1].values()) >= 1 else c[-1])
EOF
)
	n_iter=$(grep -c 'per-connection rows come from iter/tcp instead' "$HB_TMP/mon.err")
	n_none=$(grep -c 'no per-connection rows' "$HB_TMP/mon.err")
	n_tp=$(grep -c 'close causes are not counted' "$HB_TMP/mon.err")
	n_rt=$(grep -c 'close causes come from raw_tp instead' "$HB_TMP/mon.err")
	check_eq "$tag: no other monitor error" "" "$(mon_errors)"
	conns=$(doctor_status "$deny" monitor/conns)
	clos=$(doctor_status "$deny" monitor/closes)
	diag "$tag: doctor says monitor/conns $conns, monitor/closes $clos"
	case $conns in
	ok) want="True True 0 0" ;;
	degraded) want="True True 1 0" ;;
	*) want="none none 0 1" ;;
	esac
	check_eq "$tag: --conns rows, ls columns, notices match doctor's monitor/conns ($conns)" \
		"$want" "$rows $ls_mon $n_iter $n_none"
	[ "$want" = "$rows $ls_mon $n_iter $n_none" ] || diag "$(cat "$HB_TMP/ls.err")"
	case $clos in
	ok) want="counted 0 0" ;;
	degraded) want="counted 0 1" ;;
	*) want="null 1 0" ;;
	esac
	check_eq "$tag: close causes and notice match doctor's monitor/closes ($clos)" \
		"$want" "$closes $n_tp $n_rt"
	case $deny in
	*iter_conns*) check_eq "$tag: doctor: per-connection rows degraded or missing" True \
		"$([ "$conns" = degraded ] || [ "$conns" = missing ] && echo True)" ;;
	esac
	case $deny in
	map_iter,iter_conns_tcp) check_eq "$tag: doctor: per-connection rows missing" missing "$conns" ;;
	tp_btf,raw_tp) check_eq "$tag: doctor: close causes missing" missing "$clos" ;;
	tp_btf*) check_eq "$tag: doctor: close causes degraded (raw_tp)" degraded "$clos" ;;
	esac
done
# ---- close causes from the raw_tp twins (tp_btf refused): the same classification ----------
# keepalive death (the server's segments dropped), SO_LINGER 0 and its peer, TCP_USER_TIMEOUT
# and retransmissions, as integ/monitor checks them on tp_btf
ns_bg "$HB_TMP/s2" python3 "$PEER" server 127.0.0.1 5002
wait_for "$HB_TMP/s2" ready 30 || { echo "Bail out! server 2"; exit 1; }
CLOSER=$HB_ROOT/tests/helpers/closer.py
in_ns "$NS" sysctl -qw net.ipv4.tcp_retries2=2
: >"$HB_TMP/mon.err"
HB_BPF_DENY=tp_btf mon_start "$HB_TMP/rt.json" -j -i 200ms --conns ||
	{ echo "Bail out! monitor (raw_tp)"; exit 1; }
cg_bg "$HB_TMP/r1" python3 "$CLOSER" linger0 5000 -
wait_for "$HB_TMP/r1" done 30
for m in ka uto plain; do
	cg_bg "$HB_TMP/r_$m" python3 "$CLOSER" "$m" 5002 "$HB_TMP/dropping"
	wait_for "$HB_TMP/r_$m" '^conn' 30 || { echo "Bail out! closer $m"; exit 1; }
done
ports="$(port_of "$HB_TMP/r_ka"), $(port_of "$HB_TMP/r_uto"), $(port_of "$HB_TMP/r_plain")"
in_ns "$NS" nft add table inet hbfb
on_exit "in_ns $NS nft delete table inet hbfb"
in_ns "$NS" nft add chain inet hbfb in '{ type filter hook input priority 0; policy accept; }'
in_ns "$NS" nft add rule inet hbfb in tcp sport 5002 tcp dport "{ $ports }" drop
touch "$HB_TMP/dropping"
for m in ka uto plain; do wait_for "$HB_TMP/r_$m" '^error' 30; done
# until an interval shows the five closes (or 10 s): the clients see their error first
for ((i = 0; i < 50; i++)); do
	[ "$(jq_last "$HB_TMP/rt.json" "sum(d['closed'].values()) >= 5")" = True ] && break
	sleep 0.2
done
mon_stop
got=$(jq_last "$HB_TMP/rt.json" "' '.join('%s=%d' % (k, d['closed'][k]) for k in ('reset_sent', 'reset_recv', 'user_timeout', 'retrans_timeout', 'keepalive_timeout'))")
check_eq "raw_tp: closes by SO_LINGER 0, its peer, TCP_USER_TIMEOUT, retransmissions, keepalive" \
	"reset_sent=1 reset_recv=1 user_timeout=1 retrans_timeout=1 keepalive_timeout=1" "$got"
[ "$got" = "reset_sent=1 reset_recv=1 user_timeout=1 retrans_timeout=1 keepalive_timeout=1" ] ||
	diag "$(grep -o '"closes":\[[^]]*\]' "$HB_TMP/rt.json" | grep -v '\[\]') uto $(port_of "$HB_TMP/r_uto") plain $(port_of "$HB_TMP/r_plain"): $(cat "$HB_TMP/r_uto" "$HB_TMP/r_plain" | tr '\n' ' ')"
got=$(python3 - "$HB_TMP/rt.json" "$(port_of "$HB_TMP/r_ka")" <<'EOF2'
import json, sys
for l in open(sys.argv[1]):
    for e in json.loads(l).get("closes", []):
        if e["local"].endswith(":" + sys.argv[2]):
            print(e["cause"], e["err"], e["peer"])
EOF2
)
check_eq "raw_tp: the keepalive death's event: cause, ETIMEDOUT, its peer" \
	"keepalive_timeout 110 127.0.0.1:5002" "$got"
check_eq "raw_tp: the notice, once" 1 "$(grep -c 'close causes come from raw_tp instead' "$HB_TMP/mon.err")"
in_ns "$NS" nft delete table inet hbfb

# without --netns, the iter/tcp twin walks each network namespace of the cgroup's processes
cg_bg "$HB_TMP/c3" python3 "$PEER" client 127.0.0.1 5000 --ka 1,1,9; C3=$BG
wait_for "$HB_TMP/c3" ready 30 || { echo "Bail out! client"; exit 1; }
p3=$(port_of "$HB_TMP/c3")
HB_BPF_DENY=iter_conns "$HBCTL" monitor --cgroup "$CG" -j -i 300ms --conns -d 3500ms \
	>"$HB_TMP/all.json" 2>"$HB_TMP/all.err"
check_eq "no --netns, iter/tcp: exit 0" 0 "$?"
check_eq "no --netns, iter/tcp: the client's row, from the namespace of the cgroup's processes" \
	True "$(jq_last "$HB_TMP/all.json" "conn($p3).get('keepalive_probes_sent', 0) >= 2")"
kill -9 "$C3"; wait "$C3" 2>/dev/null

# the essential programs: without cgroup_skb the monitor does not start, and says why
HB_BPF_DENY=cgroup_skb "$HBCTL" monitor --cgroup "$CG" --netns "$NS" -d 1s -q \
	>/dev/null 2>"$HB_TMP/cgskb.err"
check_eq "cgroup_skb refused: the monitor exits 1" 1 "$?"
check "cgroup_skb refused: it names the refusal, no capability hint" \
	eval 'grep -q "HB_BPF_DENY refused cgroup_skb: the monitor cannot count" "$HB_TMP/cgskb.err" && ! grep -q CAP_ "$HB_TMP/cgskb.err"'
check_eq "cgroup_skb refused: doctor says the monitor is missing" missing \
	"$(doctor_status cgroup_skb monitor)"

# exit status: a degraded feature is fine, a missing one is not
HB_BPF_DENY=iter_conns "$HBCTL" doctor >/dev/null 2>&1
check_eq "doctor with only a fallback in use: exit 0" 0 "$?"
HB_BPF_DENY=tp_btf,raw_tp "$HBCTL" doctor >"$HB_TMP/doc.txt" 2>&1
check_eq "doctor with a feature missing: exit 1" 1 "$?"
check "doctor names HB_BPF_DENY as the cause, and the fix" \
	eval 'grep -A1 "^missing *monitor/closes *HB_BPF_DENY refused tp_btf" "$HB_TMP/doc.txt" | grep -q "fix: unset HB_BPF_DENY"'
check "doctor says which refusals are forced" grep -q "^info *HB_BPF_DENY *refusing tp_btf,raw_tp" "$HB_TMP/doc.txt"

# ---- ls and set without the iterator back end -----------------------------------------------
cg_bg "$HB_TMP/c2" python3 "$PEER" client 127.0.0.1 5000 --ka 600,60,5; C2=$BG
wait_for "$HB_TMP/c2" ready 30 || { echo "Bail out! client"; exit 1; }
p2=$(port_of "$HB_TMP/c2")
# the listing that matters to a user: address, state, keepalive and its settings (of the
# sockets that stay: the earlier clients' closing ones may time out between two listings)
rows_of() {
	python3 -c '
import json, sys
for x in sorted(json.load(sys.stdin), key=lambda x: (x["local"], x["peer"])):
    if x["state"] in ("listen", "established", "close-wait"):
        print(x["local"], x["peer"], x["state"], x["keepalive"], x["keepidle_s"], x["keepintvl_s"], x["keepcnt"])'
}
in_ns "$NS" "$HBCTL" ls -j 2>/dev/null | rows_of >"$HB_TMP/ls_auto"
check "ls lists the client" grep -q "127.0.0.1:$p2 127.0.0.1:5000 established True 600 60 5" "$HB_TMP/ls_auto"
for deny in iter_tcp iter/task_file iter_tcp_set iter; do
	tag="HB_BPF_DENY=$deny"
	HB_BPF_DENY=$deny in_ns "$NS" "$HBCTL" -v ls -j 2>"$HB_TMP/ls.err" | rows_of >"$HB_TMP/ls_d"
	check_eq "$tag: ls lists the same sockets" "$(cat "$HB_TMP/ls_auto")" "$(cat "$HB_TMP/ls_d")"
	check "$tag: ls -v says sock_diag" grep -q "back end: sock_diag (auto: " "$HB_TMP/ls.err"
	# ls on a host this small takes sock_diag by the socket count before it tries the
	# iterators (cli/backend.c diag_cheaper); set always tries them first
	HB_BPF_DENY=$deny in_ns "$NS" "$HBCTL" -v set --port "$p2" --idle 600 --dry-run \
		>/dev/null 2>"$HB_TMP/set_d.err"
	check "$tag: set -v says sock_diag and the refused program" \
		grep -q "back end: sock_diag (auto: BPF iterators unavailable: HB_BPF_DENY refused iter" "$HB_TMP/set_d.err"
	check_eq "$tag: doctor: ls/set degraded" degraded "$(doctor_status "$deny" ls/set)"
done
HB_BPF_DENY=iter_tcp_set in_ns "$NS" "$HBCTL" set --port "$p2" --idle 77 >/dev/null 2>"$HB_TMP/set.err"
check_eq "set on sock_diag + pidfd_getfd (iter_tcp_set refused): exit 0" 0 "$?"
check "set: the socket now has idle 77" \
	eval 'in_ns "$NS" "$HBCTL" ls -j | rows_of | grep -q "127.0.0.1:$p2 127.0.0.1:5000 established True 77 60 5"'
HB_BPF_DENY=iter_tcp in_ns "$NS" "$HBCTL" --backend bpf ls >/dev/null 2>"$HB_TMP/bpf.err"
check_eq "--backend bpf with the iterators refused: exit 1" 1 "$?"
check "--backend bpf: the message names the refused program, not capabilities" \
	eval 'grep -q "bpf back end: HB_BPF_DENY refused iter/tcp" "$HB_TMP/bpf.err" && ! grep -q CAP_ "$HB_TMP/bpf.err"'
kill -9 "$C2"; wait "$C2" 2>/dev/null

# ---- policy: --retrofit needs its iterator ------------------------------------------------
# this test's own pin directory: nothing in the shared one, which other tests compare
export HB_PIN_DIR=/sys/fs/bpf/$HB_TEST_ID
on_exit "rm -rf $HB_PIN_DIR"
check_eq "doctor: policy degraded without the retrofit iterator" degraded \
	"$(doctor_status iter_tcp_retrofit policy)"
PCG=$CG/pol
mkdir "$PCG"
on_exit "rmdir $PCG 2>/dev/null"
HB_BPF_DENY=iter_tcp_retrofit "$HBCTL" policy add --cgroup "$PCG" --idle 30 --retrofit \
	>/dev/null 2>"$HB_TMP/pol.err"
rc=$?
[ "$rc" = 0 ] && "$HBCTL" policy rm --cgroup "$PCG" >/dev/null 2>&1
check_eq "policy add --retrofit with its iterator refused: exit 1" 1 "$rc"
check "policy add --retrofit: names the refused program" \
	grep -q "HB_BPF_DENY refused iter/tcp" "$HB_TMP/pol.err"
HB_BPF_DENY=iter_tcp_retrofit "$HBCTL" policy add --cgroup "$PCG" --idle 30 >/dev/null 2>&1
rc=$?
[ "$rc" = 0 ] && on_exit "$HBCTL policy rm --cgroup $PCG >/dev/null 2>&1"
check_eq "policy add without --retrofit: exit 0 (what doctor's degraded promised)" 0 "$rc"
"$HBCTL" policy rm --cgroup "$PCG" >/dev/null 2>&1
check_eq "policy rm: exit 0" 0 "$?"
HB_BPF_DENY=sockops "$HBCTL" policy add --cgroup "$PCG" --idle 30 >/dev/null 2>"$HB_TMP/pol2.err"
rc=$?
[ "$rc" = 0 ] && "$HBCTL" policy rm --cgroup "$PCG" >/dev/null 2>&1
check_eq "policy add with sockops refused: exit 1" 1 "$rc"
check "policy add: the refusal, not a capability hint" \
	eval 'grep -q "HB_BPF_DENY refused sockops" "$HB_TMP/pol2.err" && ! grep -q CAP_ "$HB_TMP/pol2.err"'
check_eq "doctor: policy missing with sockops refused" missing "$(doctor_status sockops policy)"
