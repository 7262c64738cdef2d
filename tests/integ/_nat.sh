# SPDX-License-Identifier: BSD-2-Clause
# The NAT-timeout scenario shared by tests/integ/nat.sh and scripts/demo.sh. Source it after
# _lib.sh (it uses netns_new, in_ns, bg_pid, wait_port and skip_all from there).
#
#   client ns                router ns                          server ns
#   c0 192.0.2.2/24 ---- r0 192.0.2.1 | r1 198.51.100.1 ---- s0 198.51.100.2/24
#                        nftables masquerade out of r1, `ct state invalid drop` when
#                        forwarding, conntrack that forgets an ESTABLISHED flow after
#                        nat_setup's TIMEOUT seconds of silence (nf_conntrack_tcp_loose=0,
#                        so a segment of a forgotten flow is invalid, not re-adopted)
#
# The addresses are the documentation ranges TEST-NET-1 and TEST-NET-2 and exist only inside
# the three namespaces; the interface names too (each veth is created inside its namespace).
# The router's neighbour entry for the server is pinned, so that when the server's link goes
# down the router does not answer with ICMP host-unreachable after its ARP attempts fail:
# that would turn the client's ETIMEDOUT into EHOSTUNREACH. A vanished peer stays silent.

NAT_CLIENT_IP=192.0.2.2
NAT_ROUTER_CIP=192.0.2.1
NAT_ROUTER_SIP=198.51.100.1
NAT_SERVER_IP=198.51.100.2
NAT_CLIENT='' NAT_ROUTER='' NAT_SERVER=''
NAT_PY=python3
[ -x /usr/bin/python3 ] && NAT_PY=/usr/bin/python3

# nat_need: skip (77) unless this can run: root, the tools, nftables with conntrack and NAT
nat_need() {
	need_root
	need_cmd ip nft nsenter ss sysctl "$NAT_PY"
	if [ ! -e /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established ]; then
		modprobe nf_conntrack 2>/dev/null
		[ -e /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established ] ||
			skip_all "needs nf_conntrack (modprobe nf_conntrack failed)"
	fi
}

# nat_clean_env: only what a scenario sets itself reaches the shim (no HB_*, compatible names
# or LD_PRELOAD from the caller's environment)
nat_clean_env() {
	unset LD_PRELOAD
	unset_hb_env
}

# nat_router_sysctl NAME: prints a sysctl's value as the router namespace sees it
nat_router_sysctl() { in_ns "$NAT_ROUTER" sysctl -n "$1"; }

# nat_set_timeout SECONDS: the router forgets an idle ESTABLISHED flow after SECONDS.
# Returns 1 unless the router namespace reads both values back.
nat_set_timeout() {
	in_ns "$NAT_ROUTER" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established="$1" \
		net.netfilter.nf_conntrack_tcp_loose=0 || return 1
	[ "$(nat_router_sysctl net.netfilter.nf_conntrack_tcp_timeout_established)" = "$1" ] &&
		[ "$(nat_router_sysctl net.netfilter.nf_conntrack_tcp_loose)" = 0 ]
}

# nat_netns VAR SUFFIX: VAR=$(netns_new SUFFIX) (_lib.sh removes it on exit)
nat_netns() {
	local n
	n=$(netns_new "$2") || return 1
	printf -v "$1" %s "$n"
}

# nat_setup TIMEOUT_S: creates the three namespaces (names in NAT_CLIENT, NAT_ROUTER,
# NAT_SERVER; removed on exit by _lib.sh) and wires them as drawn above. Returns 1 and says
# why on stderr when a step fails.
nat_setup() {
	local t=$1 mac
	nat_netns NAT_CLIENT nat-client && nat_netns NAT_ROUTER nat-router &&
		nat_netns NAT_SERVER nat-server || { echo "nat_setup: ip netns add failed" >&2; return 1; }
	{
		ip -n "$NAT_CLIENT" link add c0 type veth peer name r0 netns "$NAT_ROUTER" &&
		ip -n "$NAT_SERVER" link add s0 type veth peer name r1 netns "$NAT_ROUTER" &&
		ip -n "$NAT_CLIENT" addr add "$NAT_CLIENT_IP/24" dev c0 &&
		ip -n "$NAT_CLIENT" link set c0 up &&
		ip -n "$NAT_CLIENT" route add default via "$NAT_ROUTER_CIP" &&
		ip -n "$NAT_ROUTER" addr add "$NAT_ROUTER_CIP/24" dev r0 &&
		ip -n "$NAT_ROUTER" addr add "$NAT_ROUTER_SIP/24" dev r1 &&
		ip -n "$NAT_ROUTER" link set r0 up &&
		ip -n "$NAT_ROUTER" link set r1 up &&
		ip -n "$NAT_SERVER" addr add "$NAT_SERVER_IP/24" dev s0 &&
		ip -n "$NAT_SERVER" link set s0 up &&
		ip -n "$NAT_SERVER" route add default via "$NAT_ROUTER_SIP"
	} || { echo "nat_setup: wiring the veth pairs failed" >&2; return 1; }
	mac=$(ip -n "$NAT_SERVER" -br link show dev s0 | awk '{print $3}')
	ip -n "$NAT_ROUTER" neigh replace "$NAT_SERVER_IP" lladdr "$mac" dev r1 nud permanent ||
		{ echo "nat_setup: pinning the server's neighbour entry failed" >&2; return 1; }
	in_ns "$NAT_ROUTER" sysctl -qw net.ipv4.ip_forward=1 ||
		{ echo "nat_setup: net.ipv4.ip_forward=1 in the router failed" >&2; return 1; }
	# The ruleset first: it makes the kernel load conntrack and NAT for this namespace.
	in_ns "$NAT_ROUTER" nft -f - <<-EOF || { echo "nat_setup: nft ruleset failed" >&2; return 1; }
	table ip hbnat {
		chain forward {
			type filter hook forward priority filter; policy accept;
			ct state invalid drop
		}
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "r1" masquerade
		}
	}
	EOF
	nat_set_timeout "$t" || { echo "nat_setup: router conntrack sysctls not settable" >&2; return 1; }
}

# nat_add_server ADDR TIMEOUT_S: a second address ADDR (/24, beside NAT_SERVER_IP) on the
# server, whose flows the router forgets after TIMEOUT_S: an nftables ct timeout object set in a
# prerouting chain at priority filter (DESIGN.md: at raw priority it silently does nothing),
# while every other flow keeps the sysctl's timeout. Returns non-zero on failure.
nat_add_server() {
	local mac
	ip -n "$NAT_SERVER" addr add "$1/24" dev s0 || return 1
	mac=$(ip -n "$NAT_SERVER" -br link show dev s0 | awk '{print $3}')
	ip -n "$NAT_ROUTER" neigh replace "$1" lladdr "$mac" dev r1 nud permanent || return 1
	in_ns "$NAT_ROUTER" nft -f - <<-EOF
	table ip hbnat {
		ct timeout t_second {
			protocol tcp; l3proto ip
			policy = { established: $2 }
		}
		chain pre {
			type filter hook prerouting priority filter; policy accept;
			ip daddr $1 ct timeout set "t_second"
		}
	}
	EOF
}

# nat_echo_server [-q BACKLOG] PORT [ADDR...]: a line echo server (python3, threads) on each
# ADDR of the server namespace (default: the server's address); listen backlog BACKLOG
# (default socketserver's 5). Its log: $HB_TMP/echo-server.log
nat_echo_server() {
	local q=5
	[ "$1" = -q ] && { q=$2; shift 2; }
	[ $# -gt 1 ] || set -- "$1" "$NAT_SERVER_IP"
	nsenter --net="/run/netns/$NAT_SERVER" "$NAT_PY" -c '
import socketserver, sys, threading
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = int(sys.argv[1])
for a in sys.argv[3:]:
    s = Server((a, int(sys.argv[2])), Echo)
    threading.Thread(target=s.serve_forever, daemon=True).start()
threading.Event().wait()
' "$q" "$@" >>"$HB_TMP/echo-server.log" 2>&1 &
	bg_pid $!
	wait_port "$NAT_SERVER" "$1" 10
}

# nat_bg NS OUTFILE CMD...: start CMD in namespace NS in the background, stdout to OUTFILE,
# stderr to OUTFILE.err; its PID (nsenter execs CMD, so it is CMD's) in NAT_PID
nat_bg() {
	local n=$1 out=$2
	shift 2
	nsenter --net="/run/netns/$n" "$@" >"$out" 2>"$out.err" &
	NAT_PID=$!
	bg_pid "$NAT_PID"
}

# nat_wait_line FILE REGEX TIMEOUT_S: wait until FILE has a line matching REGEX
nat_wait_line() { wait_line "$@"; }

# nat_flow SPORT: prints the router's conntrack entry for the client's source port (if any)
nat_flow() { in_ns "$NAT_ROUTER" conntrack -L -p tcp 2>/dev/null | grep -E " sport=$1 "; }

# nat_server_down: the server vanishes without a word: its link goes down
nat_server_down() { ip -n "$NAT_SERVER" link set s0 down; }
