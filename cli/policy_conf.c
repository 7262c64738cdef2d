// SPDX-License-Identifier: BSD-2-Clause
/*
 * The policies file and the apply plan (policy_conf.h): pure, no I/O. The values are libhb's
 * (hb_policy_set, hb_policy_set_match), so a line means what the same options of
 * `hbctl policy add` mean.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "policy_conf.h"

#define VALUE_MAX	4096

/* Collected messages: "FILE:LINE: text\n" lines in one buffer. */
struct errbuf {
	char *buf;
	size_t len, off;
	unsigned int count;
	const char *file;
};

static void report(struct errbuf *e, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report(struct errbuf *e, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	e->count++;
	if (!e->buf || !e->len || e->off + 1 >= e->len)
		return;
	if (e->count > HB_CONF_MAX_ERRORS) {
		if (e->count == HB_CONF_MAX_ERRORS + 1) {
			n = snprintf(e->buf + e->off, e->len - e->off, "%s: ... more errors\n",
				     e->file);
			e->off += n > 0 ? (size_t)n : 0;
		}
	} else {
		n = snprintf(e->buf + e->off, e->len - e->off, "%s:%u: ", e->file, line);
		e->off += n > 0 ? (size_t)n : 0;
		if (e->off < e->len) {
			va_start(ap, fmt);
			n = vsnprintf(e->buf + e->off, e->len - e->off, fmt, ap);
			va_end(ap);
			e->off += n > 0 ? (size_t)n : 0;
		}
		if (e->off + 1 < e->len) {
			e->buf[e->off++] = '\n';
			e->buf[e->off] = '\0';
		}
	}
	if (e->off >= e->len) {		/* truncated: keep the buffer a string */
		e->off = e->len - 1;
		e->buf[e->off] = '\0';
	}
}

/* A value for messages: printable ASCII, at most 40 bytes. */
static const char *shown(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len && i < 40; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* '//' collapsed and a trailing '/' dropped (the root stays "/"); false if too long. */
static bool normalise_path(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in; in++) {
		if (*in == '/' && o && out[o - 1] == '/')
			continue;
		if (o + 1 >= len)
			return false;
		out[o++] = *in;
	}
	if (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = '\0';
	return true;
}

enum key {
	K_CGROUP, K_MATCH, K_IDLE, K_INTVL, K_CNT, K_UTO, K_KEEPALIVE, K_FORCE, K_RETROFIT,
	K_IDLE_DEFAULT, K_IDLE_MAX, K__N
};
static const char *const key_name[K__N] = {
	"cgroup", "match", "idle", "intvl", "cnt", "user-timeout", "keepalive", "force", "retrofit",
	"idle-default", "idle-max",
};

static int key_lookup(const char *k, size_t n)
{
	int i;

	for (i = 0; i < K__N; i++)
		if (strlen(key_name[i]) == n && !memcmp(k, key_name[i], n))
			return i;
	/* the underscore spelling of user-timeout, as in JSON output */
	if (n == 12 && !memcmp(k, "user_timeout", 12))
		return K_UTO;
	return -1;
}

/* Applies one KEY=VALUE to the entry. Returns 0, or -1 after a report. */
static int set_key(struct errbuf *e, unsigned int line, struct hb_conf_entry *ent, int k,
		   const char *v)
{
	static const enum hb_value vk[] = {
		[K_IDLE] = HB_V_IDLE, [K_INTVL] = HB_V_INTVL, [K_CNT] = HB_V_CNT,
		[K_UTO] = HB_V_USER_TIMEOUT, [K_KEEPALIVE] = HB_V_KEEPALIVE,
	};
	char err[HB_ERR_LEN], s[48];
	bool b;

	switch (k) {
	case K_CGROUP:
		if (!normalise_path(v, ent->cgroup, sizeof(ent->cgroup))) {
			report(e, line, "cgroup: path longer than %zu bytes", sizeof(ent->cgroup) - 1);
			return -1;
		}
		return 0;
	case K_MATCH:
		if (hb_policy_set_match(&ent->pol, v, err, sizeof(err))) {
			report(e, line, "match: %s", err);
			return -1;
		}
		return 0;
	case K_IDLE:
		if (strcmp(v, "auto"))
			break;
		/* idle=auto: idle counts as given (its fallback: idle-default, 60 s) */
		ent->idle_auto = true;
		hb_policy_set(&ent->pol, HB_V_IDLE, "60", err, sizeof(err));
		return 0;
	case K_IDLE_DEFAULT:
	case K_IDLE_MAX:
		if (hb_parse_secs(v, HB_IDLE_MIN, HB_IDLE_MAX, k == K_IDLE_MAX ? &ent->idle_max_s :
				  &ent->idle_default_s, err, sizeof(err))) {
			report(e, line, "%s: %s", key_name[k], err);
			return -1;
		}
		return 0;
	case K_FORCE:
	case K_RETROFIT:
		if (hb_parse_bool(v, &b, err, sizeof(err))) {
			report(e, line, "%s: '%s': expected yes or no", key_name[k],
			       shown(v, s, sizeof(s)));
			return -1;
		}
		if (k == K_FORCE)
			ent->pol.force = b;
		else
			ent->retrofit = b;
		return 0;
	default:
		break;
	}
	if (hb_policy_set(&ent->pol, vk[k], v, err, sizeof(err))) {
		report(e, line, "%s: %s", key_name[k], err);
		return -1;
	}
	if (k == K_IDLE)
		ent->idle_auto = false;	/* a later idle=DUR wins over an earlier idle=auto */
	return 0;
}

void hb_conf_idle_auto(const struct hb_conf_entry *e, struct hb_pol_cfg *cfg)
{
	if (!e->idle_auto)
		return;
	cfg->flags |= HB_POL_F_IDLE_AUTO;
	cfg->mask |= HB_POL_SET_IDLE;
	cfg->idle_s = e->idle_default_s ? e->idle_default_s : 60;
	cfg->idle_max_s = (__u32)(e->idle_max_s ? e->idle_max_s : 600);
}

/*
 * The next KEY=VALUE of a line at *pp (up to end): k, kn the key, v, vn the value (quotes
 * removed), *pp moved past it. Kept apart from what a pair means so that the quoting rules
 * read in one place. Returns 1 for a pair, 0 at the end of the line (or a comment), -1
 * after reporting a malformed pair (the rest of the line cannot be split then).
 */
static int next_pair(struct errbuf *e, unsigned int line, const char **pp, const char *end,
		     const char **k, size_t *kn, const char **v, size_t *vn, char *val)
{
	const char *p = *pp;
	char s[48];

	while (p < end && is_blank(*p))
		p++;
	if (p == end || *p == '#')
		return 0;
	*k = p;
	while (p < end && *p != '=' && !is_blank(*p))
		p++;
	*kn = (size_t)(p - *k);
	if (p == end || *p != '=') {
		memcpy(val, *k, *kn < 40 ? *kn : 40);
		val[*kn < 40 ? *kn : 40] = '\0';
		report(e, line, "expected KEY=VALUE, got '%s'", shown(val, s, sizeof(s)));
		return -1;
	}
	p++;	/* '=' */
	if (p < end && *p == '"') {
		*v = ++p;
		while (p < end && *p != '"')
			p++;
		if (p == end) {
			report(e, line, "unterminated quote");
			return -1;
		}
		*vn = (size_t)(p - *v);
		p++;
		if (p < end && !is_blank(*p) && *p != '#') {
			report(e, line, "a blank must follow the closing quote");
			return -1;
		}
	} else {
		*v = p;
		while (p < end && !is_blank(*p))
			p++;
		*vn = (size_t)(p - *v);
	}
	*pp = p;
	return 1;
}

/*
 * One pair into *ent, *seen marking its key. A bad pair is reported and the line goes on,
 * so that one run of the parser names every error of the line. Returns 0, or -1 after
 * reporting.
 */
static int take_pair(struct errbuf *e, unsigned int line, struct hb_conf_entry *ent,
		     unsigned int *seen, const char *k, size_t kn, const char *v, size_t vn,
		     char *val)
{
	char s[48];
	int key;

	memcpy(val, k, kn < 40 ? kn : 40);
	val[kn < 40 ? kn : 40] = '\0';
	key = key_lookup(k, kn);
	if (key < 0) {
		report(e, line, "unknown key '%s' (cgroup, match, idle, idle-default, "
		       "idle-max, intvl, cnt, user-timeout, keepalive, force, retrofit)",
		       shown(val, s, sizeof(s)));
		return -1;
	}
	if (*seen & (1u << key)) {
		report(e, line, "%s given twice", key_name[key]);
		return -1;
	}
	*seen |= 1u << key;
	if (!vn) {
		report(e, line, "%s: empty value", key_name[key]);
		return -1;
	}
	if (vn >= VALUE_MAX) {
		report(e, line, "%s: value longer than %d bytes", key_name[key], VALUE_MAX - 1);
		return -1;
	}
	memcpy(val, v, vn);
	val[vn] = '\0';
	return set_key(e, line, ent, key, val) ? -1 : 0;
}

/* What only the whole line can tell (keys that need or exclude each other). bad: errors
 * already reported for the line, which keep the no-op check quiet. Returns 0, or -1 after
 * reporting. */
static int check_entry(struct errbuf *e, unsigned int line, const struct hb_conf_entry *ent,
		       unsigned int seen, int bad)
{
	if (!(seen & (1u << K_CGROUP))) {
		report(e, line, "no cgroup=PATH");
		bad = 1;
	} else if (ent->cgroup[0] == '\0') {
		report(e, line, "cgroup: empty path");
		bad = 1;
	}
	if (!ent->idle_auto && (seen & (1u << K_IDLE_DEFAULT | 1u << K_IDLE_MAX))) {
		report(e, line, "idle-default and idle-max go with idle=auto");
		bad = 1;
	}
	if (!bad && hb_policy_is_noop(&ent->pol)) {
		report(e, line, "keepalive=off without user-timeout leaves nothing to do");
		bad = 1;
	}
	return bad ? -1 : 0;
}

/*
 * Parses one line (no '\n'; may hold anything, NULs included). Returns 1 for a policy in
 * *ent, 0 for a blank or comment line, -1 after reporting errors.
 */
static int parse_line(struct errbuf *e, unsigned int line, const char *p, size_t len,
		      struct hb_conf_entry *ent, char *val)
{
	const char *end = p + len, *k, *v;
	unsigned int seen = 0;
	size_t kn, vn;
	int rc, bad = 0;

	if (memchr(p, '\0', len)) {
		report(e, line, "NUL byte in the line");
		return -1;
	}
	memset(ent, 0, sizeof(*ent));
	hb_policy_init(&ent->pol);
	ent->line = line;
	while ((rc = next_pair(e, line, &p, end, &k, &kn, &v, &vn, val)) > 0)
		if (take_pair(e, line, ent, &seen, k, kn, v, vn, val))
			bad = 1;
	if (rc < 0)
		return -1;
	if (!seen)
		return bad ? -1 : 0;
	return check_entry(e, line, ent, seen, bad) ? -1 : 1;
}

int hb_conf_parse(const char *text, size_t len, const char *file, struct hb_conf *out,
		  char *errs, size_t errlen)
{
	struct errbuf e = { .buf = errs, .len = errlen, .file = file ? file : "-" };
	const char *p = text, *end = text + len, *nl;
	struct hb_conf_entry *ent, *nv;
	unsigned int line = 0;
	size_t cap = 0, i;
	char *val;
	int rc;

	if (errs && errlen)
		errs[0] = '\0';
	out->v = NULL;
	out->n = 0;
	val = malloc(VALUE_MAX);
	ent = malloc(sizeof(*ent));
	if (!val || !ent) {
		free(val);
		free(ent);
		return -ENOMEM;
	}
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		line++;
		rc = parse_line(&e, line, p, (size_t)(nl - p), ent, val);
		p = nl < end ? nl + 1 : end;
		if (rc <= 0)
			continue;
		for (i = 0; i < out->n && strcmp(out->v[i].cgroup, ent->cgroup); i++)
			;
		if (i < out->n) {
			report(&e, line, "cgroup %.300s has a policy on line %u already",
			       ent->cgroup, out->v[i].line);
			continue;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 8;
			nv = realloc(out->v, cap * sizeof(*nv));
			if (!nv) {
				free(val);
				free(ent);
				hb_conf_free(out);
				return -ENOMEM;
			}
			out->v = nv;
		}
		out->v[out->n++] = *ent;
	}
	free(val);
	free(ent);
	return e.count ? -EINVAL : 0;
}

void hb_conf_free(struct hb_conf *c)
{
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

size_t hb_conf_match_text(const struct hb_match *m, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int i;
	int n;

	if (!len)
		return 0;
	buf[0] = '\0';
	for (i = 0; i < m->n && off + 1 < len; i++) {
		if (i)
			buf[off++] = ',';
		n = hb_pattern_format(&m->pat[i], buf + off, len - off);
		if (n < 0)
			break;
		off += (size_t)n < len - off ? (size_t)n : len - off - 1;
	}
	buf[off < len ? off : len - 1] = '\0';
	return off < len ? off : len - 1;
}

/* ---- the plan ----------------------------------------------------------------------------- */

const char *hb_plan_op_name(enum hb_plan_op op)
{
	switch (op) {
	case HB_PLAN_KEEP:
		return "keep";
	case HB_PLAN_ADD:
		return "add";
	case HB_PLAN_REPLACE:
		return "replace";
	case HB_PLAN_REMOVE:
		return "remove";
	default:
		return "conflict";
	}
}

bool hb_conf_path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/* Whether the policy in place is exactly the wanted one. */
static bool same(const struct hb_conf_want *w, const struct hb_pol_info *c)
{
	const char *m = w->match ? w->match : "";

	return !memcmp(&w->cfg, &c->meta.cfg, sizeof(w->cfg)) &&
	       !strncmp(m, c->meta.match, sizeof(c->meta.match)) &&
	       !strncmp(w->cgroup, c->meta.cgroup, sizeof(c->meta.cgroup));
}

/* Why a policy in place goes (hb_pol_state_reason() lives with libbpf; this file must not). */
static const char *dead_reason(enum hb_pol_state st)
{
	switch (st) {
	case HB_POL_ACTIVE:
		return "not in the file";
	case HB_POL_ORPHAN_GONE:
		return "cgroup gone";
	case HB_POL_ORPHAN_EMPTY:
		return "cgroup empty";
	case HB_POL_ORPHAN_OWNER:
		return "owner gone";
	default:
		return "broken";
	}
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = ((const struct hb_plan_step *)a)->id, y = ((const struct hb_plan_step *)b)->id;

	return x < y ? -1 : x > y;
}

int hb_conf_plan(const struct hb_conf_want *want, size_t nwant, const struct hb_pol_info *cur,
		 size_t ncur, const char *scope, struct hb_plan_step **out, size_t *nout)
{
	struct hb_plan_step *s;
	bool *used;
	size_t n = 0, i, j, first_rm;

	*out = NULL;
	*nout = 0;
	/* at most one step per want, plus a removal and an add for each dead policy in place */
	s = calloc(nwant * 2 + ncur + 1, sizeof(*s));
	used = calloc(ncur + 1, sizeof(*used));
	if (!s || !used) {
		free(s);
		free(used);
		return -ENOMEM;
	}
	for (i = 0; i < nwant; i++) {
		const struct hb_conf_want *w = &want[i];
		const struct hb_pol_info *c = NULL;

		for (j = 0; j < i && want[j].id != w->id; j++)
			;
		if (j < i) {
			s[n++] = (struct hb_plan_step){ HB_PLAN_CONFLICT, w->id, i, (size_t)-1,
							"the same cgroup as another line" };
			continue;
		}
		for (j = 0; j < ncur && cur[j].id != w->id; j++)
			;
		if (j < ncur)
			c = &cur[j];
		if (scope && !hb_conf_path_under(w->cgroup, scope)) {
			s[n++] = (struct hb_plan_step){ HB_PLAN_CONFLICT, w->id, i, (size_t)-1,
							"outside --scope" };
			if (c)
				used[j] = true;
			continue;
		}
		if (!c) {
			s[n++] = (struct hb_plan_step){ HB_PLAN_ADD, w->id, i, (size_t)-1, NULL };
			continue;
		}
		used[j] = true;
		if (c->meta.flags & HB_POL_M_TRANSIENT) {
			s[n++] = (struct hb_plan_step){ HB_PLAN_CONFLICT, w->id, i, j,
							"the cgroup has a policy of hbctl run --kernel" };
		} else if (c->state == HB_POL_BROKEN) {
			/* hb_pol_add() starts a half-made policy afresh */
			s[n++] = (struct hb_plan_step){ HB_PLAN_ADD, w->id, i, j, "broken" };
		} else if (c->state != HB_POL_ACTIVE) {
			/* a policy on a cgroup that died, whose id came back: a fresh one */
			s[n++] = (struct hb_plan_step){ HB_PLAN_REMOVE, c->id, (size_t)-1, j,
							dead_reason(c->state) };
			s[n++] = (struct hb_plan_step){ HB_PLAN_ADD, w->id, i, (size_t)-1, NULL };
		} else if (same(w, c)) {
			s[n++] = (struct hb_plan_step){ HB_PLAN_KEEP, w->id, i, j, NULL };
		} else {
			s[n++] = (struct hb_plan_step){ HB_PLAN_REPLACE, w->id, i, j,
							"values differ" };
		}
	}
	first_rm = n;
	for (j = 0; j < ncur; j++) {
		const struct hb_pol_info *c = &cur[j];

		if (used[j] || (c->meta.flags & HB_POL_M_TRANSIENT))
			continue;
		if (c->state == HB_POL_BROKEN ? scope != NULL :
		    scope && !hb_conf_path_under(c->meta.cgroup, scope))
			continue;
		s[n++] = (struct hb_plan_step){ HB_PLAN_REMOVE, c->id, (size_t)-1, j,
						dead_reason(c->state) };
	}
	qsort(s + first_rm, n - first_rm, sizeof(*s), cmp_id);
	free(used);
	*out = s;
	*nout = n;
	return 0;
}
