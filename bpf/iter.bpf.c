// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hbctl's BPF iterator back end: the kernel side.
 *
 *   iter_tcp        iter/tcp: one struct hb_iter_sock per TCP socket of the reader's network
 *                   namespace (full, time-wait and request sockets), raw values only.
 *   iter_task_file  iter/task_file: one struct hb_iter_file per TCP socket file descriptor,
 *                   to join sockets to their owners by inode in user space.
 *   iter_tcp_set    iter/tcp: bpf_setsockopt() on each socket whose cookie is in set_cookies,
 *                   the outcome written back into the map.
 *                   The iterator holds lock_sock() on full sockets while a program runs, which
 *                   is what bpf_setsockopt() requires, and the owning process is never stopped.
 *
 * The loader (iter.c) loads the object once per process and runs the programs as needed.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "hb/iter.h"
#include "common.bpf.h"

#define EINVAL		22

/* include/net/inet_connection_sock.h (#defines, so not in vmlinux.h) */
#define ICSK_TIME_RETRANS	1
#define ICSK_TIME_PROBE0	3
#define ICSK_TIME_LOSS_PROBE	5
#define ICSK_TIME_REO_TIMEOUT	6

/* Older kernels kept the retransmit timer's expiry in icsk_timeout; now it is the timer's own. */
struct inet_connection_sock___old {
	unsigned long icsk_timeout;
} __attribute__((preserve_access_index));

/* Filled in by libbpf from the kernel config; 0 when no config is readable (iter.c copes). */
extern unsigned int CONFIG_HZ __kconfig __weak;

/* What iter_tcp_set applies: set by the loader before each run (.bss, not rodata, so that one
 * loaded object serves ls and set alike). */
struct hb_iter_set_cfg set_cfg;

/* Cookies of the sockets to change, at most HB_ITER_SET_CHUNK per run, each with its outcome.
 * Not preallocated: an idle map costs only its bucket array. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, HB_ITER_SET_CHUNK);
	__type(key, __u64);
	__type(value, struct hb_iter_set_res);
} set_cookies SEC(".maps");

/*
 * Pointers that come from the iterator context or from bpf_skc_to_*() are BTF pointers:
 * plain member access on them compiles to inline loads (CO-RE relocated through vmlinux.h's
 * preserve_access_index) instead of one bpf_probe_read_kernel() call per field, which is
 * what keeps 100k sockets well inside the time budget.
 */
static __always_inline __u64 icsk_timeout(const struct inet_connection_sock *icsk)
{
	const struct inet_connection_sock___old *old = (const void *)icsk;

	if (bpf_core_field_exists(old->icsk_timeout))
		return BPF_CORE_READ(old, icsk_timeout);
	return icsk->icsk_retransmit_timer.expires;
}

static __always_inline void fill_full(struct hb_iter_sock *r, struct tcp_sock *tp)
{
	struct inet_connection_sock *icsk = &tp->inet_conn;
	struct sock *sk = &icsk->icsk_inet.sk;
	struct net *net = sk->__sk_common.skc_net.net;
	__u8 pending = icsk->icsk_pending;

	r->kind = HB_ITER_FULL;
	r->state = sk->__sk_common.skc_state;
	r->inode = sock_ino(sk);
	if (sk->__sk_common.skc_flags &
	    (1UL << bpf_core_enum_value(enum sock_flags, SOCK_KEEPOPEN)))
		r->flags |= HB_ITER_F_KEEPOPEN;

	r->ka_time = tp->keepalive_time;
	r->ka_intvl = tp->keepalive_intvl;
	r->ka_probes = tp->keepalive_probes;
	r->sys_ka_time = net->ipv4.sysctl_tcp_keepalive_time;
	r->sys_ka_intvl = net->ipv4.sysctl_tcp_keepalive_intvl;
	r->sys_ka_probes = net->ipv4.sysctl_tcp_keepalive_probes;
	r->user_timeout = icsk->icsk_user_timeout;

	r->lsndtime = tp->lsndtime;
	r->lrcvtime = icsk->icsk_ack.lrcvtime;
	r->rcv_tstamp = tp->rcv_tstamp;

	/* The same precedence as inet_sk_diag_fill() and /proc/net/tcp. */
	if (pending == ICSK_TIME_RETRANS || pending == ICSK_TIME_REO_TIMEOUT ||
	    pending == ICSK_TIME_LOSS_PROBE) {
		r->timer = HB_ITER_TIMER_RETRANS;
		r->probes = icsk->icsk_retransmits;
		r->timer_expires = icsk_timeout(icsk);
	} else if (pending == ICSK_TIME_PROBE0) {
		r->timer = HB_ITER_TIMER_PROBE;
		r->probes = icsk->icsk_probes_out;
		r->timer_expires = icsk_timeout(icsk);
	} else if (sk->sk_timer.entry.pprev) {		/* timer_pending() */
		r->timer = HB_ITER_TIMER_KEEPALIVE;
		r->probes = icsk->icsk_probes_out;
		r->timer_expires = sk->sk_timer.expires;
	}
}

SEC("iter/tcp")
int iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct hb_iter_sock r = {};
	struct tcp_timewait_sock *tw;
	struct tcp_request_sock *req;
	struct tcp_sock *tp;
	__u32 *la = (__u32 *)r.laddr, *ra = (__u32 *)r.raddr;
	__u8 state;

	if (!skc)
		return 0;
	r.family = skc->skc_family;
	if (r.family == AF_INET) {
		la[0] = skc->skc_rcv_saddr;
		ra[0] = skc->skc_daddr;
	} else if (r.family == AF_INET6) {
		la[0] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[0];
		la[1] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[1];
		la[2] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[2];
		la[3] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[3];
		ra[0] = skc->skc_v6_daddr.in6_u.u6_addr32[0];
		ra[1] = skc->skc_v6_daddr.in6_u.u6_addr32[1];
		ra[2] = skc->skc_v6_daddr.in6_u.u6_addr32[2];
		ra[3] = skc->skc_v6_daddr.in6_u.u6_addr32[3];
	} else {
		return 0;
	}
	r.cookie = bpf_get_socket_cookie(skc);
	r.now = bpf_jiffies64();
	r.hz = CONFIG_HZ;
	r.uid = ctx->uid;
	r.ifindex = skc->skc_bound_dev_if;
	r.lport = skc->skc_num;
	r.rport = bpf_ntohs(skc->skc_dport);

	state = skc->skc_state;
	if (state == TCP_TIME_WAIT) {
		tw = bpf_skc_to_tcp_timewait_sock(skc);
		if (!tw)
			return 0;
		r.kind = HB_ITER_TIMEWAIT;
		/* sock_diag and /proc/net/tcp show the substate (FIN_WAIT2 or TIME_WAIT) */
		r.state = tw->tw_sk.tw_substate;
		r.timer = HB_ITER_TIMER_TIMEWAIT;
		r.timer_expires = tw->tw_sk.tw_timer.expires;
	} else if (state == TCP_NEW_SYN_RECV) {
		req = bpf_skc_to_tcp_request_sock(skc);
		if (!req)
			return 0;
		r.kind = HB_ITER_REQUEST;
		r.state = TCP_SYN_RECV;
		r.timer = HB_ITER_TIMER_RETRANS;
		r.probes = req->req.req.num_retrans;
		r.timer_expires = req->req.req.rsk_timer.expires;
	} else {
		tp = bpf_skc_to_tcp_sock(skc);
		if (!tp)
			return 0;
		fill_full(&r, tp);
	}
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/*
 * The process id as the reader of the iterator (hbctl) sees it. task->tgid is the number in
 * the initial pid namespace: inside a container hbctl would print pids that /proc, kill and
 * --pid know nothing about (and that the sock_diag back end, reading /proc, does not show).
 * The iterator visits only tasks of the reader's pid namespace, so each has a number at the
 * reader's level: numbers[level] of the thread group leader's struct pid.
 */
static __always_inline __u32 reader_tgid(struct task_struct *task)
{
	struct task_struct *me = bpf_get_current_task_btf();
	unsigned int level = me->thread_pid->level;
	struct upid up = {};
	__u64 pid = 0;

	if (!level)
		return task->tgid;	/* the initial namespace: the usual case, no reads */
	if (level > 32)			/* MAX_PID_NS_LEVEL */
		return 0;
	/* a variable index into numbers[] needs a plain address, not a BTF pointer */
	if (bpf_probe_read_kernel(&pid, sizeof(pid), &task->group_leader->thread_pid) || !pid)
		return 0;
	if (bpf_probe_read_kernel(&up, sizeof(up),
				  (const void *)(pid + bpf_core_field_offset(struct pid, numbers) +
						 level * bpf_core_type_size(struct upid))))
		return 0;
	return up.nr;
}

SEC("iter/task_file")
int iter_task_file(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct hb_iter_file r = {};

	if (!task || !file || !bpf_sock_from_file(file))
		return 0;
	/* No test of the protocol or namespace: that would read two more cold cache lines
	 * per descriptor, and the join by inode in user space drops other sockets anyway. */
	r.inode = file->f_inode->i_ino;
	/* Threads that share the leader's file table are not visited (task_seq_get_next()
	 * skips them), so each table is seen once, under its process's id. */
	r.pid = reader_tgid(task);
	r.fd = ctx->fd;
	/* two plain loads (BTF pointer), not a helper call per descriptor: the copy may catch
	 * a rename half done, which user space bounds to 15 bytes anyway */
	__builtin_memcpy(r.comm, task->group_leader->comm, sizeof(r.comm));
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

static __always_inline void set_one(struct tcp_sock *tp, struct hb_iter_set_res *res, __u32 mask,
				    __u32 bit, int level, int opt, int val)
{
	long err;

	if (!(mask & bit))
		return;
	err = bpf_setsockopt(tp, level, opt, &val, sizeof(val));
	if (err) {
		if (!res->err)
			res->err = err;
		res->failed |= bit;
	}
}

SEC("iter/tcp")
int iter_tcp_set(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct hb_iter_set_res *res;
	struct hb_iter_set_cfg cfg;
	struct tcp_sock *tp;
	__u64 cookie;

	if (!skc)
		return 0;
	cookie = bpf_get_socket_cookie(skc);
	res = bpf_map_lookup_elem(&set_cookies, &cookie);
	if (!res || res->done)
		return 0;
	res->done = 1;
	cfg = set_cfg;

	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp) {
		/* time-wait and request sockets have no options to set */
		res->err = -EINVAL;
		res->failed = cfg.mask;
		return 0;
	}
	/* Timing values before SO_KEEPALIVE, so that switching keepalive on arms the timer with
	 * the new idle time at once. */
	set_one(tp, res, cfg.mask, HB_ITER_SET_IDLE, SOL_TCP, TCP_KEEPIDLE, cfg.idle_s);
	set_one(tp, res, cfg.mask, HB_ITER_SET_INTVL, SOL_TCP, TCP_KEEPINTVL, cfg.intvl_s);
	set_one(tp, res, cfg.mask, HB_ITER_SET_CNT, SOL_TCP, TCP_KEEPCNT, cfg.cnt);
	set_one(tp, res, cfg.mask, HB_ITER_SET_UTO, SOL_TCP, TCP_USER_TIMEOUT, cfg.user_timeout_ms);
	set_one(tp, res, cfg.mask, HB_ITER_SET_KEEPALIVE, SOL_SOCKET, SO_KEEPALIVE, cfg.keepalive);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
