/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hbctl monitor, kernel side: the raw_tp twins of the tp_btf close classifiers, included by
 * hbmon.bpf.c (it uses that file's maps, tot() and constants). The loader (bpf/monitor.c)
 * loads them only where the kernel refuses tp_btf.
 */
#ifndef HBMON_RAWTP_BPF_H
#define HBMON_RAWTP_BPF_H

/* ---- raw_tp: the close causes where tp_btf is refused ------------------------------------ */

/*
 * A raw_tp program cannot read the socket storage (bpf_sk_storage_get is a tracing and
 * networking helper), so these twins classify closes from the socket itself: the monitored
 * cgroup and namespace from sk_cgrp_data and skc_net, the cause from sk_err, the user timeout
 * and the RST sent (a small hash by socket address keeps the flags between tracepoints). What
 * they cannot give: the per-connection counters of a close event (zero), and the probe still
 * unanswered at the close. The loader sets the cgroup to match.
 */
const volatile __u64 targ_cgroup_id = 0;
const volatile __u32 targ_cgroup_level = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);		/* the struct sock's address */
	__type(value, __u32);		/* HB_MON_F_* */
} rt_flags SEC(".maps");

struct cgroup___ids {
	int level;
	u64 ancestor_ids[0];
} __attribute__((preserve_access_index));

/* Whether sk is a TCP socket of the monitored cgroup (or below) and namespace. */
static __always_inline bool rt_in_scope(const struct sock *sk)
{
	struct cgroup *cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup), *anc = NULL;
	struct cgroup___ids *ids = (void *)cg;
	__u32 level = targ_cgroup_level;
	__u64 id = 0;
	int state;

	/* tcp_send_reset also fires for request and time-wait sockets (and NULL): smaller
	 * structures without sk_cgrp_data, whose addresses a full socket may take later */
	state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV)
		return false;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return false;
	if (targ_netns && BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != targ_netns)
		return false;
	if (!targ_cgroup_id)
		return true;
	if (!cg || BPF_CORE_READ(cg, level) < (int)level)
		return false;
	if (bpf_core_field_exists(cg->ancestors)) {
		bpf_core_read(&anc, sizeof(anc), &cg->ancestors[level]);
		if (!anc)
			return false;
		id = BPF_CORE_READ(anc, kn, id);
	} else {
		bpf_core_read(&id, sizeof(id), &ids->ancestor_ids[level]);
	}
	return id == targ_cgroup_id;
}

static __always_inline void rt_emit(const struct sock *sk, __u32 flags, int cause,
				    int oldstate, int err)
{
	struct hb_mon_totals *t = tot();
	struct hb_mon_close *e;
	__u64 key = (__u64)(long)sk, now = bpf_ktime_get_ns();

	flags |= HB_MON_F_CLOSED;
	bpf_map_update_elem(&rt_flags, &key, &flags, BPF_ANY);
	if (t && cause >= 0 && cause < HB_MON_NCAUSE)
		t->closed[cause]++;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (e->family == AF_INET) {
		bpf_core_read(e->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	/* CLOSE has released the port (skc_num is 0 by now): inet_sport stays */
	e->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->cause = cause;
	e->oldstate = oldstate;
	e->err = err;
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int rt_on_set_state(const struct sock *sk, int oldstate, int newstate)
{
	struct inet_connection_sock *icsk = (void *)sk;
	__u64 key = (__u64)(long)sk;
	__u32 flags = 0, *f;
	int err, cause;

	/* a listener, or a connection that never was one (tp_btf: a socket without storage) */
	if (newstate != TCP_CLOSE || oldstate == TCP_LISTEN || oldstate == TCP_SYN_SENT ||
	    oldstate == TCP_SYN_RECV || !rt_in_scope(sk))
		return 0;
	f = bpf_map_lookup_elem(&rt_flags, &key);
	if (f)
		flags = *f;
	if (flags & HB_MON_F_CLOSED)
		return 0;
	err = BPF_CORE_READ(sk, sk_err);
	if (flags & HB_MON_F_KA_RST) {
		cause = HB_MON_CLOSE_KEEPALIVE;
	} else if (err == ECONNRESET || err == EPIPE || err == ECONNREFUSED) {
		cause = HB_MON_CLOSE_RESET_RECV;
	} else if (err) {
		/* the keepalive timer's own test: probes out, nothing in flight */
		if (BPF_CORE_READ(icsk, icsk_probes_out) &&
		    !BPF_CORE_READ((struct tcp_sock *)sk, packets_out))
			cause = HB_MON_CLOSE_KEEPALIVE;
		else if (BPF_CORE_READ(icsk, icsk_user_timeout))
			cause = HB_MON_CLOSE_USER_TIMEOUT;
		else
			cause = HB_MON_CLOSE_RETRANS;
	} else if (flags & HB_MON_F_RST_SENT) {
		cause = HB_MON_CLOSE_RESET_SENT;
	} else if (oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT) {
		flags |= HB_MON_F_PENDING;
		bpf_map_update_elem(&rt_flags, &key, &flags, BPF_ANY);
		return 0;
	} else {
		cause = HB_MON_CLOSE_NORMAL;
	}
	rt_emit(sk, flags, cause, oldstate, err);
	return 0;
}

static __always_inline int rt_on_send_reset(const struct sock *sk, __u64 reason)
{
	__u64 key = (__u64)(long)sk;
	__u32 flags = 0, *f;

	if (!sk || !rt_in_scope(sk))
		return 0;
	f = bpf_map_lookup_elem(&rt_flags, &key);
	if (f)
		flags = *f;
	if (flags & HB_MON_F_CLOSED)
		return 0;
	flags |= HB_MON_F_RST_SENT;
	if (bpf_core_enum_value_exists(enum sk_rst_reason, SK_RST_REASON_TCP_KEEPALIVE_TIMEOUT) &&
	    reason == bpf_core_enum_value(enum sk_rst_reason, SK_RST_REASON_TCP_KEEPALIVE_TIMEOUT))
		flags |= HB_MON_F_KA_RST;
	if (flags & HB_MON_F_PENDING)
		rt_emit(sk, flags, (flags & HB_MON_F_KA_RST) ? HB_MON_CLOSE_KEEPALIVE :
			HB_MON_CLOSE_RESET_SENT, TCP_ESTABLISHED, BPF_CORE_READ(sk, sk_err));
	else
		bpf_map_update_elem(&rt_flags, &key, &flags, BPF_ANY);
	return 0;
}

static __always_inline int rt_on_destroy(const struct sock *sk)
{
	__u64 key = (__u64)(long)sk;
	__u32 *f = bpf_map_lookup_elem(&rt_flags, &key);

	if (!f)
		return 0;
	if ((*f & HB_MON_F_PENDING) && !(*f & HB_MON_F_CLOSED))
		rt_emit(sk, *f, (*f & HB_MON_F_RST_SENT) ? HB_MON_CLOSE_RESET_SENT :
			HB_MON_CLOSE_NORMAL, TCP_ESTABLISHED, BPF_CORE_READ(sk, sk_err));
	bpf_map_delete_elem(&rt_flags, &key);
	return 0;
}

/* Twins, as for tp_btf: the kernel skips a raw_tp program already running on this CPU too. */
#define RT_TWINS(n)								\
SEC("raw_tp/inet_sock_set_state")						\
int BPF_PROG(rt_set_state##n, const struct sock *sk, int oldstate, int newstate) \
{										\
	peer_set_state(sk, oldstate, newstate);					\
	return rt_on_set_state(sk, oldstate, newstate);				\
}										\
SEC("raw_tp/tcp_send_reset")							\
int rt_send_reset##n(unsigned long long *ctx)					\
{										\
	/* the reason argument exists since 6.10 (enum sk_rst_reason) */	\
	return rt_on_send_reset((const struct sock *)ctx[0],			\
		bpf_core_enum_value_exists(enum sk_rst_reason,			\
					   SK_RST_REASON_TCP_KEEPALIVE_TIMEOUT) ? ctx[2] : 0); \
}										\
SEC("raw_tp/tcp_destroy_sock")							\
int BPF_PROG(rt_destroy_sock##n, const struct sock *sk)				\
{										\
	return rt_on_destroy(sk);						\
}
RT_TWINS()
RT_TWINS(2)

#endif /* HBMON_RAWTP_BPF_H */
