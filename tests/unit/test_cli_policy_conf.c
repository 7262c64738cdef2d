// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests for the policies file and the apply plan (cli/policy_conf.c): what a line means,
 * that every error names FILE:LINE and the key, and that the plan reaches exactly the file's
 * state (add, replace, remove, keep; transient policies and --scope respected), so that a
 * second apply is empty.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cli/policy_conf.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static char errs[8192];

static int parse(const char *text, struct hb_conf *c)
{
	memset(c, 0, sizeof(*c));
	return hb_conf_parse(text, strlen(text), "p.conf", c, errs, sizeof(errs));
}

/* Parses a file that must have exactly one error, and checks its message. */
static void bad(const char *text, const char *want)
{
	struct hb_conf c;

	assert_int_equal(parse(text, &c), -EINVAL);
	if (!strstr(errs, want))
		fail_msg("'%s': expected an error containing '%s', got '%s'", text, want, errs);
	assert_non_null(strchr(errs, '\n'));
	assert_null(strchr(strchr(errs, '\n') + 1, '\n'));	/* one line only */
	hb_conf_free(&c);
}

static void test_full_line(void **state)
{
	struct hb_conf c;
	char m[256];

	(void)state;
	assert_int_equal(parse("cgroup=/system.slice/foo.service match=10.0.0.0/8,!:22 idle=60 "
			       "intvl=10 cnt=6 user-timeout=30s force=no\n", &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.v[0].cgroup, "/system.slice/foo.service");
	assert_int_equal(c.v[0].line, 1);
	assert_int_equal(c.v[0].pol.idle_s, 60);
	assert_int_equal(c.v[0].pol.intvl_s, 10);
	assert_int_equal(c.v[0].pol.cnt, 6);
	assert_int_equal(c.v[0].pol.user_timeout_ms, 30000);
	assert_int_equal(c.v[0].pol.set, HB_BIT(HB_V_IDLE) | HB_BIT(HB_V_INTVL) | HB_BIT(HB_V_CNT) |
			 HB_BIT(HB_V_USER_TIMEOUT));
	assert_false(c.v[0].pol.force);
	assert_false(c.v[0].retrofit);
	assert_true(c.v[0].pol.has_match);
	assert_int_equal(c.v[0].pol.match.n, 2);
	hb_conf_match_text(&c.v[0].pol.match, m, sizeof(m));
	assert_string_equal(m, "10.0.0.0/8,!:22");
	hb_conf_free(&c);
}

/* A policies file line with one value: that one replaces hbkeep's default, the others stay
 * 60/10/6 in what the kernel policy gets (issue 11, per-value defaults in every entry point). */
static void test_per_value_defaults(void **state)
{
	struct hb_pol_cfg cfg;
	struct hb_conf c;

	(void)state;
	assert_int_equal(parse("cgroup=/a idle=30\ncgroup=/b cnt=3\n", &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(hb_pol_compile(&c.v[0].pol, &cfg), 0);
	assert_int_equal(cfg.mask, HB_POL_SET_KEEPALIVE | HB_POL_SET_IDLE | HB_POL_SET_INTVL |
				   HB_POL_SET_CNT);
	assert_int_equal(cfg.idle_s, 30);
	assert_int_equal(cfg.intvl_s, HB_DEFAULT_INTVL);
	assert_int_equal(cfg.cnt, HB_DEFAULT_CNT);
	assert_int_equal(hb_pol_compile(&c.v[1].pol, &cfg), 0);
	assert_int_equal(cfg.idle_s, HB_DEFAULT_IDLE);
	assert_int_equal(cfg.intvl_s, HB_DEFAULT_INTVL);
	assert_int_equal(cfg.cnt, 3);
	hb_conf_free(&c);
}

static void test_comments_blanks_quotes(void **state)
{
	struct hb_conf c;
	char m[256];

	(void)state;
	assert_int_equal(parse("# policies\n"
			       "\n"
			       "   \t  \n"
			       "  # indented comment\n"
			       "cgroup=a//b/ idle=1m # trailing comment\n"
			       "cgroup=\"/x y\" match=\"10.1.0.0/16, ![::1]:443\" force=yes retrofit=on\r\n"
			       "cgroup=/ keepalive=off user_timeout=500ms", &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.v[0].cgroup, "a/b");
	assert_int_equal(c.v[0].line, 5);
	assert_int_equal(c.v[0].pol.idle_s, 60);
	assert_false(c.v[0].pol.has_match);
	assert_string_equal(c.v[1].cgroup, "/x y");
	assert_int_equal(c.v[1].line, 6);
	assert_true(c.v[1].pol.force);
	assert_true(c.v[1].retrofit);
	hb_conf_match_text(&c.v[1].pol.match, m, sizeof(m));
	assert_string_equal(m, "10.1.0.0/16,![::1]:443");
	assert_string_equal(c.v[2].cgroup, "/");
	assert_int_equal(c.v[2].pol.keepalive, 0);
	assert_int_equal(c.v[2].pol.user_timeout_ms, 500);
	hb_conf_free(&c);

	/* an empty file and a comment-only file: no policies, no error */
	assert_int_equal(parse("", &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(parse("# nothing\n#\n", &c), 0);
	assert_int_equal(c.n, 0);
	hb_conf_free(&c);
}

/* idle=auto: the path table decides (hbctl paths); its fallback and cap reach the program's
 * cfg, and the rest of the policy is as usual */
static void test_idle_auto(void **state)
{
	struct hb_pol_cfg cfg;
	struct hb_conf c;

	(void)state;
	assert_int_equal(parse("cgroup=/a idle=auto intvl=2 cnt=3\n"
			       "cgroup=/b idle=auto idle-default=30 idle-max=5m\n"
			       "cgroup=/c idle=45\n", &c), 0);
	assert_int_equal(c.n, 3);
	assert_true(c.v[0].idle_auto);
	assert_int_equal(hb_pol_compile(&c.v[0].pol, &cfg), 0);
	hb_conf_idle_auto(&c.v[0], &cfg);
	assert_true(cfg.flags & HB_POL_F_IDLE_AUTO);
	assert_true(cfg.mask & HB_POL_SET_IDLE);
	assert_int_equal(cfg.idle_s, 60);
	assert_int_equal(cfg.idle_max_s, 600);
	assert_int_equal(cfg.intvl_s, 2);
	assert_int_equal(cfg.cnt, 3);
	assert_int_equal(hb_pol_compile(&c.v[1].pol, &cfg), 0);
	hb_conf_idle_auto(&c.v[1], &cfg);
	assert_int_equal(cfg.idle_s, 30);
	assert_int_equal(cfg.idle_max_s, 300);
	assert_false(c.v[2].idle_auto);
	assert_int_equal(hb_pol_compile(&c.v[2].pol, &cfg), 0);
	hb_conf_idle_auto(&c.v[2], &cfg);
	assert_false(cfg.flags & HB_POL_F_IDLE_AUTO);
	assert_int_equal(cfg.idle_s, 45);
	hb_conf_free(&c);
	bad("cgroup=/a idle=30 idle-max=600\n", "p.conf:1: idle-default and idle-max go with idle=auto");
	bad("cgroup=/a idle=auto idle-default=0\n", "p.conf:1: idle-default: ");
	bad("cgroup=/a idle=automatic\n", "p.conf:1: idle: ");
}

static void test_errors(void **state)
{
	(void)state;
	bad("cgroup=/a idle=abc\n", "p.conf:1: idle: ");
	bad("\ncgroup=/a idle=0\n", "p.conf:2: idle: ");
	bad("cgroup=/a intvl=40000\n", "p.conf:1: intvl: ");
	bad("cgroup=/a cnt=200\n", "p.conf:1: cnt: ");
	bad("cgroup=/a user-timeout=-1\n", "p.conf:1: user-timeout: ");
	bad("cgroup=/a match=300.1.1.1\n", "p.conf:1: match: ");
	bad("cgroup=/a force=maybe\n", "p.conf:1: force: 'maybe': expected yes or no");
	bad("cgroup=/a keepalive=sometimes\n", "p.conf:1: keepalive: ");
	bad("cgroup=/a colour=blue\n", "p.conf:1: unknown key 'colour'");
	bad("idle=60\n", "p.conf:1: no cgroup=PATH");
	bad("cgroup=/a idle\n", "p.conf:1: expected KEY=VALUE, got 'idle'");
	bad("cgroup=/a idle=\n", "p.conf:1: idle: empty value");
	bad("cgroup=/a idle=1 idle=2\n", "p.conf:1: idle given twice");
	bad("cgroup=\"/a\n", "p.conf:1: unterminated quote");
	bad("cgroup=\"/a\"x\n", "p.conf:1: a blank must follow the closing quote");
	bad("cgroup=/a keepalive=off\n", "p.conf:1: keepalive=off without user-timeout");
	bad("cgroup=/a\n# x\ncgroup=/a/ idle=5\n", "p.conf:3: cgroup /a has a policy on line 1");
	{
		static const char nul[] = "cgroup=/b\ncgroup=/a\0 idle=5\n";
		struct hb_conf c = { 0 };

		assert_int_equal(hb_conf_parse(nul, sizeof(nul) - 1, "p.conf", &c, errs,
					       sizeof(errs)), -EINVAL);
		assert_non_null(strstr(errs, "p.conf:2: NUL byte"));
		assert_int_equal(c.n, 1);
		hb_conf_free(&c);
	}
}

static void test_all_errors_reported(void **state)
{
	struct hb_conf c;

	(void)state;
	assert_int_equal(parse("cgroup=/a idle=x\ncgroup=/ok\ncgroup=/b cnt=0\nbogus\n", &c),
			 -EINVAL);
	assert_non_null(strstr(errs, "p.conf:1: idle"));
	assert_non_null(strstr(errs, "p.conf:3: cnt"));
	assert_non_null(strstr(errs, "p.conf:4: expected KEY=VALUE"));
	assert_int_equal(c.n, 1);		/* the good line */
	assert_string_equal(c.v[0].cgroup, "/ok");
	hb_conf_free(&c);
}

static void test_many_errors_bounded(void **state)
{
	struct hb_conf c;
	char *text = malloc(100 * 16), small[64];
	size_t i, o = 0;

	(void)state;
	assert_non_null(text);
	for (i = 0; i < 100; i++)
		o += (size_t)sprintf(text + o, "cgroup=/a%zu x\n", i);
	memset(&c, 0, sizeof(c));
	assert_int_equal(hb_conf_parse(text, o, "p.conf", &c, errs, sizeof(errs)), -EINVAL);
	assert_non_null(strstr(errs, "p.conf: ... more errors"));
	/* a tiny buffer is never overrun and stays a string */
	memset(small, 'z', sizeof(small));
	assert_int_equal(hb_conf_parse(text, o, "p.conf", &c, small, sizeof(small)), -EINVAL);
	assert_non_null(memchr(small, '\0', sizeof(small)));
	hb_conf_free(&c);
	free(text);
}

/* ---- the plan ----------------------------------------------------------------------------- */

static struct hb_conf_want want_of(uint64_t id, const char *cg, int idle, const char *match)
{
	struct hb_conf_want w;
	struct hb_policy p;
	char err[HB_ERR_LEN], v[16];

	memset(&w, 0, sizeof(w));
	hb_policy_init(&p);
	snprintf(v, sizeof(v), "%d", idle);
	assert_int_equal(hb_policy_set(&p, HB_V_IDLE, v, err, sizeof(err)), 0);
	if (match)
		assert_int_equal(hb_policy_set_match(&p, match, err, sizeof(err)), 0);
	assert_int_equal(hb_pol_compile(&p, &w.cfg), 0);
	w.cfg.cgroup_id = id;
	w.id = id;
	w.cgroup = cg;
	w.match = match;
	w.line = (unsigned int)id;
	return w;
}

/* What hb_pol_list() would show for a policy that hb_pol_add() made from w. */
static struct hb_pol_info info_of(const struct hb_conf_want *w, enum hb_pol_state st,
				  bool transient)
{
	struct hb_pol_info i;

	memset(&i, 0, sizeof(i));
	i.id = w->id;
	i.state = st;
	i.meta.cfg = w->cfg;
	i.meta.flags = transient ? HB_POL_M_TRANSIENT : 0;
	snprintf(i.meta.cgroup, sizeof(i.meta.cgroup), "%s", w->cgroup);
	snprintf(i.meta.match, sizeof(i.meta.match), "%s", w->match ? w->match : "");
	return i;
}

/* The plan as "op:id" words, e.g. "add:1 keep:2 remove:9". */
static const char *plan(const struct hb_conf_want *w, size_t nw, const struct hb_pol_info *cur,
			size_t nc, const char *scope)
{
	static char out[512];
	struct hb_plan_step *s;
	size_t n, i, o = 0;

	assert_int_equal(hb_conf_plan(w, nw, cur, nc, scope, &s, &n), 0);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s:%llu", i ? " " : "",
				      hb_plan_op_name(s[i].op), (unsigned long long)s[i].id);
	free(s);
	return out;
}

static void test_plan(void **state)
{
	struct hb_conf_want w[3], w2;
	struct hb_pol_info cur[6];

	(void)state;
	w[0] = want_of(1, "/sys/fs/cgroup/a", 30, NULL);
	w[1] = want_of(2, "/sys/fs/cgroup/b", 40, "10.0.0.0/8");
	w[2] = want_of(3, "/sys/fs/cgroup/c/d", 50, NULL);

	/* nothing in place: everything is added */
	assert_string_equal(plan(w, 3, NULL, 0, NULL), "add:1 add:2 add:3");
	/* all in place, identical: nothing to do (the second apply) */
	cur[0] = info_of(&w[0], HB_POL_ACTIVE, false);
	cur[1] = info_of(&w[1], HB_POL_ACTIVE, false);
	cur[2] = info_of(&w[2], HB_POL_ACTIVE, false);
	assert_string_equal(plan(w, 3, cur, 3, NULL), "keep:1 keep:2 keep:3");
	/* a value differs; the match list differs: replaced */
	w2 = want_of(1, "/sys/fs/cgroup/a", 31, NULL);
	cur[0] = info_of(&w2, HB_POL_ACTIVE, false);
	w2 = want_of(2, "/sys/fs/cgroup/b", 40, "10.0.0.0/9");
	cur[1] = info_of(&w2, HB_POL_ACTIVE, false);
	assert_string_equal(plan(w, 3, cur, 3, NULL), "replace:1 replace:2 keep:3");
	/* force differs */
	cur[0] = info_of(&w[0], HB_POL_ACTIVE, false);
	cur[0].meta.cfg.flags |= HB_POL_F_FORCE;
	cur[1] = info_of(&w[1], HB_POL_ACTIVE, false);
	assert_string_equal(plan(w, 3, cur, 3, NULL), "replace:1 keep:2 keep:3");
	cur[0] = info_of(&w[0], HB_POL_ACTIVE, false);

	/* policies the file lacks go (in id order); transient ones stay */
	w2 = want_of(9, "/sys/fs/cgroup/z", 10, NULL);
	cur[3] = info_of(&w2, HB_POL_ACTIVE, false);
	w2 = want_of(7, "/sys/fs/cgroup/y", 10, NULL);
	cur[4] = info_of(&w2, HB_POL_ORPHAN_GONE, false);
	w2 = want_of(8, "/sys/fs/cgroup/hbkeep-run.5", 10, NULL);
	cur[5] = info_of(&w2, HB_POL_ACTIVE, true);
	assert_string_equal(plan(w, 3, cur, 6, NULL), "keep:1 keep:2 keep:3 remove:7 remove:9");
	/* an empty file removes every non-transient policy */
	assert_string_equal(plan(NULL, 0, cur, 6, NULL), "remove:1 remove:2 remove:3 remove:7 remove:9");

	/* --scope: only policies at or below it are removed; lines outside it conflict */
	assert_string_equal(plan(NULL, 0, cur, 6, "/sys/fs/cgroup/c"), "remove:3");
	assert_string_equal(plan(NULL, 0, cur, 6, "/sys/fs/cgroup/c/d"), "remove:3");
	assert_string_equal(plan(NULL, 0, cur, 6, "/sys/fs/cgroup/c/"), "");
	assert_string_equal(plan(w, 1, cur, 6, "/sys/fs/cgroup/c"), "conflict:1 remove:3");

	/* a broken policy on a wanted cgroup is added afresh; one elsewhere goes (no scope) */
	cur[0] = info_of(&w[0], HB_POL_BROKEN, false);
	memset(&cur[0].meta, 0, sizeof(cur[0].meta));
	assert_string_equal(plan(w, 1, cur, 1, NULL), "add:1");
	assert_string_equal(plan(w + 1, 1, cur, 1, NULL), "add:2 remove:1");
	assert_string_equal(plan(w + 1, 1, cur, 1, "/sys/fs/cgroup/b"), "add:2");
	/* a dead policy whose cgroup id is wanted again: removed, then added */
	cur[0] = info_of(&w[0], HB_POL_ORPHAN_GONE, false);
	assert_string_equal(plan(w, 1, cur, 1, NULL), "remove:1 add:1");
	/* the cgroup of a run --kernel: conflict, untouched */
	cur[0] = info_of(&w[0], HB_POL_ACTIVE, true);
	assert_string_equal(plan(w, 1, cur, 1, NULL), "conflict:1");
	/* two lines naming one cgroup (different spellings): the second conflicts */
	w2 = w[0];
	w2.cgroup = "/sys/fs/cgroup/./a";
	{
		struct hb_conf_want two[2] = { w[0], w2 };

		assert_string_equal(plan(two, 2, NULL, 0, NULL), "add:1 conflict:1");
	}
}

static void test_path_under(void **state)
{
	(void)state;
	assert_true(hb_conf_path_under("/a/b", "/a"));
	assert_true(hb_conf_path_under("/a", "/a"));
	assert_false(hb_conf_path_under("/ab", "/a"));
	assert_true(hb_conf_path_under("/ab", "/"));
	assert_false(hb_conf_path_under("/a", "/a/b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_line),
		cmocka_unit_test(test_per_value_defaults),
		cmocka_unit_test(test_comments_blanks_quotes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_idle_auto),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_many_errors_bounded),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_path_under),
	};

	(void)ARRAY_SIZE(tests);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
