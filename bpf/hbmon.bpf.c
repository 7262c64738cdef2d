// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hbctl monitor: the kernel side. Counts keepalive probes, their ACKs, zero-window probes and
 * application heartbeats, measures idle gaps, and classifies how connections end.
 *
 *   cgskb_egress / cgskb_ingress   cgroup_skb on the monitored cgroup: every TCP segment of
 *                                  its sockets, with per-socket state in SK_STORAGE
 *   tp_set_state                   tp_btf/inet_sock_set_state: a connection reaches CLOSE
 *   tp_send_reset                  tp_btf/tcp_send_reset: RST sent, and its reason
 *   tp_destroy_sock                tp_btf/tcp_destroy_sock: last chance for a pending close
 *   iter_conns                     iter/bpf_sk_storage_map: one record per open connection
 *   iter_conns_tcp                 iter/tcp: the same records, where map iterators are refused
 *   peer_set_state                 (in the set_state programs, tp_btf and raw_tp alike):
 *                                  per peer: client connections opened, closed, lifetimes
 *   rt_set_state, rt_send_reset,   raw_tp twins of the tp_btf programs, where tp_btf is refused
 *   rt_destroy_sock (and *2)       (close causes without per-connection counters)
 *
 * Only the cgroup_skb pair is essential: the loader (bpf/monitor.c) probes the others, picks
 * the fallbacks, and runs without what the kernel refuses (HB_BPF_DENY forces it).
 *
 * Classification (DESIGN.md, verified facts): a keepalive probe is a segment without
 * SYN/FIN/RST, with 0 or 1 byte of payload and seq == snd_una - 1 (sent) or rcv_nxt - 1
 * (received). The kernel sends the same segment as a zero-window probe (tcp_write_wakeup());
 * it does so only with data queued (the probe0 timer needs a send head, the keepalive timer
 * gives up when anything is queued or in flight), so a sent probe is a zero-window probe
 * exactly when the write queue is not empty (write_seq != snd_nxt) - the case in which
 * snd_wnd is 0. A received probe is a zero-window probe when our advertised window is 0.
 * This is what makes the count equal TcpExtTCPKeepAlive.
 *
 * The per-packet path: fullsock + TCP check, header parse from the linear data, one
 * SK_STORAGE lookup (cached in the socket); a clock read only for data segments; the percpu
 * totals only for an event worth counting; payload bytes only for segments of at most 131
 * bytes (the largest heartbeat frame recognised).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "hb/event.h"
#include "common.bpf.h"

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define IPPROTO_TCP	6

#define TH_FIN		0x01
#define TH_SYN		0x02
#define TH_RST		0x04
#define TH_ACK		0x10

#define ECONNREFUSED	111
#define ECONNRESET	104
#define EPIPE		32
#define ETIMEDOUT	110

#define APP_MAX_LEN	131	/* WebSocket control frame: 2 + 4 (mask) + 125 */

/* The network namespace to watch (its inode), 0: all. Set by the loader. */
const volatile __u32 targ_netns = 0;
/* Filled in by libbpf from the kernel config (DESIGN.md: HZ differs between kernels). */
extern unsigned int CONFIG_HZ __kconfig __weak;
/* One scheduler tick in ns, worked out once (10 ms when the config is unreadable). */
__u64 tick_ns;

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct hb_mon_sk);
} sk_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hb_mon_totals);
} totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HB_MON_PEERS_MAX);
	__type(key, struct hb_mon_peer_key);
	__type(value, struct hb_mon_peer);
} peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);		/* the struct sock's address */
	__type(value, struct hb_mon_peer_sock);
} peer_socks SEC(".maps");

static __always_inline void peer_set_state(const struct sock *sk, int oldstate, int newstate);

static __always_inline struct hb_mon_totals *tot(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&totals, &zero);
}

static __always_inline void tot_inc(int ctr)
{
	struct hb_mon_totals *t = tot();

	if (t && ctr >= 0 && ctr < HB_MON_NCTR)
		t->c[ctr]++;
}

/* ---- cgroup_skb ----------------------------------------------------------------------- */

struct seg {
	__u32 seq;
	__u32 len;		/* TCP payload bytes */
	__u32 off;		/* payload offset from the IP header */
	__u8 flags;
};

/* Headers from the linear data (where the stack always has them for TCP, both directions);
 * skb->data is the IP header in cgroup_skb programs. Returns 0, or -1 for anything else. */
static __always_inline int parse(struct __sk_buff *skb, struct seg *g)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u8 *th;
	__u32 ihl, doff;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data;

		if ((void *)(ip + 1) > end)
			return -1;
		if (ip->protocol != IPPROTO_TCP || (ip->frag_off & bpf_htons(0x3fff)))
			return -1;
		ihl = (__u32)(ip->ihl & 0xf) * 4;
		if (ihl < 20)
			return -1;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data;

		if ((void *)(ip6 + 1) > end)
			return -1;
		if (ip6->nexthdr != IPPROTO_TCP)
			return -1;	/* extension headers: not worth walking here */
		ihl = sizeof(*ip6);
	} else {
		return -1;
	}
	th = data + ihl;
	if ((void *)(th + 20) > end)
		return -1;
	doff = (__u32)(th[12] >> 4) * 4;
	if (doff < 20 || skb->len < ihl + doff)
		return -1;
	g->seq = bpf_ntohl(*(__u32 *)(th + 4));
	g->flags = th[13];
	g->off = ihl + doff;
	g->len = skb->len - g->off;
	return 0;
}

/* First bytes of the payload against the heartbeat signatures (DESIGN/README: what is and is
 * not recognised). The frame must start the segment and, except for HTTP/2, fill it. */
static __always_inline void app_check(struct __sk_buff *skb, const struct seg *g,
				      struct hb_mon_sk *s, int dir)
{
	struct hb_mon_totals *t;
	__u8 b[9] = {};
	int proto = -1, kind = 0;
	__u32 plen;

	if (g->len < 2 || g->len > APP_MAX_LEN)
		return;
	if (bpf_skb_load_bytes(skb, g->off, b, 2))
		return;
	if (g->len == 2 && b[1] == 0 && (b[0] == 0xC0 || b[0] == 0xD0)) {
		/* MQTT PINGREQ (0xC0 0x00) / PINGRESP (0xD0 0x00) */
		proto = HB_MON_MQTT;
		kind = b[0] == 0xC0 ? HB_MON_PING : HB_MON_PONG;
	} else if (b[0] == 0x89 || b[0] == 0x8A) {
		/* WebSocket FIN + ping (0x9) / pong (0xA); control payload <= 125, masked
		 * from clients */
		plen = b[1] & 0x7f;
		if (plen <= 125 && g->len == 2 + ((b[1] & 0x80) ? 4 : 0) + plen) {
			proto = HB_MON_WS;
			kind = b[0] == 0x89 ? HB_MON_PING : HB_MON_PONG;
		}
	} else if (b[0] == 0 && b[1] == 0 && g->len >= 17) {
		/* HTTP/2 PING: length 8, type 6, flags 0 or ACK (1), stream 0 */
		if (bpf_skb_load_bytes(skb, g->off, b, 9))
			return;
		if (b[2] == 8 && b[3] == 6 && (b[4] & ~1) == 0 && b[5] == 0 && b[6] == 0 &&
		    b[7] == 0 && b[8] == 0) {
			proto = HB_MON_H2;
			kind = b[4] ? HB_MON_PONG : HB_MON_PING;
		}
	}
	if (proto < 0)
		return;
	s->app[proto & 3]++;
	s->c[dir == HB_MON_SENT ? HB_MON_APP_SENT : HB_MON_APP_RECV]++;
	t = tot();
	if (!t)
		return;
	t->c[dir == HB_MON_SENT ? HB_MON_APP_SENT : HB_MON_APP_RECV]++;
	if (proto < HB_MON_NPROTO && kind < HB_MON_NKIND && dir < HB_MON_NDIR)
		t->app[proto][kind][dir]++;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xFFFFFFFF) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

/* A data segment: the idle gap since the previous one, if at least 1 ms, is recorded. now is
 * CLOCK_MONOTONIC in ns. */
static __always_inline void data_seen(struct hb_mon_sk *s, __u64 now)
{
	__u64 gap, ms;
	struct hb_mon_totals *t;
	__u32 b;

	if (s->last_data_ns && now > s->last_data_ns) {
		gap = now - s->last_data_ns;
		if (gap >= 1000000) {
			s->last_gap_ns = gap;
			if (gap > s->max_gap_ns)
				s->max_gap_ns = gap;
			t = tot();
			if (t) {
				ms = gap / 1000000;
				b = log2_u64(ms);
				if (b >= HB_MON_HIST_N)
					b = HB_MON_HIST_N - 1;
				t->hist[b]++;
				t->gap_sum_ms += ms;
			}
		}
	}
	s->last_data_ns = now;
}

static __always_inline struct hb_mon_sk *sk_state(struct __sk_buff *skb, struct tcp_sock *tp)
{
	struct hb_mon_sk *s;

	s = bpf_sk_storage_get(&sk_stats, tp, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s || s->created_ns)
		return s;
	/* first segment seen: remember who it is */
	s->created_ns = bpf_ktime_get_ns();
	s->cookie = bpf_get_socket_cookie(skb);
	s->netns = tp->inet_conn.icsk_inet.sk.__sk_common.skc_net.net->ns.inum;
	if (targ_netns && s->netns != targ_netns)
		s->ignored = 1;
	return s;
}

/*
 * The segments worth a look, and their connection: the full TCP socket of a segment that is
 * neither SYN nor RST, with its headers parsed into g. NULL for anything else: no socket,
 * another protocol, a request, time-wait or listening socket, and the commonest segment of a
 * bulk sender, passed over before any state is looked up.
 */
static __always_inline struct tcp_sock *seg_conn(struct __sk_buff *skb, int dir, struct seg *g)
{
	struct bpf_sock *sk = skb->sk;
	struct tcp_sock *tp;

	if (!sk)
		return NULL;
	if (parse(skb, g))
		return NULL;
	if (g->flags & (TH_SYN | TH_RST))
		return NULL;
	/* NULL unless a full TCP socket (not a request or time-wait one) */
	tp = bpf_skc_to_tcp_sock(sk);
	/* a listener sees the handshake's last ACK: not a connection */
	if (!tp || tp->inet_conn.icsk_inet.sk.__sk_common.skc_state == TCP_LISTEN)
		return NULL;
	/* The commonest segment of a bulk sender: an ACK coming in while no probe of ours is
	 * out (icsk_probes_out, not yet cleared by this ACK) and that is no probe itself. */
	if (dir == HB_MON_RECV && g->len == 0 && !(g->flags & TH_FIN) &&
	    !tp->inet_conn.icsk_probes_out && g->seq != tp->rcv_nxt - 1)
		return NULL;
	return tp;
}

/*
 * A segment we send of at most one byte, no FIN: a keepalive probe (a zero-window probe when
 * data is queued), or the bare ACK that answers the peer's probe. Returns 1 when counted here
 * (the segment needs nothing more), 0 for a one-byte segment that is no probe.
 */
static __always_inline int ka_sent(const struct seg *g, const struct tcp_sock *tp,
				   struct hb_mon_sk *s)
{
	if (g->seq == tp->snd_una - 1) {
		s->ack_due = 0;
		if (tp->write_seq != tp->snd_nxt) {
			s->c[HB_MON_ZWP_SENT]++;
			tot_inc(HB_MON_ZWP_SENT);
			return 1;
		}
		if (s->ka_outstanding) {
			s->c[HB_MON_KA_UNANSWERED]++;
			tot_inc(HB_MON_KA_UNANSWERED);
		}
		s->ka_outstanding = 1;
		s->c[HB_MON_KA_SENT]++;
		tot_inc(HB_MON_KA_SENT);
		return 1;
	}
	if (g->len == 0) {
		if (s->ack_due) {
			s->ack_due = 0;
			s->c[HB_MON_KA_ACK_SENT]++;
			tot_inc(HB_MON_KA_ACK_SENT);
		}
		return 1;
	}
	return 0;
}

/*
 * A segment we receive of at most one byte, no FIN: the peer's keepalive probe (a zero-window
 * probe when our window is closed), or the ACK that answers ours. Returns 1 when counted here,
 * 0 for a one-byte segment that is no probe.
 */
static __always_inline int ka_recv(const struct seg *g, const struct tcp_sock *tp,
				   struct hb_mon_sk *s)
{
	if (g->seq == tp->rcv_nxt - 1) {
		if ((__s32)(tp->rcv_wup + tp->rcv_wnd - tp->rcv_nxt) <= 0) {
			s->c[HB_MON_ZWP_RECV]++;
			tot_inc(HB_MON_ZWP_RECV);
			return 1;
		}
		s->ack_due = 1;
		s->c[HB_MON_KA_RECV]++;
		tot_inc(HB_MON_KA_RECV);
		return 1;
	}
	if (g->len == 0) {
		if (s->ka_outstanding) {
			s->ka_outstanding = 0;
			if (g->flags & TH_ACK) {
				s->c[HB_MON_KA_ACK_RECV]++;
				tot_inc(HB_MON_KA_ACK_RECV);
			}
		}
		return 1;
	}
	return 0;
}

/*
 * A data segment's time for the idle accounting (data_seen()), without a clock read (~40 ns
 * here) per data segment where possible: outgoing, tcp_write_xmit() has just refreshed
 * tcp_mstamp (tcp_clock_ns(), the CLOCK_MONOTONIC of bpf_ktime_get_ns(), in us). Incoming,
 * the stack stamps the segment only after this program: the coarse clock (the last tick, at
 * most one tick behind) tells whether a tick went by since the last data, and only then is
 * the precise clock read. A closer segment (less than two ticks after the last data: 8 ms at
 * HZ=250) is not taken for the end of an idle gap and just moves the mark, to the coarse
 * time: at most a tick early, by which a later gap may be overstated.
 */
static __always_inline void data_time(struct hb_mon_sk *s, const struct tcp_sock *tp, int dir)
{
	__u64 now, c, tick;

	if (dir == HB_MON_SENT) {
		now = tp->tcp_mstamp * 1000;
	} else {
		c = bpf_ktime_get_coarse_ns();
		tick = tick_ns;
		if (!tick) {
			tick = CONFIG_HZ ? 1000000000ULL / CONFIG_HZ : 10000000ULL;
			tick_ns = tick;
		}
		if (s->last_data_ns && c < s->last_data_ns + tick) {
			if (c > s->last_data_ns)
				s->last_data_ns = c;
			return;
		}
		now = bpf_ktime_get_ns();
	}
	data_seen(s, now);
}

/* Every segment of a monitored socket, dir HB_MON_SENT or HB_MON_RECV. */
static __always_inline void handle(struct __sk_buff *skb, int dir)
{
	struct hb_mon_sk *s;
	struct tcp_sock *tp;
	struct seg g;

	tp = seg_conn(skb, dir, &g);
	if (!tp)
		return;
	s = sk_state(skb, tp);
	if (!s || s->ignored)
		return;
	if (g.len <= 1 && !(g.flags & TH_FIN)) {
		if (dir == HB_MON_SENT) {
			if (ka_sent(&g, tp, s))
				return;
		} else {
			if (ka_recv(&g, tp, s))
				return;
		}
	}
	/* anything else answers an outstanding probe, or is answered by it */
	if (dir == HB_MON_SENT)
		s->ack_due = 0;
	else if (s->ka_outstanding)
		s->ka_outstanding = 0;
	if (!g.len)
		return;		/* a bare FIN */
	data_time(s, tp, dir);
	app_check(skb, &g, s, dir);
}

SEC("cgroup_skb/egress")
int cgskb_egress(struct __sk_buff *skb)
{
	handle(skb, HB_MON_SENT);
	return 1;
}

SEC("cgroup_skb/ingress")
int cgskb_ingress(struct __sk_buff *skb)
{
	handle(skb, HB_MON_RECV);
	return 1;
}

/* ---- tp_btf: how connections end ----------------------------------------------------- */

static __always_inline struct hb_mon_sk *sk_lookup(const struct sock *sk)
{
	struct hb_mon_sk *s;

	if (!sk)
		return NULL;
	/* the helper returns NULL for request and time-wait sockets; only sockets of the
	 * monitored cgroup (and namespace) have an entry */
	s = bpf_sk_storage_get(&sk_stats, (struct sock *)sk, 0, 0);
	if (!s || s->ignored)
		return NULL;
	return s;
}

static __always_inline void emit(const struct sock *sk, struct hb_mon_sk *s, int cause,
				 int oldstate, int err)
{
	const struct sock_common *skc = &sk->__sk_common;
	struct hb_mon_totals *t;
	struct hb_mon_close *e;
	struct tcp_sock *tp;
	__u64 now = bpf_ktime_get_ns();
	int i;

	if (s->flags & HB_MON_F_CLOSED)
		return;
	s->flags |= HB_MON_F_CLOSED;
	t = tot();
	/* the probe still waiting at the close was never answered */
	if (s->ka_outstanding) {
		s->ka_outstanding = 0;
		s->c[HB_MON_KA_UNANSWERED]++;
		if (t)
			t->c[HB_MON_KA_UNANSWERED]++;
	}
	if (t && cause >= 0 && cause < HB_MON_NCAUSE)
		t->closed[cause]++;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	e->cookie = s->cookie;
	e->ts_ns = now;
	for (i = 0; i < HB_MON_NCTR; i++)
		e->c[i] = s->c[i];
	e->app_total = s->app[0] + s->app[1] + s->app[2];
	e->last_gap_ns = s->last_gap_ns;
	e->max_gap_ns = s->max_gap_ns;
	e->idle_ns = now - (s->last_data_ns ? s->last_data_ns : s->created_ns);
	e->age_ns = now - s->created_ns;
	e->family = skc->skc_family;
	if (e->family == AF_INET) {
		__builtin_memcpy(e->laddr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(e->raddr, &skc->skc_daddr, 4);
	} else {
		__builtin_memcpy(e->laddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(e->raddr, &skc->skc_v6_daddr, 16);
	}
	/* CLOSE has released the port (inet_put_port() zeroes skc_num): inet_sport stays */
	tp = bpf_skc_to_tcp_sock((void *)sk);
	e->lport = tp ? bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport) : skc->skc_num;
	e->rport = bpf_ntohs(skc->skc_dport);
	e->cause = cause;
	e->oldstate = oldstate;
	e->pad = 0;
	e->err = err;
	e->netns = s->netns;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int on_set_state(const struct sock *sk, int oldstate, int newstate)
{
	struct hb_mon_sk *s;
	struct tcp_sock *tp;
	int err, cause;

	if (newstate != TCP_CLOSE || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	s = sk_lookup(sk);
	if (!s || (s->flags & HB_MON_F_CLOSED))
		return 0;
	err = sk->sk_err;
	if (s->flags & HB_MON_F_KA_RST) {
		cause = HB_MON_CLOSE_KEEPALIVE;
	} else if (err == ECONNRESET || err == EPIPE || err == ECONNREFUSED) {
		cause = HB_MON_CLOSE_RESET_RECV;
	} else if (err) {
		/* tcp_write_err(): ETIMEDOUT, or the soft error that preceded it */
		tp = bpf_skc_to_tcp_sock((void *)sk);
		if (s->ka_outstanding && tp && !tp->packets_out)
			cause = HB_MON_CLOSE_KEEPALIVE;
		else if (tp && tp->inet_conn.icsk_user_timeout)
			cause = HB_MON_CLOSE_USER_TIMEOUT;
		else
			cause = HB_MON_CLOSE_RETRANS;
	} else if (s->flags & HB_MON_F_RST_SENT) {
		cause = HB_MON_CLOSE_RESET_SENT;
	} else if (oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT) {
		/* An abort (unread data at close, SO_LINGER 0, tcp_disconnect) sets CLOSE first
		 * and sends its RST right after: let tcp_send_reset or the destroy decide. */
		s->flags |= HB_MON_F_PENDING;
		return 0;
	} else {
		cause = HB_MON_CLOSE_NORMAL;
	}
	emit(sk, s, cause, oldstate, err);
	return 0;
}

static __always_inline int on_send_reset(unsigned long long *ctx)
{
	const struct sock *sk = (const struct sock *)ctx[0];
	struct hb_mon_sk *s;
	__u64 reason = 0;

	s = sk_lookup(sk);
	if (!s)
		return 0;
	/* the reason argument exists since 6.10 (enum sk_rst_reason) */
	if (bpf_core_enum_value_exists(enum sk_rst_reason, SK_RST_REASON_TCP_KEEPALIVE_TIMEOUT))
		reason = ctx[2];
	s->flags |= HB_MON_F_RST_SENT;
	if (bpf_core_enum_value_exists(enum sk_rst_reason, SK_RST_REASON_TCP_KEEPALIVE_TIMEOUT) &&
	    reason == bpf_core_enum_value(enum sk_rst_reason, SK_RST_REASON_TCP_KEEPALIVE_TIMEOUT))
		s->flags |= HB_MON_F_KA_RST;
	if ((s->flags & HB_MON_F_PENDING) && !(s->flags & HB_MON_F_CLOSED))
		emit(sk, s, (s->flags & HB_MON_F_KA_RST) ? HB_MON_CLOSE_KEEPALIVE :
			    HB_MON_CLOSE_RESET_SENT, TCP_ESTABLISHED, sk->sk_err);
	return 0;
}

static __always_inline int on_destroy_sock(struct sock *sk)
{
	struct hb_mon_sk *s = sk_lookup(sk);

	if (s && (s->flags & HB_MON_F_PENDING) && !(s->flags & HB_MON_F_CLOSED))
		emit(sk, s, (s->flags & HB_MON_F_RST_SENT) ? HB_MON_CLOSE_RESET_SENT :
			    HB_MON_CLOSE_NORMAL, TCP_ESTABLISHED, sk->sk_err);
	return 0;
}

/*
 * Each tracepoint has two programs with one body. The kernel skips a tp_btf program that is
 * already running on this CPU (its recursion_misses): a close in process context (any TCP
 * socket of the host) interrupted by a softirq that closes another one - a keepalive or
 * retransmission timeout, a reset received - would lose the second close. The twin, not
 * running then, takes it; otherwise it finds the work done (HB_MON_F_CLOSED, flags set
 * already) and returns.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	peer_set_state(sk, oldstate, newstate);
	return on_set_state(sk, oldstate, newstate);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp_set_state2, const struct sock *sk, const int oldstate, const int newstate)
{
	peer_set_state(sk, oldstate, newstate);
	return on_set_state(sk, oldstate, newstate);
}

SEC("tp_btf/tcp_send_reset")
int tp_send_reset(unsigned long long *ctx)
{
	return on_send_reset(ctx);
}

SEC("tp_btf/tcp_send_reset")
int tp_send_reset2(unsigned long long *ctx)
{
	return on_send_reset(ctx);
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tp_destroy_sock, struct sock *sk)
{
	return on_destroy_sock(sk);
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tp_destroy_sock2, struct sock *sk)
{
	return on_destroy_sock(sk);
}

/* ---- raw_tp: the close causes where tp_btf is refused (hbmon_rawtp.bpf.h) ------------- */

#include "hbmon_rawtp.bpf.h"

/* ---- per peer: client connections (hbmon_peers.bpf.h) ---------------------------------- */

#include "hbmon_peers.bpf.h"

/* ---- iterator: open connections -------------------------------------------------------- */

/* One record per open connection of the monitored cgroup: sk with its storage s. */
static __always_inline void conn_record(struct seq_file *seq, struct sock *sk,
					 const struct hb_mon_sk *s)
{
	struct sock_common *skc = &sk->__sk_common;
	struct hb_mon_conn r = {};
	int i;

	r.cookie = s->cookie;
	r.inode = sock_ino(sk);
	r.now_ns = bpf_ktime_get_ns();
	for (i = 0; i < HB_MON_NCTR; i++)
		r.c[i] = s->c[i];
	for (i = 0; i < HB_MON_NPROTO; i++)
		r.app[i] = s->app[i];
	r.created_ns = s->created_ns;
	r.last_data_ns = s->last_data_ns;
	r.last_gap_ns = s->last_gap_ns;
	r.max_gap_ns = s->max_gap_ns;
	r.family = skc->skc_family;
	if (r.family == AF_INET) {
		__builtin_memcpy(r.laddr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(r.raddr, &skc->skc_daddr, 4);
	} else {
		__builtin_memcpy(r.laddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(r.raddr, &skc->skc_v6_daddr, 16);
	}
	r.lport = skc->skc_num;
	r.rport = bpf_ntohs(skc->skc_dport);
	r.state = skc->skc_state;
	r.keepalive = !!(skc->skc_flags &
			 (1UL << bpf_core_enum_value(enum sock_flags, SOCK_KEEPOPEN)));
	r.flags = (__u8)s->flags;
	r.netns = s->netns;
	bpf_seq_write(seq, &r, sizeof(r));
}

/* Every socket with storage, in every network namespace. Some kernels refuse map iterators
 * (a security policy, lockdown): iter_conns_tcp below is the fallback. */
SEC("iter/bpf_sk_storage_map")
int iter_conns(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct sock *sk = ctx->sk;
	struct hb_mon_sk *s = ctx->value;

	if (!sk || !s || s->ignored || (s->flags & HB_MON_F_CLOSED))
		return 0;
	conn_record(ctx->meta->seq, sk, s);
	return 0;
}

/* The same records from the TCP sockets of the reader's network namespace (the iterator's
 * creator's: the monitor's, or hbctl ls's when it opens the pin), each looked up in the
 * storage without creating an entry. */
SEC("iter/tcp")
int iter_conns_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct hb_mon_sk *s;
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;	/* request and time-wait sockets */
	s = bpf_sk_storage_get(&sk_stats, tp, 0, 0);
	if (!s || s->ignored || (s->flags & HB_MON_F_CLOSED))
		return 0;
	conn_record(ctx->meta->seq, (struct sock *)tp, s);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
