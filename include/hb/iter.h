/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The ABI between the BPF iterators (bpf/iter.bpf.c) and their loader (bpf/iter.c): records
 * written with bpf_seq_write() and read from the iterator fd, and the knobs the loader sets.
 * Fixed-width types only, no pointers, padding written out (STYLE.md §1), so the BPF and the
 * host compiler lay them out the same way; iter_rec.c and iter.c assert the sizes.
 *
 * Raw kernel values travel unconverted (jiffies, 0 = "the sysctl"); iter_rec.c turns them into
 * struct hb_sock (milliseconds, effective values, sources), so the BPF side stays small.
 */
#ifndef HB_ITER_H
#define HB_ITER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* hb_iter_sock.kind: which of the three socket shapes iter/tcp handed over */
enum hb_iter_kind {
	HB_ITER_FULL = 1,	/* struct tcp_sock: everything below is valid */
	HB_ITER_TIMEWAIT = 2,	/* struct tcp_timewait_sock: addresses, state, timer */
	HB_ITER_REQUEST = 3,	/* struct tcp_request_sock: addresses, uid, timer */
};

/* hb_iter_sock.flags */
#define HB_ITER_F_KEEPOPEN	0x01	/* SOCK_KEEPOPEN in sk_flags (SO_KEEPALIVE on) */

/* hb_iter_sock.timer: the same numbering as enum hb_timer_kind (sock.h) */
#define HB_ITER_TIMER_NONE	0
#define HB_ITER_TIMER_RETRANS	1
#define HB_ITER_TIMER_KEEPALIVE	2
#define HB_ITER_TIMER_PROBE	3
#define HB_ITER_TIMER_TIMEWAIT	4

/* One socket from the iter/tcp program. */
struct hb_iter_sock {
	__u64 cookie;		/* bpf_get_socket_cookie(): SO_COOKIE / idiag_cookie */
	__u64 inode;		/* sock_i_ino(), 0 without a struct socket */
	__u64 now;		/* bpf_jiffies64() when this socket was read */
	__u64 timer_expires;	/* jiffies (64-bit) when the pending timer fires */
	__u8 laddr[16];		/* network byte order; IPv4 in the first 4 bytes */
	__u8 raddr[16];
	__u32 uid;		/* as the iterator reports it (the listener's for requests) */
	__u32 ifindex;		/* sk_bound_dev_if */
	__u16 lport, rport;	/* host byte order */
	__u8 family;		/* AF_INET, AF_INET6 */
	__u8 state;		/* TCP_* as sock_diag reports it (time-wait substate, SYN_RECV) */
	__u8 kind;		/* enum hb_iter_kind */
	__u8 flags;		/* HB_ITER_F_* */
	__u8 timer;		/* HB_ITER_TIMER_* */
	__u8 probes;		/* probes_out (keepalive, zero window) or retransmits */
	__u8 ka_probes;		/* tcp_sock.keepalive_probes, 0: the sysctl */
	__u8 sys_ka_probes;	/* net.ipv4.tcp_keepalive_probes of the socket's netns */
	__u32 hz;		/* CONFIG_HZ as libbpf found it, 0: unknown */
	__u32 ka_time;		/* tcp_sock.keepalive_time, jiffies, 0: the sysctl */
	__u32 ka_intvl;		/* tcp_sock.keepalive_intvl, jiffies, 0: the sysctl */
	__u32 sys_ka_time;	/* net.ipv4.tcp_keepalive_time, jiffies */
	__u32 sys_ka_intvl;	/* net.ipv4.tcp_keepalive_intvl, jiffies */
	__u32 user_timeout;	/* icsk_user_timeout, ms, 0: unset */
	__u32 lsndtime;		/* tcp_jiffies32 of the last data sent */
	__u32 lrcvtime;		/* icsk_ack.lrcvtime: last data received */
	__u32 rcv_tstamp;	/* last ACK received (keepalive probe ACKs refresh only this) */
};
#define HB_ITER_SOCK_SIZE	120

/* One socket file descriptor from the iter/task_file program. */
struct hb_iter_file {
	__u64 inode;
	__u32 pid;		/* tgid */
	__u32 fd;
	char comm[16];		/* the thread group leader's comm */
};
#define HB_ITER_FILE_SIZE	32

/* Bits of hb_iter_set_cfg.mask and hb_iter_set_rec.failed: HB_BIT(HB_V_*) of policy.h, which
 * the BPF side cannot include (iter.c asserts that they agree). */
#define HB_ITER_SET_KEEPALIVE	0x01	/* SO_KEEPALIVE */
#define HB_ITER_SET_IDLE	0x02	/* TCP_KEEPIDLE, s */
#define HB_ITER_SET_INTVL	0x04	/* TCP_KEEPINTVL, s */
#define HB_ITER_SET_CNT		0x08	/* TCP_KEEPCNT */
#define HB_ITER_SET_UTO		0x10	/* TCP_USER_TIMEOUT, ms */

/* Cookies per run of the set program (the cookie map's size; more take several runs). */
#define HB_ITER_SET_CHUNK	131072

/* What the set program applies (the values whose bit is in mask). */
struct hb_iter_set_cfg {
	__u32 mask;
	__s32 keepalive;
	__s32 idle_s;
	__s32 intvl_s;
	__s32 cnt;
	__s32 user_timeout_ms;
};

/* The set program's outcome per cookie: the value of the cookie map, zero when filled in. The
 * program writes it, the loader reads it back (no seq output: a record lost to a full seq
 * buffer would make the iterator show the socket again, and the outcome would be lost). */
struct hb_iter_set_res {
	__u32 done;		/* 1: the socket was met and the options tried */
	__s32 err;		/* 0, or the first -errno bpf_setsockopt() returned */
	__u32 failed;		/* HB_ITER_SET_* of the values that failed, 0 if none */
	__u32 pad;
};
#define HB_ITER_SET_RES_SIZE	16

#endif /* HB_ITER_H */
