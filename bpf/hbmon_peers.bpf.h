/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hbctl monitor, kernel side: the per-peer counts of client connections (--peers), included
 * by hbmon.bpf.c (it uses that file's peers map and constants); both tracepoint kinds call
 * peer_set_state(), with CO-RE reads only, so that the raw_tp twins count the same.
 */
#ifndef HBMON_PEERS_BPF_H
#define HBMON_PEERS_BPF_H

/* ---- per peer: client connections (both tracepoint kinds; CO-RE reads only) ------------ */

static __always_inline struct hb_mon_peer *peer_get(const struct sock *sk, __u64 now)
{
	struct hb_mon_peer_key k = {};
	struct hb_mon_peer *p, z = {};

	k.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (k.family == AF_INET)
		bpf_core_read(k.addr, 4, &sk->__sk_common.skc_daddr);
	else
		bpf_core_read(k.addr, 16, &sk->__sk_common.skc_v6_daddr);
	k.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	p = bpf_map_lookup_elem(&peers, &k);
	if (p)
		return p;
	z.first_ns = now;
	bpf_map_update_elem(&peers, &k, &z, BPF_NOEXIST);
	return bpf_map_lookup_elem(&peers, &k);
}

#define RCV_SHUTDOWN	1
#define SEND_SHUTDOWN	2

/* Payload bytes of a connection at its close: bytes_acked counts the SYN (the SYN-ACK acks
 * it) and our FIN once acked, bytes_received the peer's FIN; neither is payload. */
static __always_inline __u64 peer_bytes(const struct sock *sk)
{
	const struct tcp_sock *tp = (const void *)sk;
	__u64 out = BPF_CORE_READ(tp, bytes_acked), in = BPF_CORE_READ(tp, bytes_received);
	unsigned long flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	__u8 shut = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown);

	if (out)
		out--;		/* the SYN */
	if (out && (shut & SEND_SHUTDOWN) &&
	    BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		out--;		/* our FIN, acked */
	/* tcp_fin() marks the socket done as the FIN arrives */
	if (in && (flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		in--;
	return out + in;
}

/*
 * Runs in both twins of a set_state tracepoint, one after the other on one CPU: the entry in
 * peer_socks makes each step happen once (inserted with NOEXIST at SYN_SENT, marked at
 * ESTABLISHED, deleted at CLOSE - only the program whose delete succeeds counts the close).
 * Transitions of one socket are serialised by its lock.
 */
static __always_inline void peer_set_state(const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)(long)sk, now, us, life = 0, bytes;
	struct hb_mon_peer_sock *ps, n = {};
	struct hb_mon_peer *p;
	__u32 b;

	if (newstate == TCP_SYN_SENT) {
		if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP || !rt_in_scope(sk))
			return;
		now = bpf_ktime_get_ns();
		n.start_ns = now;
		/* an address reused by a new socket: the old one's entry was deleted at CLOSE
		 * (or evicted); a second insert is the twin's */
		if (bpf_map_update_elem(&peer_socks, &key, &n, BPF_NOEXIST))
			return;
		p = peer_get(sk, now);
		if (p) {
			__sync_fetch_and_add(&p->attempts, 1);
			p->last_ns = now;
		}
		return;
	}
	if (newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE)
		return;
	ps = bpf_map_lookup_elem(&peer_socks, &key);
	if (!ps)
		return;
	now = bpf_ktime_get_ns();
	if (newstate == TCP_ESTABLISHED) {
		if (oldstate != TCP_SYN_SENT || ps->estab_ns)
			return;
		ps->estab_ns = now;
		p = peer_get(sk, now);
		if (p)
			__sync_fetch_and_add(&p->opened, 1);
		return;
	}
	if (ps->estab_ns && now > ps->estab_ns)
		life = now - ps->estab_ns;
	n.estab_ns = ps->estab_ns;
	if (bpf_map_delete_elem(&peer_socks, &key))
		return;		/* the twin did it */
	p = peer_get(sk, now);
	if (!p)
		return;
	if (!n.estab_ns) {
		__sync_fetch_and_add(&p->failed, 1);
		return;
	}
	bytes = peer_bytes(sk);
	us = life / 1000;
	b = log2_u64(us);
	if (b >= HB_MON_LIFE_N)
		b = HB_MON_LIFE_N - 1;
	__sync_fetch_and_add(&p->closed, 1);
	__sync_fetch_and_add(&p->bytes, bytes);
	__sync_fetch_and_add(&p->life_sum_us, us);
	__sync_fetch_and_add(&p->life_hist[b & (HB_MON_LIFE_N - 1)], 1);
}

#endif /* HBMON_PEERS_BPF_H */
