// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for the value parsers (lib/duration.c) and the environment reader
 * (hb_policy_from_env), with invariants checked against a deliberately naive reference:
 * - each parser succeeds exactly when the reference grammar accepts the text and the value
 *   fits, and then returns the reference value;
 * - messages are NUL-terminated within any errlen, never written past it, non-empty on error;
 * - from_env reports exactly as many messages as it counts bad values, and the plan it
 *   leads to agrees with hb_policy_value() and hb_sockopt_value().
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/log.h"
#include "hb/policy.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "invariant failed: %s\n", #c); abort(); } } while (0)

typedef __int128 i128;
static const i128 BIG = (i128)1 << 100;	/* "overflowed" for the reference */

/* Reference duration grammar: digits+ (ms|s|m|h)?; value in ms or -1 on syntax error. */
static i128 ref_duration(const char *s)
{
	i128 n = 0, mult;
	size_t i = 0;

	while (s[i] >= '0' && s[i] <= '9') {
		n = n * 10 + (s[i] - '0');
		if (n > BIG)
			n = BIG;
		i++;
	}
	if (!i)
		return -1;
	if (!strcmp(s + i, "") || !strcmp(s + i, "s"))
		mult = 1000;
	else if (!strcmp(s + i, "ms"))
		mult = 1;
	else if (!strcmp(s + i, "m"))
		mult = 60000;
	else if (!strcmp(s + i, "h"))
		mult = 3600000;
	else
		return -1;
	return n * mult;
}

/* Reference integer grammar: -?digits+; 0 and *v on success. */
static bool ref_int(const char *s, i128 *v)
{
	bool neg = *s == '-';
	i128 n = 0;
	size_t i = neg;

	if (!(s[i] >= '0' && s[i] <= '9'))
		return false;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		n = n * 10 + (s[i] - '0');
		if (n > BIG)
			n = BIG;
	}
	if (s[i])
		return false;
	*v = neg ? -n : n;
	return true;
}

static int ref_bool(const char *s)
{
	static const char *const w[] = { "0", "off", "no", "false", "1", "on", "yes", "true" };
	char low[8];
	size_t i, n = strlen(s);

	if (n >= sizeof(low))
		return -1;
	for (i = 0; i <= n; i++)
		low[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
	for (i = 0; i < 8; i++)
		if (!strcmp(low, w[i]))
			return i >= 4;
	return -1;
}

/* An err buffer of exactly len bytes on the heap, so that ASan sees any overrun. */
static void check_err(int rc, const char *err, size_t len)
{
	/* on success the buffer is not written (it may hold the last message) */
	if (!len || !rc)
		return;
	CHECK(memchr(err, '\0', len) != NULL);
	if (len > 1)
		CHECK(err[0] != '\0');
}

static void check_parsers(const char *s)
{
	static const size_t lens[] = { 0, 1, 2, 9, HB_ERR_LEN };
	size_t li;

	for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		size_t len = lens[li];
		char *err = len ? malloc(len) : NULL;
		i128 ref = ref_duration(s), iv;
		long long ms = -7;
		int rc, out = -7, r;
		bool b = false;

		rc = hb_parse_duration_ms(s, &ms, err, len);
		check_err(rc, err, len);
		if (ref < 0) {
			CHECK(rc == -EINVAL && ms == -7);
		} else if (ref > LLONG_MAX) {
			CHECK(rc == -ERANGE && ms == -7);
		} else {
			CHECK(rc == 0 && ms == (long long)ref);
		}

		rc = hb_parse_secs(s, HB_IDLE_MIN, HB_IDLE_MAX, &out, err, len);
		check_err(rc, err, len);
		if (ref < 0 || (ref <= LLONG_MAX && ref % 1000))
			CHECK(rc == -EINVAL);
		else if (ref / 1000 < HB_IDLE_MIN || ref / 1000 > HB_IDLE_MAX)
			CHECK(rc == -ERANGE);
		else
			CHECK(rc == 0 && out == (int)(ref / 1000));

		out = -7;
		rc = hb_parse_msecs(s, 0, HB_UTO_MAX, &out, err, len);
		check_err(rc, err, len);
		if (ref < 0)
			CHECK(rc == -EINVAL);
		else if (ref > HB_UTO_MAX)
			CHECK(rc == -ERANGE && out == -7);
		else
			CHECK(rc == 0 && out == (int)ref);

		out = -7;
		rc = hb_parse_int(s, HB_CNT_MIN, HB_CNT_MAX, &out, err, len);
		check_err(rc, err, len);
		if (!ref_int(s, &iv))
			CHECK(rc == -EINVAL && out == -7);
		else if (iv < HB_CNT_MIN || iv > HB_CNT_MAX)
			CHECK(rc == -ERANGE && out == -7);
		else
			CHECK(rc == 0 && out == (int)iv);
		rc = hb_parse_int(s, INT_MIN, INT_MAX, &out, err, len);
		if (ref_int(s, &iv))
			CHECK(iv < INT_MIN || iv > INT_MAX ? rc == -ERANGE : rc == 0 && out == iv);

		rc = hb_parse_bool(s, &b, err, len);
		check_err(rc, err, len);
		r = ref_bool(s);
		CHECK(r < 0 ? rc == -EINVAL : rc == 0 && b == (bool)r);
		free(err);
	}
}

/* ---- environment ---- */

static const char *const names[] = {
	"HB_KEEPALIVE", "HB_KEEPIDLE", "HB_KEEPINTVL", "HB_KEEPCNT", "HB_USER_TIMEOUT",
	"HB_MATCH", "HB_FORCE", "KEEPALIVE", "KEEPIDLE", "KEEPINTVL", "KEEPCNT",
	"DD_USE_KEEPALIVE", "DD_TCP_KEEPALIVE_TIME", "DD_TCP_KEEPALIVE_INTVL",
	"DD_TCP_KEEPALIVE_PROBES", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT",
	"TCP_USER_TIMEOUT",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))
static const char *values[NNAMES];
static int n_logged;

static const char *fake_getenv(const char *name)
{
	size_t i;

	for (i = 0; i < NNAMES; i++)
		if (!strcmp(name, names[i]))
			return values[i];
	CHECK(!"from_env asked for a name we do not know");
	return NULL;
}

static void sink(enum hb_log_level level, const char *msg)
{
	CHECK(level == HB_LOG_ERROR);
	CHECK(strlen(msg) < 512);
	n_logged++;
}

static void check_env(char *s)
{
	static const struct hb_sysctl sys[] = { { 7200, 75, 9 }, { 60, 10, 6 }, { 1, 1, 1 } };
	struct hb_sockopt o[HB_V__COUNT];
	struct hb_policy p;
	size_t i, k;
	char *line = s;
	int bad, n, val, prev;

	/* one value per line; lines beyond the names are ignored, missing ones are unset */
	for (i = 0; i < NNAMES; i++) {
		char *nl;

		values[i] = line;
		if (!line)
			continue;
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		line = nl ? nl + 1 : NULL;
	}
	n_logged = 0;
	hb_set_log_fn(sink, HB_LOG_ERROR);
	bad = hb_policy_from_env(&p, fake_getenv);
	CHECK(bad >= 0 && bad <= 7);
	CHECK(bad == n_logged);
	CHECK(p.keepalive == 0 || p.keepalive == 1);
	CHECK(!(p.set & ~HB_ALL_BITS));
	if (p.set & HB_BIT(HB_V_IDLE))
		CHECK(p.idle_s >= HB_IDLE_MIN && p.idle_s <= HB_IDLE_MAX);
	if (p.set & HB_BIT(HB_V_CNT))
		CHECK(p.cnt >= HB_CNT_MIN && p.cnt <= HB_CNT_MAX);
	if (p.set & HB_BIT(HB_V_USER_TIMEOUT))
		CHECK(p.user_timeout_ms >= 0);
	CHECK(!p.has_match || p.match_invalid || (p.match.n >= 1 && p.match.n <= HB_MATCH_MAX));

	for (k = 0; k < sizeof(sys) / sizeof(sys[0]); k++) {
		n = hb_policy_plan(&p, &sys[k], 0, false, o);
		CHECK(n >= 0 && n <= HB_V__COUNT);
		if (hb_policy_is_noop(&p) && !p.match_invalid)
			CHECK(n == 0);
		prev = -1;
		for (i = 0; i < (size_t)n; i++) {
			int pos = 0;

			while (pos < HB_V__COUNT && hb_value_order[pos] != o[i].v)
				pos++;
			CHECK(pos < HB_V__COUNT && pos > prev);	/* the documented order */
			prev = pos;
			CHECK(hb_sockopt_value(o[i].level, o[i].optname) == (int)o[i].v);
			CHECK(hb_policy_value(&p, &sys[k], o[i].v, &val) && val == o[i].val);
		}
		/* a skipped value never appears */
		n = hb_policy_plan(&p, &sys[k], HB_BIT(HB_V_IDLE) | HB_BIT(HB_V_USER_TIMEOUT), false, o);
		for (i = 0; i < (size_t)n; i++)
			CHECK(o[i].v != HB_V_IDLE && o[i].v != HB_V_USER_TIMEOUT);
	}
	hb_set_log_fn(NULL, HB_LOG_OFF);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_parsers(s);
	check_env(s);	/* modifies s */
	free(s);
	return 0;
}
