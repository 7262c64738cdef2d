// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl ls beside the path table (cli/path_src.c, cli/print.c): which entry covers each
 * socket's peer, where an idle value under a kernel policy with --idle auto came from
 * ("path DEST", "policy", or nothing known), and --nat-timeout auto's verdicts, JSON, table
 * cell and summary line.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "../../cli/cli.h"
#include "hb/paths.h"
#include "hb/policy_bpf.h"

static const char table[] =
	"10.0.0.0/8 survived=0s dropped=none source=manual time=0\n"
	"10.1.2.3:443 survived=0s dropped=10s source=manual time=0\n"
	"127.0.0.2:7000 survived=9s dropped=10s source=probe time=0\n"
	"192.168.0.0/16 survived=0s dropped=1000s source=manual time=0\n";

static void load(struct hb_paths *t)
{
	char err[256] = "";

	hb_paths_init(t);
	assert_int_equal(hb_paths_parse(table, sizeof(table) - 1, t, err, sizeof(err)), 0);
	assert_int_equal(t->n, 4);
}

static struct hb_sock *conn(struct hb_sock_list *l, int family, const char *peer,
			    unsigned int port, int state)
{
	struct hb_sock *s = hb_sock_list_add(l);

	assert_non_null(s);
	s->family = (uint8_t)family;
	s->state = (uint8_t)state;
	assert_int_equal(inet_pton(family, peer, s->raddr), 1);
	s->rport = (uint16_t)port;
	s->lport = 40000;
	s->keepalive = 1;
	s->keepidle_s = 8, s->keepintvl_s = 2, s->keepcnt = 3;
	s->src_idle = s->src_intvl = s->src_cnt = HB_SOCK_SRC_SOCKET;
	s->idle_ms = 0;
	return s;
}

static const char *dest_of(const struct hb_sock *s, const struct hb_paths *t, char *buf,
			   size_t len)
{
	const struct hb_path *e = hb_sock_path(s, t);

	if (!e)
		return "none";
	hb_pattern_format(&e->dest, buf, len);
	return buf;
}

/* The entry the kernel's path_idle() would find: a port beats none, then the longest
 * prefix; listeners have no path; IPv4-mapped IPv6 peers are IPv4. */
static void test_attach(void **state)
{
	struct hb_sock_list l = { 0 };
	struct hb_paths t;
	char b[80];

	(void)state;
	load(&t);
	conn(&l, AF_INET, "10.1.2.3", 443, HB_TCP_ESTABLISHED);
	conn(&l, AF_INET, "10.1.2.3", 80, HB_TCP_ESTABLISHED);
	conn(&l, AF_INET, "172.16.0.1", 443, HB_TCP_ESTABLISHED);
	conn(&l, AF_INET6, "::ffff:10.1.2.3", 443, HB_TCP_ESTABLISHED);
	conn(&l, AF_INET, "0.0.0.0", 0, HB_TCP_LISTEN);
	hb_paths_attach(&l, &t);
	assert_string_equal(dest_of(&l.v[0], &t, b, sizeof(b)), "10.1.2.3:443");
	assert_string_equal(dest_of(&l.v[1], &t, b, sizeof(b)), "10.0.0.0/8");
	assert_string_equal(dest_of(&l.v[2], &t, b, sizeof(b)), "none");
	assert_string_equal(dest_of(&l.v[3], &t, b, sizeof(b)), "10.1.2.3:443");
	assert_string_equal(dest_of(&l.v[4], &t, b, sizeof(b)), "none");
	/* no table: nothing, and a stale index is not followed */
	hb_paths_attach(&l, NULL);
	assert_int_equal(l.v[0].path, 0);
	l.v[0].path = 99;
	assert_null(hb_sock_path(&l.v[0], &t));
	hb_sock_list_free(&l);
	hb_paths_free(&t);
}

/* The source decision, as the kernel decides the idle: floor(0.8 x dropped), capped at
 * --idle-max (0: the maximum), --idle-max for a path with no drop known, --idle-default with
 * no entry. */
static void test_auto_src(void **state)
{
	struct hb_pol_cfg cfg = { .mask = HB_POL_SET_IDLE, .flags = HB_POL_F_IDLE_AUTO,
				  .idle_s = 60, .idle_max_s = 300 };
	struct hb_paths t;
	const struct hb_path *p10, *none, *big;

	(void)state;
	load(&t);
	none = &t.e[0];		/* 10.0.0.0/8, no drop known */
	p10 = &t.e[1];		/* dropped 10 s: idle 8 */
	big = &t.e[3];		/* dropped 1000 s: 800, capped at 300 */
	assert_int_equal(hb_auto_idle_src(&cfg, p10, 8, false), HB_SOCK_SRC_PATH);
	assert_int_equal(hb_auto_idle_src(&cfg, p10, 8, true), HB_SOCK_SRC_PATH);
	/* an entry covers the peer, the idle is not its: not the path's; the default is no
	 * proof of the policy either (the program may have set 60) */
	assert_int_equal(hb_auto_idle_src(&cfg, p10, 60, false), HB_SOCK_SRC_UNKNOWN);
	assert_int_equal(hb_auto_idle_src(&cfg, p10, 9, false), HB_SOCK_SRC_UNKNOWN);
	/* ... unless the record says the policy set it (the table changed since) */
	assert_int_equal(hb_auto_idle_src(&cfg, p10, 9, true), HB_SOCK_SRC_POLICY);
	/* no entry: --idle-default is the policy's */
	assert_int_equal(hb_auto_idle_src(&cfg, NULL, 60, false), HB_SOCK_SRC_POLICY);
	assert_int_equal(hb_auto_idle_src(&cfg, NULL, 8, false), HB_SOCK_SRC_UNKNOWN);
	/* no drop known: --idle-max; a long timeout capped at --idle-max */
	assert_int_equal(hb_auto_idle_src(&cfg, none, 300, false), HB_SOCK_SRC_PATH);
	assert_int_equal(hb_auto_idle_src(&cfg, big, 300, false), HB_SOCK_SRC_PATH);
	assert_int_equal(hb_auto_idle_src(&cfg, big, 800, false), HB_SOCK_SRC_UNKNOWN);
	/* a policy from before --idle-max: the kernel caps at the maximum */
	cfg.idle_max_s = 0;
	assert_int_equal(hb_auto_idle_src(&cfg, big, 800, false), HB_SOCK_SRC_PATH);
	assert_int_equal(hb_auto_idle_src(&cfg, none, 32767, false), HB_SOCK_SRC_PATH);
	/* unreadable idle: nothing but the record tells */
	assert_int_equal(hb_auto_idle_src(&cfg, p10, -1, false), HB_SOCK_SRC_UNKNOWN);
	assert_int_equal(hb_auto_idle_src(&cfg, p10, -1, true), HB_SOCK_SRC_POLICY);
	/* not an auto policy: the path table says nothing */
	cfg.flags = 0;
	cfg.idle_s = 8;
	assert_int_equal(hb_auto_idle_src(&cfg, p10, 8, false), HB_SOCK_SRC_UNKNOWN);
	hb_paths_free(&t);
}

static char *render(int (*p)(FILE *, const struct hb_sock_list *, const struct hb_print_opts *),
		    const struct hb_sock_list *l, const struct hb_print_opts *po)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	assert_int_equal(p(f, l, po), 0);
	fclose(f);
	return out;
}

static char *summary(const struct hb_sock_list *l, const struct hb_print_opts *po)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	hb_print_risk_summary(f, l, po);
	fclose(f);
	return out;
}

/* "path DEST" in -j; --nat-timeout auto: each connection by its own path's dropped=. */
static void test_print_auto(void **state)
{
	struct hb_print_opts po = { .json = true, .nat_timeout_ms = 0, .nat_auto = true };
	struct hb_sock_list l = { 0 };
	struct hb_sock *a, *b, *c, *d;
	struct hb_paths t;
	char *out, *line;

	(void)state;
	load(&t);
	a = conn(&l, AF_INET, "127.0.0.2", 7000, HB_TCP_ESTABLISHED);	/* dropped 10 s */
	a->src_idle = HB_SOCK_SRC_PATH;
	b = conn(&l, AF_INET, "10.1.2.3", 443, HB_TCP_ESTABLISHED);	/* dropped 10 s */
	b->keepidle_s = 10;
	b->idle_ms = 12000;
	c = conn(&l, AF_INET, "10.9.9.9", 22, HB_TCP_ESTABLISHED);	/* /8: no drop known */
	d = conn(&l, AF_INET, "172.16.0.1", 22, HB_TCP_ESTABLISHED);	/* no entry */
	d->keepalive = 0;
	conn(&l, AF_INET, "0.0.0.0", 0, HB_TCP_LISTEN);
	hb_paths_attach(&l, &t);
	po.paths = &t;

	assert_int_equal(hb_sock_nat_timeout(a, &po), 10000);
	assert_int_equal(hb_sock_at_risk(a, &po), 0);		/* 8 < 10 */
	assert_int_equal(hb_sock_at_risk(b, &po), 1);		/* 10 >= 10 */
	assert_int_equal(hb_sock_nat_timeout(c, &po), -1);
	assert_int_equal(hb_sock_at_risk(c, &po), -2);		/* not judged */
	assert_int_equal(hb_sock_at_risk(d, &po), -2);		/* even with keepalive off */
	assert_int_equal(hb_sock_at_risk(&l.v[4], &po), 0);	/* a listener holds no flow */

	out = render(hb_print_json, &l, &po);
	line = strtok(out, "\n");					/* "[" */
	line = strtok(NULL, "\n");
	assert_non_null(strstr(line, "\"keepidle\":\"path 127.0.0.2:7000\""));
	assert_non_null(strstr(line, "\"nat_timeout_ms\":10000,\"at_risk\":false}"));
	line = strtok(NULL, "\n");
	assert_non_null(strstr(line, "\"keepidle\":\"socket\""));
	assert_non_null(strstr(line, "\"nat_timeout_ms\":10000,\"at_risk\":true}"));
	line = strtok(NULL, "\n");
	assert_non_null(strstr(line, "\"nat_timeout_ms\":null,\"at_risk\":null}"));
	line = strtok(NULL, "\n");
	assert_non_null(strstr(line, "\"nat_timeout_ms\":null,\"at_risk\":null}"));
	line = strtok(NULL, "\n");
	assert_non_null(strstr(line, "\"state\":\"listen\""));
	assert_non_null(strstr(line, "\"nat_timeout_ms\":null,\"at_risk\":false}"));
	free(out);

	out = summary(&l, &po);
	assert_string_equal(out, "1 of 4 connections at risk for their paths' NAT timeouts "
				 "(1 already idle that long); 2 not judged (no timeout known for "
				 "their path)\n");
	free(out);

	/* the table: yes / no, blank where not judged, "-" for the listener */
	po.json = false;
	out = render(hb_print_table, &l, &po);
	line = strtok(out, "\n");
	assert_non_null(strstr(line, "RISK"));
	line = strtok(NULL, "\n");
	assert_non_null(strstr(line, "  no"));
	line = strtok(NULL, "\n");
	assert_non_null(strstr(line, "  yes"));
	line = strtok(NULL, "\n");
	/* RISK is the last column: a blank cell leaves the separator alone at the end */
	assert_true(strlen(line) > 2);
	assert_string_equal(line + strlen(line) - 2, "  ");
	free(out);

	/* a fixed --nat-timeout keeps its line, and the path's source without a table is
	 * plain "path" */
	po.nat_auto = false;
	po.nat_timeout_ms = 350000;
	po.paths = NULL;
	po.json = true;
	out = summary(&l, &po);
	assert_string_equal(out, "1 of 4 connections at risk for a 350 s NAT timeout\n");
	free(out);
	out = render(hb_print_json, &l, &po);
	assert_non_null(strstr(out, "\"keepidle\":\"path\""));
	assert_null(strstr(out, "nat_timeout_ms"));
	free(out);
	hb_sock_list_free(&l);
	hb_paths_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attach),
		cmocka_unit_test(test_auto_src),
		cmocka_unit_test(test_print_auto),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
