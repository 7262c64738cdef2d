// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests for cli/format.c: human durations, addresses, JSON strings. */
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

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void test_duration(void **state)
{
	static const struct { long long ms; const char *s; } cases[] = {
		{ -1, "?" }, { 0, "0ms" }, { 1, "1ms" }, { 350, "350ms" }, { 999, "999ms" },
		{ 1000, "1s" }, { 1049, "1s" }, { 1050, "1.1s" }, { 4200, "4.2s" },
		{ 4249, "4.2s" }, { 9949, "9.9s" }, { 9950, "10s" }, { 9999, "10s" },
		{ 10000, "10s" }, { 42999, "42s" }, { 59999, "59s" }, { 60000, "1m" },
		{ 75000, "1m15s" }, { 303000, "5m3s" }, { 3599999, "59m59s" }, { 3600000, "1h" },
		{ 7140000, "1h59m" }, { 7199999, "1h59m" }, { 7200000, "2h" },
		{ 86399999, "23h59m" }, { 86400000, "1d" }, { 273600000, "3d4h" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		hb_fmt_duration(buf, sizeof(buf), cases[i].ms);
		if (strcmp(buf, cases[i].s) != 0)
			fail_msg("%lld ms: expected '%s', got '%s'", cases[i].ms, cases[i].s, buf);
	}
	/* a short buffer truncates, never overflows */
	hb_fmt_duration(buf, 3, 7140000);
	assert_string_equal(buf, "1h");
}

static void test_addr(void **state)
{
	uint8_t a[16] = { 0 };
	char buf[64];

	(void)state;
	inet_pton(AF_INET, "10.0.0.1", a);
	assert_string_equal(hb_fmt_addr(buf, sizeof(buf), AF_INET, a, 5432, false),
			    "10.0.0.1:5432");
	memset(a, 0, sizeof(a));
	assert_string_equal(hb_fmt_addr(buf, sizeof(buf), AF_INET, a, 0, true), "0.0.0.0:*");
	assert_string_equal(hb_fmt_addr(buf, sizeof(buf), AF_INET, a, 0, false), "0.0.0.0:0");
	inet_pton(AF_INET6, "::1", a);
	assert_string_equal(hb_fmt_addr(buf, sizeof(buf), AF_INET6, a, 443, false), "[::1]:443");
	inet_pton(AF_INET6, "2001:db8::42", a);
	assert_string_equal(hb_fmt_addr(buf, sizeof(buf), AF_INET6, a, 65535, true),
			    "[2001:db8::42]:65535");
	inet_pton(AF_INET6, "::ffff:192.0.2.7", a);
	assert_string_equal(hb_fmt_addr(buf, sizeof(buf), AF_INET6, a, 80, false),
			    "[::ffff:192.0.2.7]:80");
	memset(a, 0, sizeof(a));
	assert_string_equal(hb_fmt_addr(buf, sizeof(buf), AF_INET6, a, 0, true), "[::]:*");
}

static char *json_of(const char *s, size_t max)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	hb_json_str(f, s, max);
	fclose(f);
	return out;
}

static void test_json_str(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "curl", "\"curl\"" },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
		{ "tab\there\n", "\"tab\\u0009here\\u000a\"" },
		{ "\x7f", "\"\\u007f\"" },
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },		/* valid UTF-8 passes */
		{ "bad\xff", "\"bad\\u00ff\"" },		/* stray byte escaped */
		{ "cut\xc3", "\"cut\\u00c3\"" },		/* truncated sequence */
		{ "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"" },	/* surrogate */
		{ "\xe2\x82\xac", "\"\xe2\x82\xac\"" },	/* euro sign */
		{ "", "\"\"" },
	};
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		s = json_of(cases[i].in, 64);
		if (strcmp(s, cases[i].out) != 0)
			fail_msg("case %zu: expected %s, got %s", i, cases[i].out, s);
		free(s);
	}
	/* maxlen bounds reads of fixed-size, possibly unterminated fields */
	s = json_of("0123456789abcdefXYZ", 16);
	assert_string_equal(s, "\"0123456789abcdef\"");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_json_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
