// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl ls beside a running monitor: each socket's monitor counters, read through the
 * iterators the monitors pin (bpf/monitor.c: hb_monitor_pinned_conns, a plain open + read)
 * and joined to the listed sockets by cookie. Without a running monitor this costs one
 * failed opendir().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "out.h"
#include "mon.h"

static int by_cookie(const void *a, const void *b)
{
	const struct hb_mon_conn *x = a, *y = b;

	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

int hb_mon_attach(struct hb_sock_list *l)
{
	struct hb_mon_conn *v, key;
	size_t n, i, hits = 0;
	int rc;

	rc = hb_monitor_pinned_conns(&v, &n);
	if (rc)
		return rc;
	if (!n) {
		free(v);
		return 0;
	}
	qsort(v, n, sizeof(*v), by_cookie);
	for (i = 0; i < l->n; i++) {
		key.cookie = l->v[i].cookie;
		l->v[i].mon = key.cookie ? bsearch(&key, v, n, sizeof(*v), by_cookie) : NULL;
		hits += l->v[i].mon != NULL;
	}
	free(l->mon_buf);
	l->mon_buf = v;
	return (int)(hits > 0x7fffffff ? 0x7fffffff : hits);
}

char *hb_mon_put_cell(char *p, const struct hb_mon_conn *m)
{
	p = hb_put_u64(p, m->c[HB_MON_KA_SENT]);
	*p++ = '/';
	p = hb_put_u64(p, m->c[HB_MON_KA_RECV]);
	*p++ = '/';
	return hb_put_u64(p, m->c[HB_MON_KA_UNANSWERED]);
}

void hb_mon_json_sock(struct hb_out *out, const struct hb_mon_conn *m)
{
	static const char *const key[HB_MON_NCTR] = {
		"keepalive_probes_sent", "keepalive_probes_recv", "keepalive_acks_sent",
		"keepalive_acks_recv", "keepalive_probes_unanswered", "zero_window_probes",
		"zero_window_probes_recv", "app_heartbeats_sent", "app_heartbeats_recv",
	};
	unsigned long long since = m->last_data_ns ? m->last_data_ns : m->created_ns;
	char *p;
	int i;

	p = hb_out_reserve(out, 1000);
	p = HB_PUT(p, ",\"monitor\":{");
	for (i = 0; i < HB_MON_NCTR; i++) {
		if (i)
			*p++ = ',';
		*p++ = '"';
		memcpy(p, key[i], strlen(key[i]));
		p += strlen(key[i]);
		p = HB_PUT(p, "\":");
		p = hb_put_u64(p, m->c[i]);
	}
	p = HB_PUT(p, ",\"app_heartbeats\":{\"mqtt\":");
	p = hb_put_u64(p, m->app[HB_MON_MQTT]);
	p = HB_PUT(p, ",\"websocket\":");
	p = hb_put_u64(p, m->app[HB_MON_WS]);
	p = HB_PUT(p, ",\"http2\":");
	p = hb_put_u64(p, m->app[HB_MON_H2]);
	p = HB_PUT(p, "},\"idle_ms\":");
	p = hb_put_u64(p, m->now_ns > since ? (m->now_ns - since) / 1000000 : 0);
	p = HB_PUT(p, ",\"max_gap_ms\":");
	p = hb_put_u64(p, m->max_gap_ns / 1000000);
	p = HB_PUT(p, ",\"last_gap_ms\":");
	p = hb_put_u64(p, m->last_gap_ns / 1000000);
	*p++ = '}';
	hb_out_commit(out, p);
}
