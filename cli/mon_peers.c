// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl monitor --peers: the client connections (active opens) of the monitored cgroup per
 * peer address and port, from the monitor's per-peer map (bpf/hbmon.bpf.c peer_set_state):
 * how many were opened, their lifetime and bytes, and whether the peer is polled - many
 * short connections where one persistent connection with keepalive would do.
 *
 * Rules (README, hbctl(8)):
 *   opened per minute  opened / the time since the peer's first attempt (at least 1 s)
 *   median lifetime    from a log2 histogram of lifetimes in us (ESTABLISHED to CLOSE):
 *                      linear interpolation inside the bucket holding the median, so an
 *                      approximation within that bucket ([2^i, 2^(i+1)) us)
 *   polled             >= HB_MON_POLL_MIN_OPENED opened, >= HB_MON_POLL_MIN_PER_MIN per
 *                      minute and a median lifetime under HB_MON_POLL_MAX_LIFE_MS
 *   the cost           polling: per connection a three-way handshake and a four-way close,
 *                      7 packets; persistent: one connection and a keepalive probe with its
 *                      ACK every HB_MON_PERSIST_IDLE_S of silence, 2 packets
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mon.h"
#include "out.h"

static unsigned long long median_us(const struct hb_mon_peer *p)
{
	unsigned long long n = 0, cum = 0, lo, hi;
	double rank;
	int i;

	for (i = 0; i < HB_MON_LIFE_N; i++)
		n += p->life_hist[i];
	if (!n)
		return 0;
	rank = (double)(n + 1) / 2.0;	/* 1-based; a half for an even count */
	for (i = 0; i < HB_MON_LIFE_N; i++) {
		if (!p->life_hist[i] || (double)(cum + p->life_hist[i]) < rank) {
			cum += p->life_hist[i];
			continue;
		}
		lo = i ? 1ULL << i : 0;
		hi = 1ULL << (i + 1);
		return lo + (unsigned long long)((double)(hi - lo) * (rank - (double)cum - 0.5) /
						 (double)p->life_hist[i] + 0.5);
	}
	return 0;
}

static void peer_name(char *buf, size_t len, const struct hb_mon_peer_key *k)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (k->family == AF_INET6) {
		inet_ntop(AF_INET6, k->addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, (unsigned int)k->port);
	} else {
		inet_ntop(AF_INET, k->addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, (unsigned int)k->port);
	}
}

static int by_opened(const void *a, const void *b)
{
	const struct hb_mon_peer_stat *x = a, *y = b;

	if (x->opened != y->opened)
		return x->opened < y->opened ? 1 : -1;
	if (x->attempts != y->attempts)
		return x->attempts < y->attempts ? 1 : -1;
	return strcmp(x->peer, y->peer);
}

int hb_mon_peers_snap(struct hb_monitor *m, const struct hb_mon_view *v, struct hb_mon_snap *s)
{
	struct hb_mon_peer_row *r;
	struct hb_mon_peer_stat *st;
	double win_s;
	size_t n, i;
	int rc;

	rc = hb_monitor_peers(m, &r, &n);
	if (rc)
		return rc;
	st = calloc(n ? n : 1, sizeof(*st));
	if (!st) {
		free(r);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const struct hb_mon_peer *p = &r[i].v;

		peer_name(st[i].peer, sizeof(st[i].peer), &r[i].k);
		st[i].attempts = p->attempts;
		st[i].opened = p->opened;
		st[i].failed = p->failed;
		st[i].closed = p->closed;
		st[i].bytes_per_conn = p->closed ? p->bytes / p->closed : 0;
		st[i].median_lifetime_ms = (median_us(p) + 500) / 1000;
		win_s = s->now_ns > p->first_ns ? (double)(s->now_ns - p->first_ns) / 1e9 : 0;
		if (win_s < 1.0)
			win_s = 1.0;
		st[i].opened_per_min = (double)p->opened * 60.0 / win_s;
		st[i].polled = p->opened >= HB_MON_POLL_MIN_OPENED && p->closed &&
			       st[i].opened_per_min >= HB_MON_POLL_MIN_PER_MIN &&
			       median_us(p) < HB_MON_POLL_MAX_LIFE_MS * 1000ULL;
	}
	free(r);
	qsort(st, n, sizeof(*st), by_opened);
	if (n > v->peers)
		n = v->peers;
	s->peers = st;
	s->n_peers = n;
	s->have_peers = true;
	return 0;
}

void hb_mon_peer_cost(char *buf, size_t len, const struct hb_mon_peer_stat *p)
{
	snprintf(buf, len, "1 connection + a keepalive probe and ACK every %d s (%.0f packets/min) "
		 "instead of %.0f handshakes + closes per minute, 7 packets each (%.0f packets/min)",
		 HB_MON_PERSIST_IDLE_S, 2.0 * 60 / HB_MON_PERSIST_IDLE_S, p->opened_per_min,
		 7.0 * p->opened_per_min);
}

void hb_mon_peers_table(FILE *f, const struct hb_mon_snap *s)
{
	char cost[256];
	size_t i;

	fprintf(f, "\nPEERS (client connections; polled: >= %d opened, >= %.0f/min, median "
		"lifetime < %d s)\n", HB_MON_POLL_MIN_OPENED, HB_MON_POLL_MIN_PER_MIN,
		HB_MON_POLL_MAX_LIFE_MS / 1000);
	if (!s->have_peers) {
		fprintf(f, "  %s\n", "unavailable on this kernel");
		return;
	}
	fprintf(f, "  %-28s %8s %8s %6s %9s %12s %11s  %s\n", "PEER", "OPENED", "CLOSED",
		"FAILED", "OPEN/MIN", "MEDIAN_LIFE", "BYTES/CONN", "POLLED");
	for (i = 0; i < s->n_peers; i++) {
		const struct hb_mon_peer_stat *p = &s->peers[i];

		fprintf(f, "  %-28s %8llu %8llu %6llu %9.1f %9llu ms %11llu  %s\n", p->peer,
			p->opened, p->closed, p->failed, p->opened_per_min, p->median_lifetime_ms,
			p->bytes_per_conn, p->polled ? "yes" : "no");
		if (p->polled) {
			hb_mon_peer_cost(cost, sizeof(cost), p);
			fprintf(f, "    persistent: %s\n", cost);
		}
	}
	if (!s->n_peers)
		fprintf(f, "  %s\n", "(no client connections yet)");
}

void hb_mon_peers_json(FILE *f, const struct hb_mon_snap *s)
{
	char cost[256];
	size_t i;

	if (!s->have_peers)
		return;
	fputs(",\"peers\":[", f);
	for (i = 0; i < s->n_peers; i++) {
		const struct hb_mon_peer_stat *p = &s->peers[i];

		fprintf(f, "%s{\"peer\":\"%s\",\"attempts\":%llu,\"opened\":%llu,\"closed\":%llu,"
			"\"failed\":%llu,\"opened_per_min\":%.1f,\"median_lifetime_ms\":%llu,"
			"\"bytes_per_conn\":%llu,\"polled\":%s,\"persistent_cost\":",
			i ? "," : "", p->peer, p->attempts, p->opened, p->closed, p->failed,
			p->opened_per_min, p->median_lifetime_ms, p->bytes_per_conn,
			p->polled ? "true" : "false");
		if (p->polled) {
			hb_mon_peer_cost(cost, sizeof(cost), p);
			fprintf(f, "\"%s\"}", cost);
		} else {
			fputs("null}", f);
		}
	}
	fputc(']', f);
}

static void prom_series(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s,
			const char *name, const char *type, const char *help, int which)
{
	size_t i;

	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (i = 0; i < s->n_peers; i++) {
		const struct hb_mon_peer_stat *p = &s->peers[i];

		fprintf(f, "%s{cgroup=\"", name);
		hb_fput_label(f, v->cgroup);
		fprintf(f, "\",peer=\"%s\"} ", p->peer);
		switch (which) {
		case 0: fprintf(f, "%llu\n", p->opened); break;
		case 1: fprintf(f, "%llu\n", p->closed); break;
		case 2: fprintf(f, "%llu\n", p->failed); break;
		case 3: fprintf(f, "%.3f\n", (double)p->median_lifetime_ms / 1000.0); break;
		case 4: fprintf(f, "%llu\n", p->bytes_per_conn); break;
		default: fprintf(f, "%d\n", p->polled); break;
		}
	}
}

void hb_mon_peers_prom(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s)
{
	if (!s->have_peers)
		return;		/* unavailable: no series rather than zeros */
	prom_series(f, v, s, "hbkeep_peer_connections_opened_total", "counter",
		    "Client connections opened to the peer (handshakes), top peers only.", 0);
	prom_series(f, v, s, "hbkeep_peer_connections_closed_total", "counter",
		    "Opened client connections to the peer that closed.", 1);
	prom_series(f, v, s, "hbkeep_peer_connections_failed_total", "counter",
		    "Connection attempts to the peer that never opened.", 2);
	prom_series(f, v, s, "hbkeep_peer_median_lifetime_seconds", "gauge",
		    "Median lifetime of the closed connections (histogram approximation).", 3);
	prom_series(f, v, s, "hbkeep_peer_bytes_per_connection", "gauge",
		    "Bytes (sent and acked + received) per closed connection.", 4);
	prom_series(f, v, s, "hbkeep_peer_polled", "gauge",
		    "1 when the peer is polled: many short connections where one would do.", 5);
}
