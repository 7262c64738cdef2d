// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for the policies file (cli/policy_conf.c). Invariants:
 * - the parser returns 0 or -EINVAL, the message buffer stays a string (a tiny one too),
 *   each message starts with "FILE:LINE: " and there is one exactly when the result is an
 *   error;
 * - parsed entries are well formed: increasing line numbers, normalised distinct cgroup
 *   paths, policies that do something;
 * - every entry, written back as a line, parses to the very same entry;
 * - the plan for the entries against nothing adds them all, and against the policies they
 *   would make keeps them all (a second apply is empty).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_conf.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "invariant failed: %s\n", #c); abort(); } } while (0)

static char errs[16384];

static void check_messages(const char *e, bool any)
{
	const char *p = e, *nl;
	unsigned long line;
	char *end;

	CHECK(any == (*e != '\0'));
	while (*p) {
		nl = strchr(p, '\n');
		CHECK(nl != NULL || strlen(p) < 200);	/* only a truncated last line lacks \n */
		CHECK(!strncmp(p, "f.conf:", 7));
		if (strncmp(p, "f.conf: ... more", 16)) {
			line = strtoul(p + 7, &end, 10);
			CHECK(line >= 1 && end[0] == ':' && end[1] == ' ');
		}
		if (!nl)
			break;
		p = nl + 1;
	}
}

/* Writes e back as one line of the file; false when its cgroup cannot be written. */
static bool format(const struct hb_conf_entry *e, char *buf, size_t len)
{
	const struct hb_policy *p = &e->pol;
	char m[HB_POL_MATCH_LEN];
	size_t o = 0;
	bool quote = strpbrk(e->cgroup, " \t\r\v\f#") != NULL || e->cgroup[0] == '"';

	if (quote && strchr(e->cgroup, '"'))
		return false;
	if (p->has_match && p->match.n == 0)
		return false;
#define PUT(...) (o += (size_t)snprintf(buf + o, o < len ? len - o : 0, __VA_ARGS__))
	PUT(quote ? "cgroup=\"%s\"" : "cgroup=%s", e->cgroup);
	if (p->set & HB_BIT(HB_V_KEEPALIVE))
		PUT(" keepalive=%s", p->keepalive ? "on" : "off");
	if (p->set & HB_BIT(HB_V_IDLE))
		PUT(" idle=%d", p->idle_s);
	if (p->set & HB_BIT(HB_V_INTVL))
		PUT(" intvl=%ds", p->intvl_s);
	if (p->set & HB_BIT(HB_V_CNT))
		PUT(" cnt=%d", p->cnt);
	if (p->set & HB_BIT(HB_V_USER_TIMEOUT))
		PUT(" user-timeout=%dms", p->user_timeout_ms);
	if (p->has_match) {
		hb_conf_match_text(&p->match, m, sizeof(m));
		PUT(" match=\"%s\"", m);
	}
	PUT(" force=%s retrofit=%s\n", p->force ? "yes" : "no", e->retrofit ? "yes" : "no");
#undef PUT
	return o < len;
}

static void same_entry(const struct hb_conf_entry *a, const struct hb_conf_entry *b)
{
	unsigned int v;

	CHECK(!strcmp(a->cgroup, b->cgroup));
	CHECK(a->pol.set == b->pol.set);
	CHECK(a->pol.keepalive == b->pol.keepalive && a->pol.force == b->pol.force);
	CHECK(a->retrofit == b->retrofit && a->pol.has_match == b->pol.has_match);
	for (v = 0; v < HB_V__COUNT; v++)
		if (a->pol.set & HB_BIT(v))
			CHECK((v == HB_V_IDLE ? a->pol.idle_s == b->pol.idle_s :
			       v == HB_V_INTVL ? a->pol.intvl_s == b->pol.intvl_s :
			       v == HB_V_CNT ? a->pol.cnt == b->pol.cnt :
			       v == HB_V_USER_TIMEOUT ? a->pol.user_timeout_ms == b->pol.user_timeout_ms :
			       true));
	CHECK(a->pol.match.n == b->pol.match.n && a->pol.match.n_include == b->pol.match.n_include);
	CHECK(!memcmp(a->pol.match.pat, b->pol.match.pat, a->pol.match.n * sizeof(a->pol.match.pat[0])));
}

/* A compiled policy without bpf/policy.c (libbpf): enough for the plan to compare. */
static void fake_compile(const struct hb_policy *p, struct hb_pol_cfg *c, uint64_t id)
{
	memset(c, 0, sizeof(*c));
	c->mask = p->set;
	c->idle_s = p->idle_s;
	c->intvl_s = p->intvl_s;
	c->cnt = p->cnt;
	c->user_timeout_ms = p->user_timeout_ms;
	c->flags = (p->force ? HB_POL_F_FORCE : 0) | (p->has_match ? HB_POL_F_MATCH : 0);
	c->n = p->match.n;
	c->cgroup_id = id;
}

static void check_plan(const struct hb_conf *c)
{
	struct hb_conf_want *w = calloc(c->n + 1, sizeof(*w));
	struct hb_pol_info *cur = calloc(c->n + 1, sizeof(*cur));
	struct hb_plan_step *s;
	size_t i, n;

	CHECK(w && cur);
	for (i = 0; i < c->n; i++) {
		w[i].id = i + 1;
		w[i].cgroup = c->v[i].cgroup;
		w[i].line = c->v[i].line;
		fake_compile(&c->v[i].pol, &w[i].cfg, i + 1);
		cur[i].id = i + 1;
		cur[i].state = HB_POL_ACTIVE;
		cur[i].meta.cfg = w[i].cfg;
		snprintf(cur[i].meta.cgroup, sizeof(cur[i].meta.cgroup), "%s", w[i].cgroup);
	}
	CHECK(hb_conf_plan(w, c->n, NULL, 0, NULL, &s, &n) == 0 && n == c->n);
	for (i = 0; i < n; i++)
		CHECK(s[i].op == HB_PLAN_ADD && s[i].want == i);
	free(s);
	CHECK(hb_conf_plan(w, c->n, cur, c->n, NULL, &s, &n) == 0 && n == c->n);
	for (i = 0; i < n; i++)
		CHECK(s[i].op == HB_PLAN_KEEP && s[i].cur == i);
	free(s);
	/* an empty file removes them all */
	CHECK(hb_conf_plan(NULL, 0, cur, c->n, NULL, &s, &n) == 0 && n == c->n);
	for (i = 0; i < n; i++)
		CHECK(s[i].op == HB_PLAN_REMOVE);
	free(s);
	free(w);
	free(cur);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hb_conf c = { 0 }, c2 = { 0 };
	char tiny[5], *line;
	size_t i, len;
	int rc;

	rc = hb_conf_parse((const char *)data, size, "f.conf", &c, errs, sizeof(errs));
	CHECK(rc == 0 || rc == -EINVAL);
	CHECK(memchr(errs, '\0', sizeof(errs)) != NULL);
	check_messages(errs, rc != 0);
	memset(tiny, 'x', sizeof(tiny));
	hb_conf_free(&c2);
	CHECK(hb_conf_parse((const char *)data, size, "f.conf", &c2, tiny, sizeof(tiny)) == rc);
	CHECK(memchr(tiny, '\0', sizeof(tiny)) != NULL);
	CHECK(c2.n == c.n);
	hb_conf_free(&c2);

	line = malloc(HB_POL_CGROUP_LEN + HB_POL_MATCH_LEN + 256);
	CHECK(line != NULL);
	for (i = 0; i < c.n; i++) {
		const struct hb_conf_entry *e = &c.v[i];

		CHECK(e->line >= 1 && (i == 0 || e->line > c.v[i - 1].line));
		CHECK(e->cgroup[0] != '\0' && !strstr(e->cgroup, "//"));
		len = strlen(e->cgroup);
		CHECK(len == 1 || e->cgroup[len - 1] != '/');
		CHECK(!hb_policy_is_noop(&e->pol));
		CHECK(i == 0 || strcmp(e->cgroup, c.v[i - 1].cgroup));
		if (!format(e, line, HB_POL_CGROUP_LEN + HB_POL_MATCH_LEN + 256))
			continue;
		rc = hb_conf_parse(line, strlen(line), "f.conf", &c2, errs, sizeof(errs));
		if (rc)
			fprintf(stderr, "'%s' does not re-parse: %s\n", line, errs);
		CHECK(rc == 0 && c2.n == 1);
		same_entry(e, &c2.v[0]);
		hb_conf_free(&c2);
	}
	free(line);
	check_plan(&c);
	hb_conf_free(&c);
	return 0;
}
