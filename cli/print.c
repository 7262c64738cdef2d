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
 * --nat-timeout auto: each connection by its own path's timeout, the dropped= of the path
 * table's entry covering its peer (hb_sock.path). A connection whose path has no entry, or
 * an entry with no drop known, is not judged: JSON null, a blank RISK cell, counted apart.
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "out.h"
#include "mon.h"
#include "hb/paths.h"

#define CELL 64		/* the longest cell: an IPv6 address with port, 54 bytes */

enum col {
	C_STATE, C_LOCAL, C_PEER, C_KA, C_IDLE, C_INTVL, C_CNT, C_UTO, C_TIMER, C_SEND, C_RECV,
	C_IDLEFOR, C_RISK, C_MON, C_PROC, NCOL
};

static const char *const col_name[NCOL] = {
	"STATE", "LOCAL", "PEER", "KA", "IDLE", "INTVL", "CNT", "UTO", "TIMER", "SEND", "RECV",
	"IDLE-FOR", "RISK", "PROBES(S/R/U)", "PROCESS",
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

long long hb_sock_nat_timeout(const struct hb_sock *s, const struct hb_print_opts *po)
{
	const struct hb_path *e;

	if (!po->nat_auto)
		return po->nat_timeout_ms;
	e = hb_sock_path(s, po->paths);
	return e && e->dropped_ms > 0 ? e->dropped_ms : -1;
}

int hb_sock_at_risk(const struct hb_sock *s, const struct hb_print_opts *po)
{
	long long t;

	if (!hb_state_connected(s->state))
		return 0;
	t = hb_sock_nat_timeout(s, po);
	return t < 0 ? -2 : hb_at_risk(s, t);
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

char *hb_fmt_sock(char *buf, size_t len, const struct hb_sock *s)
{
	char l[64], r[64];

	hb_fmt_addr(l, sizeof(l), s->family, s->laddr, s->lport, false);
	hb_fmt_addr(r, sizeof(r), s->family, s->raddr, s->rport, false);
	snprintf(buf, len, "%s -> %s", l, r);
	return buf;
}

/* ---- table ---------------------------------------------------------------------------- */

/* One row's cells, formatted once per pass into a small arena (no printf). */
struct row {
	const char *cell[NCOL];
	unsigned char len[NCOL];
	char arena[NCOL * CELL];
};

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* A keepalive value in seconds: "(2h)" when it is the sysctl's, not the socket's own. */
static char *cfg_secs(char *p, int v, unsigned int src, bool count)
{
	bool sys = src == HB_SOCK_SRC_SYSCTL;

	if (v < 0) {
		*p++ = '?';
		return p;
	}
	if (sys)
		*p++ = '(';
	p = count ? hb_put_u64(p, (uint64_t)v) : hb_put_duration(p, (long long)v * 1000);
	if (sys)
		*p++ = ')';
	return p;
}

/* Whether the socket has send/receive ages at all: not before the handshake, not listeners,
 * not time-wait or request sockets. */
static bool has_ages(const struct hb_sock *s)
{
	return !s->no_options && s->state != HB_TCP_LISTEN && s->state != HB_TCP_SYN_SENT &&
	       s->state != HB_TCP_SYN_RECV && s->state != HB_TCP_CLOSE &&
	       s->state != HB_TCP_NEW_SYN_RECV;
}

/* An age: "-" where the socket has none, "?" where it has one we could not read. */
static char *put_age(char *p, const struct hb_sock *s, int64_t ms)
{
	if (ms < 0 && !has_ages(s)) {
		*p++ = '-';
		return p;
	}
	return hb_put_duration(p, ms);
}

/* The KEEPALIVE cell: on, off, ? (unreadable), - (no options: time-wait, request). */
static char *put_ka(char *p, const struct hb_sock *s)
{
	if (s->no_options && s->keepalive < 0)
		return HB_PUT(p, "-");
	return s->keepalive < 0 ? HB_PUT(p, "?") : s->keepalive ? HB_PUT(p, "on") :
	       HB_PUT(p, "off");
}

/* The USER-TIMEOUT cell: the duration, - for none, ? when unreadable. */
static char *put_uto(char *p, const struct hb_sock *s)
{
	if (s->no_options || s->user_timeout_ms == 0)
		return HB_PUT(p, "-");
	if (s->user_timeout_ms < 0)
		return HB_PUT(p, "?");
	return hb_put_duration(p, s->user_timeout_ms);
}

/* The TIMER cell: "kind,expires,probes", - for none. */
static char *put_timer(char *p, const struct hb_sock *s)
{
	const char *t = timer_name(s->timer);

	if (!t)
		return HB_PUT(p, "-");
	p = put_str(p, t);
	*p++ = ',';
	p = hb_put_duration(p, s->timer_expires_ms);
	*p++ = ',';
	return hb_put_u64(p, s->probes);
}

/* The RISK cell: yes, no, ? (unknown), - (not connected); blank when not judged (auto, no
 * timeout known for the path). */
static char *put_risk(char *p, const struct hb_sock *s, const struct hb_print_opts *po)
{
	int risk = hb_sock_at_risk(s, po);

	return !hb_state_connected(s->state) ? HB_PUT(p, "-") : risk == -2 ? p :
	       risk < 0 ? HB_PUT(p, "?") : risk ? HB_PUT(p, "yes") : HB_PUT(p, "no");
}

/* Fills every cell but PROCESS, which is the last column and never padded: the printing pass
 * writes it straight out, and the width pass does not need it. */
static void row_cells(const struct hb_sock *s, const struct hb_print_opts *po, struct row *r)
{
	char *p = r->arena, *c0;
	int c;

#define CELL_BEGIN(col) (c = (col), c0 = p)
#define CELL_END() (r->cell[c] = c0, r->len[c] = (unsigned char)(p - c0), *p++ = 0)
	CELL_BEGIN(C_STATE);
	p = put_str(p, hb_state_name(s->state));
	CELL_END();
	CELL_BEGIN(C_LOCAL);
	p = hb_put_addr(p, s->family, s->laddr, s->lport, true);
	CELL_END();
	CELL_BEGIN(C_PEER);
	p = hb_put_addr(p, s->family, s->raddr, s->rport, true);
	CELL_END();
	/* "-" where the socket has no options at all (time-wait, request) */
	CELL_BEGIN(C_KA);
	p = put_ka(p, s);
	CELL_END();
	CELL_BEGIN(C_IDLE);
	p = s->no_options ? HB_PUT(p, "-") : cfg_secs(p, s->keepidle_s, s->src_idle, false);
	CELL_END();
	CELL_BEGIN(C_INTVL);
	p = s->no_options ? HB_PUT(p, "-") : cfg_secs(p, s->keepintvl_s, s->src_intvl, false);
	CELL_END();
	CELL_BEGIN(C_CNT);
	p = s->no_options ? HB_PUT(p, "-") : cfg_secs(p, s->keepcnt, s->src_cnt, true);
	CELL_END();
	CELL_BEGIN(C_UTO);
	p = put_uto(p, s);
	CELL_END();
	CELL_BEGIN(C_TIMER);
	p = put_timer(p, s);
	CELL_END();
	CELL_BEGIN(C_SEND);
	p = put_age(p, s, s->last_send_ms);
	CELL_END();
	CELL_BEGIN(C_RECV);
	p = put_age(p, s, s->last_recv_ms);
	CELL_END();
	CELL_BEGIN(C_IDLEFOR);
	p = put_age(p, s, s->idle_ms);
	CELL_END();
	CELL_BEGIN(C_RISK);
	if (po->nat_timeout_ms >= 0)
		p = put_risk(p, s, po);
	CELL_END();
	CELL_BEGIN(C_MON);	/* hbctl monitor's keepalive probes: sent/received/unanswered */
	if (s->mon)
		p = hb_mon_put_cell(p, s->mon);
	else if (po->monitor)
		*p++ = '-';
	CELL_END();
	r->cell[C_PROC] = "";
	r->len[C_PROC] = 0;
#undef CELL_BEGIN
#undef CELL_END
}

/* The PROCESS cell: "pid/comm/fd" of up to three owners, then ",+N"; "-" without one. */
static void put_owners(struct hb_out *out, const struct hb_sock *s)
{
	unsigned int i;
	char *p;

	if (!s->n_owners) {
		hb_out_ch(out, '-');
		return;
	}
	for (i = 0; i < s->n_owners; i++) {
		const struct hb_owner *o = owner_at(s, i);

		p = hb_out_reserve(out, 48 + HB_WORD_MAX(sizeof(o->comm)));
		if (i == 3) {
			p = HB_PUT(p, ",+");
			p = hb_put_u64(p, s->n_owners - 3);
			hb_out_commit(out, p);
			break;
		}
		if (i)
			*p++ = ',';
		p = hb_put_i64(p, o->pid);
		*p++ = '/';
		if (!o->comm[0])
			*p++ = '?';
		/* one word: control characters and blanks would break the columns, bytes
		 * that are not UTF-8 and 8-bit controls reach the terminal escaped */
		p = hb_put_word(p, o->comm, sizeof(o->comm) - 1);
		*p++ = '/';
		p = hb_put_i64(p, o->fd);
		hb_out_commit(out, p);
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
	if (c == C_MON)
		return po->monitor;
	return true;
}

/* One line: the cells in r, s's owners for PROCESS (header: s NULL, the column's name). */
static void put_row(struct hb_out *out, const struct row *r, const struct hb_sock *s,
		    const size_t *w, const struct hb_print_opts *po, bool color)
{
	int c, last = po->owners ? C_PROC : po->monitor ? C_MON :
		      po->nat_timeout_ms >= 0 ? C_RISK : C_IDLEFOR;
	const char *col;
	char *p;

	for (c = 0; c < NCOL; c++) {
		if (!col_shown(c, po))
			continue;
		if (c == C_PROC && s) {
			hb_out_mem(out, "  ", 2);
			put_owners(out, s);
			break;
		}
		p = hb_out_reserve(out, 2 + 2 * CELL + 16);
		if (c)
			p = HB_PUT(p, "  ");
		col = color ? cell_color(c, r->cell[c]) : NULL;
		if (col)
			p = put_str(p, col);
		memcpy(p, r->cell[c], r->len[c]);
		p += r->len[c];
		if (col)
			p = HB_PUT(p, COLOR_OFF);
		if (c != last && w[c] > r->len[c]) {
			memset(p, ' ', w[c] - r->len[c]);
			p += w[c] - r->len[c];
		}
		hb_out_commit(out, p);
	}
	hb_out_ch(out, '\n');
}

int hb_print_table(FILE *f, const struct hb_sock_list *l, const struct hb_print_opts *po)
{
	struct hb_out out;
	struct row r, head;
	size_t w[NCOL], i;
	int c, rc;

	rc = hb_out_open(&out, f);
	if (rc)
		return rc;
	for (c = 0; c < NCOL; c++) {
		w[c] = strlen(col_name[c]);
		head.cell[c] = col_name[c];
		head.len[c] = (unsigned char)w[c];
	}
	/* widths: the cells are cheap to make (no printf), so making them twice costs less
	 * than keeping 100k rows of them */
	for (i = 0; i < l->n; i++) {
		row_cells(&l->v[i], po, &r);
		for (c = 0; c < C_PROC; c++)
			if (r.len[c] > w[c])
				w[c] = r.len[c];
	}
	put_row(&out, &head, NULL, w, po, false);
	for (i = 0; i < l->n; i++) {
		row_cells(&l->v[i], po, &r);
		put_row(&out, &r, &l->v[i], w, po, po->color);
	}
	return hb_out_close(&out);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static char *json_int(char *p, const char *key, size_t klen, long long v)
{
	memcpy(p, key, klen);
	p += klen;
	return v < 0 ? HB_PUT(p, "null") : hb_put_i64(p, v);
}
#define JSON_INT(p, key, v) json_int((p), ",\"" key "\":", sizeof(",\"" key "\":") - 1, (v))

static char *json_src(char *p, unsigned int src)
{
	if (src == HB_SOCK_SRC_PATH)		/* without its entry: json_idle_src() writes DEST */
		return HB_PUT(p, "\"path\"");
	if (src == HB_SOCK_SRC_SOCKET)
		return HB_PUT(p, "\"socket\"");
	if (src == HB_SOCK_SRC_SYSCTL)
		return HB_PUT(p, "\"sysctl\"");
	if (src == HB_SOCK_SRC_PROGRAM)
		return HB_PUT(p, "\"program\"");
	if (src == HB_SOCK_SRC_POLICY)
		return HB_PUT(p, "\"policy\"");
	return HB_PUT(p, "null");
}

/* The idle's source: "path DEST" when it came from the path table's entry. */
static char *json_idle_src(char *p, const struct hb_sock *s, const struct hb_print_opts *po)
{
	const struct hb_path *e = s->src_idle == HB_SOCK_SRC_PATH ? hb_sock_path(s, po->paths) : NULL;
	char dest[80];
	int n;

	if (!e)
		return json_src(p, s->src_idle);
	/* an address, prefix and port: nothing to escape */
	n = hb_pattern_format(&e->dest, dest, sizeof(dest));
	if (n <= 0 || (size_t)n >= sizeof(dest))
		return json_src(p, s->src_idle);
	p = HB_PUT(p, "\"path ");
	p = put_str(p, dest);
	*p++ = '"';
	return p;
}

static char *json_bool(char *p, int v)
{
	return v < 0 ? HB_PUT(p, "null") : v ? HB_PUT(p, "true") : HB_PUT(p, "false");
}

static void json_owner(struct hb_out *out, const struct hb_owner *o, bool inner)
{
	char *p = hb_out_reserve(out, 32);

	p = inner ? HB_PUT(p, "{\"pid\":") : HB_PUT(p, ",\"pid\":");
	p = hb_put_i64(p, o->pid);
	p = HB_PUT(p, ",\"comm\":");
	hb_out_commit(out, p);
	hb_out_json_str(out, o->comm, sizeof(o->comm));
	p = hb_out_reserve(out, 32);
	p = HB_PUT(p, ",\"fd\":");
	p = hb_put_i64(p, o->fd);
	if (inner)
		*p++ = '}';
	hb_out_commit(out, p);
}

/* A socket's object up to its values: state, addresses, ids, keepalive settings. Each part of
 * json_sock reserves at most ~450 bytes. */
static void json_values(struct hb_out *out, const struct hb_sock *s)
{
	char *p = hb_out_reserve(out, 512);

	p = HB_PUT(p, "{\"state\":\"");
	p = put_str(p, hb_state_name(s->state));
	p = HB_PUT(p, "\",\"local\":\"");
	p = hb_put_addr(p, s->family, s->laddr, s->lport, false);
	p = HB_PUT(p, "\",\"peer\":\"");
	p = hb_put_addr(p, s->family, s->raddr, s->rport, false);
	p = HB_PUT(p, "\",\"inode\":");
	p = hb_put_u64(p, s->inode);
	p = HB_PUT(p, ",\"cookie\":");
	p = hb_put_u64(p, s->cookie);
	p = HB_PUT(p, ",\"uid\":");
	p = hb_put_u64(p, s->uid);
	p = HB_PUT(p, ",\"keepalive\":");
	p = json_bool(p, s->keepalive);
	p = JSON_INT(p, "keepidle_s", s->keepidle_s);
	p = JSON_INT(p, "keepintvl_s", s->keepintvl_s);
	p = JSON_INT(p, "keepcnt", s->keepcnt);
	p = JSON_INT(p, "user_timeout_ms", s->user_timeout_ms);
	hb_out_commit(out, p);
}

/* Then where each value came from, the timer and the ages. */
static void json_sources_timer(struct hb_out *out, const struct hb_sock *s,
			       const struct hb_print_opts *po)
{
	const char *t = timer_name(s->timer);
	char *p = hb_out_reserve(out, 512);

	p = HB_PUT(p, ",\"config_source\":{");
	if (s->src_ka != HB_SOCK_SRC_UNKNOWN) {
		/* only a kernel policy's record knows who switched keepalive on or off */
		p = HB_PUT(p, "\"keepalive\":");
		p = json_src(p, s->src_ka);
		*p++ = ',';
	}
	p = HB_PUT(p, "\"keepidle\":");
	p = json_idle_src(p, s, po);
	p = HB_PUT(p, ",\"keepintvl\":");
	p = json_src(p, s->src_intvl);
	p = HB_PUT(p, ",\"keepcnt\":");
	p = json_src(p, s->src_cnt);
	p = HB_PUT(p, ",\"user_timeout\":");
	/* no sysctl for the user timeout: "socket" or none, whatever the back end said */
	p = json_src(p, s->src_uto == HB_SOCK_SRC_SOCKET ? HB_SOCK_SRC_SOCKET : HB_SOCK_SRC_UNKNOWN);
	*p++ = '}';
	if (t) {
		p = HB_PUT(p, ",\"timer\":{\"kind\":\"");
		p = put_str(p, t);
		p = HB_PUT(p, "\",\"expires_ms\":");
		p = hb_put_i64(p, s->timer_expires_ms < 0 ? 0 : s->timer_expires_ms);
		p = HB_PUT(p, ",\"probes\":");
		p = hb_put_u64(p, s->probes);
		*p++ = '}';
	} else {
		p = HB_PUT(p, ",\"timer\":null");
	}
	p = JSON_INT(p, "last_send_ms", s->last_send_ms);
	p = JSON_INT(p, "last_recv_ms", s->last_recv_ms);
	p = JSON_INT(p, "last_ack_ms", s->last_ack_ms);
	p = JSON_INT(p, "idle_ms", s->idle_ms);
	hb_out_commit(out, p);
}

/* -p: the first owner's fields, and every owner. */
static void json_owners(struct hb_out *out, const struct hb_sock *s)
{
	unsigned int i;

	if (s->n_owners)
		json_owner(out, &s->owner[0], false);
	else
		hb_out_str(out, ",\"pid\":null,\"comm\":null,\"fd\":null");
	hb_out_str(out, ",\"owners\":[");
	for (i = 0; i < s->n_owners; i++) {
		if (i)
			hb_out_ch(out, ',');
		json_owner(out, owner_at(s, i), true);
	}
	hb_out_ch(out, ']');
}

static void json_sock(struct hb_out *out, const struct hb_sock *s, const struct hb_print_opts *po)
{
	char *p;

	json_values(out, s);
	json_sources_timer(out, s, po);
	if (po->owners)
		json_owners(out, s);
	if (s->mon)
		hb_mon_json_sock(out, s->mon);
	p = hb_out_reserve(out, 64);
	if (po->nat_timeout_ms >= 0) {
		int risk = hb_sock_at_risk(s, po);

		if (po->nat_auto)	/* what it was judged by: its path's timeout */
			p = JSON_INT(p, "nat_timeout_ms",
				     hb_state_connected(s->state) ? hb_sock_nat_timeout(s, po) : -1);
		p = HB_PUT(p, ",\"at_risk\":");
		p = json_bool(p, risk < 0 ? -1 : risk);
	}
	*p++ = '}';
	hb_out_commit(out, p);
}

int hb_print_json(FILE *f, const struct hb_sock_list *l, const struct hb_print_opts *po)
{
	struct hb_out out;
	size_t i;
	int rc;

	rc = hb_out_open(&out, f);
	if (rc)
		return rc;
	if (!l->n) {
		hb_out_str(&out, "[]\n");
		return hb_out_close(&out);
	}
	hb_out_str(&out, "[\n");
	for (i = 0; i < l->n; i++) {
		json_sock(&out, &l->v[i], po);
		hb_out_mem(&out, i + 1 < l->n ? ",\n" : "\n", i + 1 < l->n ? 2 : 1);
	}
	hb_out_str(&out, "]\n");
	return hb_out_close(&out);
}

void hb_print_risk_summary(FILE *f, const struct hb_sock_list *l, const struct hb_print_opts *po)
{
	size_t i, conns = 0, risk = 0, unknown = 0, dead = 0, unjudged = 0;
	long long nat_timeout_ms = po->nat_timeout_ms;
	char d[32];

	for (i = 0; i < l->n; i++) {
		const struct hb_sock *s = &l->v[i];
		int r;

		if (!hb_state_connected(s->state))
			continue;
		conns++;
		r = hb_sock_at_risk(s, po);
		if (r == -2) {
			unjudged++;
		} else if (r < 0) {
			unknown++;
		} else if (r) {
			risk++;
			if (s->idle_ms >= hb_sock_nat_timeout(s, po))
				dead++;
		}
	}
	if (po->nat_auto)
		snprintf(d, sizeof(d), "their paths'");
	else if (nat_timeout_ms % 1000 == 0)
		snprintf(d, sizeof(d), "a %lld s", nat_timeout_ms / 1000);
	else
		snprintf(d, sizeof(d), "a %lld ms", nat_timeout_ms);
	fprintf(f, "%zu of %zu connection%s at risk for %s NAT timeout%s", risk, conns,
		conns == 1 ? "" : "s", d, po->nat_auto ? "s" : "");
	if (dead)
		fprintf(f, " (%zu already idle that long)", dead);
	if (unknown)
		fprintf(f, "; %zu unknown (settings unreadable)", unknown);
	if (unjudged)
		fprintf(f, "; %zu not judged (no timeout known for %s path)", unjudged,
			unjudged == 1 ? "its" : "their");
	fputc('\n', f);
}
