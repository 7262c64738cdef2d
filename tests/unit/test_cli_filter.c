// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests for cli/filter.c: FILTER option parsing and matching. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cli/cli.h"

static struct hb_sock mk(unsigned int state, uint16_t lport, uint16_t rport, int ka,
			 long long idle_ms, int pid, const char *comm)
{
	struct hb_sock_list l = { 0 };
	struct hb_sock s;

	hb_sock_list_add(&l);
	l.v[0].state = (uint8_t)state;
	l.v[0].lport = lport;
	l.v[0].rport = rport;
	l.v[0].keepalive = ka;
	l.v[0].idle_ms = idle_ms;
	l.v[0].inode = 1000 + lport;
	if (pid)
		hb_sock_add_owner(&l.v[0], pid, 3, comm);
	s = l.v[0];
	free(l.v);
	return s;
}

static int opt(struct hb_filter *f, int c, const char *arg)
{
	char err[200] = "";

	return hb_filter_opt(f, c, arg, err, sizeof(err));
}

static void test_state_names(void **state)
{
	uint32_t m;

	(void)state;
	assert_string_equal(hb_state_name(HB_TCP_ESTABLISHED), "established");
	assert_string_equal(hb_state_name(HB_TCP_LISTEN), "listen");
	assert_string_equal(hb_state_name(HB_TCP_TIME_WAIT), "time-wait");
	assert_string_equal(hb_state_name(HB_TCP_NEW_SYN_RECV), "syn-recv");
	assert_string_equal(hb_state_name(99), "unknown");
	assert_int_equal(hb_state_parse("established", &m), 0);
	assert_int_equal(m, 1u << HB_TCP_ESTABLISHED);
	assert_int_equal(hb_state_parse("listening", &m), 0);
	assert_int_equal(m, 1u << HB_TCP_LISTEN);
	assert_int_equal(hb_state_parse("syn-recv", &m), 0);
	assert_true(m & (1u << HB_TCP_NEW_SYN_RECV));
	assert_int_equal(hb_state_parse("connected", &m), 0);
	assert_false(m & (1u << HB_TCP_LISTEN));
	assert_true(m & (1u << HB_TCP_TIME_WAIT));
	assert_int_equal(hb_state_parse("synchronized", &m), 0);
	assert_false(m & (1u << HB_TCP_SYN_SENT));
	assert_int_equal(hb_state_parse("ESTABLISHED", &m), -EINVAL);
	assert_int_equal(hb_state_parse("estab", &m), -EINVAL);	/* no prefixes */
}

static void test_parse_errors(void **state)
{
	struct hb_filter f;
	char err[200];
	int i;

	(void)state;
	hb_filter_init(&f);
	assert_false(f.active);
	assert_int_equal(opt(&f, 'x', "1"), 0);		/* not a filter option */
	assert_false(f.active);
	assert_true(hb_filter_opt(&f, HB_OPT_PORT, "70000", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "--port"));
	assert_true(hb_filter_opt(&f, HB_OPT_STATE, "established,bogus", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "bogus"));
	assert_true(hb_filter_opt(&f, HB_OPT_STATE, ",", err, sizeof(err)) < 0);
	assert_true(hb_filter_opt(&f, HB_OPT_KEEPALIVE, "maybe", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "--keepalive"));
	assert_true(hb_filter_opt(&f, HB_OPT_IDLE_OVER, "5x", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "--idle-over"));
	assert_true(hb_filter_opt(&f, HB_OPT_PID, "0", err, sizeof(err)) < 0);
	assert_true(hb_filter_opt(&f, HB_OPT_PID, "-3", err, sizeof(err)) < 0);
	assert_true(hb_filter_opt(&f, HB_OPT_COMM, "", err, sizeof(err)) < 0);
	for (i = 0; i < HB_FILTER_MAX; i++)
		assert_int_equal(opt(&f, HB_OPT_SPORT, "80"), 1);
	assert_int_equal(hb_filter_opt(&f, HB_OPT_SPORT, "80", err, sizeof(err)), -E2BIG);
	assert_true(f.active);
}

static void test_match(void **state)
{
	struct hb_sock est = mk(HB_TCP_ESTABLISHED, 40000, 5432, 1, 5000, 42, "psql");
	struct hb_sock lst = mk(HB_TCP_LISTEN, 5432, 0, 0, -1, 7, "postgres");
	struct hb_sock tw = mk(HB_TCP_TIME_WAIT, 40001, 5432, HB_UNKNOWN, -1, 0, NULL);
	struct hb_filter f;

	(void)state;
	hb_filter_init(&f);
	assert_true(hb_filter_match(&f, &est) && hb_filter_match(&f, &lst) &&
		    hb_filter_match(&f, &tw));

	assert_int_equal(opt(&f, HB_OPT_PORT, "5432"), 1);	/* either side */
	assert_true(hb_filter_match(&f, &est) && hb_filter_match(&f, &lst));
	hb_filter_init(&f);
	opt(&f, HB_OPT_SPORT, "5432");
	assert_false(hb_filter_match(&f, &est));
	assert_true(hb_filter_match(&f, &lst));
	hb_filter_init(&f);
	opt(&f, HB_OPT_DPORT, "5432");
	opt(&f, HB_OPT_DPORT, "6379");				/* OR */
	assert_true(hb_filter_match(&f, &est));
	assert_false(hb_filter_match(&f, &lst));

	hb_filter_init(&f);
	opt(&f, HB_OPT_STATE, "listen,time-wait");
	assert_false(hb_filter_match(&f, &est));
	assert_true(hb_filter_match(&f, &lst) && hb_filter_match(&f, &tw));

	hb_filter_init(&f);
	opt(&f, HB_OPT_KEEPALIVE, "off");
	assert_false(hb_filter_match(&f, &est));
	assert_true(hb_filter_match(&f, &lst));
	assert_false(hb_filter_match(&f, &tw));			/* unknown never matches */
	hb_filter_init(&f);
	opt(&f, HB_OPT_KEEPALIVE, "on");
	assert_true(hb_filter_match(&f, &est));
	assert_false(hb_filter_match(&f, &tw));

	hb_filter_init(&f);
	opt(&f, HB_OPT_IDLE_OVER, "4s");
	assert_true(hb_filter_match(&f, &est));
	assert_false(hb_filter_match(&f, &lst));		/* unknown idle */
	hb_filter_init(&f);
	opt(&f, HB_OPT_IDLE_OVER, "5s");
	assert_false(hb_filter_match(&f, &est));		/* strictly over */

	hb_filter_init(&f);
	assert_false(hb_filter_needs_owners(&f));
	opt(&f, HB_OPT_PID, "42");
	assert_true(hb_filter_needs_owners(&f));
	assert_true(hb_filter_match(&f, &est));
	assert_false(hb_filter_match(&f, &lst) || hb_filter_match(&f, &tw));
	opt(&f, HB_OPT_COMM, "postgres");		/* pid 42 is psql: AND on one owner */
	assert_false(hb_filter_match(&f, &est));
	hb_filter_init(&f);
	opt(&f, HB_OPT_COMM, "postgres-with-a-long-name");	/* 15 bytes compared */
	lst.owner[0].comm[0] = 0;
	strcpy(lst.owner[0].comm, "postgres-with-a");
	assert_true(hb_filter_match(&f, &lst));
}

static void test_apply(void **state)
{
	struct hb_sock_list l = { 0 };
	struct hb_filter f;
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		struct hb_sock *s = hb_sock_list_add(&l);

		s->state = HB_TCP_ESTABLISHED;
		s->lport = (uint16_t)(1000 + i);
		s->inode = (uint64_t)i + 1;
		/* many owners: exercises more_owners and its freeing */
		for (int k = 0; k < i; k++)
			assert_int_equal(hb_sock_add_owner(s, 100 + k, k, "x"), 0);
	}
	assert_int_equal(l.v[9].n_owners, 9);
	assert_int_equal(l.v[9].more_owners[6].pid, 108);
	hb_filter_init(&f);
	opt(&f, HB_OPT_SPORT, "1003");
	opt(&f, HB_OPT_SPORT, "1008");
	assert_int_equal(hb_filter_apply(&f, &l), 2);
	assert_int_equal(l.v[0].lport, 1003);
	assert_int_equal(l.v[1].lport, 1008);
	assert_int_equal(l.v[1].n_owners, 8);
	hb_sock_list_free(&l);
	assert_null(l.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_apply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
