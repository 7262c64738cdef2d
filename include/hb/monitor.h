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

/* bpffs directory under which monitors pin: monitor_PID (while running), monitor (--pin);
 * the root of hb/pins.h, which $HB_PIN_DIR overrides (functions, not constants) */
#include "hb/pins.h"
#define HB_MON_PIN_ROOT		hb_pin_root()
#define HB_MON_PIN_KEPT		hb_pin_monitor_dir()

struct hb_monitor_opts {
	const char *cgroup;	/* cgroup v2 directory (absolute path) */
	unsigned int netns;	/* network namespace inode to watch, 0: all */
	bool pin;		/* --pin: leave programs and maps pinned at HB_MON_PIN_KEPT */
	int verbose;		/* libbpf warnings on stderr with 1, debug with 2 */
};

struct hb_monitor;

/* Loads, attaches and pins; with opts->pin and a monitor already pinned at HB_MON_PIN_KEPT,
 * reads that one instead (nothing loaded or attached). Returns 0 or -errno, with a message
 * in err. */
int hb_monitor_open(const struct hb_monitor_opts *opts, struct hb_monitor **out, char *err,
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
