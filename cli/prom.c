// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl monitor's Prometheus side: the text exposition format (0.0.4, which node_exporter's
 * textfile collector reads too) and the atomic textfile writer. The HTTP endpoint that
 * serves it is prom_http.c.
 *
 * Labels are of low cardinality by default: cgroup on every series, comm and keepalive on
 * hbkeep_open_connections; per-connection series (local, peer, comm) only with --conns.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "cli.h"
#include "mon.h"
#include "file.h"
#include "out.h"

/* A label value: backslash, quote and newline escaped, bytes that are not UTF-8 as \\xNN. */
static void label(FILE *f, const char *name, const char *v, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	hb_fput_label(f, v);
	fputc('"', f);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const struct hb_mon_view *v, const char *name, unsigned long long val)
{
	fprintf(f, "%s{", name);
	label(f, "cgroup", v->cgroup, true);
	fprintf(f, "} %llu\n", val);
}

static const struct {
	int ctr;
	const char *name, *help;
} ctr_metric[] = {
	{ HB_MON_KA_SENT, "hbkeep_keepalive_probes_sent_total",
	  "TCP keepalive probes sent (the monitored share of TcpExtTCPKeepAlive)." },
	{ HB_MON_KA_RECV, "hbkeep_keepalive_probes_received_total", "TCP keepalive probes received." },
	{ HB_MON_KA_ACK_SENT, "hbkeep_keepalive_probe_acks_sent_total",
	  "ACKs sent in answer to received keepalive probes." },
	{ HB_MON_KA_ACK_RECV, "hbkeep_keepalive_probe_acks_received_total",
	  "ACKs received for keepalive probes sent." },
	{ HB_MON_KA_UNANSWERED, "hbkeep_keepalive_probes_unanswered_total",
	  "Keepalive probes with no answer before the next probe or the close." },
	{ HB_MON_ZWP_SENT, "hbkeep_zero_window_probes_sent_total", "TCP zero-window probes sent." },
	{ HB_MON_ZWP_RECV, "hbkeep_zero_window_probes_received_total",
	  "TCP zero-window probes received." },
};

static const char *const proto_label[HB_MON_NPROTO] = { "mqtt", "websocket", "http2" };

/* hbkeep_open_connections{comm,keepalive}: counted per (comm, on/off) with a small table. */
struct comm_count {
	char comm[16];
	unsigned long long n[2];
};

static void open_conns(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s)
{
	struct comm_count *cc;
	size_t n = 0, i, k;
	const char *comm;

	head(f, "hbkeep_open_connections", "gauge",
	     "Open TCP connections the monitor has seen, by owner command and keepalive.");
	cc = calloc(s->n_conns + 1, sizeof(*cc));
	if (!cc)
		return;
	for (i = 0; i < s->n_conns; i++) {
		comm = s->owner && s->owner[i].pid ? s->owner[i].comm : "";
		for (k = 0; k < n && strncmp(cc[k].comm, comm, sizeof(cc[k].comm)); k++)
			;
		if (k == n)
			snprintf(cc[n++].comm, sizeof(cc[k].comm), "%s", comm);
		cc[k].n[s->conns[i].keepalive ? 1 : 0]++;
	}
	if (!n)	/* a series even with none, so that dashboards see 0 */
		n = 1;
	for (k = 0; k < n; k++) {
		for (i = 0; i < 2; i++) {
			fputs("hbkeep_open_connections{", f);
			label(f, "cgroup", v->cgroup, true);
			label(f, "comm", cc[k].comm, false);
			label(f, "keepalive", i ? "on" : "off", false);
			fprintf(f, "} %llu\n", cc[k].n[i]);
		}
	}
	free(cc);
}

static void conn_series(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s)
{
	static const struct { int ctr; const char *name; } cm[] = {
		{ HB_MON_KA_SENT, "hbkeep_connection_keepalive_probes_sent_total" },
		{ HB_MON_KA_RECV, "hbkeep_connection_keepalive_probes_received_total" },
		{ HB_MON_KA_UNANSWERED, "hbkeep_connection_keepalive_probes_unanswered_total" },
	};
	char l[64], r[64];
	unsigned long long since;
	size_t i, k;

	for (k = 0; k <= sizeof(cm) / sizeof(cm[0]); k++) {
		if (k < sizeof(cm) / sizeof(cm[0]))
			head(f, cm[k].name, "counter", "Per connection (--conns).");
		else
			head(f, "hbkeep_connection_idle_seconds", "gauge",
			     "Time since the connection's last data segment (--conns).");
		for (i = 0; i < s->n_conns; i++) {
			const struct hb_mon_conn *c = &s->conns[i];

			hb_fmt_addr(l, sizeof(l), c->family, c->laddr, c->lport, false);
			hb_fmt_addr(r, sizeof(r), c->family, c->raddr, c->rport, false);
			fprintf(f, "%s{", k < sizeof(cm) / sizeof(cm[0]) ? cm[k].name :
				"hbkeep_connection_idle_seconds");
			label(f, "cgroup", v->cgroup, true);
			label(f, "local", l, false);
			label(f, "peer", r, false);
			label(f, "comm", s->owner && s->owner[i].pid ? s->owner[i].comm : "", false);
			if (k < sizeof(cm) / sizeof(cm[0])) {
				fprintf(f, "} %llu\n", (unsigned long long)c->c[cm[k].ctr]);
			} else {
				since = c->last_data_ns ? c->last_data_ns : c->created_ns;
				fprintf(f, "} %.3f\n", c->now_ns > since ?
					(double)(c->now_ns - since) / 1e9 : 0.0);
			}
		}
	}
}

void hb_prom_render(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s)
{
	const struct hb_mon_totals *t = &s->total;
	unsigned long long cum = 0, le;
	size_t i;
	int p, k, d;

	for (i = 0; i < sizeof(ctr_metric) / sizeof(ctr_metric[0]); i++) {
		head(f, ctr_metric[i].name, "counter", ctr_metric[i].help);
		sample(f, v, ctr_metric[i].name, t->c[ctr_metric[i].ctr]);
	}
	head(f, "hbkeep_app_heartbeats_total", "counter",
	     "Application heartbeats (MQTT PINGREQ/PINGRESP, WebSocket ping/pong, HTTP/2 PING) "
	     "in plaintext segments.");
	for (p = 0; p < HB_MON_NPROTO; p++)
		for (k = 0; k < HB_MON_NKIND; k++)
			for (d = 0; d < HB_MON_NDIR; d++) {
				fputs("hbkeep_app_heartbeats_total{", f);
				label(f, "cgroup", v->cgroup, true);
				label(f, "protocol", proto_label[p], false);
				label(f, "kind", k == HB_MON_PING ? "ping" : "pong", false);
				label(f, "direction", d == HB_MON_SENT ? "sent" : "received", false);
				fprintf(f, "} %llu\n", (unsigned long long)t->app[p][k][d]);
			}
	head(f, "hbkeep_idle_gap_seconds", "histogram",
	     "Gaps between consecutive data segments of a connection (1 ms or more), recorded "
	     "when data resumes.");
	for (i = 0; i < HB_MON_HIST_N; i++) {
		cum += t->hist[i];
		le = hb_mon_bucket_le_ms((unsigned int)i);
		fputs("hbkeep_idle_gap_seconds_bucket{", f);
		label(f, "cgroup", v->cgroup, true);
		if (le)
			fprintf(f, ",le=\"%g\"} %llu\n", (double)le / 1000.0, cum);
		else
			fprintf(f, ",le=\"+Inf\"} %llu\n", cum);
	}
	sample(f, v, "hbkeep_idle_gap_seconds_count", cum);
	fputs("hbkeep_idle_gap_seconds_sum{", f);
	label(f, "cgroup", v->cgroup, true);
	fprintf(f, "} %.3f\n", (double)t->gap_sum_ms / 1000.0);
	if (!v->no_closes)	/* unavailable on this kernel: no series rather than zeros */
		head(f, "hbkeep_connections_closed_total", "counter", "Connections closed, by cause.");
	for (k = 0; k < HB_MON_NCAUSE && !v->no_closes; k++) {
		fputs("hbkeep_connections_closed_total{", f);
		label(f, "cgroup", v->cgroup, true);
		label(f, "cause", hb_mon_cause_name((unsigned int)k), false);
		fprintf(f, "} %llu\n", (unsigned long long)t->closed[k]);
	}
	if (v->peers)
		hb_mon_peers_prom(f, v, s);
	if (s->have_conns) {
		open_conns(f, v, s);
		if (v->conns)
			conn_series(f, v, s);
	}
}

int hb_prom_textfile(const char *path, const char *body, size_t len)
{
	/* 0644: node_exporter reads it as its own user */
	return hb_write_file_atomic(path, body, len, 0644);
}
