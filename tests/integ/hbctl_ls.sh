#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl ls against sockets with known settings (tests/helpers/ka_hold) in a private network
# namespace: values, sources, states, owners, ages, filters, --nat-timeout, --netns,
# record/replay, and the exit codes and one-line messages of bad usage.
. "$(dirname "$0")/_lib.sh"
need_root
need_cmd python3 nsenter setpriv
HBCTL=$O/hbctl
KA=$HELPERS/ka_hold
need_built "$HBCTL" "$KA"

unset HB_BACKEND HB_DIAG_FILE NO_COLOR
ns=$(netns_new ls) || { echo "Bail out! ip netns add failed"; exit 1; }
# in_ns_bg CMD...: CMD in the namespace, in the background (run_bg: its PID in BG_PID, killed on exit)
in_ns_bg() { run_bg --ns "$ns" "$@" 2>>"$HB_TMP/helpers.err"; }
hb() { in_ns "$ns" "$HBCTL" --backend diag "$@"; }
# py FILE EXPR: evaluate a Python expression with d = the JSON in FILE
py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
wait_ready() { wait_line "$1" '^ready'; }

in_ns_bg "$KA" listen 127.0.0.1 5000 >"$HB_TMP/srv4"; srv4=$BG_PID
in_ns_bg "$KA" -6 listen ::1 5001 >"$HB_TMP/srv6"; srv6=$BG_PID
wait_ready "$HB_TMP/srv4" && wait_ready "$HB_TMP/srv6" || { echo "Bail out! listeners"; exit 1; }
in_ns_bg "$KA" -n 2 -k 1 -i 30 -t 5 -c 4 -u 10000 connect 127.0.0.1 5000 >"$HB_TMP/a"; A=$BG_PID
in_ns_bg "$KA" connect 127.0.0.1 5000 >"$HB_TMP/b"; B=$BG_PID
in_ns_bg "$KA" -6 -k 1 connect ::1 5001 >"$HB_TMP/c"; C=$BG_PID
for f in a b c; do wait_ready "$HB_TMP/$f" || { echo "Bail out! client $f"; exit 1; }; done
a1=$(sed -n 's/^conn fd=\([0-9]*\) lport=\([0-9]*\)/\2/p' "$HB_TMP/a" | sed -n 1p)
a1fd=$(sed -n 's/^conn fd=\([0-9]*\) lport=\([0-9]*\)/\1/p' "$HB_TMP/a" | sed -n 1p)
a2=$(sed -n 's/^conn fd=\([0-9]*\) lport=\([0-9]*\)/\2/p' "$HB_TMP/a" | sed -n 2p)
b1=$(sed -n 's/^conn fd=[0-9]* lport=\([0-9]*\)/\1/p' "$HB_TMP/b")
c1=$(sed -n 's/^conn fd=[0-9]* lport=\([0-9]*\)/\1/p' "$HB_TMP/c")
t0=$(date +%s%N)
sleep 2

j=$HB_TMP/ls.json
hb ls -j -p >"$j" 2>"$HB_TMP/ls.err"
check_eq "ls -j -p exits 0" 0 $?
check "ls -j output is valid JSON (json.tool)" python3 -m json.tool "$j" /dev/null
check_eq "ls -j prints nothing on stderr" "" "$(cat "$HB_TMP/ls.err")"
el=$((($(date +%s%N) - t0) / 1000000))

sel() { echo "[s for s in d if s['local']=='$1']"; }
A1="$(sel 127.0.0.1:$a1)[0]"
check_eq "client with own settings: established, peer" "established 127.0.0.1:5000" \
	"$(py "$j" "$A1['state'], $A1['peer']" | tr -d "(),'")"
check_eq "client with own settings: keepalive/idle/intvl/cnt/uto" "True 30 5 4 10000" \
	"$(py "$j" "' '.join(str($A1[k]) for k in ('keepalive','keepidle_s','keepintvl_s','keepcnt','user_timeout_ms'))")"
check_eq "client with own settings: every source is socket" "socket socket socket socket" \
	"$(py "$j" "' '.join($A1['config_source'][k] for k in ('keepidle','keepintvl','keepcnt','user_timeout'))")"
check_eq "client with own settings: owner pid, comm, fd" "$A ka_hold $a1fd" \
	"$(py "$j" "$A1['pid'], $A1['comm'], $A1['fd']" | tr -d "(),'")"
check_eq "owners[] lists the one owner" "1 $A" "$(py "$j" "len($A1['owners']), $A1['owners'][0]['pid']" | tr -d "(),")"
check_eq "keepalive timer pending, within keepidle" "keepalive True 0" \
	"$(py "$j" "$A1['timer']['kind'], 0 < $A1['timer']['expires_ms'] <= 30000, $A1['timer']['probes']" | tr -d "(),'")"
check_eq "second connection of the same process" "30 $A" "$(py "$j" "$(sel 127.0.0.1:$a2)[0]['keepidle_s'], $(sel 127.0.0.1:$a2)[0]['pid']" | tr -d "(),")"
idle=$(py "$j" "$A1['idle_ms']")
if [ "$idle" -ge 1800 ] && [ "$idle" -le $((el + 500)) ]; then ok "idle_ms $idle within [1800, $el]"; else not_ok "idle_ms $idle not within [1800, $el]"; fi
check_eq "idle_ms is the smaller of last send/recv" True "$(py "$j" "$A1['idle_ms'] == min($A1['last_send_ms'], $A1['last_recv_ms']) and $A1['last_ack_ms'] is not None")"

B1="$(sel 127.0.0.1:$b1)[0]"
check_eq "default client: keepalive off, sysctl values" "False 7200 75 9 0" \
	"$(py "$j" "' '.join(str($B1[k]) for k in ('keepalive','keepidle_s','keepintvl_s','keepcnt','user_timeout_ms'))")"
check_eq "default client: sources sysctl (user timeout: none), no timer" "sysctl sysctl sysctl None None" \
	"$(py "$j" "' '.join(str(x) for x in [$B1['config_source'][k] for k in ('keepidle','keepintvl','keepcnt','user_timeout')] + [$B1['timer']])")"
C1="$(sel "[::1]:$c1")[0]"
check_eq "IPv6 client: address format, keepalive on with sysctl idle" "[::1]:5001 True 7200 sysctl $C" \
	"$(py "$j" "$C1['peer'], $C1['keepalive'], $C1['keepidle_s'], $C1['config_source']['keepidle'], $C1['pid']" | tr -d "(),'")"
check_eq "listeners: listen state, owned by the servers, no ages" "$srv4 $srv6 None" \
	"$(py "$j" "' '.join(str(s['pid']) for s in d if s['state']=='listen'), [s['idle_ms'] for s in d if s['state']=='listen'][0]" | tr -d "(),'")"
check_eq "accepted sockets: owned by the IPv4 server" 3 \
	"$(py "$j" "len([s for s in d if s['local']=='127.0.0.1:5000' and s['state']=='established' and s['pid']==$srv4])")"
check_eq "accepted sockets inherit nothing: keepalive off" "False" \
	"$(py "$j" "any(s['keepalive'] for s in d if s['local']=='127.0.0.1:5000' and s['state']=='established')")"
check_eq "all 10 sockets of the namespace" 10 "$(py "$j" "len(d)")"
check_eq "without -p no owner fields" "False" "$(hb ls -j | python3 -c "import json,sys; print(any('pid' in s for s in json.load(sys.stdin)))")"

# filters
n() { hb ls -j "$@" | python3 -c "import json,sys; print(len(json.load(sys.stdin)))"; }
check_eq "--sport" 1 "$(n --sport "$a1")"
check_eq "--dport 5000" 3 "$(n --dport 5000)"
check_eq "--port 5000 (either side)" 7 "$(n --port 5000)"
check_eq "--port repeated (OR): both ends of two connections" 4 "$(n --port "$a1" --port "$b1")"
check_eq "--state listen" 2 "$(n --state listen)"
check_eq "--state established,listen" 10 "$(n --state established,listen)"
check_eq "--state listening --state established (repeatable)" 10 "$(n --state listening --state established)"
check_eq "--keepalive on" 3 "$(n --keepalive on)"
check_eq "--keepalive off --state established" 5 "$(n --keepalive off --state established)"
check_eq "--pid (owners fetched implicitly)" 2 "$(n --pid "$A")"
check_eq "--comm" 10 "$(n --comm ka_hold)"
check_eq "--pid and --dport (AND)" 0 "$(n --pid "$srv4" --dport 5000; true)"
check_eq "--idle-over 1s" 8 "$(n --idle-over 1s)"
hb ls --idle-over 1h >/dev/null 2>"$HB_TMP/empty.err"
check_eq "nothing matched: exit 3" 3 $?
check_eq "nothing matched: says so on stderr, as set does" "hbctl: ls: no socket matched" \
	"$(cat "$HB_TMP/empty.err")"
hb ls -j --pid 999999 >"$HB_TMP/empty.json" 2>/dev/null
check_eq "nothing matched with -j: exit 3" 3 $?
check_eq "nothing matched with -j: an empty array" "[]" "$(cat "$HB_TMP/empty.json")"

# --nat-timeout
hb ls -j --nat-timeout 350 --state established >"$HB_TMP/nat.json" 2>"$HB_TMP/nat.err"
check_eq "--nat-timeout -j exits 0" 0 $?
check_eq "at_risk: own keepidle 30 < 350 is safe, off is at risk, sysctl 7200 is at risk" \
	"False False True True" \
	"$(py "$HB_TMP/nat.json" "' '.join(str(x['at_risk']) for x in ($A1, $(sel 127.0.0.1:$a2)[0], $B1, $C1))")"
check_eq "--nat-timeout summary on stderr with -j" "6 of 8 connections at risk for a 350 s NAT timeout" \
	"$(cat "$HB_TMP/nat.err")"
check_eq "--nat-timeout 20s: keepidle 30 is not enough" 8 \
	"$(hb ls -j --nat-timeout 20s 2>/dev/null | python3 -c "import json,sys; print(sum(1 for s in json.load(sys.stdin) if s['at_risk']))")"
hb ls --nat-timeout 350s >"$HB_TMP/nat.txt" 2>&1
check_eq "--nat-timeout table: summary as the last line" "6 of 8 connections at risk for a 350 s NAT timeout" \
	"$(tail -n1 "$HB_TMP/nat.txt")"
check "--nat-timeout table: RISK column" grep -q "RISK" "$HB_TMP/nat.txt"

# table output
hb ls -p >"$HB_TMP/ls.txt" 2>&1
check_eq "table: exit 0" 0 $?
check_eq "table: header" "STATE LOCAL PEER KA IDLE INTVL CNT UTO TIMER SEND RECV IDLE-FOR PROCESS" \
	"$(head -n1 "$HB_TMP/ls.txt" | tr -s ' ')"
check_eq "table: one row per socket" 11 "$(wc -l <"$HB_TMP/ls.txt")"
check "table: own settings and owner" grep -Eq "127\.0\.0\.1:$a1 +127\.0\.0\.1:5000 +on +30s +5s +4 +10s +keepalive,[0-9.]+s,0 .* $A/ka_hold/$a1fd\$" "$HB_TMP/ls.txt"
check "table: sysctl values in parentheses" grep -Eq "127\.0\.0\.1:$b1 +127\.0\.0\.1:5000 +off +\(2h\) +\(1m15s\) +\(9\) +- +- " "$HB_TMP/ls.txt"
check "table: no colour when not a tty" bash -c "! grep -q $'\e' '$HB_TMP/ls.txt'"

# --netns from outside, in its three spellings
outside() { "$HBCTL" --backend diag "$@" | python3 -c "import json,sys; print(len(json.load(sys.stdin)))"; }
check_eq "--netns NAME" 10 "$(outside --netns "$ns" ls -j)"
check_eq "--netns PATH (after the command)" 10 "$(outside ls -j --netns "/run/netns/$ns")"
check_eq "--netns PID" 10 "$(outside -n "$A" ls -j)"
"$HBCTL" ls --netns "$HB_TEST_ID-nonexistent" >/dev/null 2>"$HB_TMP/nsbad"
check_eq "--netns missing: exit 1" 1 $?
check_eq "--netns missing: one line naming the file" \
	"hbctl: ls: --netns $HB_TEST_ID-nonexistent: /run/netns/$HB_TEST_ID-nonexistent: No such file or directory" \
	"$(cat "$HB_TMP/nsbad")"

# -v names the back end
hb -v ls >/dev/null 2>"$HB_TMP/v.err"
check "-v: back end and why on stderr" grep -q "^hbctl: ls: back end: sock_diag (chosen by --backend)" "$HB_TMP/v.err"
in_ns "$ns" env HB_BACKEND=diag "$HBCTL" -v ls >/dev/null 2>"$HB_TMP/v.err"
check "-v: HB_BACKEND named as the reason" grep -q "back end: sock_diag (chosen by HB_BACKEND)" "$HB_TMP/v.err"
in_ns "$ns" "$HBCTL" -v ls >/dev/null 2>"$HB_TMP/v.err"
check "-v: auto explains its choice" grep -q "back end: .* (auto: " "$HB_TMP/v.err"
check "-v: auto lists a small host (a dozen sockets) with sock_diag, which is cheaper there" \
	grep -Eq "^hbctl: ls: back end: sock_diag \(auto: [0-9]+ TCP sockets, up to 2500 lists faster" \
	"$HB_TMP/v.err"

# record and replay
hb ls --dump-raw "$HB_TMP/dump.raw" >"$HB_TMP/live.txt"
check_eq "--dump-raw: exit 0" 0 $?
check "--dump-raw: file written" test -s "$HB_TMP/dump.raw"
HB_DIAG_FILE=$HB_TMP/dump.raw "$HBCTL" ls -j >"$HB_TMP/replay.json"
check_eq "HB_DIAG_FILE replays: exit 0" 0 $?
check_eq "replay: same sockets" "$(py "$j" "sorted((s['state'], s['local'], s['peer'], s['inode']) for s in d)")" \
	"$(py "$HB_TMP/replay.json" "sorted((s['state'], s['local'], s['peer'], s['inode']) for s in d)")"
check_eq "replay: settings unknown (null), keepalive known from the timer" "None True" \
	"$(py "$HB_TMP/replay.json" "$A1['keepidle_s'], $A1['keepalive']" | tr -d "(),")"
head -c 100 "$HB_TMP/dump.raw" >"$HB_TMP/cut.raw"
HB_DIAG_FILE=$HB_TMP/cut.raw "$HBCTL" ls >/dev/null 2>"$HB_TMP/cut.err"
check_eq "replay of a cut file: exit 1" 1 $?
check_eq "replay of a cut file: one line" 1 "$(wc -l <"$HB_TMP/cut.err")"
HB_DIAG_FILE=$HB_TMP/dump.raw "$HBCTL" ls --backend bpf >/dev/null 2>&1
check_eq "replay with --backend bpf: usage error" 2 $?

# --dump-raw never writes through a symlink (issue 13 item 2): in a directory user nobody can
# write, nobody plants links to a root-only 0600 file; hbctl (root) refuses them and an
# existing file, and --force replaces the name without writing the file it named
DR=$(mktemp -d "/tmp/$HB_TEST_ID-dr.XXXXXX")
on_exit "rm -rf $DR"
chown nobody "$DR"
printf 'root-only secret\n' >"$HB_TMP/victim"; chmod 0600 "$HB_TMP/victim"
vsum=$(sha256sum <"$HB_TMP/victim")
setpriv --reuid=nobody --regid=nogroup --clear-groups ln -s "$HB_TMP/victim" "$DR/dump.raw"
setpriv --reuid=nobody --regid=nogroup --clear-groups ln -s "$HB_TMP/created-by-root" "$DR/dangling"
hb ls --dump-raw "$DR/dump.raw" >/dev/null 2>"$HB_TMP/dr.err"
check_eq "--dump-raw onto a planted symlink: exit 1" 1 $?
check "--dump-raw onto a planted symlink: one line, File exists, names --force" \
	eval '[ "$(wc -l <"$HB_TMP/dr.err")" = 1 ] && grep -q "dump.raw: File exists (not replaced without --force)" "$HB_TMP/dr.err"'
hb ls --dump-raw "$DR/dangling" >/dev/null 2>&1
check_eq "--dump-raw onto a dangling symlink: exit 1" 1 $?
check "--dump-raw onto a dangling symlink: its target not created" test ! -e "$HB_TMP/created-by-root"
hb ls --dump-raw "$HB_TMP/victim" >/dev/null 2>&1
check_eq "--dump-raw onto an existing file: exit 1" 1 $?
check_eq "the victim is unchanged after the three refusals" "$vsum 600" \
	"$(sha256sum <"$HB_TMP/victim") $(stat -c %a "$HB_TMP/victim")"
hb ls --dump-raw "$DR/dump.raw" --force >/dev/null 2>"$HB_TMP/dr.err"
check_eq "--dump-raw --force onto the link: exit 0" 0 $?
check_eq "--force replaced the link, not its target: victim unchanged" "$vsum" \
	"$(sha256sum <"$HB_TMP/victim")"
check "--force: FILE is now a regular file holding a dump that replays" \
	eval '[ -f "$DR/dump.raw" ] && [ ! -L "$DR/dump.raw" ] && HB_DIAG_FILE=$DR/dump.raw "$HBCTL" ls -j >/dev/null'
hb ls --force >/dev/null 2>"$HB_TMP/dr.err"
check_eq "--force without --dump-raw: usage error" 2 $?

# usage errors: exit 2 and one line
usage_case "unknown command" "hbctl: unknown command 'lsx'" lsx
usage_case "unknown option" "hbctl: ls: unknown option '--bogus'" ls --bogus
usage_case "missing value" "hbctl: ls: option '--state' needs a value" ls --state
usage_case "bad state" "hbctl: ls: --state: unknown state 'estab'" ls --state estab
usage_case "bad port" "hbctl: ls: --port: '70000': out of range" ls --port 70000
usage_case "bad --nat-timeout" "hbctl: ls: --nat-timeout: 'soon'" ls --nat-timeout soon
usage_case "bad --idle-over" "hbctl: ls: --idle-over:" ls --idle-over 5x
usage_case "bad --keepalive" "hbctl: ls: --keepalive:" ls --keepalive maybe
usage_case "bad --watch" "hbctl: ls: --watch: at least 100ms" ls --watch 10ms
usage_case "bad --backend" "hbctl: ls: --backend: unknown back end 'ebpf'" ls --backend ebpf
usage_case "stray argument" "hbctl: ls: unexpected argument 'foo'" ls foo
HB_BACKEND=nope "$HBCTL" ls >/dev/null 2>"$HB_TMP/u.err"
check_eq "bad HB_BACKEND: exit 2" 2 $?
check_eq "bad HB_BACKEND: one line" "hbctl: ls: HB_BACKEND: unknown back end 'nope' (bpf, diag, auto)" "$(cat "$HB_TMP/u.err")"
"$HBCTL" >/dev/null 2>&1
check_eq "no command: exit 2" 2 $?

# help and version
"$HBCTL" --help >"$HB_TMP/h" 2>&1
check_eq "--help: exit 0" 0 $?
check "--help lists the commands" grep -q "^  ls " "$HB_TMP/h"
"$HBCTL" ls --help >"$HB_TMP/h" 2>&1
check_eq "ls --help: exit 0" 0 $?
check "ls --help names the filters" grep -q -- "--idle-over DUR" "$HB_TMP/h"
check_eq "--version" "hbctl ${HB_VERSION:-$(cat "$HB_ROOT/VERSION")}" "$("$HBCTL" --version)"

# --watch refreshes (stopped by timeout)
timeout 4 "$HBCTL" --backend diag --netns "$ns" ls --watch 500ms --state listen >"$HB_TMP/w" 2>&1
check "--watch: refreshed at least twice" test "$(grep -c '^Every 500ms: hbctl ls' "$HB_TMP/w")" -ge 2
