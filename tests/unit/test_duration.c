// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests for lib/duration.c: durations, plain integers, booleans and their messages. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hb/policy.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct dur_case {
	const char *s;
	int rc;
	long long ms;
};

static void test_duration_valid(void **state)
{
	static const struct dur_case cases[] = {
		{ "0", 0, 0 },
		{ "1", 0, 1000 },
		{ "90", 0, 90000 },
		{ "007", 0, 7000 },
		{ "90s", 0, 90000 },
		{ "0s", 0, 0 },
		{ "500ms", 0, 500 },
		{ "0ms", 0, 0 },
		{ "5m", 0, 300000 },
		{ "1h", 0, 3600000 },
		{ "32767", 0, 32767000 },
		{ "9223372036854775807ms", 0, LLONG_MAX },
		{ "9223372036854775s", 0, 9223372036854775000LL },
		{ "2562047788015h", 0, 2562047788015LL * 3600000 },
	};
	char err[HB_ERR_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		long long ms = -1;

		err[0] = '\0';
		assert_int_equal(hb_parse_duration_ms(cases[i].s, &ms, err, sizeof(err)), 0);
		assert_true(ms == cases[i].ms);
		assert_string_equal(err, "");
	}
}

static void test_duration_invalid(void **state)
{
	static const struct dur_case cases[] = {
		{ "", -EINVAL, 0 },
		{ "-5", -EINVAL, 0 },
		{ "-5s", -EINVAL, 0 },
		{ "+5", -EINVAL, 0 },
		{ " 5", -EINVAL, 0 },
		{ "5 ", -EINVAL, 0 },
		{ "5 s", -EINVAL, 0 },
		{ "\t", -EINVAL, 0 },
		{ "1.5s", -EINVAL, 0 },
		{ "1,5", -EINVAL, 0 },
		{ ".5", -EINVAL, 0 },
		{ "90x", -EINVAL, 0 },
		{ "5S", -EINVAL, 0 },
		{ "5M", -EINVAL, 0 },
		{ "5min", -EINVAL, 0 },
		{ "5sec", -EINVAL, 0 },
		{ "5hh", -EINVAL, 0 },
		{ "5ms5", -EINVAL, 0 },
		{ "5d", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "ms", -EINVAL, 0 },
		{ "abc", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ "1e3", -EINVAL, 0 },
		{ "9223372036854775808ms", -ERANGE, 0 },
		{ "99999999999999999999", -ERANGE, 0 },
		{ "99999999999999999999999999999999999999ms", -ERANGE, 0 },
		{ "9223372036854776s", -ERANGE, 0 },
		{ "153722867280913m", -ERANGE, 0 },
		{ "2562047788016h", -ERANGE, 0 },
		/* a syntax error is reported even when the number is also too large */
		{ "99999999999999999999x", -EINVAL, 0 },
	};
	char err[HB_ERR_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		long long ms = 42;

		err[0] = '\0';
		assert_int_equal(hb_parse_duration_ms(cases[i].s, &ms, err, sizeof(err)),
				 cases[i].rc);
		assert_true(ms == 42);	/* untouched on error */
		assert_true(err[0] != '\0');
		assert_true(strlen(err) < sizeof(err));
	}
	{
		long long ms = 42;

		assert_int_equal(hb_parse_duration_ms(NULL, &ms, err, sizeof(err)), -EINVAL);
		assert_true(ms == 42);
	}
}

static void test_duration_messages(void **state)
{
	char err[HB_ERR_LEN];
	long long ms;

	(void)state;
	hb_parse_duration_ms("90x", &ms, err, sizeof(err));
	assert_string_equal(err, "'90x': unknown unit 'x' (use ms, s, m or h)");
	hb_parse_duration_ms("-5", &ms, err, sizeof(err));
	assert_string_equal(err, "'-5': negative durations are not allowed");
	hb_parse_duration_ms("1.5s", &ms, err, sizeof(err));
	assert_string_equal(err, "'1.5s': fractions are not allowed (use a smaller unit, e.g. 1500ms)");
	hb_parse_duration_ms("99999999999999999999", &ms, err, sizeof(err));
	assert_string_equal(err, "'99999999999999999999': too large");
	hb_parse_duration_ms("", &ms, err, sizeof(err));
	assert_non_null(strstr(err, "empty value"));
	hb_parse_duration_ms("5 s", &ms, err, sizeof(err));
	assert_string_equal(err, "'5 s': spaces are not allowed "
				 "(expected a duration such as 90, 90s, 5m, 1h or 500ms)");
	hb_parse_duration_ms("abc", &ms, err, sizeof(err));
	assert_non_null(strstr(err, "'abc': not a duration"));
	/* the value never carries a variable name: callers prefix it */
	assert_null(strstr(err, "HB_"));
}

static void test_message_quoting(void **state)
{
	char err[HB_ERR_LEN], big[300];
	long long ms;

	(void)state;
	/* a long value is cut, with "...", and the explanation survives */
	memset(big, '1', sizeof(big) - 2);
	big[sizeof(big) - 2] = 'x';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(hb_parse_duration_ms(big, &ms, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "...'"));
	assert_non_null(strstr(err, "(use ms, s, m or h)"));
	/* control bytes do not reach the log raw */
	assert_int_equal(hb_parse_duration_ms("5\x1b[2J", &ms, err, sizeof(err)), -EINVAL);
	assert_null(strchr(err, '\x1b'));
	assert_non_null(strstr(err, "'5?[2J'"));
}

static void test_err_buffer_sizes(void **state)
{
	char err[8];
	long long ms;
	int out;

	(void)state;
	/* no buffer at all */
	assert_int_equal(hb_parse_duration_ms("90x", &ms, NULL, 0), -EINVAL);
	assert_int_equal(hb_parse_secs("0", 1, 5, &out, NULL, 0), -ERANGE);
	/* a tiny buffer is truncated and terminated */
	memset(err, 'z', sizeof(err));
	assert_int_equal(hb_parse_duration_ms("90x", &ms, err, sizeof(err)), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	memset(err, 'z', sizeof(err));
	assert_int_equal(hb_parse_int("x", 1, 2, &out, err, 1), -EINVAL);
	assert_int_equal(err[0], '\0');
	assert_int_equal(err[1], 'z');
}

static void test_secs(void **state)
{
	char err[HB_ERR_LEN];
	int out = -1;

	(void)state;
	assert_int_equal(hb_parse_secs("30", 1, 32767, &out, err, sizeof(err)), 0);
	assert_int_equal(out, 30);
	assert_int_equal(hb_parse_secs("5m", 1, 32767, &out, err, sizeof(err)), 0);
	assert_int_equal(out, 300);
	assert_int_equal(hb_parse_secs("1h", 1, 32767, &out, err, sizeof(err)), 0);
	assert_int_equal(out, 3600);
	assert_int_equal(hb_parse_secs("2000ms", 1, 32767, &out, err, sizeof(err)), 0);
	assert_int_equal(out, 2);
	assert_int_equal(hb_parse_secs("32767s", 1, 32767, &out, err, sizeof(err)), 0);
	assert_int_equal(out, 32767);
	assert_int_equal(hb_parse_secs("1", 1, 32767, &out, err, sizeof(err)), 0);
	assert_int_equal(out, 1);

	out = -1;
	assert_int_equal(hb_parse_secs("1500ms", 1, 32767, &out, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "'1500ms': not a whole number of seconds (expected 1..32767 s)");
	assert_int_equal(hb_parse_secs("500ms", 1, 32767, &out, err, sizeof(err)), -EINVAL);
	assert_int_equal(hb_parse_secs("40000", 1, 32767, &out, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "'40000': out of range 1..32767 s");
	assert_int_equal(hb_parse_secs("32768", 1, 32767, &out, err, sizeof(err)), -ERANGE);
	assert_int_equal(hb_parse_secs("10h", 1, 32767, &out, err, sizeof(err)), -ERANGE);
	assert_int_equal(hb_parse_secs("0", 1, 32767, &out, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "'0': out of range 1..32767 s");
	assert_int_equal(hb_parse_secs("0ms", 1, 32767, &out, err, sizeof(err)), -ERANGE);
	/* overflow reads as "out of range", in the same words */
	assert_int_equal(hb_parse_secs("99999999999999999999", 1, 32767, &out, err, sizeof(err)),
			 -ERANGE);
	assert_string_equal(err, "'99999999999999999999': out of range 1..32767 s");
	assert_int_equal(hb_parse_secs("-1", 1, 32767, &out, err, sizeof(err)), -EINVAL);
	assert_int_equal(hb_parse_secs("90x", 1, 32767, &out, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "'90x': unknown unit 'x' (use ms, s, m or h)");
	assert_int_equal(hb_parse_secs("", 1, 32767, &out, err, sizeof(err)), -EINVAL);
	assert_int_equal(hb_parse_secs(NULL, 1, 32767, &out, err, sizeof(err)), -EINVAL);
	assert_int_equal(out, -1);
}

static void test_msecs(void **state)
{
	char err[HB_ERR_LEN];
	int out = -1;

	(void)state;
	assert_int_equal(hb_parse_msecs("500ms", 0, HB_UTO_MAX, &out, err, sizeof(err)), 0);
	assert_int_equal(out, 500);
	assert_int_equal(hb_parse_msecs("2", 0, HB_UTO_MAX, &out, err, sizeof(err)), 0);
	assert_int_equal(out, 2000);	/* bare integer = seconds, as everywhere */
	assert_int_equal(hb_parse_msecs("0", 0, HB_UTO_MAX, &out, err, sizeof(err)), 0);
	assert_int_equal(out, 0);
	assert_int_equal(hb_parse_msecs("1h", 0, HB_UTO_MAX, &out, err, sizeof(err)), 0);
	assert_int_equal(out, 3600000);
	assert_int_equal(hb_parse_msecs("2147483647ms", 0, HB_UTO_MAX, &out, err, sizeof(err)), 0);
	assert_int_equal(out, INT_MAX);

	out = -1;
	assert_int_equal(hb_parse_msecs("2147483648ms", 0, HB_UTO_MAX, &out, err, sizeof(err)),
			 -ERANGE);
	assert_string_equal(err, "'2147483648ms': out of range 0..2147483647 ms");
	assert_int_equal(hb_parse_msecs("600h", 0, HB_UTO_MAX, &out, err, sizeof(err)), -ERANGE);
	assert_int_equal(hb_parse_msecs("99999999999999999999", 0, HB_UTO_MAX, &out, err,
					sizeof(err)), -ERANGE);
	/* a max beyond int cannot be honoured: clamped */
	assert_int_equal(hb_parse_msecs("3000000000ms", 0, LLONG_MAX, &out, err, sizeof(err)),
			 -ERANGE);
	assert_int_equal(hb_parse_msecs("5ms", 10, 20, &out, err, sizeof(err)), -ERANGE);
	assert_int_equal(hb_parse_msecs("1.5s", 0, HB_UTO_MAX, &out, err, sizeof(err)), -EINVAL);
	assert_int_equal(hb_parse_msecs("-1", 0, HB_UTO_MAX, &out, err, sizeof(err)), -EINVAL);
	assert_int_equal(hb_parse_msecs("25d", 0, HB_UTO_MAX, &out, err, sizeof(err)), -EINVAL);
	assert_int_equal(out, -1);
}

static void test_int(void **state)
{
	static const struct {
		const char *s;
		int rc, val;
	} cases[] = {
		{ "6", 0, 6 }, { "1", 0, 1 }, { "127", 0, 127 }, { "0127", 0, 127 },
		{ "128", -ERANGE, 0 }, { "0", -ERANGE, 0 }, { "-1", -ERANGE, 0 },
		{ "99999999999999999999999", -ERANGE, 0 }, { "-99999999999999999999", -ERANGE, 0 },
		{ "", -EINVAL, 0 }, { "5s", -EINVAL, 0 }, { " 5", -EINVAL, 0 }, { "5 ", -EINVAL, 0 },
		{ "+5", -EINVAL, 0 }, { "0x5", -EINVAL, 0 }, { "-", -EINVAL, 0 }, { "--1", -EINVAL, 0 },
		{ "1.0", -EINVAL, 0 }, { "six", -EINVAL, 0 },
	};
	char err[HB_ERR_LEN];
	size_t i;
	int out;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		out = -42;
		assert_int_equal(hb_parse_int(cases[i].s, 1, 127, &out, err, sizeof(err)),
				 cases[i].rc);
		assert_int_equal(out, cases[i].rc ? -42 : cases[i].val);
	}
	hb_parse_int("128", 1, 127, &out, err, sizeof(err));
	assert_string_equal(err, "'128': out of range 1..127");
	hb_parse_int("5s", 1, 127, &out, err, sizeof(err));
	assert_string_equal(err, "'5s': not an integer (expected 1..127)");
	assert_int_equal(hb_parse_int(NULL, 1, 127, &out, err, sizeof(err)), -EINVAL);
	/* negative ranges work */
	assert_int_equal(hb_parse_int("-3", -5, 5, &out, err, sizeof(err)), 0);
	assert_int_equal(out, -3);
	assert_int_equal(hb_parse_int("2147483647", 0, INT_MAX, &out, err, sizeof(err)), 0);
	assert_int_equal(out, INT_MAX);
	assert_int_equal(hb_parse_int("-2147483648", INT_MIN, 0, &out, err, sizeof(err)), 0);
	assert_int_equal(out, INT_MIN);
	assert_int_equal(hb_parse_int("2147483648", 0, INT_MAX, &out, err, sizeof(err)), -ERANGE);
}

static void test_bool(void **state)
{
	static const char *const yes[] = { "1", "on", "yes", "true", "ON", "Yes", "TRUE", "tRuE" };
	static const char *const no[] = { "0", "off", "no", "false", "OFF", "No", "FALSE" };
	static const char *const bad[] = { "", "2", "enable", "o", "onn", " on", "on ", "y", "n",
					   "00", "-1", "yess", "offf" };
	char err[HB_ERR_LEN];
	size_t i;
	bool b;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		b = false;
		assert_int_equal(hb_parse_bool(yes[i], &b, err, sizeof(err)), 0);
		assert_true(b);
	}
	for (i = 0; i < ARRAY_SIZE(no); i++) {
		b = true;
		assert_int_equal(hb_parse_bool(no[i], &b, err, sizeof(err)), 0);
		assert_false(b);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		b = true;
		assert_int_equal(hb_parse_bool(bad[i], &b, err, sizeof(err)), -EINVAL);
		assert_true(b);
	}
	hb_parse_bool("enable", &b, err, sizeof(err));
	assert_string_equal(err, "'enable': expected 1/on/yes/true or 0/off/no/false");
	assert_int_equal(hb_parse_bool(NULL, &b, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_valid),
		cmocka_unit_test(test_duration_invalid),
		cmocka_unit_test(test_duration_messages),
		cmocka_unit_test(test_message_quoting),
		cmocka_unit_test(test_err_buffer_sizes),
		cmocka_unit_test(test_secs),
		cmocka_unit_test(test_msecs),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_bool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
