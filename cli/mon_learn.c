// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl monitor --learn: passive evidence into the path table (include/hb/paths.h,
 * hb_paths_evidence), from the close events of the monitored connections:
 *
 *   closed normally (FIN handshake)       every silence it had was survived: survived >= the
 *                                         connection's longest idle gap
 *   retransmission timeout                failed right after a silence: dropped <= the last
 *                                         idle gap (the silence before the data that went
 *                                         unanswered)
 *   keepalive timeout                     the first unanswered probe left after the idle time,
 *                                         less than the silence at death: dropped <= that
 *   reset received within 2 s of the      dropped <= the last idle gap (a NAT or firewall
 *   data that ended a silence             that answers a forgotten flow with RST)
 *
 * The entry is the peer's address (no port, a host prefix). Evidence is collected per interval
 * and written once per interval (hb_paths_update: locked, atomic), then the kernel policies'
 * map follows (--idle auto). Gaps come from the cgroup_skb programs' per-connection state, so
 * the raw_tp fallback's close events (no counters) give no evidence.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "mon.h"
#include "hb/paths.h"
#include "hb/policy_loader.h"

#define LEARN_MAX	1024	/* evidence kept per interval (more waits for none: dropped) */

struct ev {
	struct hb_pattern dest;
	enum hb_path_evidence kind;
	long long gap_ms;
};

struct hb_mon_learn {
	const char *file;
	struct ev ev[LEARN_MAX];
	unsigned int n;
	unsigned long long written;	/* entries changed, in all */
};

struct hb_mon_learn *hb_mon_learn_new(void)
{
	struct hb_mon_learn *l = calloc(1, sizeof(*l));

	if (l)
		l->file = hb_paths_file(NULL);
	return l;
}

void hb_mon_learn_free(struct hb_mon_learn *l)
{
	free(l);
}

const char *hb_mon_learn_file(const struct hb_mon_learn *l)
{
	return l->file;
}

void hb_mon_learn_note(struct hb_mon_learn *l, const struct hb_mon_close *e)
{
	struct ev v;
	unsigned long long g;

	memset(&v, 0, sizeof(v));
	switch (e->cause) {
	case HB_MON_CLOSE_NORMAL:
		v.kind = HB_PATH_EV_SURVIVED;
		g = e->max_gap_ns;
		break;
	case HB_MON_CLOSE_RETRANS:
		v.kind = HB_PATH_EV_DROPPED;
		g = e->last_gap_ns;
		break;
	case HB_MON_CLOSE_KEEPALIVE:
		v.kind = HB_PATH_EV_DROPPED;
		g = e->idle_ns;
		break;
	case HB_MON_CLOSE_RESET_RECV:
		if (e->idle_ns > 2000000000ULL)
			return;
		v.kind = HB_PATH_EV_DROPPED;
		g = e->last_gap_ns;
		break;
	default:
		return;
	}
	v.gap_ms = (long long)(g / 1000000ULL);
	if (v.gap_ms < HB_PATHS_EVIDENCE_MIN_MS || l->n >= LEARN_MAX)
		return;
	v.dest.family = e->family;
	v.dest.prefix = e->family == AF_INET ? 32 : 128;
	memcpy(v.dest.addr, e->raddr, e->family == AF_INET ? 4 : 16);
	l->ev[l->n++] = v;
}

static int apply(struct hb_paths *t, void *arg)
{
	struct hb_mon_learn *l = arg;
	long long now = (long long)time(NULL);
	unsigned int i, changed = 0;
	int rc;

	for (i = 0; i < l->n; i++) {
		rc = hb_paths_evidence(t, &l->ev[i].dest, l->ev[i].kind, l->ev[i].gap_ms, now);
		if (rc < 0)
			return rc;
		changed += (unsigned int)rc;
	}
	l->written += changed;
	return changed ? 0 : 1;	/* 1: nothing to write */
}

int hb_mon_learn_flush(struct hb_cli_opts *o, struct hb_mon_learn *l)
{
	char err[HB_ERR_LEN];
	struct hb_paths t;
	int rc;

	if (!l->n)
		return 0;
	rc = hb_paths_update(l->file, apply, l, err, sizeof(err));
	l->n = 0;
	if (rc == 1)
		return 0;
	if (rc) {
		hb_err(o, "--learn: %s", rc == -E2BIG ? "the path table is full" : err);
		return rc;
	}
	hb_paths_init(&t);
	if (hb_paths_load(l->file, &t, err, sizeof(err)) == 0 &&
	    hb_paths_map_sync(&t, err, sizeof(err)) < 0)
		hb_err(o, "--learn: the table is written, but the kernel policies' map is not: %s",
		       err);
	hb_paths_free(&t);
	return 0;
}
