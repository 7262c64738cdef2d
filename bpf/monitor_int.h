/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Inside hbctl monitor's loader: struct hb_monitor and the program groups, shared by
 * bpf/monitor.c (loading, attaching, pins) and bpf/monitor_conns.c (reading the
 * per-connection iterators). Not part of monitor.h's API.
 */
#ifndef HB_MONITOR_INT_H
#define HB_MONITOR_INT_H

#include <stdbool.h>
#include "hb/monitor.h"

struct hbmon_bpf;
struct bpf_link;
struct ring_buffer;

/* The links, in this order, both as skeleton programs and as pin names under --pin. */
enum { L_EGRESS, L_INGRESS, L_TP, L_ITER = L_TP + 6, NLINKS };

struct hb_monitor {
	struct hbmon_bpf *skel;		/* NULL when reading a pinned monitor */
	struct bpf_link *link[NLINKS];
	int totals_fd, events_fd, iter_fd;	/* maps and iterator link in use */
	int own_fds[4];			/* fds opened from pins (reused mode), -1 if none */
	int peers_fd;			/* the peers map, -1 if none */
	struct ring_buffer *rb;
	void (*fn)(const struct hb_mon_close *, void *);
	void *fn_ctx;
	int ncpu;
	bool pin, reused;
	unsigned int groups;		/* G_* loaded */
	struct hb_mon_feat feat[HB_MON_NFEAT];
	char dir[128];
	char cgroup[4096];		/* the monitored cgroup's directory */
	bool all_netns;			/* no --netns: every namespace counts */
};

/* The program groups, probed apart: only G_CGSKB is essential. */
enum {
	G_CGSKB = 1,		/* cgskb_egress, cgskb_ingress: every counter and histogram */
	G_TP = 2,		/* the six tp_btf programs: close causes */
	G_ITER_MAP = 4,		/* iter_conns: per-connection rows, every namespace */
	G_ITER_TCP = 8,		/* iter_conns_tcp: the fallback, the reader's namespace */
	G_RAWTP = 16,		/* the six raw_tp twins: close causes where tp_btf is refused */
};

#endif /* HB_MONITOR_INT_H */
