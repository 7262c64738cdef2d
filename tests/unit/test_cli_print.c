// SPDX-License-Identifier: BSD-2-Clause
/*
 * Golden-output tests for hbctl's printers, fed by the diag parser: the recorded sock_diag
 * dump tests/unit/fixtures/diag-basic.raw (scripts/record-diag.sh) goes through
 * hb_diag_replay() exactly as HB_DIAG_FILE does, then through the table and JSON printers.
 * Ages and timers come from the recording, so the output is fixed. A synthetic list covers
 * what a replay cannot know (owners, settings and their sources, at-risk verdicts).
 * HB_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
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

static char fixdir[512];

static void fixture_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", fixdir, name);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static void golden(const char *name, const char *got)
{
	char path[600], *want;
	const char *a, *b;
	int line = 1;

	fixture_path(path, sizeof(path), name);
	if (getenv("HB_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs(got, f);
		fclose(f);
		return;
	}
	want = slurp(path, NULL);
	if (!want)
		fail_msg("%s missing (HB_UPDATE_GOLDEN=1 writes it)", path);
	if (strcmp(want, got) != 0) {
		for (a = want, b = got; *a && *a == *b; a++, b++)
			if (*a == '\n')
				line++;
		fprintf(stderr, "# --- %s differs at line %d; got:\n%s", name, line, got);
		free(want);
		fail_msg("%s: output differs from the golden file at line %d", name, line);
	}
	free(want);
}

typedef int (*printer)(FILE *, const struct hb_sock_list *, const struct hb_print_opts *);

static char *render(printer p, const struct hb_sock_list *l, const struct hb_print_opts *po)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	assert_int_equal(p(f, l, po), 0);
	fclose(f);
	return out;
}

static void load_fixture(struct hb_sock_list *l)
{
	char path[600];

	fixture_path(path, sizeof(path), "diag-basic.raw");
	assert_int_equal(hb_diag_replay(path, l), 0);
}

static void test_replay_records(void **state)
{
	struct hb_sock_list l = { 0 };
	size_t i, listen = 0, tw = 0, est = 0, v6 = 0, ka = 0;

	(void)state;
	load_fixture(&l);
	assert_int_equal(l.n, 11);
	for (i = 0; i < l.n; i++) {
		const struct hb_sock *s = &l.v[i];

		listen += s->state == HB_TCP_LISTEN;
		tw += s->state == HB_TCP_TIME_WAIT;
		est += s->state == HB_TCP_ESTABLISHED;
		v6 += s->family == AF_INET6;
		ka += s->keepalive == 1;
		if (s->state == HB_TCP_ESTABLISHED) {
			/* ages are known for connected sockets, idle is the smaller one */
			assert_true(s->last_send_ms >= 0 && s->last_recv_ms >= 0);
			assert_int_equal(s->idle_ms, s->last_send_ms < s->last_recv_ms
						     ? s->last_send_ms : s->last_recv_ms);
			assert_true(s->inode != 0);
		} else {
			assert_int_equal(s->idle_ms, HB_UNKNOWN);
		}
		if (s->state == HB_TCP_TIME_WAIT) {
			assert_int_equal(s->timer, HB_TIMER_TIMEWAIT);
			assert_int_equal(s->inode, 0);
		}
		/* only time-wait (and request) sockets lack options; the table says "-" */
		assert_int_equal(s->no_options, s->state == HB_TCP_TIME_WAIT);
		assert_int_equal(s->n_owners, 0);	/* a replay knows no owners */
		assert_int_equal(s->keepidle_s, HB_UNKNOWN);
	}
	assert_int_equal(listen, 2);
	assert_int_equal(tw, 1);
	assert_int_equal(est, 8);
	assert_int_equal(v6, 5);
	/* the two keepalive clients: known from their pending keepalive timer */
	assert_int_equal(ka, 2);
	hb_sock_list_free(&l);
}

static void test_replay_table(void **state)
{
	struct hb_sock_list l = { 0 };
	struct hb_print_opts po = { .nat_timeout_ms = -1 };
	char *out;

	(void)state;
	load_fixture(&l);
	out = render(hb_print_table, &l, &po);
	golden("diag-basic.table.golden", out);
	free(out);
	hb_sock_list_free(&l);
}

static void test_replay_json(void **state)
{
	struct hb_sock_list l = { 0 };
	struct hb_print_opts po = { .json = true, .owners = true, .nat_timeout_ms = 350000 };
	char *out;

	(void)state;
	load_fixture(&l);
	out = render(hb_print_json, &l, &po);
	golden("diag-basic.json.golden", out);
	free(out);
	hb_sock_list_free(&l);
}

/* A listing with every kind of value a live run can produce. */
static void synthetic(struct hb_sock_list *l)
{
	struct hb_sock *s;
	int i;

	l->sysctl = (struct hb_sysctl){ 7200, 75, 9 };
	s = hb_sock_list_add(l);		/* a listener shared by a prefork server */
	s->family = AF_INET;
	s->state = HB_TCP_LISTEN;
	s->lport = 5432;
	s->inode = 1001;
	s->keepalive = 0;
	s->keepidle_s = 7200, s->keepintvl_s = 75, s->keepcnt = 9, s->user_timeout_ms = 0;
	s->src_idle = s->src_intvl = s->src_cnt = s->src_uto = HB_SOCK_SRC_SYSCTL;
	for (i = 0; i < 5; i++)
		hb_sock_add_owner(s, 100 + i, 5, "postgres");

	s = hb_sock_list_add(l);		/* retrofitted keepalive, probing */
	s->family = AF_INET;
	s->state = HB_TCP_ESTABLISHED;
	inet_pton(AF_INET, "10.0.0.1", s->laddr);
	inet_pton(AF_INET, "10.0.0.2", s->raddr);
	s->lport = 40000, s->rport = 5432;
	s->inode = 1002;
	s->cookie = 77;
	s->keepalive = 1;
	s->keepidle_s = 60, s->keepintvl_s = 10, s->keepcnt = 75, s->user_timeout_ms = 0;
	s->src_idle = HB_SOCK_SRC_SOCKET, s->src_intvl = HB_SOCK_SRC_SOCKET;
	s->src_cnt = HB_SOCK_SRC_SYSCTL, s->src_uto = HB_SOCK_SRC_SYSCTL;
	s->keepcnt = 9;
	s->timer = HB_TIMER_KEEPALIVE, s->timer_expires_ms = 4200, s->probes = 2;
	s->last_send_ms = 7140000, s->last_recv_ms = 90000, s->last_ack_ms = 4100;
	s->idle_ms = 90000;
	hb_sock_add_owner(s, 4242, 7, "psql");

	s = hb_sock_list_add(l);		/* keepalive off, idle for hours */
	s->family = AF_INET6;
	s->state = HB_TCP_ESTABLISHED;
	inet_pton(AF_INET6, "2001:db8::1", s->laddr);
	inet_pton(AF_INET6, "2001:db8::2", s->raddr);
	s->lport = 443, s->rport = 51000;
	s->inode = 1003;
	s->keepalive = 0;
	s->keepidle_s = 7200, s->keepintvl_s = 75, s->keepcnt = 9, s->user_timeout_ms = 30000;
	s->src_idle = s->src_intvl = s->src_cnt = HB_SOCK_SRC_SYSCTL, s->src_uto = HB_SOCK_SRC_SOCKET;
	s->timer = HB_TIMER_RETRANS, s->timer_expires_ms = 350, s->probes = 1;
	s->last_send_ms = 400, s->last_recv_ms = 7200000, s->last_ack_ms = 7200000;
	s->idle_ms = 400;
	hb_sock_add_owner(s, 17, 9, "we\"ird\ncomm");

	s = hb_sock_list_add(l);		/* keepalive on, but slower than the NAT */
	s->family = AF_INET;
	s->state = HB_TCP_ESTABLISHED;
	inet_pton(AF_INET, "127.0.0.1", s->laddr);
	inet_pton(AF_INET, "127.0.0.1", s->raddr);
	s->lport = 6379, s->rport = 33000;
	s->inode = 1004;
	s->keepalive = 1;
	s->keepidle_s = 7200, s->keepintvl_s = 75, s->keepcnt = 9, s->user_timeout_ms = 0;
	s->src_idle = s->src_intvl = s->src_cnt = s->src_uto = HB_SOCK_SRC_SYSCTL;
	s->timer = HB_TIMER_KEEPALIVE, s->timer_expires_ms = 7000000;
	s->last_send_ms = s->last_recv_ms = s->last_ack_ms = s->idle_ms = 200000;
	hb_sock_add_owner(s, 900, 4, "redis-server");
	hb_sock_add_owner(s, 901, 4, "redis-server");

	s = hb_sock_list_add(l);		/* another user's socket: settings unreadable */
	s->family = AF_INET;
	s->state = HB_TCP_CLOSE_WAIT;
	inet_pton(AF_INET, "192.0.2.10", s->laddr);
	inet_pton(AF_INET, "198.51.100.7", s->raddr);
	s->lport = 22, s->rport = 60001;
	s->inode = 1005;
	s->last_send_ms = s->last_recv_ms = s->last_ack_ms = s->idle_ms = 1500;

	s = hb_sock_list_add(l);		/* time-wait: nobody's */
	s->family = AF_INET;
	s->state = HB_TCP_TIME_WAIT;
	inet_pton(AF_INET, "10.0.0.1", s->laddr);
	inet_pton(AF_INET, "10.0.0.2", s->raddr);
	s->lport = 40002, s->rport = 5432;
	s->no_options = true;
	s->timer = HB_TIMER_TIMEWAIT, s->timer_expires_ms = 59000;
}

static void test_synthetic(void **state)
{
	struct hb_sock_list l = { 0 };
	struct hb_print_opts po = { .owners = true, .nat_timeout_ms = 350000 };
	char *out;

	(void)state;
	synthetic(&l);
	out = render(hb_print_table, &l, &po);
	golden("synthetic.table.golden", out);
	free(out);
	po.json = true;
	out = render(hb_print_json, &l, &po);
	golden("synthetic.json.golden", out);
	free(out);
	/* colour never changes the text, only wraps it */
	po.json = false;
	po.color = true;
	out = render(hb_print_table, &l, &po);
	assert_non_null(strstr(out, "\033[31myes\033[0m"));
	free(out);
	hb_sock_list_free(&l);
}

static void test_at_risk(void **state)
{
	struct hb_sock_list l = { 0 };
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	synthetic(&l);
	assert_int_equal(hb_at_risk(&l.v[0], 350000), 0);	/* listener */
	assert_int_equal(hb_at_risk(&l.v[1], 350000), 0);	/* keepidle 60 < 350 */
	assert_int_equal(hb_at_risk(&l.v[1], 60000), 1);	/* keepidle 60 >= 60 */
	assert_int_equal(hb_at_risk(&l.v[1], 60001), 0);
	assert_int_equal(hb_at_risk(&l.v[2], 350000), 1);	/* off */
	assert_int_equal(hb_at_risk(&l.v[3], 350000), 1);	/* on, 7200 >= 350 */
	assert_int_equal(hb_at_risk(&l.v[4], 350000), -1);	/* unreadable */
	assert_int_equal(hb_at_risk(&l.v[5], 350000), 0);	/* time-wait */
	f = open_memstream(&out, &len);
	hb_print_risk_summary(f, &l, &(struct hb_print_opts){ .nat_timeout_ms = 350000 });
	fclose(f);
	assert_string_equal(out, "2 of 4 connections at risk for a 350 s NAT timeout; "
			    "1 unknown (settings unreadable)\n");
	free(out);
	f = open_memstream(&out, &len);
	hb_print_risk_summary(f, &l, &(struct hb_print_opts){ .nat_timeout_ms = 1500 });
	fclose(f);
	assert_string_equal(out, "3 of 4 connections at risk for a 1500 ms NAT timeout "
			    "(2 already idle that long); 1 unknown (settings unreadable)\n");
	free(out);
	hb_sock_list_free(&l);
}

static void test_empty(void **state)
{
	struct hb_sock_list l = { 0 };
	struct hb_print_opts po = { .json = true, .nat_timeout_ms = -1 };
	char *out;

	(void)state;
	out = render(hb_print_json, &l, &po);
	assert_string_equal(out, "[]\n");
	free(out);
	po.json = false;
	out = render(hb_print_table, &l, &po);
	assert_non_null(strstr(out, "STATE"));
	free(out);
}

/* A kernel policy's record: "program" and "policy" per value, keepalive's own too. */
static void test_policy_sources(void **state)
{
	struct hb_sock_list l = { 0 };
	struct hb_print_opts po = { .json = true, .nat_timeout_ms = -1 };
	char *out;

	(void)state;
	synthetic(&l);
	l.v[1].src_ka = HB_SOCK_SRC_PROGRAM;
	l.v[1].src_idle = HB_SOCK_SRC_PROGRAM;
	l.v[1].src_intvl = HB_SOCK_SRC_POLICY;
	l.v[1].src_cnt = HB_SOCK_SRC_POLICY;
	out = render(hb_print_json, &l, &po);
	assert_non_null(strstr(out, "\"config_source\":{\"keepalive\":\"program\",\"keepidle\":"
				    "\"program\",\"keepintvl\":\"policy\",\"keepcnt\":\"policy\","
				    "\"user_timeout\":null}"));
	/* without a record, no keepalive source: nothing knows it */
	assert_non_null(strstr(out, "\"config_source\":{\"keepidle\":\"sysctl\""));
	free(out);
	hb_sock_list_free(&l);
}

/* ---- the parser on hand-made netlink streams ---- */

static size_t put_msg(char *buf, uint16_t type, uint16_t flags, const void *payload,
		      size_t plen)
{
	struct nlmsghdr *h = (struct nlmsghdr *)buf;

	memset(h, 0, NLMSG_SPACE(plen));
	h->nlmsg_len = NLMSG_LENGTH(plen);
	h->nlmsg_type = type;
	h->nlmsg_flags = flags;
	memcpy(NLMSG_DATA(h), payload, plen);
	return NLMSG_SPACE(plen);
}

static size_t put_sock(char *buf, uint16_t flags)
{
	struct inet_diag_msg m = { 0 };

	m.idiag_family = AF_INET;
	m.idiag_state = HB_TCP_ESTABLISHED;
	m.id.idiag_sport = htons(1234);
	m.id.idiag_dport = htons(80);
	m.idiag_inode = 55;
	m.idiag_timer = 2;
	m.idiag_expires = 1000;
	return put_msg(buf, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI | flags, &m, sizeof(m));
}

static void test_parse_stream(void **state)
{
	char buf[4096];
	struct hb_sock_list l = { 0 };
	int done = 0, err = -EPERM;
	struct nlmsgerr ne = { .error = -EACCES };
	size_t n;

	(void)state;
	/* one socket, then DONE: no INET_DIAG_INFO means unknown ages */
	n = put_sock(buf, 0);
	n += put_msg(buf + n, NLMSG_DONE, NLM_F_MULTI, &done, sizeof(done));
	assert_int_equal(hb_diag_parse(buf, n, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].lport, 1234);
	assert_int_equal(l.v[0].rport, 80);
	assert_int_equal(l.v[0].timer, HB_TIMER_KEEPALIVE);
	assert_int_equal(l.v[0].keepalive, 1);
	assert_int_equal(l.v[0].timer_expires_ms, 1000);
	assert_int_equal(l.v[0].idle_ms, HB_UNKNOWN);
	hb_sock_list_free(&l);

	/* cut short: no DONE, or a truncated message */
	assert_int_equal(hb_diag_parse(buf, n - NLMSG_SPACE(sizeof(int)), &l), -EBADMSG);
	hb_sock_list_free(&l);
	assert_int_equal(hb_diag_parse(buf, 20, &l), -EBADMSG);
	hb_sock_list_free(&l);

	/* an error in NLMSG_DONE's payload (iproute2's mnlu_cb_stop) */
	n = put_sock(buf, 0);
	n += put_msg(buf + n, NLMSG_DONE, NLM_F_MULTI, &err, sizeof(err));
	assert_int_equal(hb_diag_parse(buf, n, &l), -EPERM);
	hb_sock_list_free(&l);

	/* NLMSG_ERROR */
	n = put_msg(buf, NLMSG_ERROR, 0, &ne, sizeof(ne));
	assert_int_equal(hb_diag_parse(buf, n, &l), -EACCES);
	hb_sock_list_free(&l);

	/* NLM_F_DUMP_INTR: the caller restarts */
	n = put_sock(buf, NLM_F_DUMP_INTR);
	n += put_msg(buf + n, NLMSG_DONE, NLM_F_MULTI, &done, sizeof(done));
	assert_int_equal(hb_diag_parse(buf, n, &l), -EINTR);
	hb_sock_list_free(&l);

	/* garbage */
	memset(buf, 0xff, 64);
	assert_int_equal(hb_diag_parse(buf, 64, &l), -EBADMSG);
	memset(buf, 0, 64);
	assert_int_equal(hb_diag_parse(buf, 64, &l), -EBADMSG);
	hb_sock_list_free(&l);

	/* an unknown message type */
	n = put_msg(buf, 0x4242, 0, &done, sizeof(done));
	assert_int_equal(hb_diag_parse(buf, n, &l), -EBADMSG);
	hb_sock_list_free(&l);

	/* a missing file */
	assert_int_equal(hb_diag_replay("/nonexistent/hbctl.raw", &l), -ENOENT);
}

static void test_fuzzish(void **state)
{
	struct hb_sock_list l = { 0 };
	char path[600], *raw;
	size_t len, cut;
	unsigned int seed = 1;
	int i;

	(void)state;
	fixture_path(path, sizeof(path), "diag-basic.raw");
	raw = slurp(path, &len);
	assert_non_null(raw);
	/* every prefix parses or fails cleanly (valgrind/ASan watch the reads) */
	for (cut = 0; cut < len; cut += 7) {
		int rc = hb_diag_parse(raw, cut, &l);

		assert_true(rc == 0 || rc == -EBADMSG);
		hb_sock_list_free(&l);
	}
	/* flipped bytes never crash */
	for (i = 0; i < 300; i++) {
		char *c = malloc(len);

		memcpy(c, raw, len);
		c[rand_r(&seed) % len] ^= (char)(1 + rand_r(&seed) % 255);
		hb_diag_parse(c, len, &l);
		hb_sock_list_free(&l);
		free(c);
	}
	free(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_records),
		cmocka_unit_test(test_replay_table),
		cmocka_unit_test(test_replay_json),
		cmocka_unit_test(test_synthetic),
		cmocka_unit_test(test_at_risk),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_policy_sources),
		cmocka_unit_test(test_parse_stream),
		cmocka_unit_test(test_fuzzish),
	};
	const char *env = getenv("HB_FIXTURES");
	char src[512];

	if (env && *env) {
		snprintf(fixdir, sizeof(fixdir), "%s", env);
	} else {
		snprintf(src, sizeof(src), "%s", __FILE__);
		snprintf(fixdir, sizeof(fixdir), "%s/fixtures", dirname(src));
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
