/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hbctl monitor's loader (bpf/monitor.c), as the CLI sees it: no libbpf types. The loader
 * loads bpf/hbmon.bpf.c, attaches its cgroup_skb programs to one cgroup and its tp_btf
 * programs, pins the SK_STORAGE map and an iterator over it (so that `hbctl ls` can show
 * each socket's counters), and hands out snapshots: totals, open connections, close events.
 */
#ifndef HB_MONITOR_H
#define HB_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include "hb/event.h"

/* Monitors pin under hb_pin_root() (hb/pins.h; $HB_PIN_DIR overrides it): monitor_PID while
 * running, hb_pin_monitor_dir() with --pin. */
#include "hb/pins.h"

struct hb_monitor_opts {
	const char *cgroup;	/* cgroup v2 directory (absolute path) */
	unsigned int netns;	/* network namespace inode to watch, 0: all */
	bool pin;		/* --pin: leave programs and maps pinned at hb_pin_monitor_dir() */
};

/* What the monitor can do on this kernel: each feature runs on the programs it needs, on a
 * fallback, or not at all (the rest runs anyway). */
enum hb_mon_feat_id {
	HB_MON_FEAT_COUNT,	/* counters, histograms, heartbeats: cgroup_skb (essential) */
	HB_MON_FEAT_CLOSES,	/* close causes: tp_btf, else raw_tp (no per-connection counters) */
	HB_MON_FEAT_CONNS,	/* per-connection rows: iter/bpf_sk_storage_map, else iter/tcp */
	HB_MON_FEAT_PEERS,	/* per-peer client connections: the set_state program, tp_btf
				 * or raw_tp (the same counts) */
	HB_MON_NFEAT,
};
enum hb_feat_state { HB_FEAT_OK, HB_FEAT_DEGRADED, HB_FEAT_MISSING };
struct hb_mon_feat {
	int state;		/* enum hb_feat_state */
	char via[64];		/* the program kind in use ("" when missing) */
	char why[320];		/* degraded or missing: why, and what runs instead */
};
extern const char *const hb_mon_feat_name[HB_MON_NFEAT];

struct hb_monitor;

/* Loads, attaches and pins; with opts->pin and a monitor already pinned at hb_pin_monitor_dir(),
 * reads that one instead (nothing loaded or attached). Returns 0 or -errno, with a message
 * in err: -EUCLEAN when that pinned monitor is incomplete (hb_monitor_unpin() removes it). */
int hb_monitor_open(const struct hb_monitor_opts *opts, struct hb_monitor **out, char *err,
		    size_t errlen);
/* The features of an open monitor (HB_MON_NFEAT entries). */
const struct hb_mon_feat *hb_monitor_features(const struct hb_monitor *m);
/* For hbctl doctor: loads (and unloads) the monitor's programs as hb_monitor_open() would,
 * attaching nothing, and fills f. Returns 0, or -errno with a message when the monitor
 * cannot count at all. */
int hb_monitor_probe(unsigned int netns, struct hb_mon_feat f[HB_MON_NFEAT], char *err,
		     size_t errlen);
/* Detaches everything and removes its pins (except with --pin). NULL is fine. */
void hb_monitor_close(struct hb_monitor *m);
/* Whether hb_monitor_open() found a pinned monitor and reads it. */
bool hb_monitor_reused(const struct hb_monitor *m);
/* Where the SK_STORAGE map and the iterator are pinned. */
const char *hb_monitor_pin_dir(const struct hb_monitor *m);

/* The totals, added up over the CPUs. Returns 0 or -errno. */
int hb_monitor_totals(struct hb_monitor *m, struct hb_mon_totals *t);
/* The open connections (malloc'd array in *v, free() it). Returns 0 or -errno. */
int hb_monitor_conns(struct hb_monitor *m, struct hb_mon_conn **v, size_t *n);
/* One peer's counters (event.h: struct hb_mon_peer). */
struct hb_mon_peer_row {
	struct hb_mon_peer_key k;
	struct hb_mon_peer v;
};
/* Every peer in the monitor's LRU map (at most HB_MON_PEERS_MAX; malloc'd array in *v, free()
 * it). -EOPNOTSUPP when the feature is missing. Returns 0 or -errno. */
int hb_monitor_peers(struct hb_monitor *m, struct hb_mon_peer_row **v, size_t *n);
/* An fd that poll() reports readable when close events wait. */
int hb_monitor_poll_fd(struct hb_monitor *m);
/* Passes each waiting close event to fn. Returns the number consumed or -errno. */
int hb_monitor_consume(struct hb_monitor *m,
		       void (*fn)(const struct hb_mon_close *e, void *ctx), void *ctx);
/* CLOCK_MONOTONIC in ns: the clock of every *_ns field. */
unsigned long long hb_monitor_now_ns(void);

/* Removes a monitor left pinned by --pin (detaching it). Returns 0, -ENOENT if there is
 * none, or -errno. */
int hb_monitor_unpin(void);

/* For hbctl ls: the connections of every running monitor, read through their pinned
 * iterators (plain open/read, no BPF loading). *n = 0 when no monitor runs. Returns 0 or
 * -errno. */
int hb_monitor_pinned_conns(struct hb_mon_conn **v, size_t *n);

#endif /* HB_MONITOR_H */
