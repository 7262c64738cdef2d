// SPDX-License-Identifier: BSD-2-Clause
/*
 * Printing struct hb_sock lists: an aligned table for people, one JSON array for programs.
 * Knows formatting only: no netlink, no /proc.
 *
 * --nat-timeout DUR ("at risk"): a middlebox that forgets a flow after DUR of silence drops
 * a connection unless something sends at least every DUR. hbctl can only vouch for the
 * kernel's keepalive, so a connected socket (established, syn-recv, fin-wait-*, close-wait,
 * closing, last-ack) is
 *   safe     when keepalive is on and the effective keepidle < DUR (the first probe goes
 *            out after keepidle of silence, and an answered probe restarts that wait),
 *   at risk  when keepalive is off, or on with keepidle >= DUR (it then lives only as long
 *            as the application itself talks more often than DUR),
 *   unknown  when the settings cannot be read (JSON null, "?").
 * Listeners, syn-sent, time-wait and closed sockets hold no flow: never at risk (false, "-").
 * The summary line also counts the at-risk ones already idle for DUR or longer: those are
 * probably dead already.
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"

#define CELL 64
#define PROC_CELL 160

enum col {
	C_STATE, C_LOCAL, C_PEER, C_KA, C_IDLE, C_INTVL, C_CNT, C_UTO, C_TIMER, C_SEND, C_RECV,
	C_IDLEFOR, C_RISK, C_PROC, NCOL
};

static const char *const col_name[NCOL] = {
	"STATE", "LOCAL", "PEER", "KA", "IDLE", "INTVL", "CNT", "UTO", "TIMER", "SEND", "RECV",
	"IDLE-FOR", "RISK", "PROCESS",
};

#define COLOR_RED	"\033[31m"
#define COLOR_GREEN	"\033[32m"
#define COLOR_YELLOW	"\033[33m"
#define COLOR_DIM	"\033[2m"
#define COLOR_OFF	"\033[0m"

bool hb_state_connected(unsigned int state)
{
	switch (state) {
	case HB_TCP_ESTABLISHED: case HB_TCP_SYN_RECV: case HB_TCP_FIN_WAIT1: case HB_TCP_FIN_WAIT2:
	case HB_TCP_CLOSE_WAIT: case HB_TCP_CLOSING: case HB_TCP_LAST_ACK:
		return true;
	default:
		return false;
	}
}

int hb_at_risk(const struct hb_sock *s, long long nat_timeout_ms)
{
	if (!hb_state_connected(s->state))
		return 0;
	if (s->keepalive == 0)
		return 1;
	if (s->keepalive < 0 || s->keepidle_s < 0)
		return -1;
	return (long long)s->keepidle_s * 1000 >= nat_timeout_ms;
}

static const struct hb_owner *owner_at(const struct hb_sock *s, unsigned int i)
{
	return i < HB_SOCK_OWNERS_INLINE ? &s->owner[i] : &s->more_owners[i - HB_SOCK_OWNERS_INLINE];
}

static const char *timer_name(unsigned int t)
{
	switch (t) {
	case HB_TIMER_RETRANS: return "retransmit";
	case HB_TIMER_KEEPALIVE: return "keepalive";
	case HB_TIMER_PROBE: return "probe";
	case HB_TIMER_TIMEWAIT: return "timewait";
	case HB_TIMER_OTHER: return "other";
	default: return NULL;
	}
}

static const char *src_name(unsigned int src)
{
	return src == HB_CFG_SOCKET ? "socket" : src == HB_CFG_SYSCTL ? "sysctl" : NULL;
}

char *hb_fmt_sock(char *buf, size_t len, const struct hb_sock *s)
{
	char l[64], r[64];

	hb_fmt_addr(l, sizeof(l), s->family, s->laddr, s->lport, false);
	hb_fmt_addr(r, sizeof(r), s->family, s->raddr, s->rport, false);
	snprintf(buf, len, "%s -> %s", l, r);
	return buf;
}

/* A keepalive value in seconds: "(2h)" when it is the sysctl's, not the socket's own. */
static void cfg_secs(char *buf, int v, unsigned int src, bool count)
{
	char d[32];

	if (v < 0) {
		snprintf(buf, CELL, "?");
		return;
	}
	if (count)
		snprintf(d, sizeof(d), "%d", v);
	else
		hb_fmt_duration(d, sizeof(d), (long long)v * 1000);
	snprintf(buf, CELL, src == HB_CFG_SYSCTL ? "(%s)" : "%s", d);
}

static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ' ')
			*s = '?';
}

static void row_cells(const struct hb_sock *s, const struct hb_print_opts *po,
		      char cell[NCOL][CELL], char *proc)
{
	char d[32];
	const char *t;
	unsigned int i;
	size_t off;
	int risk;

	snprintf(cell[C_STATE], CELL, "%s", hb_state_name(s->state));
	hb_fmt_addr(cell[C_LOCAL], CELL, s->family, s->laddr, s->lport, true);
	hb_fmt_addr(cell[C_PEER], CELL, s->family, s->raddr, s->rport, true);
	snprintf(cell[C_KA], CELL, "%s", s->keepalive < 0 ? "?" : s->keepalive ? "on" : "off");
	cfg_secs(cell[C_IDLE], s->keepidle_s, s->src_idle, false);
	cfg_secs(cell[C_INTVL], s->keepintvl_s, s->src_intvl, false);
	cfg_secs(cell[C_CNT], s->keepcnt, s->src_cnt, true);
	if (s->user_timeout_ms < 0)
		snprintf(cell[C_UTO], CELL, "?");
	else if (s->user_timeout_ms == 0)
		snprintf(cell[C_UTO], CELL, "-");
	else
		hb_fmt_duration(cell[C_UTO], CELL, s->user_timeout_ms);
	t = timer_name(s->timer);
	if (t)
		snprintf(cell[C_TIMER], CELL, "%s,%s,%u", t,
			 hb_fmt_duration(d, sizeof(d), s->timer_expires_ms), s->probes);
	else
		snprintf(cell[C_TIMER], CELL, "-");
	hb_fmt_duration(cell[C_SEND], CELL, s->last_send_ms);
	hb_fmt_duration(cell[C_RECV], CELL, s->last_recv_ms);
	hb_fmt_duration(cell[C_IDLEFOR], CELL, s->idle_ms);
	cell[C_RISK][0] = 0;
	if (po->nat_timeout_ms >= 0) {
		risk = hb_at_risk(s, po->nat_timeout_ms);
		snprintf(cell[C_RISK], CELL, "%s", !hb_state_connected(s->state) ? "-" :
			 risk < 0 ? "?" : risk ? "yes" : "no");
	}
	proc[0] = 0;
	if (!po->owners)
		return;
	if (!s->n_owners) {
		snprintf(proc, PROC_CELL, "-");
		return;
	}
	for (i = 0, off = 0; i < s->n_owners && off < PROC_CELL; i++) {
		const struct hb_owner *o = owner_at(s, i);
		char comm[16];

		if (i == 3) {
			snprintf(proc + off, PROC_CELL - off, ",+%u", s->n_owners - 3);
			break;
		}
		snprintf(comm, sizeof(comm), "%s", o->comm[0] ? o->comm : "?");
		sanitize(comm);
		off += (size_t)snprintf(proc + off, PROC_CELL - off, "%s%d/%s/%d", i ? "," : "",
					o->pid, comm, o->fd);
	}
}

static const char *cell_color(enum col c, const char *v)
{
	if (c == C_KA && strcmp(v, "on") == 0)
		return COLOR_GREEN;
	if (c == C_KA && strcmp(v, "off") == 0)
		return COLOR_YELLOW;
	if (c == C_RISK && strcmp(v, "yes") == 0)
		return COLOR_RED;
	if (c == C_RISK && strcmp(v, "no") == 0)
		return COLOR_GREEN;
	if (v[0] == '(' || strcmp(v, "?") == 0)
		return COLOR_DIM;
	return NULL;
}

static bool col_shown(enum col c, const struct hb_print_opts *po)
{
	if (c == C_RISK)
		return po->nat_timeout_ms >= 0;
	if (c == C_PROC)
		return po->owners;
	return true;
}

static void print_row(FILE *f, char cell[NCOL][CELL], const char *proc, const size_t *w,
		      const struct hb_print_opts *po)
{
	bool first = true;
	int c, last = po->owners ? C_PROC : po->nat_timeout_ms >= 0 ? C_RISK : C_IDLEFOR;

	for (c = 0; c < NCOL; c++) {
		const char *v = c == C_PROC ? proc : cell[c], *col;

		if (!col_shown(c, po))
			continue;
		if (!first)
			fputs("  ", f);
		first = false;
		col = po->color ? cell_color(c, v) : NULL;
		fprintf(f, "%s%s%s", col ? col : "", v, col ? COLOR_OFF : "");
		if (c != last)
			fprintf(f, "%*s", (int)(w[c] - strlen(v)), "");
	}
	fputc('\n', f);
}

void hb_print_table(FILE *f, const struct hb_sock_list *l, const struct hb_print_opts *po)
{
	char cell[NCOL][CELL], proc[PROC_CELL];
	size_t w[NCOL], i;
	int c;

	for (c = 0; c < NCOL; c++)
		w[c] = strlen(col_name[c]);
	for (i = 0; i < l->n; i++) {
		row_cells(&l->v[i], po, cell, proc);
		for (c = 0; c < C_PROC; c++)
			if (strlen(cell[c]) > w[c])
				w[c] = strlen(cell[c]);
	}
	for (c = 0; c < NCOL; c++)
		snprintf(cell[c], CELL, "%s", col_name[c]);
	print_row(f, cell, col_name[C_PROC], w, &(struct hb_print_opts){
		.owners = po->owners, .nat_timeout_ms = po->nat_timeout_ms });
	for (i = 0; i < l->n; i++) {
		row_cells(&l->v[i], po, cell, proc);
		print_row(f, cell, proc, w, po);
	}
}

static void json_int(FILE *f, const char *key, long long v)
{
	if (v < 0)
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%lld", key, v);
}

static void json_src(FILE *f, const char *key, unsigned int src, bool first)
{
	const char *n = src_name(src);

	fprintf(f, "%s\"%s\":", first ? "" : ",", key);
	if (n)
		fprintf(f, "\"%s\"", n);
	else
		fputs("null", f);
}

static void json_owner(FILE *f, const struct hb_owner *o)
{
	fprintf(f, "{\"pid\":%d,\"comm\":", o->pid);
	hb_json_str(f, o->comm, sizeof(o->comm));
	fprintf(f, ",\"fd\":%d}", o->fd);
}

static void json_sock(FILE *f, const struct hb_sock *s, const struct hb_print_opts *po)
{
	char a[64];
	const char *t = timer_name(s->timer);
	unsigned int i;
	int risk;

	fprintf(f, "{\"state\":\"%s\"", hb_state_name(s->state));
	fprintf(f, ",\"local\":\"%s\"", hb_fmt_addr(a, sizeof(a), s->family, s->laddr, s->lport,
						      false));
	fprintf(f, ",\"peer\":\"%s\"", hb_fmt_addr(a, sizeof(a), s->family, s->raddr, s->rport,
						     false));
	fprintf(f, ",\"inode\":%llu,\"cookie\":%llu,\"uid\":%u", (unsigned long long)s->inode,
		(unsigned long long)s->cookie, s->uid);
	fprintf(f, ",\"keepalive\":%s", s->keepalive < 0 ? "null" : s->keepalive ? "true" : "false");
	json_int(f, "keepidle_s", s->keepidle_s);
	json_int(f, "keepintvl_s", s->keepintvl_s);
	json_int(f, "keepcnt", s->keepcnt);
	json_int(f, "user_timeout_ms", s->user_timeout_ms);
	fputs(",\"config_source\":{", f);
	json_src(f, "keepidle", s->src_idle, true);
	json_src(f, "keepintvl", s->src_intvl, false);
	json_src(f, "keepcnt", s->src_cnt, false);
	json_src(f, "user_timeout", s->src_uto, false);
	fputc('}', f);
	if (t)
		fprintf(f, ",\"timer\":{\"kind\":\"%s\",\"expires_ms\":%lld,\"probes\":%u}", t,
			(long long)(s->timer_expires_ms < 0 ? 0 : s->timer_expires_ms), s->probes);
	else
		fputs(",\"timer\":null", f);
	json_int(f, "last_send_ms", s->last_send_ms);
	json_int(f, "last_recv_ms", s->last_recv_ms);
	json_int(f, "last_ack_ms", s->last_ack_ms);
	json_int(f, "idle_ms", s->idle_ms);
	if (po->owners) {
		if (s->n_owners) {
			const struct hb_owner *o = &s->owner[0];

			fprintf(f, ",\"pid\":%d,\"comm\":", o->pid);
			hb_json_str(f, o->comm, sizeof(o->comm));
			fprintf(f, ",\"fd\":%d", o->fd);
		} else {
			fputs(",\"pid\":null,\"comm\":null,\"fd\":null", f);
		}
		fputs(",\"owners\":[", f);
		for (i = 0; i < s->n_owners; i++) {
			if (i)
				fputc(',', f);
			json_owner(f, owner_at(s, i));
		}
		fputc(']', f);
	}
	if (po->nat_timeout_ms >= 0) {
		risk = hb_at_risk(s, po->nat_timeout_ms);
		fprintf(f, ",\"at_risk\":%s", risk < 0 ? "null" : risk ? "true" : "false");
	}
	fputc('}', f);
}

void hb_print_json(FILE *f, const struct hb_sock_list *l, const struct hb_print_opts *po)
{
	size_t i;

	if (!l->n) {
		fputs("[]\n", f);
		return;
	}
	fputs("[\n", f);
	for (i = 0; i < l->n; i++) {
		json_sock(f, &l->v[i], po);
		fputs(i + 1 < l->n ? ",\n" : "\n", f);
	}
	fputs("]\n", f);
}

void hb_print_risk_summary(FILE *f, const struct hb_sock_list *l, long long nat_timeout_ms)
{
	size_t i, conns = 0, risk = 0, unknown = 0, dead = 0;
	char d[32];

	for (i = 0; i < l->n; i++) {
		const struct hb_sock *s = &l->v[i];
		int r;

		if (!hb_state_connected(s->state))
			continue;
		conns++;
		r = hb_at_risk(s, nat_timeout_ms);
		if (r < 0) {
			unknown++;
		} else if (r) {
			risk++;
			if (s->idle_ms >= nat_timeout_ms)
				dead++;
		}
	}
	if (nat_timeout_ms % 1000 == 0)
		snprintf(d, sizeof(d), "%lld s", nat_timeout_ms / 1000);
	else
		snprintf(d, sizeof(d), "%lld ms", nat_timeout_ms);
	fprintf(f, "%zu of %zu connection%s at risk for a %s NAT timeout", risk, conns,
		conns == 1 ? "" : "s", d);
	if (dead)
		fprintf(f, " (%zu already idle that long)", dead);
	if (unknown)
		fprintf(f, "; %zu unknown (settings unreadable)", unknown);
	fputc('\n', f);
}
