#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl's BPF iterator back end (bpf/iter.c, bpf/iter.bpf.c) in a private network namespace:
# `hbctl --backend bpf ls -j -p` against what the owning processes themselves read with
# getsockopt(): keepalive values and where they come from (socket or sysctl, and sysctl
# values following a change of the namespace's sysctls), states, owners (a forked child
# sharing the sockets is listed too), timers and idle ages; `hbctl --backend bpf set` on another
# process's sockets, without stopping it; the two back ends agreeing on the same sockets;
# listeners of python3 -m http.server, socat and a process whose main thread exited all with
# their owners; and owner pids as a pid namespace numbers them.
# iter/tcp walks the reader's namespace, so hbctl runs inside it (nsenter --net).
# Needs root and BTF; on the project's machines it must not skip.
. "$(dirname "$0")/_lib.sh"
need_root
[ -r /sys/kernel/btf/vmlinux ] || skip_all "needs /sys/kernel/btf/vmlinux (BTF)"
need_cmd ss nsenter sysctl
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip_all "needs python3"
HBCTL=$O/hbctl
need_built "$HBCTL"
HOLD=$HELPERS/ka_iter_hold
need_built "$HOLD"
unset HB_BACKEND HB_DIAG_FILE

NS=$(netns_new bpf) || { echo "Bail out! cannot create a network namespace"; exit 1; }
hb() { in_ns "$NS" "$HBCTL" "$@"; }

# q.py FILE CMD ARGS: reads hbctl's JSON array; prints what the checks compare.
cat >"$HB_TMP/q.py" <<'EOF'
import json, sys
socks = json.load(open(sys.argv[1]))
cmd, args = sys.argv[2], sys.argv[3:]
def src(s, k):
    c = s.get("config_source")
    return c if isinstance(c, str) or c is None else c.get(k)
def owners(s):
    o = s.get("owners")
    if o is None:
        o = [{"pid": s["pid"], "fd": s["fd"], "comm": s["comm"]}] if s.get("pid") else []
    return " ".join(sorted("%s/%s/%s" % (x["pid"], x["fd"], x["comm"]) for x in o))
def vals(s):
    ka = s["keepalive"]
    ka = {True: 1, False: 0}.get(ka, ka)
    return "ka=%s idle=%s intvl=%s cnt=%s uto=%s" % (ka, s["keepidle_s"], s["keepintvl_s"],
                                                   s["keepcnt"], s["user_timeout_ms"])
def by_local(local):
    m = [s for s in socks if s["local"] == local]
    return m[0] if len(m) == 1 else None
if cmd == "vals":            # LOCAL: values, as ka_iter_hold prints them
    s = by_local(args[0]); print(vals(s) if s else "not found (or not unique)")
elif cmd == "src":           # LOCAL: the four sources
    s = by_local(args[0])
    print(" ".join(str(src(s, k)) for k in ("keepidle", "keepintvl", "keepcnt", "user_timeout"))
          if s else "not found")
elif cmd == "get":           # LOCAL FIELD
    s = by_local(args[0]); v = s.get(args[1]) if s else "not found"
    print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
elif cmd == "owners":        # LOCAL
    s = by_local(args[0]); print(owners(s) if s else "not found")
elif cmd == "states":        # state counts
    c = {}
    for s in socks: c[s["state"]] = c.get(s["state"], 0) + 1
    print(" ".join("%s=%d" % kv for kv in sorted(c.items())))
elif cmd == "pidvals":       # PID: distinct values of the sockets PID owns
    pid = int(args[0])
    print(" | ".join(sorted({vals(s) for s in socks
                             if any(o.split("/")[0] == str(pid) for o in owners(s).split())})))
elif cmd == "listen":        # LOCAL FIELD of the listener
    m = [s for s in socks if s["local"] == args[0] and s["state"] == "listen"]
    v = m[0].get(args[1]) if len(m) == 1 else "not found"
    print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
elif cmd == "owned":         # state, address and owners, one line per socket
    for line in sorted("%s %s %s" % (s["state"], s["local"], owners(s)) for s in socks):
        print(line)
elif cmd == "proj":          # what both back ends must agree on, one line per socket
    # values only for sockets with an owner: sock_diag reads them through the owner's fd
    for line in sorted("%s %s %s %s %s %s" % (s["state"], s["local"], s["peer"], s["inode"],
                       vals(s) if owners(s) else "-", owners(s)) for s in socks):
        print(line)
EOF
q() { "$PY" "$HB_TMP/q.py" "$@"; }

# start OUT ARGS...: ka_iter_hold in the namespace; waits for "ready"
start() {
	local out=$1 i
	shift
	: >"$out"	# before the background shell opens it, so that the polling finds it
	(exec nsenter --net="/run/netns/$NS" "$HOLD" "$@") >"$out" 2>"$out.err" </dev/null &
	bg_pid $!
	for ((i = 0; i < 100; i++)); do
		grep -q '^ready' "$out" && return 0
		sleep 0.05
	done
	echo "Bail out! ka_iter_hold did not get ready: $(cat "$out.err")"
	exit 1
}
# fd_of OUT I / lport_of OUT I: the client socket of SPEC number I
fd_of() { sed -n "s/^conn $2 fd=\([0-9]*\) .*/\1/p" "$1"; }
lport_of() { sed -n "s/^conn $2 .*lport=\([0-9]*\)$/\1/p" "$1"; }
# selfview OUT PID FD: that socket's settings as the process reads them with getsockopt()
selfview() {
	local n i
	n=$(grep -c '^end' "$1")
	kill -USR1 "$2"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '^end' "$1")" -gt "$n" ] && break
		sleep 0.05
	done
	grep "^fd=$3 " "$1" | tail -n1 | sed 's/^fd=[0-9]* //'
}

# ---- holders: A (IPv4, with a forked child sharing every socket) and B (IPv6) -------------
SPEC_A=(default ka=1 ka=1,idle=33,intvl=4,cnt=5,uto=7000 idle=100,cnt=7)
start "$HB_TMP/a" -f -p 7101 "${SPEC_A[@]}"
T_READY=$(date +%s%N)
PA=$(sed -n 's/^pid //p' "$HB_TMP/a")
CA=$(sed -n 's/^child //p' "$HB_TMP/a")
start "$HB_TMP/b" -6 -p 7102 default ka=1,idle=500
PB=$(sed -n 's/^pid //p' "$HB_TMP/b")
sleep 1.5

hb --backend bpf -v ls -j -p >"$HB_TMP/ls1.json" 2>"$HB_TMP/ls1.err"
rc=$?
T_LS=$(date +%s%N)
check_eq "ls -j -p with --backend bpf exits 0" 0 "$rc"
check "the back end was bpf-iter (-v)" grep -q 'bpf-iter' "$HB_TMP/ls1.err"
check "the output is one JSON array" "$PY" -c \
	'import json,sys; assert isinstance(json.load(open(sys.argv[1])), list)' "$HB_TMP/ls1.json"
check_eq "states: 2 listeners, 8+4 established" "established=12 listen=2" \
	"$(q "$HB_TMP/ls1.json" states)"

for i in 0 1 2 3; do
	lp=$(lport_of "$HB_TMP/a" $i)
	fd=$(fd_of "$HB_TMP/a" $i)
	check_eq "socket ${SPEC_A[$i]}: the values the process reads itself" \
		"$(selfview "$HB_TMP/a" "$PA" "$fd")" "$(q "$HB_TMP/ls1.json" vals "127.0.0.1:$lp")"
	check_eq "socket ${SPEC_A[$i]}: state" established \
		"$(q "$HB_TMP/ls1.json" get "127.0.0.1:$lp" state)"
	want=$(printf '%s\n' "$PA/$fd/ka_iter_hold" "$CA/$fd/ka_iter_hold" | sort | tr '\n' ' ')
	check_eq "socket ${SPEC_A[$i]}: both owners, parent and forked child" "${want% }" \
		"$(q "$HB_TMP/ls1.json" owners "127.0.0.1:$lp")"
done
lp0=$(lport_of "$HB_TMP/a" 0) lp1=$(lport_of "$HB_TMP/a" 1)
lp2=$(lport_of "$HB_TMP/a" 2) lp3=$(lport_of "$HB_TMP/a" 3)
check_eq "values of a default socket" "ka=0 idle=7200 intvl=75 cnt=9 uto=0" \
	"$(q "$HB_TMP/ls1.json" vals "127.0.0.1:$lp0")"
# (no sysctl for the user timeout: its source is "socket" or none, issue 11)
check_eq "sources of a default socket" "sysctl sysctl sysctl None" \
	"$(q "$HB_TMP/ls1.json" src "127.0.0.1:$lp0")"
check_eq "sources of a socket with everything set" "socket socket socket socket" \
	"$(q "$HB_TMP/ls1.json" src "127.0.0.1:$lp2")"
check_eq "sources of a socket with idle and cnt set" "socket sysctl socket None" \
	"$(q "$HB_TMP/ls1.json" src "127.0.0.1:$lp3")"
check_eq "no timer without keepalive" null "$(q "$HB_TMP/ls1.json" get "127.0.0.1:$lp0" timer)"
t=$(q "$HB_TMP/ls1.json" get "127.0.0.1:$lp2" timer)
if [[ $t =~ \"kind\":\ \"keepalive\",\ \"expires_ms\":\ ([0-9]+) ]] &&
	[ "${BASH_REMATCH[1]}" -le 33000 ] && [ "${BASH_REMATCH[1]}" -gt 25000 ]; then
	ok "keepalive timer of the idle=33 socket in (25 s, 33 s]"
else
	not_ok "keepalive timer of the idle=33 socket in (25 s, 33 s]"
	diag "got: $t"
fi
# ages: the connections were made just before "ready" and have been silent since
el=$(((T_LS - T_READY) / 1000000))
for f in idle_ms last_send_ms last_recv_ms; do
	v=$(q "$HB_TMP/ls1.json" get "127.0.0.1:$lp1" $f)
	if [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge $((el - 700)) ] && [ "$v" -le $((el + 700)) ]; then
		ok "$f of a silent connection is its age (${v} ms, ${el} ms measured)"
	else
		not_ok "$f of a silent connection is its age"
		diag "expected about $el ms (+-700), got: $v"
	fi
done
check_eq "a listener has no idle age" null "$(q "$HB_TMP/ls1.json" listen "127.0.0.1:7101" idle_ms)"
check_eq "IPv6: [::1] addresses and values" "ka=1 idle=500 intvl=75 cnt=9 uto=0" \
	"$(q "$HB_TMP/ls1.json" vals "[::1]:$(lport_of "$HB_TMP/b" 1)")"

# ---- sysctl-sourced values follow the namespace's sysctls --------------------------------
in_ns "$NS" sysctl -qw net.ipv4.tcp_keepalive_time=1234 net.ipv4.tcp_keepalive_intvl=21 \
	net.ipv4.tcp_keepalive_probes=4
hb --backend bpf ls -j >"$HB_TMP/ls2.json" 2>"$HB_TMP/ls2.err"
check_eq "after a sysctl change: a default socket follows" "ka=0 idle=1234 intvl=21 cnt=4 uto=0" \
	"$(q "$HB_TMP/ls2.json" vals "127.0.0.1:$lp0")"
check_eq "after a sysctl change: a socket with its own values keeps them" \
	"ka=1 idle=33 intvl=4 cnt=5 uto=7000" "$(q "$HB_TMP/ls2.json" vals "127.0.0.1:$lp2")"
check_eq "after a sysctl change: a partly set socket mixes both" \
	"ka=0 idle=100 intvl=21 cnt=7 uto=0" "$(q "$HB_TMP/ls2.json" vals "127.0.0.1:$lp3")"
check_eq "after a sysctl change: what the process reads agrees" \
	"$(selfview "$HB_TMP/a" "$PA" "$(fd_of "$HB_TMP/a" 3)")" \
	"$(q "$HB_TMP/ls2.json" vals "127.0.0.1:$lp3")"

# ---- set on another process's sockets -----------------------------------------------------
hb --backend bpf set --pid "$PB" --idle 33 --intvl 4 --cnt 5 --user-timeout 7s \
	>"$HB_TMP/set.out" 2>"$HB_TMP/set.err"
rc=$?
check_eq "set --pid B exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$(cat "$HB_TMP/set.out" "$HB_TMP/set.err")"
check "B still runs (not stopped, not killed)" kill -0 "$PB"
for i in 0 1; do
	check_eq "set: B's client socket $i, as B reads it itself" \
		"ka=1 idle=33 intvl=4 cnt=5 uto=7000" \
		"$(selfview "$HB_TMP/b" "$PB" "$(fd_of "$HB_TMP/b" $i)")"
done
hb --backend bpf ls -j -p >"$HB_TMP/ls3.json" 2>/dev/null
check_eq "set: every socket of B (listener, both ends) as hbctl ls sees it" \
	"ka=1 idle=33 intvl=4 cnt=5 uto=7000" "$(q "$HB_TMP/ls3.json" pidvals "$PB")"
check_eq "set: B's sources are now the socket" "socket socket socket socket" \
	"$(q "$HB_TMP/ls3.json" src "[::1]:$(lport_of "$HB_TMP/b" 0)")"
check_eq "set: A's sockets untouched" "ka=0 idle=1234 intvl=21 cnt=4 uto=0" \
	"$(q "$HB_TMP/ls3.json" vals "127.0.0.1:$lp0")"
hb --backend bpf set --pid "$PB" --off >/dev/null 2>&1
check_eq "set --off: keepalive off again, as B reads it" "ka=0 idle=33 intvl=4 cnt=5 uto=7000" \
	"$(selfview "$HB_TMP/b" "$PB" "$(fd_of "$HB_TMP/b" 0)")"

# ---- both back ends agree -----------------------------------------------------------------
# a connection in the accept queue closed by its client: a FIN-WAIT-2 time-wait socket and a
# CLOSE-WAIT one without an inode
in_ns "$NS" bash -c 'exec 3<>/dev/tcp/127.0.0.1/7101; exec 3>&-' 2>/dev/null
# a request socket (SYN-RECV): the handshake's last ACK to port 7103 is dropped
have_req=
if command -v nft >/dev/null &&
	printf 'table inet hbt {\n chain in {\n  type filter hook input priority 0;\n  %s\n }\n}\n' \
		'tcp dport 7103 tcp flags & (syn | ack) == ack drop' | in_ns "$NS" nft -f -; then
	(exec nsenter --net="/run/netns/$NS" "$PY" -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 7103)); s.listen(8); time.sleep(120)') \
		</dev/null >/dev/null 2>&1 &
	bg_pid $!
	sleep 0.3
	(exec nsenter --net="/run/netns/$NS" bash -c 'exec 3<>/dev/tcp/127.0.0.1/7103; sleep 120') \
		</dev/null >/dev/null 2>&1 &
	bg_pid $!
	have_req=1
fi
sleep 0.3
hb --backend bpf ls -j -p >"$HB_TMP/bpf.json" 2>"$HB_TMP/bpf.err"
hb --backend diag ls -j -p >"$HB_TMP/diag.json" 2>"$HB_TMP/diag.err"
q "$HB_TMP/bpf.json" proj >"$HB_TMP/bpf.proj"
q "$HB_TMP/diag.json" proj >"$HB_TMP/diag.proj"
if cmp -s "$HB_TMP/bpf.proj" "$HB_TMP/diag.proj" && [ -s "$HB_TMP/bpf.proj" ]; then
	ok "bpf and diag agree on state, addresses, inode, values and owners" \
		"($(wc -l <"$HB_TMP/bpf.proj") sockets)"
else
	not_ok "bpf and diag agree on state, addresses, inode, values and owners"
	diff "$HB_TMP/diag.proj" "$HB_TMP/bpf.proj" | while IFS= read -r l; do diag "  $l"; done
fi
check "the close left a fin-wait-2 (time-wait) socket to compare" \
	grep -q '^fin-wait-2 ' "$HB_TMP/bpf.proj"
check "and a close-wait one without an inode" grep -q '^close-wait .* 0 - $' "$HB_TMP/bpf.proj"
if [ -n "$have_req" ]; then
	check "and a syn-recv (request) socket" grep -q '^syn-recv 127.0.0.1:7103 ' "$HB_TMP/bpf.proj"
else
	skip "a syn-recv (request) socket: needs nft"
fi

# ---- listeners of everyday servers have their owners ----------------------------------------
# python3 -m http.server and socat (IPv6, forking) listen; a third server's main thread exited
# (pthread_exit) with a thread still serving, so /proc/PID/fd is empty and only
# /proc/PID/task/TID/fd shows the listener (the sock_diag back end looks there too).
(cd "$HB_TMP" && exec nsenter --net="/run/netns/$NS" "$PY" -m http.server --bind 127.0.0.1 7104) \
	</dev/null >/dev/null 2>&1 &
bg_pid $!
HTTP=$!
(exec nsenter --net="/run/netns/$NS" "$PY" -c 'import ctypes, socket, threading, time
s = socket.socket(); s.bind(("127.0.0.1", 7106)); s.listen(8)
threading.Thread(target=time.sleep, args=(120,)).start()
ctypes.CDLL(None).pthread_exit(None)') </dev/null >/dev/null 2>&1 &
bg_pid $!
ZOMBIE=$!
SOCAT=
if command -v socat >/dev/null; then
	(exec nsenter --net="/run/netns/$NS" socat TCP6-LISTEN:7105,fork,reuseaddr /dev/null) \
		</dev/null >/dev/null 2>&1 &
	SOCAT=$!
	bg_pid $SOCAT
fi
wait_port "$NS" 7104 && wait_port "$NS" 7106 && { [ -z "$SOCAT" ] || wait_port "$NS" 7105; } ||
	diag "a server did not start listening"
hb --backend bpf ls -j -p --state listen >"$HB_TMP/lsn.json" 2>"$HB_TMP/lsn.err"
# check_re DESCRIPTION REGEX VALUE
check_re() { if [[ $3 =~ $2 ]]; then ok "$1"; else not_ok "$1"; diag "got: $3"; fi; }
check_re "bpf: the http.server listener is owned by python3" "^$HTTP/[0-9]+/python3\$" \
	"$(q "$HB_TMP/lsn.json" owners 127.0.0.1:7104)"
check_re "bpf: a listener whose main thread exited is still owned by its process" \
	"^$ZOMBIE/[0-9]+/python3\$" "$(q "$HB_TMP/lsn.json" owners 127.0.0.1:7106)"
if [ -n "$SOCAT" ]; then
	check_re "bpf: the socat IPv6 listener is owned by socat" "^$SOCAT/[0-9]+/socat\$" \
		"$(q "$HB_TMP/lsn.json" owners "[::]:7105")"
else
	skip "bpf: the socat listener: needs socat"
fi
check_eq "bpf: every listener has an owner" "" \
	"$("$PY" -c 'import json, sys
print(" ".join(s["local"] for s in json.load(open(sys.argv[1])) if not s["owners"]))' \
	"$HB_TMP/lsn.json")"
hb --backend diag ls -j -p --state listen >"$HB_TMP/lsn-diag.json" 2>/dev/null
# (owners only: the settings of the listener whose main thread exited are out of pidfd_getfd's
# reach, which uses the thread group leader's table)
q "$HB_TMP/lsn.json" owned >"$HB_TMP/lsn.proj"
q "$HB_TMP/lsn-diag.json" owned >"$HB_TMP/lsn-diag.proj"
check "bpf and diag agree on every listener and its owners" cmp -s "$HB_TMP/lsn.proj" \
	"$HB_TMP/lsn-diag.proj"
cmp -s "$HB_TMP/lsn.proj" "$HB_TMP/lsn-diag.proj" ||
	diff "$HB_TMP/lsn-diag.proj" "$HB_TMP/lsn.proj" | while IFS= read -r l; do diag "  $l"; done

# ---- pids as the reader's pid namespace numbers them ----------------------------------------
# task->tgid is the initial namespace's number; inside a container hbctl must print the pid
# that the container's /proc, kill and --pid use: here the listener's owner is pid 1.
cat >"$HB_TMP/pidns.py" <<'EOF_PY'
import json, socket, subprocess, sys
s = socket.socket(); s.bind(("127.0.0.1", 7107)); s.listen(8)
def ls(*a):
    return json.loads(subprocess.run([sys.argv[1], *a, "ls", "-j", "-p", "--sport", "7107"],
                                     capture_output=True, text=True).stdout or "[]")
b, d = ls("--backend", "bpf"), ls("--backend", "diag")
p = subprocess.run([sys.argv[1], "--backend", "bpf", "ls", "-j", "--pid", "1"],
                   capture_output=True, text=True)
print(b[0]["pid"] if b else None, b[0]["comm"] if b else None, d[0]["pid"] if d else None,
      p.returncode, len(json.loads(p.stdout or "[]")))
EOF_PY
if out=$(in_ns "$NS" unshare -pf --mount-proc "$PY" "$HB_TMP/pidns.py" "$HBCTL" 2>&1); then
	check_eq "in a pid namespace: bpf and diag name the owner by its pid there (1)" \
		"1 python3 1 0 1" "$out"
else
	skip "in a pid namespace: unshare -p failed: $out"
fi

# ---- auto: sock_diag on a small host, the iterators beyond 2,500 sockets --------------------
hb -v ls >/dev/null 2>"$HB_TMP/auto-small.err"
check "auto, a few sockets: sock_diag (cheaper than loading the programs)" \
	grep -q "^hbctl: ls: back end: sock_diag (auto: [0-9]* TCP sockets" "$HB_TMP/auto-small.err"
FARM=$HELPERS/conn_farm
if [ -x "$FARM" ]; then
	# nsenter directly (not through a function), so that $! is the farm's pid
	nsenter --net="/run/netns/$NS" "$FARM" -n 1300 -p 21000 >"$HB_TMP/farm" \
		2>"$HB_TMP/farm.err" &
	farm=$!
	bg_pid $farm
	for ((i = 0; i < 300; i++)); do
		grep -q '^ready' "$HB_TMP/farm" && break
		sleep 0.1
	done
	hb -v ls -j >"$HB_TMP/auto-big.json" 2>"$HB_TMP/auto-big.err"
	check "auto, 2,600 more sockets: the BPF iterators" \
		grep -q "^hbctl: ls: back end: bpf-iter (auto: " "$HB_TMP/auto-big.err"
	check "auto, 2,600 more sockets: every one listed" \
		[ "$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))) >= 2600)' \
			"$HB_TMP/auto-big.json")" = True ]
	kill "$farm" 2>/dev/null
	wait "$farm" 2>/dev/null
else
	skip "auto with 2,600 sockets: $FARM not built"
fi

# ---- the table output works too -----------------------------------------------------------
out=$(hb --backend bpf ls -p 2>&1)
rc=$?
check_eq "ls -p (table) exits 0" 0 "$rc"
check "ls -p shows the helper's sockets" grep -q "ka_iter_hold" <<<"$out"
