#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl probe-nat in the three-namespace NAT scenario (tests/integ/_nat.sh draws it), run from
# the client namespace against plain listeners in the server namespace:
#  a. the router forgets idle flows after 5 s: --max 20s --resolution 1s brackets 5 s, 1 s
#     wide, cause "silence", in under 40 s
#  b. a server that closes idle connections after 3 s: its close is reported (server_closed_s
#     about 3), no NAT drop; one that closes before any probe is an error that says so
#  c. Ctrl-C prints what is known so far (interrupted: true) and exits 130
#  d. errors: no route to host, refused, unreachable network: exit 1 and one line; bad
#     options and targets: exit 2 and one line
#  e. IPv6 ([::1]:PORT on the client's loopback), and the progress line on a terminal
#  f. the router's timeout raised above --max: "no drop observed up to 6 s", dropped_s null
#  g. a router that answers a forgotten flow's probe with a reset (for one port): cause "reset"
#  h. a 30 s NAT (an nftables ct timeout object for one port): the bracket contains 30 and is at
#     most 2 s wide, with the default 64 flows in one pass
# a to e, g and h run side by side (they share nothing but the router, whose timeout they all
# want at 5 s; h's port has its own), f after them. What the assertions allow: the silences
# are the real ones (from the last segment to the probe's departure, read from the socket),
# a few ms past the planned whole seconds, survivors rounded down and drops up to 10 ms; a
# probe at about 5 s may go either way: 4-5 and 5-6 are both right, each at most 0.1 s wider,
# and nothing else is. About 40 s.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_nat.sh"

nat_need
nat_clean_env
HBCTL=$O/hbctl
need_built "$HBCTL"

TIMEOUT=5		# the router forgets an idle flow after this many seconds
SERVER_IDLE=3		# b: the server closes an idle connection after this many seconds
P_PLAIN=7000 P_CLOSE=7001 P_EARLY=7002 P_V6=7003 P_RST=7004 P_30=7005
T30=30			# h: the router forgets P_30's idle flows after this many seconds

nat_setup "$TIMEOUT" || { echo "Bail out! NAT setup failed"; exit 1; }
diag "namespaces $NAT_CLIENT ($NAT_CLIENT_IP) -> $NAT_ROUTER (masquerade) -> $NAT_SERVER ($NAT_SERVER_IP)"

# pn_listener NS ADDR PORT CLOSE_AFTER_S: accepts and holds connections, never writes; with
# CLOSE_AFTER_S > 0 closes each connection after that long without data (an idle timeout)
pn_listener() {
	nsenter --net="/run/netns/$1" "$NAT_PY" -c '
import socket, sys, threading
addr, port, close_after = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(128)
held = []
def idle_close(c):
    c.settimeout(close_after)
    try:
        while c.recv(4096):
            pass
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    if close_after > 0:
        threading.Thread(target=idle_close, args=(c,), daemon=True).start()
    else:
        held.append(c)
' "$2" "$3" "$4" >"$HB_TMP/listener-$3.log" 2>&1 &
	bg_pid $!
	wait_port "$1" "$3" 10
}
pn_listener "$NAT_SERVER" "$NAT_SERVER_IP" "$P_PLAIN" 0 &&
	pn_listener "$NAT_SERVER" "$NAT_SERVER_IP" "$P_CLOSE" "$SERVER_IDLE" &&
	pn_listener "$NAT_SERVER" "$NAT_SERVER_IP" "$P_EARLY" 0.3 &&
	pn_listener "$NAT_CLIENT" ::1 "$P_V6" 0 &&
	pn_listener "$NAT_SERVER" "$NAT_SERVER_IP" "$P_RST" 0 &&
	pn_listener "$NAT_SERVER" "$NAT_SERVER_IP" "$P_30" 0 ||
	{ echo "Bail out! listeners did not start: $(cat "$HB_TMP"/listener-*.log)"; exit 1; }

# g: for P_RST only, the router resets what it does not know instead of dropping it (an
# invalid packet is not NATed: its destination port is the server's)
in_ns "$NAT_ROUTER" nft insert rule ip hbnat forward ct state invalid tcp dport "$P_RST" \
	tcp flags \& \(syn \| rst\) == 0 reject with tcp reset ||
	{ echo "Bail out! nft reject rule failed"; exit 1; }

# h: P_30's flows get their own conntrack timeout (DESIGN.md: set in a prerouting chain at
# priority filter; at raw priority it silently does nothing)
in_ns "$NAT_ROUTER" nft -f - <<EOF || { echo "Bail out! nft ct timeout failed"; exit 1; }
table ip hbnat {
	ct timeout t30 {
		protocol tcp; l3proto ip
		policy = { established: $T30 }
	}
	chain pre {
		type filter hook prerouting priority filter; policy accept;
		tcp dport $P_30 ct timeout set "t30"
	}
}
EOF

# pn NAME ARGS...: hbctl probe-nat ARGS in the client namespace, in the background; stdout in
# $HB_TMP/NAME.out, stderr in NAME.err, exit status in NAME.rc, wall time (s) in NAME.time
pn() {
	local name=$1
	shift
	(
		t0=$EPOCHREALTIME
		nsenter --net="/run/netns/$NAT_CLIENT" "$HBCTL" probe-nat "$@" \
			>"$HB_TMP/$name.out" 2>"$HB_TMP/$name.err"
		echo $? >"$HB_TMP/$name.rc"
		awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }' \
			>"$HB_TMP/$name.time"
	) &
	bg_pid $!
}
# jget NAME EXPR: EXPR (python, over the JSON object d) of NAME's output, a tuple printed
# space-separated in JSON spelling (null, true, 4.5; strings bare); "invalid" if the output
# is not exactly one JSON object
jget() {
	"$NAT_PY" -c '
import json, sys
try:
    d = json.loads(open(sys.argv[1]).read())
except Exception:
    print("invalid"); sys.exit()
v = eval(sys.argv[2])
f = lambda x: x if isinstance(x, str) else json.dumps(x)
print(" ".join(f(x) for x in v) if isinstance(v, tuple) else f(v))
' "$HB_TMP/$1.out" "$2" 2>&1
}
rc_of() { cat "$HB_TMP/$1.rc" 2>/dev/null; }
show() { diag "$1: rc=$(rc_of "$1") $(cat "$HB_TMP/$1.time" 2>/dev/null)s"; sed 's/^/#   /' "$HB_TMP/$1.out" "$HB_TMP/$1.err"; }
# one_line NAME REGEX: NAME wrote nothing on stdout and exactly one line matching REGEX on stderr
one_line() {
	[ ! -s "$HB_TMP/$1.out" ] && [ "$(wc -l <"$HB_TMP/$1.err")" -eq 1 ] &&
		grep -Eq "$2" "$HB_TMP/$1.err"
}
# le A B: A <= B (numbers)
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
# width A B: B - A
width() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

# ---- a to e, side by side ------------------------------------------------------------------
SRV=$NAT_SERVER_IP
pn bracket "$SRV:$P_PLAIN" --max 20s --resolution 1s -j
pn close3 "$SRV:$P_CLOSE" --max 10s -j
pn close3-text "$SRV:$P_CLOSE" --max 10s
pn early "$SRV:$P_EARLY" --max 5s
pn v6 "[::1]:$P_V6" --max 2s -j
pn unreach 192.0.2.99:80 --max 5s	# on the client's own subnet, nobody there: ARP fails
pn refused "$SRV:7999" --max 5s
pn nonet 203.0.113.1:80 --max 5s	# the router has no route
pn reset "$SRV:$P_RST" --max 8s --resolution 1s -j
pn nat30 "$SRV:$P_30" --max 60s -j
# c: SIGINT at 2.5 s, once the 1 s and 2 s flows have survived
nsenter --net="/run/netns/$NAT_CLIENT" "$HBCTL" probe-nat "$SRV:$P_PLAIN" --max 20s -j \
	>"$HB_TMP/int.out" 2>"$HB_TMP/int.err" &
pid_int=$!
bg_pid "$pid_int"
# e: the progress line needs a terminal: script(1) gives it one
if command -v script >/dev/null; then
	(nsenter --net="/run/netns/$NAT_CLIENT" script -qec \
		"$HBCTL probe-nat '[::1]:$P_V6' --max 2s" /dev/null >"$HB_TMP/tty.out" 2>&1
	 echo $? >"$HB_TMP/tty.rc") </dev/null &
	bg_pid $!
fi

sleep 2.5
kill -INT "$pid_int"
wait "$pid_int"
rc_int=$?
# (d runs after c's signal: on a loaded machine its cases took seconds, and c must be
# interrupted at 2.5 s)
# d: usage errors need no network
pn_usage() { usage_case "usage error, exit 2, one line: probe-nat $*" "^hbctl: probe-nat: " probe-nat "$@"; }
pn_usage
pn_usage "$SRV:80" --bogus
pn_usage "$SRV:80" --max
pn_usage "$SRV:80" --max 0
pn_usage "$SRV:80" --max 10h
pn_usage "$SRV:80" --max forever
pn_usage "$SRV:80" --resolution 10ms
pn_usage "$SRV:80" --max 5s --resolution 6s
pn_usage "$SRV:80" --parallel 0
pn_usage "$SRV:80" --parallel 65
pn_usage ::1:80
pn_usage "$SRV"
pn_usage "$SRV:0"
pn_usage "$SRV:80" "$SRV:81"
check "probe-nat --help exits 0 and shows the usage" \
	eval '"$HBCTL" probe-nat --help | grep -q "^Usage: hbctl probe-nat HOST:PORT"'
check "hbctl help probe-nat works too" eval '"$HBCTL" help probe-nat | grep -q -- "--resolution"'

diag "int: rc=$rc_int"; sed 's/^/#   /' "$HB_TMP/int.out" "$HB_TMP/int.err"
cp "$HB_TMP/int.out" "$HB_TMP/intj.out"
check_eq "c: Ctrl-C: exit status 130" 130 "$rc_int"
read -r intr surv drop < <(jget intj 'd["interrupted"], d["survived_s"], d["dropped_s"]')
check "c: Ctrl-C: prints what is known so far (interrupted, $surv s survived (2-4), no drop yet)" \
	eval '[ "$intr $drop" = "true null" ] && le 2 "$surv" && le "$surv" 4.1'


# wait for everything started above (h takes the longest)
for ((i = 0; i < 90 * 10; i++)); do
	n=0
	for x in bracket close3 close3-text early v6 unreach refused nonet reset nat30; do
		[ -e "$HB_TMP/$x.rc" ] && n=$((n + 1))
	done
	[ "$n" -eq 10 ] && { [ ! -e "$HB_TMP/tty.out" ] || [ -e "$HB_TMP/tty.rc" ]; } && break
	sleep 0.1
done

# ---- a ----------------------------------------------------------------------------------
show bracket
read -r surv drop cause closed < <(jget bracket \
	'd["survived_s"], d["dropped_s"], d["cause"], d["server_closed_s"]')
check_eq "a: exit status 0" 0 "$(rc_of bracket)"
check "a: the bracket contains the router's ${TIMEOUT} s (survived_s=$surv <= $TIMEOUT <= dropped_s=$drop)" \
	eval 'le "$surv" "$TIMEOUT" && le "$TIMEOUT" "$drop"'
check "a: the bracket is 1 s wide (--resolution 1s; real silences: at most 1.1)" \
	eval '[ "$drop" != null ] && le 1 "$(width "$surv" "$drop")" && le "$(width "$surv" "$drop")" 1.1'
check_eq "a: cause silence, no server close" "silence null" "$cause $closed"
check "a: done in under 40 s ($(cat "$HB_TMP/bracket.time")s)" le "$(cat "$HB_TMP/bracket.time")" 40
read -r idle intvl cnt < <(jget bracket \
	'd["recommend"]["keepidle_s"], d["recommend"]["keepintvl_s"], d["recommend"]["keepcnt"]')
check "a: recommends keepidle below the survived silence ($idle < $surv), intvl $intvl, cnt $cnt" \
	eval '[ "$idle" -ge 1 ] && awk -v a="$idle" -v b="$surv" "BEGIN { exit !(a < b) }" && [ "$intvl" -ge 1 ] && [ "$cnt" -ge 1 ]'
check "a: the recommendation as HB_* variables, run flags and a policy add line" \
	eval 'jget bracket "d[\"recommend\"][\"env\"]" | grep -Eq "^HB_KEEPIDLE=[0-9]+ HB_KEEPINTVL=[0-9]+ HB_KEEPCNT=[0-9]+$" &&
		jget bracket "d[\"recommend\"][\"run\"]" | grep -Eq "^hbctl run --idle [0-9]+ --intvl [0-9]+ --cnt [0-9]+ -- CMD$" &&
		jget bracket "d[\"recommend\"][\"policy\"]" | grep -Fq -- "--match $SRV:$P_PLAIN --idle"'
check_eq "a: target and address" "$SRV:$P_PLAIN $SRV:$P_PLAIN" \
	"$(jget bracket 'd["target"] + " " + d["address"]')"

# ---- b ----------------------------------------------------------------------------------
show close3
show close3-text
read -r surv drop cause closed < <(jget close3 \
	'd["survived_s"], d["dropped_s"], d["cause"], d["server_closed_s"]')
check_eq "b: server closing idle connections: exit status 0" 0 "$(rc_of close3)"
check "b: server_closed_s about $SERVER_IDLE ($closed)" \
	eval 'le 2.5 "$closed" && le "$closed" 4'
check_eq "b: no NAT drop (dropped_s and cause null)" "null null" "$drop $cause"
check "b: the flows shorter than the server's timeout survived (survived_s=$surv)" \
	eval 'le 2 "$surv" && le "$surv" "$SERVER_IDLE.1"'
check "b: the text says the server closes idle connections itself and that no drop was seen" \
	eval 'grep -q "the server itself closes idle connections after" "$HB_TMP/close3-text.out" &&
		grep -q "^no drop observed up to" "$HB_TMP/close3-text.out"'
show early
check "b: a server that closes before any probe: exit 1 and one line that says so" \
	eval '[ "$(rc_of early)" = 1 ] && one_line early "^hbctl: probe-nat: $SRV:$P_EARLY closes idle connections itself after 0\.[0-9]+ s"'

# ---- d ----------------------------------------------------------------------------------
show unreach
check "d: unreachable address: exit 1 and one line" \
	eval '[ "$(rc_of unreach)" = 1 ] && one_line unreach "^hbctl: probe-nat: connect 192\.0\.2\.99:80: No route to host$"'
show refused
check "d: refused: exit 1 and one line" \
	eval '[ "$(rc_of refused)" = 1 ] && one_line refused "^hbctl: probe-nat: connect $SRV:7999: Connection refused$"'
show nonet
check "d: no route at the router: exit 1 and one line" \
	eval '[ "$(rc_of nonet)" = 1 ] && one_line nonet "^hbctl: probe-nat: connect 203\.0\.113\.1:80: (Network|No route to host)"'

# ---- e ----------------------------------------------------------------------------------
show v6
read -r surv drop addr < <(jget v6 'd["survived_s"], d["dropped_s"], d["address"]')
check "e: IPv6 [::1]: survived 2 s ($surv), no drop, address in brackets" \
	eval '[ "$(rc_of v6) $drop $addr" = "0 null [::1]:$P_V6" ] && le 2 "$surv" && le "$surv" 2.1'
if [ -e "$HB_TMP/tty.out" ]; then
	check "e: on a terminal, a progress line rewritten in place (\\r) before the report" \
		eval '[ "$(cat "$HB_TMP/tty.rc")" = 0 ] && grep -q $'"'"'\rprobe-nat \[::1\]:'"$P_V6"': round 1'"'"' "$HB_TMP/tty.out" &&
			grep -Eq "no drop observed up to 2(\.[0-9]+)? s" "$HB_TMP/tty.out"'
else
	skip "script(1) not installed: no terminal for the progress line"
fi

# ---- g ----------------------------------------------------------------------------------
show reset
read -r surv drop cause nreset < <(jget reset 'd["survived_s"], d["dropped_s"], d["cause"], d["flows"]["reset"]')
check_eq "g: a router that resets forgotten flows: exit 0, cause reset" "0 reset" "$(rc_of reset) $cause"
check "g: the bracket contains ${TIMEOUT} s and is 1 s wide ($surv-$drop), $nreset flow(s) reset" \
	eval 'le "$surv" "$TIMEOUT" && le "$TIMEOUT" "$drop" && le 1 "$(width "$surv" "$drop")" &&
		le "$(width "$surv" "$drop")" 1.1 && [ "$nreset" -ge 1 ]'

# ---- h: a 30 s NAT ------------------------------------------------------------------------
show nat30
read -r surv drop cause conns par < <(jget nat30 \
	'd["survived_s"], d["dropped_s"], d["cause"], d["connections"], d["parallel"]')
check_eq "h: 30 s NAT: exit 0, cause silence" "0 silence" "$(rc_of nat30) $cause"
check "h: the bracket contains $T30 s ($surv-$drop)" eval 'le "$surv" "$T30" && le "$T30" "$drop"'
check "h: the bracket is at most 2 s wide ($(width "$surv" "$drop") s)" \
	eval 'le "$(width "$surv" "$drop")" 2'
check "h: one pass of at most 64 flows ($conns connections, --parallel $par), well before --max ($(cat "$HB_TMP/nat30.time") s)" \
	eval '[ "$conns" -le 64 ] && [ "$par" -le 64 ] && le "$(cat "$HB_TMP/nat30.time")" 60'

# ---- f: the router's timeout above --max --------------------------------------------------
nat_set_timeout 60 || not_ok "f: router timeout raised to 60 s"
pn nodrop "$SRV:$P_PLAIN" --max 6s
pn nodropj "$SRV:$P_PLAIN" --max 6s -j
for ((i = 0; i < 20 * 10; i++)); do
	[ -e "$HB_TMP/nodrop.rc" ] && [ -e "$HB_TMP/nodropj.rc" ] && break
	sleep 0.1
done
show nodrop
show nodropj
check "f: router timeout 60 s, --max 6s: exit 0, \"no drop observed up to 6 s\"" \
	eval '[ "$(rc_of nodrop)" = 0 ] && grep -Eq "^no drop observed up to 6(\.0[0-9]*)? s$" "$HB_TMP/nodrop.out"'
read -r surv rest < <(jget nodropj 'd["survived_s"], d["dropped_s"], d["cause"], d["server_closed_s"]')
check "f: JSON: survived_s 6 ($surv), dropped_s, cause and server_closed_s null" \
	eval '[ "$(rc_of nodropj) $rest" = "0 null null null" ] && le 6 "$surv" && le "$surv" 6.1'
check "f: no timeout up to --max: says so and recommends no idle time" \
	eval 'grep -Eq "^recommended: none: this path has no idle timeout up to 6(\.0[0-9]*)? s \(--max\)" "$HB_TMP/nodrop.out" &&
		! grep -q "HB_KEEPIDLE=" "$HB_TMP/nodrop.out"'
check_eq "f: JSON: recommend null" "null" "$(jget nodropj 'd["recommend"]')"
