// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests for cli/probe_nat.c: the silences probe-nat tries, its bookkeeping, the
 * recommendation, the target parser and both printers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cli/probe_nat.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct hb_pn_result res;	/* large: off the stack */

static void expect_list(const long long *got, unsigned int n, const long long *want,
			unsigned int wn)
{
	unsigned int i;

	if (n != wn) {
		for (i = 0; i < n; i++)
			print_message("  got[%u] = %lld\n", i, got[i]);
		fail_msg("expected %u values, got %u", wn, n);
	}
	for (i = 0; i < n; i++)
		if (got[i] != want[i])
			fail_msg("[%u]: expected %lld, got %lld", i, want[i], got[i]);
}

static void test_series(void **state)
{
	long long out[HB_PN_MAX_PARALLEL];
	/* 5 in 8 flows on the resolution's grid from 1 s, the rest geometric up to --max */
	static const long long s20[] = { 1000, 2000, 3000, 4000, 5000, 8000, 13000, 20000 };
	static const long long s30m[] = { 1000, 2000, 3000, 4000, 5000, 36000, 253000,
					  1800000 };
	static const long long one[] = { 20000 };
	static const long long small[] = { 1000, 1500 };
	static const long long fine[] = { 1000, 1500, 2000, 3000 };
	unsigned int n, i, par;

	(void)state;
	expect_list(out, hb_pn_series(20000, 1000, 8, out), s20, ARRAY_SIZE(s20));
	expect_list(out, hb_pn_series(1800000, 1000, 8, out), s30m, ARRAY_SIZE(s30m));
	expect_list(out, hb_pn_series(20000, 1000, 1, out), one, 1);
	expect_list(out, hb_pn_series(1500, 1000, 8, out), small, ARRAY_SIZE(small));
	expect_list(out, hb_pn_series(3000, 500, 4, out), fine, ARRAY_SIZE(fine));
	/* 64 flows: 1..40 s at 1 s, so that a 30 s timeout is bracketed to 1 s in one pass */
	n = hb_pn_series(HB_PN_DEFAULT_MAX_MS, 1000, 64, out);
	assert_int_equal(n, 64);
	for (i = 0; i < 40; i++)
		assert_int_equal(out[i], (long long)(i + 1) * 1000);
	assert_true(out[40] > 40000);
	/* whatever the inputs: ascending, unique, from 1 s, ending at max, at most n */
	for (par = 1; par <= HB_PN_MAX_PARALLEL; par++) {
		n = hb_pn_series(HB_PN_DEFAULT_MAX_MS, 1000, par, out);
		assert_true(n >= 1 && n <= par);
		assert_int_equal(out[n - 1], HB_PN_DEFAULT_MAX_MS);
		if (par > 1)
			assert_int_equal(out[0], 1000);
		for (i = 1; i < n; i++)
			assert_true(out[i] > out[i - 1]);
	}
}

static void test_bisect(void **state)
{
	long long out[HB_PN_MAX_PARALLEL];
	static const long long one[] = { 5000 };
	static const long long below_close[] = { 3000, 4000 };
	static const long long from_zero[] = { 1000, 2000, 3000, 4000 };
	static const long long grid300[] = { 1200, 1500, 1800, 2100, 2400, 2700 };
	static const long long spread[] = { 257000, 302000, 347000, 392000, 437000, 482000,
					    527000, 572000 };
	static const long long two[] = { 4000, 6000 };
	unsigned int n;

	(void)state;
	expect_list(out, hb_pn_bisect(4000, 6000, 1000, -1, 8, out), one, 1);
	assert_int_equal(hb_pn_bisect(4000, 5000, 1000, -1, 8, out), 0);
	assert_int_equal(hb_pn_bisect(4000, 4500, 1000, -1, 8, out), 0);
	assert_int_equal(hb_pn_bisect(0, 1000, 1000, -1, 8, out), 0);	/* below 1 s */
	expect_list(out, hb_pn_bisect(0, 5000, 1000, -1, 8, out), from_zero, 4);
	expect_list(out, hb_pn_bisect(0, 3000, 300, -1, 8, out), grid300, 6);
	expect_list(out, hb_pn_bisect(2000, 10000, 1000, 5000, 8, out), below_close, 2);
	assert_int_equal(hb_pn_bisect(6000, 10000, 1000, 5000, 8, out), 0);
	expect_list(out, hb_pn_bisect(212000, 618000, 1000, -1, 8, out), spread, 8);
	/* n = 2 spreads two points over 1..7 s between 2 and 8 */
	expect_list(out, hb_pn_bisect(2000, 8000, 1000, -1, 2, out), two, 2);
	/* real silences a few ms off the grid: within a tenth of the resolution, it is done */
	assert_int_equal(hb_pn_bisect(4030, 5030, 1000, -1, 8, out), 0);
	assert_int_equal(hb_pn_bisect(29010, 30090, 1000, -1, 64, out), 0);
	expect_list(out, hb_pn_bisect(29010, 31000, 1000, -1, 64, out), (long long[]){ 30000 }, 1);
	assert_int_equal(hb_pn_bisect(29950, 31000, 1000, -1, 64, out), 0);	/* 30 s: too near */
	/* every point inside, on the grid (whole multiples of the resolution), unique */
	n = hb_pn_bisect(1000, 100000, 700, -1, 64, out);
	assert_int_equal(n, 64);
	while (n-- > 1) {
		assert_true(out[n] > out[n - 1]);
		assert_true(out[n] < 100000 && out[n] % 700 == 0);
	}
}

static void test_resolution(void **state)
{
	(void)state;
	assert_int_equal(hb_pn_resolution(250, 300000), 250);
	assert_int_equal(hb_pn_resolution(0, 0), 1000);
	assert_int_equal(hb_pn_resolution(0, 4000), 1000);
	assert_int_equal(hb_pn_resolution(0, 39000), 1000);
	assert_int_equal(hb_pn_resolution(0, 300000), 15000);
	assert_int_equal(hb_pn_resolution(0, 350000), 17000);
}

static void test_bracket(void **state)
{
	struct hb_pn_bracket b;

	(void)state;
	hb_pn_result_init(&res);
	hb_pn_bracket(&res, &b);
	assert_int_equal(b.survived_ms, 0);
	assert_int_equal(b.dropped_ms, -1);
	assert_int_equal(b.server_closed_ms, -1);

	hb_pn_record(&res, HB_PN_SURVIVED, 1000);
	hb_pn_record(&res, HB_PN_SURVIVED, 4000);
	hb_pn_record(&res, HB_PN_SILENCE, 8000);
	hb_pn_record(&res, HB_PN_CANCELLED, 13000);
	hb_pn_record(&res, HB_PN_RESET, 6000);
	hb_pn_record(&res, HB_PN_SERVER_FIN, 9000);
	hb_pn_bracket(&res, &b);
	assert_int_equal(b.survived_ms, 4000);
	assert_int_equal(b.dropped_ms, 6000);
	assert_int_equal(b.cause, HB_PN_RESET);
	assert_int_equal(b.server_closed_ms, 9000);
	assert_int_equal(b.inconsistent, 0);
	assert_int_equal(res.count[HB_PN_SURVIVED], 2);
	assert_int_equal(res.count[HB_PN_CANCELLED], 1);

	/* a drop below a survivor is noted, and does not become the bracket */
	hb_pn_record(&res, HB_PN_SILENCE, 3000);
	hb_pn_record(&res, HB_PN_SURVIVED, 5000);
	hb_pn_bracket(&res, &b);
	assert_int_equal(b.survived_ms, 5000);
	assert_int_equal(b.dropped_ms, 6000);
	assert_int_equal(b.inconsistent, 1);

	/* the array is full: counts still go on */
	hb_pn_result_init(&res);
	for (unsigned int i = 0; i < HB_PN_MAX_OUTCOMES + 10; i++)
		hb_pn_record(&res, HB_PN_SURVIVED, 1000);
	assert_int_equal(res.n, HB_PN_MAX_OUTCOMES);
	assert_int_equal(res.count[HB_PN_SURVIVED], HB_PN_MAX_OUTCOMES + 10);
	hb_pn_record(&res, (enum hb_pn_outcome)HB_PN__COUNT, 1000);	/* ignored */
}

static void test_recommend(void **state)
{
	static const struct {
		long long survived_ms;
		int idle, intvl, cnt, dead;
		bool capped;
	} cases[] = {
		{ 0, 1, 1, 6, 7, false },	/* nothing survived: the minimum */
		{ 1000, 1, 1, 6, 7, false },
		{ 4000, 2, 1, 6, 8, false },
		{ 5000, 3, 1, 6, 9, false },
		{ 30000, 20, 3, 6, 38, false },
		{ 90000, 60, 10, 6, 120, false },
		{ 300000, 60, 10, 6, 120, true },	/* hbkeep's defaults */
		{ 1800000, 60, 10, 6, 120, true },
	};
	struct hb_pn_bracket b = { .dropped_ms = -1, .server_closed_ms = -1 };
	struct hb_pn_recommend r;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		b.survived_ms = cases[i].survived_ms;
		hb_pn_recommend(&b, &r);
		if (r.idle_s != cases[i].idle || r.intvl_s != cases[i].intvl ||
		    r.cnt != cases[i].cnt || r.dead_peer_s != cases[i].dead ||
		    r.capped != cases[i].capped)
			fail_msg("survived %lld ms: got %d/%d/%d dead %d capped %d",
				 cases[i].survived_ms, r.idle_s, r.intvl_s, r.cnt, r.dead_peer_s,
				 r.capped);
		/* keepidle below the survived silence whenever that is possible */
		if (cases[i].survived_ms > 1000)
			assert_true(r.idle_s * 1000LL < cases[i].survived_ms);
	}
}

static void test_parse_target(void **state)
{
	static const struct { const char *in, *host, *port; } good[] = {
		{ "198.51.100.2:7000", "198.51.100.2", "7000" },
		{ "example.com:443", "example.com", "443" },
		{ "[::1]:80", "::1", "80" },
		{ "[2001:db8::1]:65535", "2001:db8::1", "65535" },
		{ "db.internal:postgresql", "db.internal", "postgresql" },
	};
	static const char *const bad[] = {
		"", "host", "host:", ":80", "::1:80", "2001:db8::1", "[::1]", "[::1]80", "[]:80",
		"[::1:80", "h:0", "h:65536", "h:99999999999999999999",
	};
	char host[64], port[16], err[160];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		if (hb_pn_parse_target(good[i].in, host, sizeof(host), port, sizeof(port), err,
				       sizeof(err)))
			fail_msg("'%s': %s", good[i].in, err);
		assert_string_equal(host, good[i].host);
		assert_string_equal(port, good[i].port);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = 0;
		if (hb_pn_parse_target(bad[i], host, sizeof(host), port, sizeof(port), err,
				       sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(err[0] != 0);
	}
	assert_int_equal(hb_pn_parse_target("averyveryverylonghostname:1", host, 8, port,
					    sizeof(port), err, sizeof(err)), -EINVAL);
	assert_int_equal(hb_pn_parse_target(NULL, host, 8, port, sizeof(port), err,
					    sizeof(err)), -EINVAL);
	hb_pn_parse_target("::1:80", host, sizeof(host), port, sizeof(port), err, sizeof(err));
	assert_non_null(strstr(err, "brackets"));
}

static void test_fmt_secs(void **state)
{
	static const struct { long long ms; const char *s; } cases[] = {
		{ 0, "0" }, { -5, "0" }, { 4000, "4" }, { 4500, "4.5" }, { 250, "0.25" },
		{ 1001, "1.001" }, { 1800000, "1800" }, { 3010, "3.01" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		assert_string_equal(hb_pn_fmt_secs(buf, sizeof(buf), cases[i].ms), cases[i].s);
}

/* Prints rep with fn into a string (caller frees). */
static char *render(void (*fn)(FILE *, const struct hb_pn_report *),
		    const struct hb_pn_report *rep)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, rep);
	fclose(f);
	return buf;
}

static struct hb_pn_report report(void)
{
	struct hb_pn_report rep = {
		.target = "server:7000", .address = "198.51.100.2:7000", .max_ms = 20000,
		.res_ms = 1000, .parallel = 8, .elapsed_ms = 15380, .r = &res,
	};
	return rep;
}

/* -v's verdict names, one per outcome */
static void test_outcome_names(void **state)
{
	int w;

	(void)state;
	assert_string_equal(hb_pn_outcome_name(HB_PN_SURVIVED), "survived");
	assert_string_equal(hb_pn_outcome_name(HB_PN_SILENCE), "dropped (probe unanswered)");
	assert_string_equal(hb_pn_outcome_name(HB_PN_RESET), "dropped (reset)");
	assert_string_equal(hb_pn_outcome_name(HB_PN_SERVER_FIN), "closed by the server");
	for (w = 0; w < HB_PN__COUNT; w++)
		assert_non_null(hb_pn_outcome_name((enum hb_pn_outcome)w));
}

static void test_print_bracket(void **state)
{
	struct hb_pn_report rep = report();
	char *s;

	(void)state;
	hb_pn_result_init(&res);
	res.rounds = 2;
	res.conns = 8;
	hb_pn_record(&res, HB_PN_SURVIVED, 1000);
	hb_pn_record(&res, HB_PN_SURVIVED, 4000);
	hb_pn_record(&res, HB_PN_SILENCE, 6000);
	hb_pn_record(&res, HB_PN_CANCELLED, 8000);
	hb_pn_record(&res, HB_PN_SILENCE, 5000);
	s = render(hb_pn_print_json, &rep);
	assert_string_equal(s,
		"{\"target\":\"server:7000\",\"address\":\"198.51.100.2:7000\",\"survived_s\":4,"
		"\"dropped_s\":5,\"server_closed_s\":null,\"cause\":\"silence\",\"recommend\":"
		"{\"keepidle_s\":2,\"keepintvl_s\":1,\"keepcnt\":6,\"dead_peer_s\":8,"
		"\"env\":\"HB_KEEPIDLE=2 HB_KEEPINTVL=1 HB_KEEPCNT=6\","
		"\"run\":\"hbctl run --idle 2 --intvl 1 --cnt 6 -- CMD\","
		"\"policy\":\"hbctl policy add --cgroup PATH --match 198.51.100.2:7000 --idle 2 "
		"--intvl 1 --cnt 6\"},\"max_s\":20,\"resolution_s\":1,\"parallel\":8,\"rounds\":2,"
		"\"connections\":8,\"flows\":{\"survived\":2,\"silence\":2,\"reset\":0,"
		"\"server_fin\":0,\"cancelled\":1,\"chatty\":0},\"inconsistent\":0,"
		"\"elapsed_s\":15.3,\"interrupted\":false}\n");
	free(s);
	s = render(hb_pn_print_text, &rep);
	assert_non_null(strstr(s, "this path forgets idle TCP flows after 4-5 s\n"));
	assert_non_null(strstr(s, "killed by silence (the keepalive probe went unanswered): 2 flows; by reset: 0\n"));
	assert_non_null(strstr(s, "  HB_KEEPIDLE=2 HB_KEEPINTVL=1 HB_KEEPCNT=6\n"));
	assert_non_null(strstr(s, "  hbctl run --idle 2 --intvl 1 --cnt 6 -- CMD\n"));
	assert_non_null(strstr(s, "  hbctl policy add --cgroup PATH --match 198.51.100.2:7000 "
			       "--idle 2 --intvl 1 --cnt 6\n"));
	assert_null(strstr(s, "interrupted"));
	assert_null(strstr(s, "server"));
	free(s);
}

static void test_print_no_drop(void **state)
{
	struct hb_pn_report rep = report();
	char *s;

	(void)state;
	hb_pn_result_init(&res);
	/* every silence up to --max survived: no timeout, so no idle time to recommend */
	hb_pn_record(&res, HB_PN_SURVIVED, 20000);
	s = render(hb_pn_print_text, &rep);
	assert_non_null(strstr(s, "no drop observed up to 20 s\n"));
	assert_non_null(strstr(s, "recommended: none: this path has no idle timeout up to 20 s "
			       "(--max)"));
	assert_null(strstr(s, "HB_KEEPIDLE="));
	assert_null(strstr(s, "keepidle"));
	free(s);
	s = render(hb_pn_print_json, &rep);
	assert_non_null(strstr(s, "\"survived_s\":20,\"dropped_s\":null,\"server_closed_s\":null,"
			       "\"cause\":null,\"recommend\":null,"));
	free(s);
	/* stopped before --max: what survived so far is a safe bound, still recommended */
	hb_pn_result_init(&res);
	hb_pn_record(&res, HB_PN_SURVIVED, 12000);
	rep.interrupted = true;
	s = render(hb_pn_print_text, &rep);
	assert_non_null(strstr(s, "no drop observed up to 12 s (so far)\n"));
	assert_non_null(strstr(s, "recommended: keepidle 8 s"));
	free(s);
	s = render(hb_pn_print_json, &rep);
	assert_non_null(strstr(s, "\"cause\":null,\"recommend\":{\"keepidle_s\":8,"));
	free(s);
}

static void test_print_server_close(void **state)
{
	struct hb_pn_report rep = report();
	char *s;

	(void)state;
	hb_pn_result_init(&res);
	hb_pn_record(&res, HB_PN_SURVIVED, 2000);
	hb_pn_record(&res, HB_PN_SERVER_FIN, 3000);
	hb_pn_record(&res, HB_PN_SERVER_FIN, 3100);
	s = render(hb_pn_print_text, &rep);
	assert_non_null(strstr(s, "no drop observed up to 2 s\n"));
	assert_non_null(strstr(s, "the server itself closes idle connections after 3 s"));
	free(s);
	s = render(hb_pn_print_json, &rep);
	assert_non_null(strstr(s, "\"dropped_s\":null,\"server_closed_s\":3,\"cause\":null,"));
	free(s);
	/* a server close longer than the path's drop is only mentioned */
	hb_pn_record(&res, HB_PN_RESET, 2500);
	s = render(hb_pn_print_text, &rep);
	assert_non_null(strstr(s, "after 2-2.5 s\n"));
	assert_non_null(strstr(s, "killed by reset"));
	assert_non_null(strstr(s, "also closes idle connections after 3 s"));
	free(s);
	s = render(hb_pn_print_json, &rep);
	assert_non_null(strstr(s, "\"cause\":\"reset\""));
	free(s);
}

static void test_print_edges(void **state)
{
	struct hb_pn_report rep = report();
	char *s;

	(void)state;
	/* interrupted before anything was known: no recommendation */
	hb_pn_result_init(&res);
	rep.interrupted = true;
	s = render(hb_pn_print_json, &rep);
	assert_non_null(strstr(s, "\"recommend\":null"));
	assert_non_null(strstr(s, "\"interrupted\":true}"));
	free(s);
	s = render(hb_pn_print_text, &rep);
	assert_non_null(strstr(s, "interrupted after 15.3 s"));
	assert_null(strstr(s, "recommended"));
	free(s);
	/* even 1 s is too long */
	rep.interrupted = false;
	hb_pn_record(&res, HB_PN_SILENCE, 1000);
	s = render(hb_pn_print_text, &rep);
	assert_non_null(strstr(s, "after less than 1 s\n"));
	assert_non_null(strstr(s, "warning"));
	free(s);
	s = render(hb_pn_print_json, &rep);
	assert_non_null(strstr(s, "\"survived_s\":0,\"dropped_s\":1,"));
	free(s);
	/* a target that needs JSON escaping stays valid JSON */
	rep.target = "a\"b:1";
	s = render(hb_pn_print_json, &rep);
	assert_non_null(strstr(s, "{\"target\":\"a\\\"b:1\","));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_series),
		cmocka_unit_test(test_bisect),
		cmocka_unit_test(test_resolution),
		cmocka_unit_test(test_bracket),
		cmocka_unit_test(test_recommend),
		cmocka_unit_test(test_parse_target),
		cmocka_unit_test(test_fmt_secs),
		cmocka_unit_test(test_outcome_names),
		cmocka_unit_test(test_print_bracket),
		cmocka_unit_test(test_print_no_drop),
		cmocka_unit_test(test_print_server_close),
		cmocka_unit_test(test_print_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
