// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl monitor's output: the refreshing table (totals, application heartbeats, closes, top
 * connections by probes, the idle-gap histogram in bcc's log2 style, recent closes) and the
 * one-line JSON object of DESIGN.md. Knows formatting only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "mon.h"
#include "out.h"

static const char *const cause_name[HB_MON_NCAUSE] = {
	"normal", "reset_recv", "reset_sent", "keepalive_timeout", "user_timeout",
	"retrans_timeout",
};
static const char *const proto_name[HB_MON_NPROTO] = { "mqtt", "websocket", "http2" };

const char *hb_mon_cause_name(unsigned int cause)
{
	return cause < HB_MON_NCAUSE ? cause_name[cause] : "unknown";
}

unsigned long long hb_mon_bucket_le_ms(unsigned int i)
{
	return i + 1 < HB_MON_HIST_N ? 1ULL << (i + 1) : 0;
}

int hb_mon_fill_owners(struct hb_mon_snap *s)
{
	struct hb_sock_list l = { 0 };
	struct hb_owner_stats st = { 0 };
	struct hb_sock *k;
	size_t i;
	int rc = 0;

	free(s->owner);
	s->owner = calloc(s->n_conns ? s->n_conns : 1, sizeof(*s->owner));
	if (!s->owner)
		return -ENOMEM;
	if (!s->n_conns)
		return 0;
	for (i = 0; i < s->n_conns; i++) {
		k = hb_sock_list_add(&l);
		if (!k) {
			rc = -ENOMEM;
			goto out;
		}
		k->inode = s->conns[i].inode;
	}
	rc = hb_owners_fill(&l, "/proc", &st);
	if (rc)
		goto out;
	for (i = 0; i < s->n_conns; i++) {
		if (!l.v[i].n_owners)
			continue;
		s->owner[i].pid = l.v[i].owner[0].pid;
		memcpy(s->owner[i].comm, l.v[i].owner[0].comm, sizeof(s->owner[i].comm));
		s->owner[i].comm[sizeof(s->owner[i].comm) - 1] = '\0';
	}
out:
	hb_sock_list_free(&l);
	return rc;
}

static unsigned long long app_total(const struct hb_mon_totals *t, int proto)
{
	return t->app[proto][HB_MON_PING][HB_MON_SENT] + t->app[proto][HB_MON_PING][HB_MON_RECV] +
	       t->app[proto][HB_MON_PONG][HB_MON_SENT] + t->app[proto][HB_MON_PONG][HB_MON_RECV];
}

static unsigned long long hist_count(const struct hb_mon_totals *t)
{
	unsigned long long n = 0;
	int i;

	for (i = 0; i < HB_MON_HIST_N; i++)
		n += t->hist[i];
	return n;
}

static unsigned long long closed_count(const struct hb_mon_totals *t)
{
	unsigned long long n = 0;
	int i;

	for (i = 0; i < HB_MON_NCAUSE; i++)
		n += t->closed[i];
	return n;
}

static void conn_idle(const struct hb_mon_conn *c, long long *idle_ms)
{
	unsigned long long since = c->last_data_ns ? c->last_data_ns : c->created_ns;

	*idle_ms = c->now_ns > since ? (long long)((c->now_ns - since) / 1000000) : 0;
}

/* ---- table ---------------------------------------------------------------------------- */

static int by_probes(const void *a, const void *b)
{
	const struct hb_mon_conn *x = *(const struct hb_mon_conn *const *)a;
	const struct hb_mon_conn *y = *(const struct hb_mon_conn *const *)b;
	unsigned long long px = x->c[HB_MON_KA_SENT] + x->c[HB_MON_KA_RECV] +
				x->c[HB_MON_APP_SENT] + x->c[HB_MON_APP_RECV];
	unsigned long long py = y->c[HB_MON_KA_SENT] + y->c[HB_MON_KA_RECV] +
				y->c[HB_MON_APP_SENT] + y->c[HB_MON_APP_RECV];

	if (px != py)
		return px < py ? 1 : -1;
	if (x->c[HB_MON_KA_UNANSWERED] != y->c[HB_MON_KA_UNANSWERED])
		return x->c[HB_MON_KA_UNANSWERED] < y->c[HB_MON_KA_UNANSWERED] ? 1 : -1;
	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

static void stars(FILE *f, unsigned long long v, unsigned long long max, int width)
{
	int n = max ? (int)((double)v * width / (double)max + 0.5) : 0, i;

	if (v && !n)
		n = 1;
	fputc('|', f);
	for (i = 0; i < width; i++)
		fputc(i < n ? '*' : ' ', f);
	fputc('|', f);
}

static void print_hist(FILE *f, const struct hb_mon_totals *t)
{
	unsigned long long max = 0, lo, hi;
	int i, last = -1;

	for (i = 0; i < HB_MON_HIST_N; i++) {
		if (t->hist[i])
			last = i;
		if (t->hist[i] > max)
			max = t->hist[i];
	}
	fprintf(f, "IDLE GAPS (gap between data segments, recorded when data resumes)\n");
	if (last < 0) {
		fprintf(f, "  none of 1 ms or more yet\n");
		return;
	}
	fprintf(f, "%24s : count     distribution\n", "msecs");
	for (i = 0; i <= last; i++) {
		lo = 1ULL << i;
		hi = hb_mon_bucket_le_ms((unsigned int)i);
		if (hi)
			fprintf(f, "%10llu -> %-10llu : %-8llu  ", lo, hi - 1, (unsigned long long)t->hist[i]);
		else
			fprintf(f, "%10llu -> %-10s : %-8llu  ", lo, "...", (unsigned long long)t->hist[i]);
		stars(f, t->hist[i], max, 40);
		fputc('\n', f);
	}
}

static void owner_cell(char *buf, size_t len, const struct hb_mon_snap *s, size_t i)
{
	char comm[HB_WORD_MAX(sizeof(s->owner[i].comm)) + 1];

	if (!s->owner || !s->owner[i].pid) {
		snprintf(buf, len, "-");
		return;
	}
	*hb_put_word(comm, s->owner[i].comm, sizeof(s->owner[i].comm) - 1) = '\0';
	snprintf(buf, len, "%d/%s", s->owner[i].pid, comm);
}

static void print_conns(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s)
{
	const struct hb_mon_conn **sorted;
	char l[64], r[64], own[88], idle[32], gap[32];
	long long idle_ms;
	size_t i, n;

	if (!s->n_conns || !v->top)
		return;
	sorted = malloc(s->n_conns * sizeof(*sorted));
	if (!sorted)
		return;
	for (i = 0; i < s->n_conns; i++)
		sorted[i] = &s->conns[i];
	qsort(sorted, s->n_conns, sizeof(*sorted), by_probes);
	n = s->n_conns < v->top ? s->n_conns : v->top;
	fprintf(f, "\nTOP CONNECTIONS BY PROBES (%zu of %zu)\n", n, s->n_conns);
	fprintf(f, "%-22s %-22s %-18s %-3s %5s %5s %5s %5s %5s %5s %5s %8s %8s\n", "LOCAL", "PEER",
		"PID/COMM", "KA", "SENT", "RECV", "ACK-S", "ACK-R", "UNANS", "ZWP", "APP", "IDLE",
		"MAX-GAP");
	for (i = 0; i < n; i++) {
		const struct hb_mon_conn *c = sorted[i];

		hb_fmt_addr(l, sizeof(l), c->family, c->laddr, c->lport, false);
		hb_fmt_addr(r, sizeof(r), c->family, c->raddr, c->rport, false);
		owner_cell(own, sizeof(own), s, (size_t)(c - s->conns));
		conn_idle(c, &idle_ms);
		hb_fmt_duration(idle, sizeof(idle), idle_ms);
		if (c->max_gap_ns)
			hb_fmt_duration(gap, sizeof(gap), (long long)(c->max_gap_ns / 1000000));
		else
			snprintf(gap, sizeof(gap), "-");
		fprintf(f, "%-22s %-22s %-18s %-3s %5llu %5llu %5llu %5llu %5llu %5llu %5llu %8s %8s\n",
			l, r, own, c->keepalive ? "on" : "off",
			(unsigned long long)c->c[HB_MON_KA_SENT],
			(unsigned long long)c->c[HB_MON_KA_RECV],
			(unsigned long long)c->c[HB_MON_KA_ACK_SENT],
			(unsigned long long)c->c[HB_MON_KA_ACK_RECV],
			(unsigned long long)c->c[HB_MON_KA_UNANSWERED],
			(unsigned long long)(c->c[HB_MON_ZWP_SENT] + c->c[HB_MON_ZWP_RECV]),
			(unsigned long long)(c->c[HB_MON_APP_SENT] + c->c[HB_MON_APP_RECV]), idle, gap);
	}
	free(sorted);
}

static void print_recent(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s)
{
	char l[64], r[64], idle[32], gap[32], ago[32];
	unsigned int i, k;

	if (!v->n_recent)
		return;
	fprintf(f, "\nRECENT CLOSES\n%-8s %-22s %-22s %-17s %5s %5s %5s %8s %8s\n", "AGO", "LOCAL",
		"PEER", "CAUSE", "SENT", "RECV", "UNANS", "IDLE", "LAST-GAP");
	for (i = 0; i < v->n_recent; i++) {
		/* newest first */
		k = (v->recent_head + HB_MON_RECENT - 1 - i) % HB_MON_RECENT;
		const struct hb_mon_close *e = &v->recent[k];

		hb_fmt_addr(l, sizeof(l), e->family, e->laddr, e->lport, false);
		hb_fmt_addr(r, sizeof(r), e->family, e->raddr, e->rport, false);
		hb_fmt_duration(ago, sizeof(ago),
				s->now_ns > e->ts_ns ? (long long)((s->now_ns - e->ts_ns) / 1000000) : 0);
		hb_fmt_duration(idle, sizeof(idle), (long long)(e->idle_ns / 1000000));
		if (e->last_gap_ns)
			hb_fmt_duration(gap, sizeof(gap), (long long)(e->last_gap_ns / 1000000));
		else
			snprintf(gap, sizeof(gap), "-");
		fprintf(f, "%-8s %-22s %-22s %-17s %5llu %5llu %5llu %8s %8s\n", ago, l, r,
			hb_mon_cause_name(e->cause), (unsigned long long)e->c[HB_MON_KA_SENT],
			(unsigned long long)e->c[HB_MON_KA_RECV],
			(unsigned long long)e->c[HB_MON_KA_UNANSWERED], idle, gap);
	}
}

void hb_mon_print_table(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s)
{
	static const struct { int ctr; const char *name; } rows[] = {
		{ HB_MON_KA_SENT, "keepalive probes sent" },
		{ HB_MON_KA_RECV, "keepalive probes received" },
		{ HB_MON_KA_ACK_SENT, "probe ACKs sent" },
		{ HB_MON_KA_ACK_RECV, "probe ACKs received" },
		{ HB_MON_KA_UNANSWERED, "probes unanswered" },
		{ HB_MON_ZWP_SENT, "zero-window probes sent" },
		{ HB_MON_ZWP_RECV, "zero-window probes received" },
	};
	const struct hb_mon_totals *t = &s->total, *d = &s->delta;
	char up[32], iv[32], ts[32];
	size_t i, ka_on = 0;
	time_t now = time(NULL);
	int p;

	strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
	hb_fmt_duration(up, sizeof(up), (long long)((s->now_ns - v->start_ns) / 1000000));
	hb_fmt_duration(iv, sizeof(iv), v->interval_ms);
	fprintf(f, "hbctl monitor  cgroup %s  %s  every %s  up %s", v->cgroup, ts, iv, up);
	if (s->have_conns) {
		for (i = 0; i < s->n_conns; i++)
			ka_on += s->conns[i].keepalive != 0;
		fprintf(f, "  open connections %zu (keepalive on %zu)", s->n_conns, ka_on);
	}
	fprintf(f, "\n\n%-30s %12s %12s\n", "KEEPALIVE", "total", "last");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		fprintf(f, "  %-28s %12llu %12llu\n", rows[i].name,
			(unsigned long long)t->c[rows[i].ctr], (unsigned long long)d->c[rows[i].ctr]);
	fprintf(f, "%-30s %12s %12s\n", "APP HEARTBEATS (ping+pong)", "total", "last");
	for (p = 0; p < HB_MON_NPROTO; p++)
		fprintf(f, "  %-28s %12llu %12llu\n", proto_name[p], app_total(t, p), app_total(d, p));
	fprintf(f, "%-30s %12s %12s\n", "CONNECTIONS CLOSED", "total", "last");
	if (v->no_closes)
		fprintf(f, "  %-28s\n", "unavailable on this kernel");
	for (p = 0; p < HB_MON_NCAUSE && !v->no_closes; p++)
		fprintf(f, "  %-28s %12llu %12llu\n", cause_name[p], (unsigned long long)t->closed[p],
			(unsigned long long)d->closed[p]);
	print_conns(f, v, s);
	if (v->peers)
		hb_mon_peers_table(f, s);
	fputc('\n', f);
	print_hist(f, t);
	print_recent(f, v, s);
}

/* ---- JSON ----------------------------------------------------------------------------- */

static const char *const ctr_key[HB_MON_NCTR] = {
	"keepalive_probes_sent", "keepalive_probes_recv", "keepalive_acks_sent",
	"keepalive_acks_recv", "keepalive_probes_unanswered", "zero_window_probes",
	"zero_window_probes_recv", "app_heartbeats_sent", "app_heartbeats_recv",
};

static void json_ctrs(FILE *f, const __u64 *c)
{
	int i;

	for (i = 0; i < HB_MON_NCTR; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", ctr_key[i], (unsigned long long)c[i]);
}

static void json_counters(FILE *f, const struct hb_mon_view *v, const struct hb_mon_totals *t)
{
	fputc('{', f);
	json_ctrs(f, t->c);
	fprintf(f, ",\"idle_gaps\":%llu,\"connections_closed\":", hist_count(t));
	if (v->no_closes)
		fputs("null}", f);
	else
		fprintf(f, "%llu}", closed_count(t));
}

static void json_conn(FILE *f, const struct hb_mon_snap *s, size_t i)
{
	const struct hb_mon_conn *c = &s->conns[i];
	char a[64];
	long long idle_ms;
	int p;

	fprintf(f, "{\"local\":\"%s\"", hb_fmt_addr(a, sizeof(a), c->family, c->laddr, c->lport,
						     false));
	fprintf(f, ",\"peer\":\"%s\"", hb_fmt_addr(a, sizeof(a), c->family, c->raddr, c->rport,
						   false));
	if (s->owner && s->owner[i].pid) {
		fprintf(f, ",\"pid\":%d,\"comm\":", s->owner[i].pid);
		hb_json_str(f, s->owner[i].comm, sizeof(s->owner[i].comm));
	} else {
		fputs(",\"pid\":null,\"comm\":null", f);
	}
	fprintf(f, ",\"state\":\"%s\",\"keepalive\":%s,\"cookie\":%llu,\"inode\":%llu,",
		hb_state_name(c->state), c->keepalive ? "true" : "false",
		(unsigned long long)c->cookie, (unsigned long long)c->inode);
	json_ctrs(f, c->c);
	fputs(",\"app_heartbeats\":{", f);
	for (p = 0; p < HB_MON_NPROTO; p++)
		fprintf(f, "%s\"%s\":%llu", p ? "," : "", proto_name[p], (unsigned long long)c->app[p]);
	conn_idle(c, &idle_ms);
	fprintf(f, "},\"idle_ms\":%lld,\"max_gap_ms\":%llu,\"last_gap_ms\":%llu}", idle_ms,
		(unsigned long long)(c->max_gap_ns / 1000000),
		(unsigned long long)(c->last_gap_ns / 1000000));
}

static void json_close(FILE *f, const struct hb_mon_close *e, bool first)
{
	char a[64];

	fprintf(f, "%s{\"local\":\"%s\"", first ? "" : ",",
		hb_fmt_addr(a, sizeof(a), e->family, e->laddr, e->lport, false));
	fprintf(f, ",\"peer\":\"%s\",\"cause\":\"%s\",\"state_before\":\"%s\",\"err\":%d,",
		hb_fmt_addr(a, sizeof(a), e->family, e->raddr, e->rport, false),
		hb_mon_cause_name(e->cause), hb_state_name(e->oldstate), e->err);
	json_ctrs(f, e->c);
	fprintf(f, ",\"app_heartbeats\":%llu,\"idle_ms\":%llu,\"last_gap_ms\":%llu,"
		"\"max_gap_ms\":%llu,\"age_ms\":%llu}", (unsigned long long)e->app_total,
		(unsigned long long)(e->idle_ns / 1000000), (unsigned long long)(e->last_gap_ns / 1000000),
		(unsigned long long)(e->max_gap_ns / 1000000), (unsigned long long)(e->age_ns / 1000000));
}

void hb_mon_print_json(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s)
{
	const struct hb_mon_totals *t = &s->total;
	char ts[40];
	struct timespec now;
	struct tm tm;
	unsigned long long le;
	int i, p, k;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(f, "{\"time\":\"%s.%03ldZ\",\"interval_s\":%.3f,\"cgroup\":", ts,
		now.tv_nsec / 1000000, s->interval_s);
	hb_json_str(f, v->cgroup, 4096);
	fputs(",\"total\":", f);
	json_counters(f, v, t);
	fputs(",\"delta\":", f);
	json_counters(f, v, &s->delta);
	fputs(",\"idle_gap_hist\":[", f);
	for (i = 0; i < HB_MON_HIST_N; i++) {
		le = hb_mon_bucket_le_ms((unsigned int)i);
		if (le)
			fprintf(f, "%s{\"ge_ms\":%llu,\"le_ms\":%llu,\"count\":%llu}", i ? "," : "",
				1ULL << i, le, (unsigned long long)t->hist[i]);
		else
			fprintf(f, ",{\"ge_ms\":%llu,\"le_ms\":null,\"count\":%llu}", 1ULL << i,
				(unsigned long long)t->hist[i]);
	}
	/* null: unavailable on this kernel (the monitor said why on stderr) */
	fputs(v->no_closes ? "],\"closed\":null" : "],\"closed\":{", f);
	for (i = 0; i < HB_MON_NCAUSE && !v->no_closes; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", cause_name[i],
			(unsigned long long)t->closed[i]);
	fputs(v->no_closes ? ",\"app_heartbeats\":{" : "},\"app_heartbeats\":{", f);
	for (p = 0; p < HB_MON_NPROTO; p++)
		fprintf(f, "%s\"%s\":%llu", p ? "," : "", proto_name[p], app_total(t, p));
	fputs("},\"app_heartbeats_detail\":{", f);
	for (p = 0; p < HB_MON_NPROTO; p++) {
		fprintf(f, "%s\"%s\":{", p ? "," : "", proto_name[p]);
		for (k = 0; k < 4; k++)
			fprintf(f, "%s\"%s_%s\":%llu", k ? "," : "", k < 2 ? "ping" : "pong",
				k % 2 ? "recv" : "sent",
				(unsigned long long)t->app[p][k / 2][k % 2]);
		fputc('}', f);
	}
	fputc('}', f);
	if (v->conns && !v->no_closes) {
		fputs(",\"closes\":[", f);
		for (i = 0; i < (int)v->n_tick; i++)
			json_close(f, &v->tick[i], i == 0);
		fputc(']', f);
	}
	if (v->peers)
		hb_mon_peers_json(f, s);
	if (v->conns && s->have_conns) {
		fputs(",\"conns\":[", f);
		for (i = 0; i < (int)s->n_conns; i++) {
			if (i)
				fputc(',', f);
			json_conn(f, s, (size_t)i);
		}
		fputc(']', f);
	}
	fputs("}\n", f);
}

const char *hb_mon_feat_lost(int feat)
{
	static const char *const lost[HB_MON_NFEAT] = {
		[HB_MON_FEAT_CONNS] = "--conns, hbctl ls columns",
		[HB_MON_FEAT_PEERS] = "--peers",
	};

	return feat >= 0 && feat < HB_MON_NFEAT ? lost[feat] : NULL;
}
