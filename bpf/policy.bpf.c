// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The keepalive policy of one cgroup, enforced by the kernel: the kernel side of
 * `hbctl policy add` and `hbctl run --kernel`.
 *
 *   sockops_policy       cgroup sock_ops: at ACTIVE_ESTABLISHED (connect() completed) and
 *                        PASSIVE_ESTABLISHED (a connection accepted) of every TCP socket
 *                        of every process in the cgroup, whatever the process is made of
 *                        (static binaries, Go, raw syscalls), applies the policy with
 *                        bpf_setsockopt(); at TCP_LISTEN (listen()) to the listener, as the
 *                        shim does, so that accepted sockets inherit the options and their
 *                        PASSIVE_ESTABLISHED finds nothing left to do. The socket is locked
 *                        in all three, as the helper wants.
 *   iter_tcp_retrofit    iter/tcp, only for --retrofit: the same decision for established
 *                        sockets that already exist, selected by the socket's cgroup.
 *   setsockopt_policy    cgroup/setsockopt: records in the SK_STORAGE map sk which values
 *                        the program sets itself (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT,
 *                        TCP_USER_TIMEOUT), before or after connect(); with --force, on a
 *                        socket the policy has decided, it puts the policy's value in the
 *                        program's place (as the shim's HB_FORCE does).
 *
 * The policy is load-time rodata (targ_cfg): the verifier sees its values, and a replacement
 * is a new program swapped in atomically with bpf_link_update() (bpf/policy.c).
 *
 * --idle auto: the idle time comes from the pinned paths map, looked up by the connection's
 * remote address and port at ESTABLISHED (path_idle(), kept apart from the rest).
 *
 * The owner's own choice wins unless --force, as under the shim: a value the program set
 * (recorded by setsockopt_policy, so SO_KEEPALIVE=0 counts as a choice too) is left alone at
 * ESTABLISHED, and a later setsockopt() simply replaces the policy's value (recorded as the
 * program's). Where the kernel refused setsockopt_policy (the loader says so), what the
 * socket shows is all there is: SO_KEEPALIVE already on (read back with bpf_getsockopt) means
 * the owner turned it on; for TCP_KEEPIDLE/INTVL/CNT and TCP_USER_TIMEOUT the tcp_sock fields
 * are read (bpf_getsockopt() would return the sysctl for an unset value): 0 means "never
 * set". Either way sk records who set each value, for `hbctl ls`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "hb/policy_match.h"	/* and its ABI, hb/policy_bpf.h */
#include "common.bpf.h"

#define SOCK_BINDPORT_LOCK 4
#define SOCK_STREAM	1
#define IPPROTO_TCP	6

const volatile struct hb_pol_cfg targ_cfg = {};

/* Filled in by libbpf from the kernel config (tcp_sock keeps keepalive times in jiffies). */
extern unsigned int CONFIG_HZ __kconfig __weak;

/*
 * A context field, loaded as is: without the volatile, clang turns "c ? ctx->a : ctx->b" into
 * one load through a computed ctx pointer, which the verifier refuses ("dereference of
 * modified ctx ptr").
 */
#define CTX(ctx, field)	(*(volatile __typeof__((ctx)->field) *)&(ctx)->field)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hb_pol_stats);
} stats SEC(".maps");

/* Written by the loader, read by `policy ls`; the program never looks at it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, __u32);
	__type(value, struct hb_pol_meta);
} meta SEC(".maps");

/* --idle auto: the table of path timeouts (policy_bpf.h), pinned and shared by every policy
 * with --idle auto; a private, empty one otherwise (never looked up). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, HB_POL_PATHS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hb_path_key);
	__type(value, struct hb_path_val);
} paths SEC(".maps");

/*
 * The idle time for a connection to (family, a, port): the policy's own without --idle auto;
 * with it, the entry of the most specific path (with a port first, then without; the longest
 * prefix), floor(0.8 x its timeout) capped at --idle-max, --idle-max for a path with no drop
 * known, --idle-default (targ_cfg.idle_s) for no entry.
 */
static __always_inline int path_idle(__u32 family, const __u32 a[4], __u16 port)
{
	struct hb_path_key k = {};
	struct hb_path_val *v;
	__u32 idle, max = targ_cfg.idle_max_s;

	if (!(targ_cfg.flags & HB_POL_F_IDLE_AUTO))
		return targ_cfg.idle_s;
	k.prefixlen = 16 + 128;
	k.data[0] = port >> 8;
	k.data[1] = port & 0xff;
	if (family == AF_INET) {
		k.data[12] = 0xff;
		k.data[13] = 0xff;
		__builtin_memcpy(&k.data[14], &a[0], 4);
	} else {
		__builtin_memcpy(&k.data[2], a, 16);
	}
	v = bpf_map_lookup_elem(&paths, &k);
	if (!v) {
		k.data[0] = 0;
		k.data[1] = 0;
		v = bpf_map_lookup_elem(&paths, &k);
	}
	if (!v)
		return targ_cfg.idle_s;
	idle = v->idle_s;
	if (!max)
		max = 32767;
	return !idle || idle > max ? (int)max : (int)idle;
}

/* path_idle() for a sock_ops callback: the remote address and port; 0 (idle not set) for a
 * listener, which has no peer yet: each accepted connection gets its own path's. */
static __always_inline int sockops_idle(struct bpf_sock_ops *skops, __u32 op)
{
	__u32 a[4] = {}, family;

	if (!(targ_cfg.flags & HB_POL_F_IDLE_AUTO))
		return targ_cfg.idle_s;
	if (op == BPF_SOCK_OPS_TCP_LISTEN_CB)
		return 0;
	family = CTX(skops, family);
	if (family == AF_INET) {
		a[0] = CTX(skops, remote_ip4);
	} else if (family == AF_INET6) {
		a[0] = CTX(skops, remote_ip6[0]);
		a[1] = CTX(skops, remote_ip6[1]);
		a[2] = CTX(skops, remote_ip6[2]);
		a[3] = CTX(skops, remote_ip6[3]);
		/* ::ffff:a.b.c.d is looked up as IPv4, as in user space */
		if (a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff)) {
			family = AF_INET;
			a[0] = a[3];
		}
	} else {
		return targ_cfg.idle_s;
	}
	return path_idle(family, a, (__u16)bpf_ntohl(CTX(skops, remote_port)));
}

/* path_idle() for an established socket the retrofit iterator walks: its remote end. */
static __always_inline int sk_idle(struct sock_common *skc)
{
	__u32 a[4] = {}, family = skc->skc_family;

	if (!(targ_cfg.flags & HB_POL_F_IDLE_AUTO))
		return targ_cfg.idle_s;
	if (family == AF_INET) {
		a[0] = skc->skc_daddr;
	} else if (family == AF_INET6) {
		a[0] = skc->skc_v6_daddr.in6_u.u6_addr32[0];
		a[1] = skc->skc_v6_daddr.in6_u.u6_addr32[1];
		a[2] = skc->skc_v6_daddr.in6_u.u6_addr32[2];
		a[3] = skc->skc_v6_daddr.in6_u.u6_addr32[3];
		if (a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff)) {
			family = AF_INET;
			a[0] = a[3];
		}
	} else {
		return targ_cfg.idle_s;
	}
	return path_idle(family, a, bpf_ntohs(skc->skc_dport));
}

/* Who set each value of a socket (policy_bpf.h); follows a listener to its accepted
 * sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct hb_pol_sk);
} sk_rec SEC(".maps");

/* Older kernels named the ancestors array differently. */
struct cgroup___ids {
	int level;
	u64 ancestor_ids[0];
} __attribute__((preserve_access_index));

static __always_inline struct hb_pol_stats *get_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline void inc(__u64 *c)
{
	__sync_fetch_and_add(c, 1);
}

/* What apply() did, per value the policy sets. */
struct outcome {
	int set;	/* set now */
	int have;	/* the socket had the policy's value already (inherited from a listener) */
	int kept;	/* the owner's own value, left alone */
	long err;	/* the first error of bpf_setsockopt() */
	__u32 app;	/* in: HB_POL_SET_* the program set itself (setsockopt_policy saw it) */
	__u32 pol;	/* out: HB_POL_SET_* the socket has from the policy */
};

/* One option, as hb_pol_decide() says: left alone, already there, or set now. */
static __always_inline void set_opt(void *ctx, struct outcome *o, __u32 bit, __u32 cur,
				    __u32 want_cur, int level, int opt, int val)
{
	long err;

	switch (hb_pol_decide(&targ_cfg, bit, o->app, cur, want_cur)) {
	case HB_POL_DO_NOTHING:
		return;
	case HB_POL_DO_KEEP:
		o->kept++;
		return;
	case HB_POL_DO_HAVE:
		o->have++;
		o->pol |= bit;
		return;
	default:
		break;
	}
	err = bpf_setsockopt(ctx, level, opt, &val, sizeof(val));
	if (err) {
		if (!o->err)
			o->err = err;
	} else {
		o->set++;
		o->pol |= bit;
	}
}

/* After apply(): the socket's record says which values are the policy's now. */
static __always_inline void record(struct hb_pol_sk *st, const struct outcome *o)
{
	if (!st)
		return;
	st->pol = o->pol;
	st->app &= ~o->pol;	/* what --force replaced is the policy's now */
	st->flags |= HB_POL_SK_DECIDED;
}

/*
 * Applies the policy to one matched socket. ctx is what bpf_setsockopt() takes in the
 * calling program (the sock_ops context, or the tcp_sock in an iterator), ka_on whether
 * SO_KEEPALIVE is on already, idle_s the idle time to set (path_idle(); 0: none, a listener
 * under --idle auto). tcp_sock keeps the keepalive times in jiffies (0: the sysctl).
 */
static __always_inline void apply(void *ctx, struct tcp_sock *tp, bool ka_on, int idle_s,
				  struct outcome *o)
{
	/* 0 when libbpf found no kernel config: then a value is never taken as equal */
	__u32 hz = CONFIG_HZ;

	/* Timing values before SO_KEEPALIVE, so that switching keepalive on arms the timer
	 * with the new idle time at once. */
	if (idle_s > 0)
		set_opt(ctx, o, HB_POL_SET_IDLE, tp->keepalive_time, idle_s * hz, SOL_TCP,
			TCP_KEEPIDLE, idle_s);
	set_opt(ctx, o, HB_POL_SET_INTVL, tp->keepalive_intvl, targ_cfg.intvl_s * hz, SOL_TCP,
		TCP_KEEPINTVL, targ_cfg.intvl_s);
	set_opt(ctx, o, HB_POL_SET_CNT, tp->keepalive_probes, targ_cfg.cnt, SOL_TCP, TCP_KEEPCNT,
		targ_cfg.cnt);
	set_opt(ctx, o, HB_POL_SET_UTO, tp->inet_conn.icsk_user_timeout, targ_cfg.user_timeout_ms,
		SOL_TCP, TCP_USER_TIMEOUT, targ_cfg.user_timeout_ms);
	set_opt(ctx, o, HB_POL_SET_KEEPALIVE, ka_on, 1, SOL_SOCKET, SO_KEEPALIVE, 1);
}

/*
 * applied: the socket carries the policy (set now, or inherited from a listener the policy
 * set up, or a mix with the owner's values); kept: only the owner's values (every value the
 * policy sets, the owner had set otherwise); failed: a bpf_setsockopt() failed.
 */
static __always_inline void account(struct hb_pol_stats *st, const struct outcome *o)
{
	if (!st)
		return;
	if (o->err) {
		inc(&st->failed);
		st->last_err = o->err;
	} else if (o->set || (o->have && !o->kept)) {
		inc(&st->applied);
	} else {
		inc(&st->kept);
	}
}

/*
 * --match for a sock_ops callback: whether the connection is one the policy is for. local:
 * listen() and accept() match the local address and port; connect() the remote ones.
 */
static __always_inline bool sockops_match(struct bpf_sock_ops *skops, bool local)
{
	__u32 a[4] = {}, family;
	__u16 port;

	if (!(targ_cfg.flags & HB_POL_F_MATCH))
		return true;
	family = CTX(skops, family);
	if (family == AF_INET) {
		a[0] = local ? CTX(skops, local_ip4) : CTX(skops, remote_ip4);
	} else if (family == AF_INET6) {
		if (local) {
			a[0] = CTX(skops, local_ip6[0]);
			a[1] = CTX(skops, local_ip6[1]);
			a[2] = CTX(skops, local_ip6[2]);
			a[3] = CTX(skops, local_ip6[3]);
		} else {
			a[0] = CTX(skops, remote_ip6[0]);
			a[1] = CTX(skops, remote_ip6[1]);
			a[2] = CTX(skops, remote_ip6[2]);
			a[3] = CTX(skops, remote_ip6[3]);
		}
	} else {
		return false;
	}
	port = local ? (__u16)CTX(skops, local_port) :
		       (__u16)bpf_ntohl(CTX(skops, remote_port));
	return hb_pol_match(&targ_cfg, family, a, port);
}

/*
 * The policy on the matched socket of a sock_ops callback: applied, the socket's record
 * updated, the outcome counted in st (a listener only when the policy set something on it).
 */
static __always_inline void sockops_apply(struct bpf_sock_ops *skops, __u32 op, bool listener,
					  struct hb_pol_stats *st)
{
	struct outcome o = {};
	struct hb_pol_sk *rec;
	struct bpf_sock *sk;
	struct tcp_sock *tp;
	int ka = 0;

	sk = skops->sk;
	if (!sk)
		return;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return;
	/*
	 * The record exists when the program made one of its calls (the recorder created it,
	 * or the listener's was cloned). Only a forced policy creates one here, for the
	 * recorder to know later that this policy decided: an allocation per connection costs
	 * more than the rest of this program (scripts/bench-policy.sh), and ls tells a
	 * policy's values without it (cli/pol_src.c).
	 */
	rec = bpf_sk_storage_get(&sk_rec, sk, 0, (targ_cfg.flags & HB_POL_F_FORCE) ?
						 BPF_SK_STORAGE_GET_F_CREATE : 0);
	if (rec)
		o.app = rec->app;
	if (targ_cfg.mask & HB_POL_SET_KEEPALIVE)
		bpf_getsockopt(skops, SOL_SOCKET, SO_KEEPALIVE, &ka, sizeof(ka));
	apply(skops, tp, ka != 0, sockops_idle(skops, op), &o);
	record(rec, &o);
	if (!listener)
		account(st, &o);
	else if (st && !o.err && o.set)
		inc(&st->listeners);
}

SEC("sockops")
int sockops_policy(struct bpf_sock_ops *skops)
{
	struct hb_pol_stats *st;
	__u32 op = skops->op;
	bool local, listener;

	/* The callbacks that run for every socket anyway, no cb_flags needed: a listener (its
	 * accepted sockets inherit what it has, as under the shim), and each connection once
	 * established, as a client or as accepted. Everything else returns at once. */
	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_TCP_LISTEN_CB)
		return 1;
	listener = op == BPF_SOCK_OPS_TCP_LISTEN_CB;
	local = op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB;
	st = get_stats();
	if (st && !listener)
		inc(&st->seen);
	if (skops->reply == HB_POL_REPLY_MARK) {
		/* a policy of a cgroup further down ran first and decided */
		if (st && !listener)
			inc(&st->skipped_inner);
		return 1;
	}
	/* keeps clang from storing through a ctx + offset pointer, which the verifier refuses */
	asm volatile("" : "+r"(skops));
	skops->reply = HB_POL_REPLY_MARK;

	if (!sockops_match(skops, local))
		return 1;
	if (st && !listener)
		inc(&st->matched);
	sockops_apply(skops, op, listener, st);
	return 1;
}

/* The HB_POL_SET_* bit of a socket option, 0 for any other. */
static __always_inline __u32 opt_bit(int level, int opt)
{
	if (level == SOL_SOCKET)
		return opt == SO_KEEPALIVE ? HB_POL_SET_KEEPALIVE : 0;
	if (level != SOL_TCP)
		return 0;
	switch (opt) {
	case TCP_KEEPIDLE:	return HB_POL_SET_IDLE;
	case TCP_KEEPINTVL:	return HB_POL_SET_INTVL;
	case TCP_KEEPCNT:	return HB_POL_SET_CNT;
	case TCP_USER_TIMEOUT:	return HB_POL_SET_UTO;
	default:		return 0;
	}
}

/* Whether the kernel accepts val for the option (do_tcp_setsockopt()'s ranges): a call it
 * refuses changes nothing and is no choice of the program's. */
static __always_inline bool opt_valid(__u32 bit, int val)
{
	switch (bit) {
	case HB_POL_SET_IDLE:
	case HB_POL_SET_INTVL:	return val >= 1 && val <= 32767;
	case HB_POL_SET_CNT:	return val >= 1 && val <= 127;
	case HB_POL_SET_UTO:	return val >= 0;
	default:		return true;
	}
}

/* The policy's value of the option (bit in targ_cfg.mask). */
static __always_inline int opt_policy_val(__u32 bit)
{
	switch (bit) {
	case HB_POL_SET_IDLE:	return targ_cfg.idle_s;
	case HB_POL_SET_INTVL:	return targ_cfg.intvl_s;
	case HB_POL_SET_CNT:	return targ_cfg.cnt;
	case HB_POL_SET_UTO:	return targ_cfg.user_timeout_ms;
	default:		return 1;	/* SO_KEEPALIVE on */
	}
}

SEC("cgroup/setsockopt")
int setsockopt_policy(struct bpf_sockopt *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct hb_pol_sk *rec;
	int *p, val;
	bool big;
	__u32 bit;

	/* A value larger than a page reaches the program cut short (its first page): optlen 0
	 * tells the kernel to use the caller's own buffer, whatever the program does (kernels
	 * before 6.5 fail the call with EFAULT otherwise, iptables' large replacements among
	 * them). The int at its start is still what the kernel reads, so it is recorded; only
	 * --force cannot replace it. */
	big = ctx->optlen > 4096;
	if (big)
		ctx->optlen = 0;
	bit = opt_bit(ctx->level, ctx->optname);
	if (!bit || !sk || (!big && ctx->optlen < (int)sizeof(int)))
		return 1;
	if (sk->type != SOCK_STREAM || sk->protocol != IPPROTO_TCP ||
	    (sk->family != AF_INET && sk->family != AF_INET6))
		return 1;
	p = ctx->optval;
	if ((void *)(p + 1) > ctx->optval_end)
		return 1;
	val = *p;
	if (!opt_valid(bit, val))
		return 1;
	rec = bpf_sk_storage_get(&sk_rec, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!rec)
		return 1;
	if ((rec->flags & HB_POL_SK_DECIDED) && (targ_cfg.flags & HB_POL_F_FORCE) &&
	    (targ_cfg.mask & bit) && !big) {
		/* forced: the kernel gets the policy's value instead of the program's */
		*p = opt_policy_val(bit);
		return 1;
	}
	rec->app |= bit;
	rec->pol &= ~bit;
	return 1;
}

/* Whether cgrp is the policy's cgroup or one below it. */
static __always_inline bool in_cgroup(struct cgroup *cgrp)
{
	__u32 level = targ_cfg.cgroup_level;
	struct cgroup___ids *ids = (void *)cgrp;
	struct cgroup *anc = NULL;
	__u64 id = 0;

	if (!cgrp || BPF_CORE_READ(cgrp, level) < (int)level)
		return false;
	if (bpf_core_field_exists(cgrp->ancestors)) {
		bpf_core_read(&anc, sizeof(anc), &cgrp->ancestors[level]);
		if (!anc)
			return false;
		id = BPF_CORE_READ(anc, kn, id);
	} else {
		bpf_core_read(&id, sizeof(id), &ids->ancestor_ids[level]);
	}
	return id == targ_cfg.cgroup_id;
}

SEC("iter/tcp")
int iter_tcp_retrofit(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct hb_pol_stats *st;
	struct hb_pol_sk *rec;
	struct tcp_sock *tp;
	struct sock *sk;
	struct outcome o = {};
	__u32 a[4] = {};
	bool passive, ka;
	__u16 port;

	if (!skc || skc->skc_state != 1 /* TCP_ESTABLISHED */)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	sk = &tp->inet_conn.icsk_inet.sk;
	if (!in_cgroup(sk->sk_cgrp_data.cgroup))
		return 0;
	/* Without the ESTABLISHED callback to tell, an accepted socket is recognised by the
	 * SOCK_BINDPORT_LOCK it inherits from its listener's bind(); a connected socket has an
	 * automatic port (unless its owner bound one: then its local address is matched). */
	passive = sk->sk_userlocks & SOCK_BINDPORT_LOCK;
	st = get_stats();
	if (targ_cfg.flags & HB_POL_F_MATCH) {
		if (skc->skc_family == AF_INET) {
			a[0] = passive ? skc->skc_rcv_saddr : skc->skc_daddr;
		} else if (skc->skc_family == AF_INET6) {
			if (passive) {
				a[0] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[0];
				a[1] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[1];
				a[2] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[2];
				a[3] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[3];
			} else {
				a[0] = skc->skc_v6_daddr.in6_u.u6_addr32[0];
				a[1] = skc->skc_v6_daddr.in6_u.u6_addr32[1];
				a[2] = skc->skc_v6_daddr.in6_u.u6_addr32[2];
				a[3] = skc->skc_v6_daddr.in6_u.u6_addr32[3];
			}
		} else {
			return 0;
		}
		port = passive ? skc->skc_num : bpf_ntohs(skc->skc_dport);
		if (!hb_pol_match(&targ_cfg, skc->skc_family, a, port))
			return 0;
	}
	ka = sk->__sk_common.skc_flags &
	     (1UL << bpf_core_enum_value(enum sock_flags, SOCK_KEEPOPEN));
	/* what the recorder saw of the program's own calls, and what the policy sets now */
	rec = bpf_sk_storage_get(&sk_rec, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (rec)
		o.app = rec->app;
	apply(tp, tp, ka, sk_idle(skc), &o);
	record(rec, &o);
	/* counted apart: these connections were seen by no ESTABLISHED callback of this
	 * policy, or by one of the policy it replaces (which counted them already) */
	if (!st)
		return 0;
	if (o.err) {
		inc(&st->failed);
		st->last_err = o.err;
	} else if (o.set) {
		inc(&st->retrofitted);
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
