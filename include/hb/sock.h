/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One live TCP socket as hbctl sees it, whichever back end filled it in (BPF iterators or
 * netlink sock_diag + pidfd_getfd). The back ends fill, the filters read, the printers print;
 * none of them knows the others.
 */
#ifndef HB_SOCK_H
#define HB_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hb/policy.h"	/* struct hb_sysctl */

#define HB_UNKNOWN	(-1)	/* a value the caller's privileges cannot read: JSON null, "?" */

struct hb_mon_conn;		/* hb/event.h */

enum hb_timer_kind {
	HB_TIMER_NONE,
	HB_TIMER_RETRANS,	/* retransmit (incl. TLP, RACK reorder) */
	HB_TIMER_KEEPALIVE,	/* keepalive (sk_timer) */
	HB_TIMER_PROBE,		/* zero-window probe */
	HB_TIMER_TIMEWAIT,
	HB_TIMER_OTHER,
};

/* Per-value origin of the keepalive configuration. */
enum hb_sock_src {
	HB_SOCK_SRC_UNKNOWN,
	HB_SOCK_SRC_SOCKET,		/* set on the socket (setsockopt, bpf_setsockopt, inherited) */
	HB_SOCK_SRC_SYSCTL,		/* socket field is 0: the namespace sysctl applies */
	HB_SOCK_SRC_PROGRAM,		/* the program set it itself (a kernel policy's record) */
	HB_SOCK_SRC_POLICY,		/* a kernel policy set it (its record) */
	HB_SOCK_SRC_PATH,		/* a kernel policy with --idle auto set it from the path table's
				 * entry hb_sock.path (hbctl ls prints "path DEST") */
};

struct hb_owner {
	int pid;
	int fd;
	char comm[16];
};

#define HB_SOCK_OWNERS_INLINE 2

struct hb_sock {
	uint8_t family;			/* AF_INET, AF_INET6 */
	uint8_t state;			/* TCP_ESTABLISHED ... (linux/tcp.h numbering) */
	uint16_t lport, rport;		/* host byte order */
	uint8_t laddr[16], raddr[16];	/* network byte order; v4 in the first 4 bytes */
	uint64_t inode;
	uint64_t cookie;		/* SO_COOKIE / sock_diag id.idiag_cookie */
	uint32_t uid;
	uint32_t ifindex;

	/* Effective keepalive configuration, HB_UNKNOWN where it cannot be read. */
	bool no_options;		/* time-wait or request socket: it has no options and no
					 * ages to read (the table prints "-", not "?") */
	int keepalive;			/* 0/1 */
	int keepidle_s, keepintvl_s, keepcnt, user_timeout_ms;
	uint8_t src_idle, src_intvl, src_cnt, src_uto;	/* enum hb_sock_src */
	uint8_t src_ka;			/* SO_KEEPALIVE's: only a policy's record knows */
	uint16_t path;			/* the path table's entry covering the peer: 1 + its
					 * index in the table hbctl ls loaded; 0: none */

	/* Pending timer. */
	uint8_t timer;			/* enum hb_timer_kind */
	uint8_t probes;			/* keepalive probes / retransmits outstanding */
	int64_t timer_expires_ms;	/* time left; may be negative when overdue */

	/* Ages in ms, HB_UNKNOWN when unknown. */
	int64_t last_send_ms, last_recv_ms, last_ack_ms, idle_ms;

	/* Counters of a running `hbctl monitor` (cli/mon_ls.c), NULL without one. */
	const struct hb_mon_conn *mon;

	/* Owners (-p): all processes holding an fd to the socket. */
	unsigned int n_owners;
	struct hb_owner owner[HB_SOCK_OWNERS_INLINE];
	struct hb_owner *more_owners;	/* n_owners > HB_SOCK_OWNERS_INLINE: the rest (malloc'd) */
};

struct hb_sock_list {
	struct hb_sock *v;
	size_t n, cap;
	struct hb_sysctl sysctl;	/* the namespace's sysctls the effective values used */
	const char *backend;		/* "bpf-iter" or "sock_diag": shown by -v */
	void *mon_buf;			/* the records hb_sock.mon points into (freed with v) */
};

/* The list helpers both back ends fill it with (lib/sock.c: neutral ground, so that bpf/ and
 * cli/ each call down into lib/, never one into the other). */
/* Frees the records, their owners and the monitor records; l is empty after. */
void hb_sock_list_free(struct hb_sock_list *l);
/* Appends a zeroed record (all unknown values HB_UNKNOWN) and returns it, NULL on ENOMEM. */
struct hb_sock *hb_sock_list_add(struct hb_sock_list *l);
/* Adds an owner to s (inline slots, then more_owners). Returns 0 or -ENOMEM. */
int hb_sock_add_owner(struct hb_sock *s, int pid, int fd, const char *comm);

#endif /* HB_SOCK_H */
