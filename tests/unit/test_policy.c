// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests for lib/policy.c: setting values, effective values and their sources, the
 * setsockopt() plan, and the environment (through a fake getenv and a test log sink).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "hb/log.h"
#include "hb/policy.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct hb_sysctl kernel = { 7200, 75, 9 };

/* ---- fake environment ---- */

static const char *const *fake_env;	/* NULL-terminated "NAME=value" list */

static const char *fake_getenv(const char *name)
{
	size_t n = strlen(name);
	const char *const *e;

	for (e = fake_env; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* ---- test log sink ---- */

#define MAX_MSGS 16
static char msgs[MAX_MSGS][512];
static enum hb_log_level msg_level[MAX_MSGS];
static atomic_int n_msgs;

static void sink(enum hb_log_level level, const char *msg)
{
	int i = atomic_fetch_add(&n_msgs, 1);

	if (i < MAX_MSGS) {
		snprintf(msgs[i], sizeof(msgs[i]), "%s", msg);
		msg_level[i] = level;
	}
	errno = EIO;	/* a sink may clobber errno: hb_log must not let it through */
}

static int reset_log(void **state)
{
	(void)state;
	atomic_store(&n_msgs, 0);
	memset(msgs, 0, sizeof(msgs));
	hb_set_log_fn(sink, HB_LOG_DEBUG);
	fake_env = NULL;
	return 0;
}

static int unset_log(void **state)
{
	(void)state;
	hb_set_log_fn(NULL, HB_LOG_OFF);
	return 0;
}

/* True when exactly one message equals want. */
static bool logged_once(const char *want)
{
	int i, n = atomic_load(&n_msgs), hits = 0;

	for (i = 0; i < n && i < MAX_MSGS; i++)
		hits += !strcmp(msgs[i], want);
	return hits == 1;
}

static struct hb_policy env_policy(const char *const *env, int want_bad)
{
	struct hb_policy p;
	int bad;

	fake_env = env;
	memset(&p, 0x5a, sizeof(p));	/* from_env starts from scratch */
	bad = hb_policy_from_env(&p, fake_getenv);
	if (bad != want_bad)
		fail_msg("%d bad values, want %d (first message: %s)", bad, want_bad, msgs[0]);
	assert_int_equal(atomic_load(&n_msgs), want_bad);
	return p;
}

/* ---- hb_policy_init / hb_policy_set ---- */

static void test_init(void **state)
{
	struct hb_policy p;

	(void)state;
	memset(&p, 0xff, sizeof(p));
	hb_policy_init(&p);
	assert_int_equal(p.set, 0);
	assert_int_equal(p.keepalive, 1);
	assert_false(p.has_match);
	assert_false(p.force);
	assert_int_equal(p.match.n, 0);
}

static void test_set(void **state)
{
	char err[HB_ERR_LEN];
	struct hb_policy p, before;

	(void)state;
	hb_policy_init(&p);
	assert_int_equal(hb_policy_set(&p, HB_V_IDLE, "5m", err, sizeof(err)), 0);
	assert_int_equal(p.idle_s, 300);
	assert_int_equal(hb_policy_set(&p, HB_V_INTVL, "15", err, sizeof(err)), 0);
	assert_int_equal(p.intvl_s, 15);
	assert_int_equal(hb_policy_set(&p, HB_V_CNT, "4", err, sizeof(err)), 0);
	assert_int_equal(p.cnt, 4);
	assert_int_equal(hb_policy_set(&p, HB_V_USER_TIMEOUT, "90", err, sizeof(err)), 0);
	assert_int_equal(p.user_timeout_ms, 90000);
	assert_int_equal(hb_policy_set(&p, HB_V_KEEPALIVE, "off", err, sizeof(err)), 0);
	assert_int_equal(p.keepalive, 0);
	assert_int_equal(p.set, HB_ALL_BITS);

	/* errors leave the policy as it was */
	before = p;
	assert_int_equal(hb_policy_set(&p, HB_V_IDLE, "40000", err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "'40000': out of range 1..32767 s");
	assert_int_equal(hb_policy_set(&p, HB_V_INTVL, "0", err, sizeof(err)), -ERANGE);
	assert_int_equal(hb_policy_set(&p, HB_V_CNT, "128", err, sizeof(err)), -ERANGE);
	assert_int_equal(hb_policy_set(&p, HB_V_CNT, "5s", err, sizeof(err)), -EINVAL);
	assert_int_equal(hb_policy_set(&p, HB_V_USER_TIMEOUT, "-1", err, sizeof(err)), -EINVAL);
	assert_int_equal(hb_policy_set(&p, HB_V_USER_TIMEOUT, "25d", err, sizeof(err)), -EINVAL);
	assert_int_equal(hb_policy_set(&p, HB_V_KEEPALIVE, "maybe", err, sizeof(err)), -EINVAL);
	assert_int_equal(hb_policy_set(&p, HB_V__COUNT, "1", err, sizeof(err)), -EINVAL);
	assert_int_equal(hb_policy_set(&p, (enum hb_value)-1, "1", err, sizeof(err)), -EINVAL);
	assert_memory_equal(&p, &before, sizeof(p));
}

/* ---- effective values ---- */

static void test_effective_defaults(void **state)
{
	struct hb_effective e;
	struct hb_policy p;

	(void)state;
	hb_policy_init(&p);
	hb_policy_effective(&p, &kernel, &e);
	assert_int_equal(e.keepalive, 1);
	assert_int_equal(e.idle_s, HB_DEFAULT_IDLE);
	assert_int_equal(e.intvl_s, HB_DEFAULT_INTVL);
	assert_int_equal(e.cnt, HB_DEFAULT_CNT);
	assert_int_equal(e.user_timeout_ms, 0);
	assert_int_equal(e.src[HB_V_KEEPALIVE], HB_SRC_DEFAULT);
	assert_int_equal(e.src[HB_V_IDLE], HB_SRC_DEFAULT);
	assert_int_equal(e.src[HB_V_INTVL], HB_SRC_DEFAULT);
	assert_int_equal(e.src[HB_V_CNT], HB_SRC_DEFAULT);
	/* there is no sysctl for the user timeout: not set is "none" */
	assert_int_equal(e.src[HB_V_USER_TIMEOUT], HB_SRC_NONE);

	/* keepalive and user timeout are not timing values: the defaults still apply */
	assert_int_equal(hb_policy_set(&p, HB_V_KEEPALIVE, "on", NULL, 0), 0);
	assert_int_equal(hb_policy_set(&p, HB_V_USER_TIMEOUT, "30s", NULL, 0), 0);
	hb_policy_effective(&p, &kernel, &e);
	assert_int_equal(e.src[HB_V_KEEPALIVE], HB_SRC_USER);
	assert_int_equal(e.src[HB_V_IDLE], HB_SRC_DEFAULT);
	assert_int_equal(e.idle_s, 60);
	assert_int_equal(e.user_timeout_ms, 30000);
	assert_int_equal(e.src[HB_V_USER_TIMEOUT], HB_SRC_USER);

	/* per value: a value given replaces that one default, never the others */
	hb_policy_init(&p);
	assert_int_equal(hb_policy_set(&p, HB_V_CNT, "3", NULL, 0), 0);
	hb_policy_effective(&p, NULL, &e);
	assert_int_equal(e.idle_s, 60);
	assert_int_equal(e.intvl_s, 10);
	assert_int_equal(e.cnt, 3);
	assert_int_equal(e.src[HB_V_IDLE], HB_SRC_DEFAULT);
	assert_int_equal(e.src[HB_V_CNT], HB_SRC_USER);
}

static void test_effective_sysctl(void **state)
{
	static const struct hb_sysctl sys = { 300, 30, 5 };
	struct hb_effective e;
	struct hb_policy p;

	(void)state;
	/* issue 11: HB_KEEPIDLE=30 alone is 30/10/6, never 30/<sysctl>/<sysctl> */
	hb_policy_init(&p);
	assert_int_equal(hb_policy_set(&p, HB_V_IDLE, "30", NULL, 0), 0);
	hb_policy_effective(&p, &sys, &e);
	assert_int_equal(e.idle_s, 30);
	assert_int_equal(e.src[HB_V_IDLE], HB_SRC_USER);
	assert_int_equal(e.intvl_s, 10);
	assert_int_equal(e.src[HB_V_INTVL], HB_SRC_DEFAULT);
	assert_int_equal(e.cnt, 6);
	assert_int_equal(e.src[HB_V_CNT], HB_SRC_DEFAULT);
	assert_int_equal(e.src[HB_V_KEEPALIVE], HB_SRC_DEFAULT);

	hb_policy_init(&p);
	assert_int_equal(hb_policy_set(&p, HB_V_CNT, "2", NULL, 0), 0);
	hb_policy_effective(&p, &sys, &e);
	assert_int_equal(e.idle_s, 60);
	assert_int_equal(e.src[HB_V_IDLE], HB_SRC_DEFAULT);
	assert_int_equal(e.cnt, 2);
	assert_int_equal(e.src[HB_V_CNT], HB_SRC_USER);

	/* compat meaning (libkeepalive, libdontdie): a value not given is the sysctl */
	hb_policy_init(&p);
	p.defaults = HB_DEFAULTS_SYSCTL;
	assert_int_equal(hb_policy_set(&p, HB_V_IDLE, "30", NULL, 0), 0);
	hb_policy_effective(&p, &sys, &e);
	assert_int_equal(e.idle_s, 30);
	assert_int_equal(e.intvl_s, 30);
	assert_int_equal(e.src[HB_V_INTVL], HB_SRC_SYSCTL);
	assert_int_equal(e.cnt, 5);
	assert_int_equal(e.src[HB_V_USER_TIMEOUT], HB_SRC_NONE);

	/* msantos/libkeepalive: 15/15/9 and a user timeout of (idle + intvl * cnt) s */
	hb_policy_init(&p);
	p.defaults = HB_DEFAULTS_MSANTOS;
	hb_policy_effective(&p, &sys, &e);
	assert_int_equal(e.idle_s, 15);
	assert_int_equal(e.intvl_s, 15);
	assert_int_equal(e.cnt, 9);
	assert_int_equal(e.user_timeout_ms, 150000);
	assert_int_equal(e.src[HB_V_USER_TIMEOUT], HB_SRC_DEFAULT);
	assert_int_equal(hb_policy_set(&p, HB_V_IDLE, "30", NULL, 0), 0);
	hb_policy_effective(&p, &sys, &e);
	assert_int_equal(e.user_timeout_ms, 165000);
	p.sysctl_set = HB_BIT(HB_V_INTVL) | HB_BIT(HB_V_USER_TIMEOUT);	/* its "0" */
	hb_policy_effective(&p, &sys, &e);
	assert_int_equal(e.intvl_s, 30);
	assert_int_equal(e.src[HB_V_INTVL], HB_SRC_SYSCTL);
	assert_int_equal(e.user_timeout_ms, 0);
	assert_int_equal(e.src[HB_V_USER_TIMEOUT], HB_SRC_NONE);

	hb_policy_init(&p);
	assert_int_equal(hb_policy_set(&p, HB_V_CNT, "2", NULL, 0), 0);

	/* all given: all the user's; keepalive off is still reported */
	assert_int_equal(hb_policy_set(&p, HB_V_IDLE, "1", NULL, 0), 0);
	assert_int_equal(hb_policy_set(&p, HB_V_INTVL, "2", NULL, 0), 0);
	assert_int_equal(hb_policy_set(&p, HB_V_KEEPALIVE, "0", NULL, 0), 0);
	hb_policy_effective(&p, &sys, &e);
	assert_int_equal(e.keepalive, 0);
	assert_int_equal(e.src[HB_V_KEEPALIVE], HB_SRC_USER);
	assert_int_equal(e.idle_s, 1);
	assert_int_equal(e.intvl_s, 2);
	assert_int_equal(e.cnt, 2);
	assert_int_equal(e.src[HB_V_INTVL], HB_SRC_USER);
}

/* ---- plan ---- */

static void expect_opt(const struct hb_sockopt *o, enum hb_value v, int val)
{
	static const int opt[HB_V__COUNT][2] = {
		[HB_V_KEEPALIVE] = { SOL_SOCKET, SO_KEEPALIVE },
		[HB_V_IDLE] = { IPPROTO_TCP, TCP_KEEPIDLE },
		[HB_V_INTVL] = { IPPROTO_TCP, TCP_KEEPINTVL },
		[HB_V_CNT] = { IPPROTO_TCP, TCP_KEEPCNT },
		[HB_V_USER_TIMEOUT] = { IPPROTO_TCP, TCP_USER_TIMEOUT },
	};

	assert_int_equal(o->v, v);
	assert_int_equal(o->level, opt[v][0]);
	assert_int_equal(o->optname, opt[v][1]);
	assert_int_equal(o->val, val);
}

static void test_plan_defaults(void **state)
{
	static const struct hb_sysctl same = { 60, 10, 6 }, mixed = { 60, 75, 6 };
	struct hb_sockopt o[HB_V__COUNT];
	struct hb_policy p;

	(void)state;
	hb_policy_init(&p);
	/* hb_value_order: the timing values, then SO_KEEPALIVE last */
	assert_int_equal(hb_policy_plan(&p, &kernel, 0, false, o), 4);
	expect_opt(&o[0], HB_V_IDLE, 60);
	expect_opt(&o[1], HB_V_INTVL, 10);
	expect_opt(&o[2], HB_V_CNT, 6);
	expect_opt(&o[3], HB_V_KEEPALIVE, 1);
	/* values equal to the sysctl are what the socket has anyway */
	assert_int_equal(hb_policy_plan(&p, &same, 0, false, o), 1);
	expect_opt(&o[0], HB_V_KEEPALIVE, 1);
	assert_int_equal(hb_policy_plan(&p, &mixed, 0, false, o), 2);
	expect_opt(&o[0], HB_V_INTVL, 10);
	expect_opt(&o[1], HB_V_KEEPALIVE, 1);
	/* NULL sysctl: the kernel defaults */
	assert_int_equal(hb_policy_plan(&p, NULL, 0, false, o), 4);
}

static void test_plan_user(void **state)
{
	struct hb_sockopt o[HB_V__COUNT];
	struct hb_policy p;

	(void)state;
	/* only idle given: intvl and cnt are hbkeep's defaults */
	hb_policy_init(&p);
	assert_int_equal(hb_policy_set(&p, HB_V_IDLE, "30", NULL, 0), 0);
	assert_int_equal(hb_policy_plan(&p, &kernel, 0, false, o), 4);
	expect_opt(&o[0], HB_V_IDLE, 30);
	expect_opt(&o[1], HB_V_INTVL, 10);
	expect_opt(&o[2], HB_V_CNT, 6);
	expect_opt(&o[3], HB_V_KEEPALIVE, 1);
	/* the user asking for exactly the sysctl value costs nothing */
	assert_int_equal(hb_policy_set(&p, HB_V_IDLE, "2h", NULL, 0), 0);
	assert_int_equal(hb_policy_plan(&p, &kernel, 0, false, o), 3);

	/* everything, in order: idle, intvl, cnt, user timeout, keepalive */
	assert_int_equal(hb_policy_set(&p, HB_V_IDLE, "45", NULL, 0), 0);
	assert_int_equal(hb_policy_set(&p, HB_V_INTVL, "5", NULL, 0), 0);
	assert_int_equal(hb_policy_set(&p, HB_V_CNT, "3", NULL, 0), 0);
	assert_int_equal(hb_policy_set(&p, HB_V_USER_TIMEOUT, "20s", NULL, 0), 0);
	assert_int_equal(hb_policy_plan(&p, &kernel, 0, false, o), 5);
	expect_opt(&o[0], HB_V_IDLE, 45);
	expect_opt(&o[1], HB_V_INTVL, 5);
	expect_opt(&o[2], HB_V_CNT, 3);
	expect_opt(&o[3], HB_V_USER_TIMEOUT, 20000);
	expect_opt(&o[4], HB_V_KEEPALIVE, 1);
}

static const struct hb_sysctl same_sys = { 60, 10, 6 };

static void test_plan_skip(void **state)
{
	struct hb_sockopt o[HB_V__COUNT];
	struct hb_policy p;

	(void)state;
	hb_policy_init(&p);
	assert_int_equal(hb_policy_set(&p, HB_V_USER_TIMEOUT, "500ms", NULL, 0), 0);
	assert_int_equal(hb_policy_plan(&p, &kernel,
					HB_BIT(HB_V_KEEPALIVE) | HB_BIT(HB_V_IDLE), false, o), 3);
	expect_opt(&o[0], HB_V_INTVL, 10);
	expect_opt(&o[1], HB_V_CNT, 6);
	expect_opt(&o[2], HB_V_USER_TIMEOUT, 500);
	assert_int_equal(hb_policy_plan(&p, &kernel, HB_BIT(HB_V_USER_TIMEOUT), false, o), 4);
	expect_opt(&o[2], HB_V_CNT, 6);
	assert_int_equal(hb_policy_plan(&p, &kernel, HB_ALL_BITS, false, o), 0);

	/* force: the program's choices are set back, even to a value equal to the sysctl */
	hb_policy_init(&p);
	assert_int_equal(hb_policy_plan(&p, &same_sys, HB_BIT(HB_V_IDLE), true, o), 2);
	expect_opt(&o[0], HB_V_IDLE, 60);
	expect_opt(&o[1], HB_V_KEEPALIVE, 1);
	/* ... but not a user timeout the policy has no value for */
	assert_int_equal(hb_policy_plan(&p, &same_sys, HB_BIT(HB_V_USER_TIMEOUT), true, o), 1);
	/* ... nor, with keepalive off, the timing the policy leaves to the program */
	assert_int_equal(hb_policy_set(&p, HB_V_KEEPALIVE, "off", NULL, 0), 0);
	assert_int_equal(hb_policy_plan(&p, &same_sys, HB_ALL_BITS, true, o), 0);
}

static void test_plan_keepalive_off(void **state)
{
	struct hb_sockopt o[HB_V__COUNT];
	struct hb_policy p;

	(void)state;
	hb_policy_init(&p);
	assert_int_equal(hb_policy_set(&p, HB_V_KEEPALIVE, "off", NULL, 0), 0);
	assert_int_equal(hb_policy_plan(&p, &kernel, 0, false, o), 0);
	assert_true(hb_policy_is_noop(&p));
	/* timing values given with keepalive off are still not applied */
	assert_int_equal(hb_policy_set(&p, HB_V_IDLE, "30", NULL, 0), 0);
	assert_int_equal(hb_policy_plan(&p, &kernel, 0, false, o), 0);
	assert_true(hb_policy_is_noop(&p));
	/* the user timeout still applies */
	assert_int_equal(hb_policy_set(&p, HB_V_USER_TIMEOUT, "1m", NULL, 0), 0);
	assert_int_equal(hb_policy_plan(&p, &kernel, 0, false, o), 1);
	expect_opt(&o[0], HB_V_USER_TIMEOUT, 60000);
	assert_false(hb_policy_is_noop(&p));
	/* a user timeout of 0 is the kernel's own: nothing to do */
	assert_int_equal(hb_policy_set(&p, HB_V_USER_TIMEOUT, "0", NULL, 0), 0);
	assert_int_equal(hb_policy_plan(&p, &kernel, 0, false, o), 0);
	assert_true(hb_policy_is_noop(&p));
}

static void test_is_noop(void **state)
{
	struct hb_policy p;

	(void)state;
	hb_policy_init(&p);
	assert_false(hb_policy_is_noop(&p));
	assert_int_equal(hb_policy_set(&p, HB_V_KEEPALIVE, "yes", NULL, 0), 0);
	assert_false(hb_policy_is_noop(&p));
	assert_int_equal(hb_policy_set(&p, HB_V_KEEPALIVE, "no", NULL, 0), 0);
	assert_true(hb_policy_is_noop(&p));
}

static void test_value(void **state)
{
	static const struct hb_sysctl sys = { 300, 30, 5 };
	struct hb_policy p;
	int v;

	(void)state;
	hb_policy_init(&p);
	v = -1;
	assert_true(hb_policy_value(&p, &sys, HB_V_KEEPALIVE, &v));
	assert_int_equal(v, 1);
	assert_true(hb_policy_value(&p, &sys, HB_V_IDLE, &v));
	assert_int_equal(v, 60);
	assert_true(hb_policy_value(&p, &sys, HB_V_INTVL, &v));
	assert_int_equal(v, 10);
	assert_true(hb_policy_value(&p, &sys, HB_V_CNT, &v));
	assert_int_equal(v, 6);
	v = -1;
	assert_false(hb_policy_value(&p, &sys, HB_V_USER_TIMEOUT, &v));
	assert_false(hb_policy_value(&p, &sys, HB_V__COUNT, &v));
	assert_int_equal(v, -1);

	assert_int_equal(hb_policy_set(&p, HB_V_CNT, "2", NULL, 0), 0);
	assert_true(hb_policy_value(&p, &sys, HB_V_IDLE, &v));
	assert_int_equal(v, 60);	/* still the default: values are replaced one by one */
	assert_true(hb_policy_value(&p, &sys, HB_V_CNT, &v));
	assert_int_equal(v, 2);

	assert_int_equal(hb_policy_set(&p, HB_V_USER_TIMEOUT, "0", NULL, 0), 0);
	assert_true(hb_policy_value(&p, &sys, HB_V_USER_TIMEOUT, &v));
	assert_int_equal(v, 0);
	assert_int_equal(hb_policy_set(&p, HB_V_USER_TIMEOUT, "1500ms", NULL, 0), 0);
	assert_true(hb_policy_value(&p, &sys, HB_V_USER_TIMEOUT, &v));
	assert_int_equal(v, 1500);

	/* keepalive off: SO_KEEPALIVE and the timing are left to the program (HB_FORCE
	 * never touches them), the user timeout is still the policy's */
	assert_int_equal(hb_policy_set(&p, HB_V_KEEPALIVE, "false", NULL, 0), 0);
	v = -1;
	assert_false(hb_policy_value(&p, &sys, HB_V_KEEPALIVE, &v));
	assert_false(hb_policy_value(&p, &sys, HB_V_IDLE, &v));
	assert_false(hb_policy_value(&p, &sys, HB_V_INTVL, &v));
	assert_false(hb_policy_value(&p, &sys, HB_V_CNT, &v));
	assert_int_equal(v, -1);
	assert_true(hb_policy_value(&p, &sys, HB_V_USER_TIMEOUT, &v));
	assert_int_equal(v, 1500);
}

static void test_sockopt_value(void **state)
{
	(void)state;
	assert_int_equal(hb_sockopt_value(SOL_SOCKET, SO_KEEPALIVE), HB_V_KEEPALIVE);
	assert_int_equal(hb_sockopt_value(IPPROTO_TCP, TCP_KEEPIDLE), HB_V_IDLE);
	assert_int_equal(hb_sockopt_value(IPPROTO_TCP, TCP_KEEPINTVL), HB_V_INTVL);
	assert_int_equal(hb_sockopt_value(IPPROTO_TCP, TCP_KEEPCNT), HB_V_CNT);
	assert_int_equal(hb_sockopt_value(IPPROTO_TCP, TCP_USER_TIMEOUT), HB_V_USER_TIMEOUT);
	assert_int_equal(hb_sockopt_value(SOL_TCP, TCP_KEEPIDLE), HB_V_IDLE);
	assert_int_equal(hb_sockopt_value(SOL_SOCKET, SO_REUSEADDR), -1);
	assert_int_equal(hb_sockopt_value(SOL_SOCKET, TCP_KEEPIDLE), -1);
	assert_int_equal(hb_sockopt_value(IPPROTO_TCP, TCP_NODELAY), -1);
	assert_int_equal(hb_sockopt_value(IPPROTO_TCP, SO_KEEPALIVE), -1);
	assert_int_equal(hb_sockopt_value(IPPROTO_IP, TCP_KEEPIDLE), -1);
	assert_int_equal(hb_sockopt_value(IPPROTO_IPV6, TCP_KEEPCNT), -1);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(hb_value_name(HB_V_KEEPALIVE), "keepalive");
	assert_string_equal(hb_value_name(HB_V_IDLE), "idle");
	assert_string_equal(hb_value_name(HB_V_INTVL), "intvl");
	assert_string_equal(hb_value_name(HB_V_CNT), "cnt");
	assert_string_equal(hb_value_name(HB_V_USER_TIMEOUT), "user_timeout");
	assert_string_equal(hb_value_name(HB_V__COUNT), "?");
	assert_string_equal(hb_value_name((enum hb_value)-1), "?");
	assert_string_equal(hb_source_name(HB_SRC_SYSCTL), "sysctl");
	assert_string_equal(hb_source_name(HB_SRC_DEFAULT), "default");
	assert_string_equal(hb_source_name(HB_SRC_USER), "user");
	assert_string_equal(hb_source_name((enum hb_source)7), "?");
}


/* ---- environment ---- */

static void test_env_empty(void **state)
{
	struct hb_policy p, init;
	static const char *const env[] = { "HB_KEEPIDLE=", "KEEPIDLE=", "HB_MATCH=", "OTHER=1",
					   NULL };

	(void)state;
	hb_policy_init(&init);
	p = env_policy(NULL, 0);
	assert_memory_equal(&p, &init, sizeof(p));
	/* empty variables count as unset */
	p = env_policy(env, 0);
	assert_memory_equal(&p, &init, sizeof(p));
}

static void test_env_hb(void **state)
{
	static const char *const env[] = {
		"HB_KEEPALIVE=on", "HB_KEEPIDLE=5m", "HB_KEEPINTVL=15s", "HB_KEEPCNT=4",
		"HB_USER_TIMEOUT=90", "HB_MATCH=10.0.0.0/8,!10.0.0.1", "HB_FORCE=1", NULL,
	};
	static const char *const env2[] = { "HB_USER_TIMEOUT=500ms", "HB_KEEPALIVE=0",
					    "HB_FORCE=no", NULL };
	struct hb_policy p;

	(void)state;
	p = env_policy(env, 0);
	assert_int_equal(p.set, HB_ALL_BITS);
	assert_int_equal(p.keepalive, 1);
	assert_int_equal(p.idle_s, 300);
	assert_int_equal(p.intvl_s, 15);
	assert_int_equal(p.cnt, 4);
	assert_int_equal(p.user_timeout_ms, 90000);	/* bare integer: seconds */
	assert_true(p.has_match);
	assert_int_equal(p.match.n, 2);
	assert_true(p.force);

	p = env_policy(env2, 0);
	assert_int_equal(p.set, HB_BIT(HB_V_USER_TIMEOUT) | HB_BIT(HB_V_KEEPALIVE));
	assert_int_equal(p.user_timeout_ms, 500);
	assert_int_equal(p.keepalive, 0);
	assert_false(p.force);
	assert_false(p.has_match);
}

static void test_env_compat_libkeepalive(void **state)
{
	static const char *const env[] = { "KEEPIDLE=30", "KEEPINTVL=5", "KEEPCNT=3",
					   "KEEPALIVE=off", NULL };
	static const char *const on[] = { "KEEPALIVE=on", NULL };
	struct hb_policy p;

	(void)state;
	p = env_policy(env, 0);
	assert_int_equal(p.set, HB_ALL_BITS & ~HB_BIT(HB_V_USER_TIMEOUT));
	assert_int_equal(p.idle_s, 30);
	assert_int_equal(p.intvl_s, 5);
	assert_int_equal(p.cnt, 3);
	assert_int_equal(p.keepalive, 0);
	assert_int_equal(p.defaults, HB_DEFAULTS_SYSCTL);
	p = env_policy(on, 0);
	assert_int_equal(p.keepalive, 1);
}

static void test_env_compat_msantos(void **state)
{
	static const char *const none[] = { NULL };
	static const char *const idle[] = { "TCP_KEEPIDLE=30", NULL };
	static const char *const all[] = { "TCP_KEEPIDLE=20", "TCP_KEEPINTVL=4", "TCP_KEEPCNT=3",
					   "TCP_USER_TIMEOUT=9000", NULL };
	static const char *const zeros[] = { "TCP_KEEPIDLE=0", "TCP_USER_TIMEOUT=0", NULL };
	static const char *const derive[] = { "TCP_USER_TIMEOUT=-1", "TCP_KEEPCNT=2", NULL };
	static const char *const mixed[] = { "HB_KEEPIDLE=40", "TCP_KEEPIDLE=20", "TCP_KEEPCNT=3",
					     "KEEPINTVL=8", "DD_TCP_KEEPALIVE_PROBES=4", NULL };
	static const char *const bad[] = { "TCP_KEEPIDLE=-3", "TCP_KEEPCNT=200", NULL };
	static const struct hb_sysctl sys = { 300, 30, 5 };
	struct hb_effective e;
	struct hb_policy p;

	(void)state;
	p = env_policy(none, 0);
	assert_int_equal(p.defaults, HB_DEFAULTS_HBKEEP);
	/* one of its names: its meaning for the rest, 15/15/9 and (idle + intvl*cnt) s */
	p = env_policy(idle, 0);
	assert_int_equal(p.defaults, HB_DEFAULTS_MSANTOS);
	hb_policy_effective(&p, &sys, &e);
	assert_int_equal(e.idle_s, 30);
	assert_int_equal(e.intvl_s, 15);
	assert_int_equal(e.cnt, 9);
	assert_int_equal(e.user_timeout_ms, 165000);
	p = env_policy(all, 0);
	hb_policy_effective(&p, &sys, &e);
	assert_int_equal(e.idle_s, 20);
	assert_int_equal(e.intvl_s, 4);
	assert_int_equal(e.cnt, 3);
	assert_int_equal(e.user_timeout_ms, 9000);
	/* 0: the system default (the sysctl; no user timeout) */
	p = env_policy(zeros, 0);
	hb_policy_effective(&p, &sys, &e);
	assert_int_equal(e.idle_s, 300);
	assert_int_equal(e.src[HB_V_IDLE], HB_SRC_SYSCTL);
	assert_int_equal(e.intvl_s, 15);
	assert_int_equal(e.user_timeout_ms, 0);
	/* -1: derived */
	p = env_policy(derive, 0);
	hb_policy_effective(&p, &sys, &e);
	assert_int_equal(e.user_timeout_ms, (15 + 15 * 2) * 1000);
	/* precedence per value: HB_, libkeepalive, msantos, libdontdie; the defaults of the
	 * first compat library used (libkeepalive here: the sysctl) */
	p = env_policy(mixed, 0);
	assert_int_equal(p.defaults, HB_DEFAULTS_SYSCTL);
	hb_policy_effective(&p, &sys, &e);
	assert_int_equal(e.idle_s, 40);
	assert_int_equal(e.intvl_s, 8);
	assert_int_equal(e.cnt, 3);
	assert_int_equal(e.user_timeout_ms, 0);
	/* bad values are reported and ignored, naming the variable */
	p = env_policy(bad, 2);
	assert_true(logged_once("TCP_KEEPIDLE: '-3': out of range 1..32767"));
	assert_true(logged_once("TCP_KEEPCNT: '200': out of range 1..127"));
}

static void test_env_compat_libdontdie(void **state)
{
	static const char *const env[] = { "DD_TCP_KEEPALIVE_TIME=40", "DD_TCP_KEEPALIVE_INTVL=6",
					   "DD_TCP_KEEPALIVE_PROBES=2", "DD_USE_KEEPALIVE=0", NULL };
	static const char *const on[] = { "DD_USE_KEEPALIVE=1", NULL };
	struct hb_policy p;

	(void)state;
	p = env_policy(env, 0);
	assert_int_equal(p.set, HB_ALL_BITS & ~HB_BIT(HB_V_USER_TIMEOUT));
	assert_int_equal(p.idle_s, 40);
	assert_int_equal(p.intvl_s, 6);
	assert_int_equal(p.cnt, 2);
	assert_int_equal(p.keepalive, 0);
	assert_int_equal(p.defaults, HB_DEFAULTS_SYSCTL);
	p = env_policy(on, 0);
	assert_int_equal(p.keepalive, 1);
}

static void test_env_precedence(void **state)
{
	static const char *const all[] = {
		"HB_KEEPIDLE=10", "KEEPIDLE=20", "DD_TCP_KEEPALIVE_TIME=30",
		"KEEPINTVL=21", "DD_TCP_KEEPALIVE_INTVL=31",
		"DD_TCP_KEEPALIVE_PROBES=32",
		"HB_KEEPALIVE=1", "KEEPALIVE=off", "DD_USE_KEEPALIVE=0", NULL,
	};
	static const char *const empty_hb[] = { "HB_KEEPCNT=", "KEEPCNT=7",
						"DD_TCP_KEEPALIVE_PROBES=8", "KEEPALIVE=",
						"DD_USE_KEEPALIVE=0", NULL };
	struct hb_policy p;

	(void)state;
	p = env_policy(all, 0);
	assert_int_equal(p.idle_s, 10);		/* HB_ over both */
	assert_int_equal(p.intvl_s, 21);	/* libkeepalive over libdontdie */
	assert_int_equal(p.cnt, 32);		/* libdontdie alone */
	assert_int_equal(p.keepalive, 1);
	p = env_policy(empty_hb, 0);
	assert_int_equal(p.cnt, 7);
	assert_int_equal(p.keepalive, 0);
}

static void test_env_bad_values(void **state)
{
	static const char *const env[] = {
		"HB_KEEPALIVE=perhaps", "HB_KEEPIDLE=90x", "HB_KEEPINTVL=5", "HB_KEEPCNT=200",
		"HB_USER_TIMEOUT=-1", "HB_MATCH=10.0.0.0/33", "HB_FORCE=always", NULL,
	};
	struct hb_policy p;
	int i;

	(void)state;
	p = env_policy(env, 6);
	/* the good value is kept, the bad ones are ignored */
	assert_int_equal(p.set, HB_BIT(HB_V_INTVL));
	assert_int_equal(p.intvl_s, 5);
	assert_int_equal(p.keepalive, 1);
	/* an unreadable match list matches nothing: it must never widen to every socket */
	assert_true(p.has_match);
	assert_true(p.match_invalid);
	assert_true(hb_policy_is_noop(&p));
	{
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };

		a.sin_addr.s_addr = htonl(0x0a000001);
		assert_false(hb_policy_matches(&p, (struct sockaddr *)&a, sizeof(a)));
	}
	assert_false(p.force);
	assert_true(logged_once("HB_KEEPALIVE: 'perhaps': expected 1/on/yes/true or 0/off/no/false"));
	assert_true(logged_once("HB_KEEPIDLE: '90x': unknown unit 'x' (use ms, s, m or h)"));
	assert_true(logged_once("HB_KEEPCNT: '200': out of range 1..127"));
	assert_true(logged_once("HB_USER_TIMEOUT: '-1': negative durations are not allowed"));
	assert_true(logged_once("HB_MATCH: '10.0.0.0/33': bad prefix length '33' (expected 0..32): "
				"no socket is managed"));
	assert_true(logged_once("HB_FORCE: 'always': expected 1/on/yes/true or 0/off/no/false"));
	for (i = 0; i < 6; i++)
		assert_int_equal(msg_level[i], HB_LOG_ERROR);
}

static void test_env_bad_compat(void **state)
{
	static const char *const env[] = {
		"KEEPIDLE=5m",		/* libkeepalive took plain seconds only */
		"KEEPINTVL=0", "DD_TCP_KEEPALIVE_PROBES=lots", "KEEPALIVE=sometimes",
		"DD_TCP_KEEPALIVE_INTVL=9",	/* not used: KEEPINTVL is set, if bad */
		NULL,
	};
	static const char *const hb_bad[] = { "HB_KEEPIDLE=1500ms", "KEEPIDLE=40", NULL };
	struct hb_policy p;

	(void)state;
	p = env_policy(env, 4);
	assert_int_equal(p.set, 0);
	assert_true(logged_once("KEEPIDLE: '5m': not an integer (expected 1..32767)"));
	assert_true(logged_once("KEEPINTVL: '0': out of range 1..32767"));
	assert_true(logged_once("DD_TCP_KEEPALIVE_PROBES: 'lots': not an integer (expected 1..127)"));
	assert_true(logged_once("KEEPALIVE: 'sometimes': expected 1/on/yes/true or 0/off/no/false"));

	/* a bad HB_ value does not fall through to the compat name */
	reset_log(NULL);
	p = env_policy(hb_bad, 1);
	assert_int_equal(p.set, 0);
	assert_true(logged_once("HB_KEEPIDLE: '1500ms': not a whole number of seconds "
				"(expected 1..32767 s)"));
}

static void test_env_quiet_when_log_off(void **state)
{
	static const char *const env[] = { "HB_KEEPIDLE=x", "HB_KEEPCNT=0", NULL };
	struct hb_policy p;

	(void)state;
	hb_set_log_fn(sink, HB_LOG_OFF);
	fake_env = env;
	/* still counted, even with nobody listening */
	assert_int_equal(hb_policy_from_env(&p, fake_getenv), 2);
	assert_int_equal(atomic_load(&n_msgs), 0);
}

static void test_env_real_getenv(void **state)
{
	struct hb_policy p;

	(void)state;
	/* NULL means secure_getenv() */
	assert_int_equal(setenv("HB_KEEPIDLE", "33", 1), 0);
	assert_int_equal(hb_policy_from_env(&p, NULL), 0);
	unsetenv("HB_KEEPIDLE");
	assert_int_equal(p.set & HB_BIT(HB_V_IDLE), HB_BIT(HB_V_IDLE));
	assert_int_equal(p.idle_s, 33);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_effective_defaults),
		cmocka_unit_test(test_effective_sysctl),
		cmocka_unit_test(test_plan_defaults),
		cmocka_unit_test(test_plan_user),
		cmocka_unit_test(test_plan_skip),
		cmocka_unit_test(test_plan_keepalive_off),
		cmocka_unit_test(test_is_noop),
		cmocka_unit_test(test_value),
		cmocka_unit_test(test_sockopt_value),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_env_empty, reset_log, unset_log),
		cmocka_unit_test_setup_teardown(test_env_hb, reset_log, unset_log),
		cmocka_unit_test_setup_teardown(test_env_compat_libkeepalive, reset_log, unset_log),
		cmocka_unit_test_setup_teardown(test_env_compat_msantos, reset_log, unset_log),
		cmocka_unit_test_setup_teardown(test_env_compat_libdontdie, reset_log, unset_log),
		cmocka_unit_test_setup_teardown(test_env_precedence, reset_log, unset_log),
		cmocka_unit_test_setup_teardown(test_env_bad_values, reset_log, unset_log),
		cmocka_unit_test_setup_teardown(test_env_bad_compat, reset_log, unset_log),
		cmocka_unit_test_setup_teardown(test_env_quiet_when_log_off, reset_log, unset_log),
		cmocka_unit_test_setup_teardown(test_env_real_getenv, reset_log, unset_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
