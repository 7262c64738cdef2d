/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The kernel-enforced policy per cgroup: the ABI between the sock_ops program
 * (bpf/policy.bpf.c) and its loader (bpf/policy.c): the layouts both sides read, and nothing
 * else. The decision both sides run is hb/policy_match.h; the loader's interface for hbctl is
 * hb/policy_loader.h; the cgroup API is hb/cgroup.h.
 *
 * ABI rules (STYLE.md 1): fixed-width types only, no pointers, padding written out, sizes
 * asserted on the user side. The policy itself travels as load-time rodata (targ_cfg), so a
 * replacement is a new program swapped in with bpf_link_update(): atomic for every socket.
 * The counters and the metadata live in maps pinned beside the link, reused by a
 * replacement:
 *
 *   /sys/fs/bpf/hbkeep/policy/<id>/link    the cgroup sock_ops BPF link (its pin keeps it
 *                                          attached)
 *   /sys/fs/bpf/hbkeep/policy/<id>/stats   per-CPU counters, struct hb_pol_stats
 *   /sys/fs/bpf/hbkeep/policy/<id>/meta    one struct hb_pol_meta: what `policy ls` shows
 *   /sys/fs/bpf/hbkeep/policy/<id>/sk      SK_STORAGE, struct hb_pol_sk per socket: who set
 *                                          each value
 *   /sys/fs/bpf/hbkeep/policy/<id>/sockopt_link  the cgroup setsockopt BPF link that records
 *                                          the program's own choices (absent where the
 *                                          kernel refused it)
 * (hb/pins.h: the root is $HB_PIN_DIR when set)
 *
 * <id> is the cgroup's id (its inode number on cgroup2, what bpftool calls the cgroup id), so
 * one cgroup has at most one hbkeep policy and a second `policy add` finds the first.
 */
#ifndef HB_POLICY_BPF_H
#define HB_POLICY_BPF_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#include <stdbool.h>
#endif

#define HB_POL_MATCH_MAX	32	/* = HB_MATCH_MAX (policy.c asserts it) */
#define HB_POL_META_VERSION	1

/* hb_pol_cfg.mask: the values the policy sets (HB_BIT(HB_V_*) of policy.h, asserted). */
#define HB_POL_SET_KEEPALIVE	0x01	/* SO_KEEPALIVE = 1 */
#define HB_POL_SET_IDLE		0x02	/* TCP_KEEPIDLE, s */
#define HB_POL_SET_INTVL	0x04	/* TCP_KEEPINTVL, s */
#define HB_POL_SET_CNT		0x08	/* TCP_KEEPCNT */
#define HB_POL_SET_UTO		0x10	/* TCP_USER_TIMEOUT, ms */

/* hb_pol_cfg.flags */
#define HB_POL_F_FORCE		0x01	/* override what the socket's owner set itself */
#define HB_POL_F_MATCH		0x02	/* a match list was given (n may still be 0: never) */
#define HB_POL_F_IDLE_AUTO	0x04	/* --idle auto: the idle from the paths map (idle_s is
					 * --idle-default, idle_max_s --idle-max) */

/* hb_pol_meta.flags */
#define HB_POL_M_TRANSIENT	0x01	/* made by `hbctl run --kernel`, cgroup included */

/*
 * sock_ops programs of a cgroup and its ancestors all run for one socket, the innermost
 * cgroup's first, on one shared context. The first hbkeep policy to run writes this into
 * skops->reply (ignored by the kernel for the ESTABLISHED callbacks), and the policies of
 * ancestor cgroups then leave the socket alone: the most specific policy decides.
 */
#define HB_POL_REPLY_MARK	0x68626b70u	/* "hbkp" */

/*
 * One match pattern, compiled from struct hb_pattern: the address as four 32-bit words in
 * network byte order with a mask per word, so that the program compares words, not bits.
 * IPv4 patterns use word 0 only.
 */
struct hb_pol_pat {
	__u32 addr[4];		/* network byte order, bits beyond the prefix zero */
	__u32 mask[4];		/* network byte order */
	__u16 port;		/* host byte order, 0: any port */
	__u8 family;		/* 0 (port only), AF_INET (2), AF_INET6 (10) */
	__u8 exclude;		/* 1: a "!" pattern */
};
#define HB_POL_PAT_SIZE		36

/* The policy, as the program reads it from rodata. */
struct hb_pol_cfg {
	__u32 mask;		/* HB_POL_SET_* */
	__u32 flags;		/* HB_POL_F_* */
	__s32 idle_s;
	__s32 intvl_s;
	__s32 cnt;
	__s32 user_timeout_ms;
	__u32 n;		/* patterns in pat[] */
	__u32 n_include;	/* of which not excluded */
	struct hb_pol_pat pat[HB_POL_MATCH_MAX];
	__u64 cgroup_id;	/* the cgroup the policy is for (retrofit: sockets at or below it) */
	__u32 cgroup_level;	/* its depth below the cgroup v2 root (root = 0) */
	__u32 idle_max_s;	/* HB_POL_F_IDLE_AUTO: --idle-max (0 before it existed) */
};
#define HB_POL_CFG_SIZE		(32 + 36 * HB_POL_MATCH_MAX + 16)

/*
 * --idle auto: the table of path timeouts (include/hb/paths.h) as an LPM trie pinned at
 * ROOT/paths (hb_pin_paths(), hb/pins.h), shared by every policy with --idle auto and
 * kept in step by `hbctl paths add/rm/learn`. The key is the remote port (network byte
 * order; 0 for an entry without a port) followed by the IPv6 address (IPv4 as ::ffff:a.b.c.d),
 * the prefix length counting the port's 16 bits: the program looks up (port, address) first,
 * then (0, address), so an entry with a port beats one without, then the longest prefix wins,
 * as hb_paths_lookup() decides.
 */
#define HB_POL_PATHS_MAX	4096	/* = HB_PATHS_MAX */
struct hb_path_key {
	__u32 prefixlen;	/* 16 + address bits (IPv4: 16 + 96 + prefix) */
	__u8 data[20];		/* port (2), address (16), 2 bytes never matched */
};
#define HB_PATH_KEY_SIZE	24

struct hb_path_val {
	__u32 idle_s;		/* floor(0.8 x dropped), at least 1; 0: no drop known (--idle-max) */
	__u32 pad;
};
#define HB_PATH_VAL_SIZE	8

/*
 * Per socket, in the policy's SK_STORAGE map (cloned from a listener to the sockets it
 * accepts): which values the program set itself (recorded by the cgroup setsockopt program,
 * before or after connect) and which the policy set. Without --force the program's wins: the
 * ESTABLISHED callback leaves those values alone, and a later setsockopt() of the program
 * moves a value from pol to app; with --force the policy's value replaces the program's. ls
 * reads it through sock_diag (INET_DIAG_REQ_SK_BPF_STORAGES) to tell "program" from "policy".
 */
struct hb_pol_sk {
	__u32 app;		/* HB_POL_SET_* the program set itself */
	__u32 pol;		/* HB_POL_SET_* the policy set (now, or through a listener) */
	__u32 flags;		/* HB_POL_SK_* */
	__u32 pad;
};
#define HB_POL_SK_SIZE		16
#define HB_POL_SK_DECIDED	0x01	/* this policy matched the socket and applied itself */

/* Counters, per CPU in the map; user space sums them. Each counts connections. */
struct hb_pol_stats {
	__u64 seen;		/* established connections the program ran for */
	__u64 matched;		/* of which the match list selected (all, without a list) */
	__u64 applied;		/* matched, and it carries the policy's options (set now, or
				 * inherited from a listener the policy set up; values the owner
				 * set itself stay), none failing */
	__u64 kept;		/* matched, but the owner had set every value otherwise (no --force) */
	__u64 failed;		/* matched, and at least one bpf_setsockopt() failed */
	__u64 retrofitted;	/* existing connections changed by --retrofit (not in the above) */
	__u64 skipped_inner;	/* left to a policy on a cgroup further down */
	__s64 last_err;		/* the last -errno a bpf_setsockopt() returned */
	__u64 listeners;	/* listeners set up at listen() (their accepted sockets inherit) */
};
#define HB_POL_STATS_SIZE	72

#define HB_POL_CGROUP_LEN	1024
#define HB_POL_MATCH_LEN	2048

/* What `policy ls` shows; written by the loader only (the program never reads it). */
struct hb_pol_meta {
	__u32 version;		/* HB_POL_META_VERSION */
	__u32 flags;		/* HB_POL_M_* */
	__u64 cgroup_id;
	__u64 created_ns;	/* CLOCK_REALTIME of the first add */
	__u64 updated_ns;	/* CLOCK_REALTIME of the last add (replacement) */
	__u32 owner_pid;	/* transient: the hbctl that runs the command */
	__u32 pad;
	__u64 owner_start;	/* its start time (/proc/PID/stat field 22), against pid reuse */
	struct hb_pol_cfg cfg;
	char cgroup[HB_POL_CGROUP_LEN];	/* absolute path of the cgroup directory */
	char match[HB_POL_MATCH_LEN];	/* the match list, normalised, "" for none */
};
#define HB_POL_META_SIZE	(48 + HB_POL_CFG_SIZE + HB_POL_CGROUP_LEN + HB_POL_MATCH_LEN)

#endif /* HB_POLICY_BPF_H */
