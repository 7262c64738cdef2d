// SPDX-License-Identifier: BSD-2-Clause
/*
 * Parsers for the values of the policy: durations, plain integers and booleans.
 *
 * Hand-rolled digit loops instead of strtol(): strtol accepts leading spaces, a sign and
 * "0x", which DESIGN.md rules out for durations, and its behaviour follows the locale of
 * whatever program the shim is loaded into. Messages name the bad value and what is
 * expected, never the variable: the caller prefixes it ("HB_KEEPIDLE: ...").
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "hb/policy.h"
#include "internal.h"

#define DUR_HINT	"expected a duration such as 90, 90s, 5m, 1h or 500ms"
#define BOOL_HINT	"expected 1/on/yes/true or 0/off/no/false"

/*
 * Accumulates the decimal digits at *pp into *n. Returns false when the number does not
 * fit in a long long, but still consumes every digit so that the caller can report a
 * syntax error after the digits before a range error.
 */
static bool scan_digits(const char **pp, unsigned long long *n)
{
	const char *p = *pp;
	bool ok = true;

	*n = 0;
	for (; hb__isdigit((unsigned char)*p); p++) {
		unsigned int d = (unsigned int)(*p - '0');

		if (*n > ((unsigned long long)LLONG_MAX - d) / 10)
			ok = false;
		else
			*n = *n * 10 + d;
	}
	*pp = p;
	return ok;
}

/* Milliseconds per unit; 0 when unit is not one of ours. Case-sensitive on purpose: "M"
 * would read as "mega" or "month" to some, and "MS" is nobody's spelling. */
static long long unit_ms(const char *unit)
{
	if (!*unit || !strcmp(unit, "s"))
		return 1000;	/* a bare integer means seconds, everywhere */
	if (!strcmp(unit, "ms"))
		return 1;
	if (!strcmp(unit, "m"))
		return 60 * 1000;
	if (!strcmp(unit, "h"))
		return 60 * 60 * 1000;
	return 0;
}

int hb_parse_duration_ms(const char *s, long long *ms, char *err, size_t errlen)
{
	char q[HB_QUOTE_LEN], qu[HB_QUOTE_LEN];
	unsigned long long n;
	long long mult;
	const char *p;
	bool fits;

	if (!s || !*s)
		return hb__err(-EINVAL, err, errlen, "empty value (" DUR_HINT ")");
	hb__quote(q, sizeof(q), s);
	for (p = s; *p; p++)
		if (hb__isspace((unsigned char)*p))
			return hb__err(-EINVAL, err, errlen, "'%s': spaces are not allowed (" DUR_HINT ")",
				       q);
	if (*s == '-')
		return hb__err(-EINVAL, err, errlen, "'%s': negative durations are not allowed", q);
	if (*s == '+')
		return hb__err(-EINVAL, err, errlen, "'%s': no sign allowed (" DUR_HINT ")", q);
	if (!hb__isdigit((unsigned char)*s))
		return hb__err(-EINVAL, err, errlen, "'%s': not a duration (" DUR_HINT ")", q);

	p = s;
	fits = scan_digits(&p, &n);
	if (*p == '.' || *p == ',')
		return hb__err(-EINVAL, err, errlen,
			       "'%s': fractions are not allowed (use a smaller unit, e.g. 1500ms)", q);
	mult = unit_ms(p);
	if (!mult) {
		hb__quote(qu, sizeof(qu), p);
		return hb__err(-EINVAL, err, errlen, "'%s': unknown unit '%s' (use ms, s, m or h)",
			       q, qu);
	}
	if (!fits || n > (unsigned long long)(LLONG_MAX / mult))
		return hb__err(-ERANGE, err, errlen, "'%s': too large", q);
	*ms = (long long)n * mult;
	return 0;
}

int hb_parse_secs(const char *s, int min, int max, int *out, char *err, size_t errlen)
{
	char q[HB_QUOTE_LEN];
	long long ms;
	int rc;

	rc = hb_parse_duration_ms(s, &ms, err, errlen);
	hb__quote(q, sizeof(q), s);
	/* An overflowing duration is just a very large number of seconds: say so in the
	 * same words as any other out-of-range value. */
	if (rc == -ERANGE)
		return hb__err(-ERANGE, err, errlen, "'%s': out of range %d..%d s", q, min, max);
	if (rc)
		return rc;
	/* The kernel takes whole seconds; rounding 1500ms silently would lie to the user. */
	if (ms % 1000)
		return hb__err(-EINVAL, err, errlen,
			       "'%s': not a whole number of seconds (expected %d..%d s)", q, min,
			       max);
	if (ms / 1000 < min || ms / 1000 > max)
		return hb__err(-ERANGE, err, errlen, "'%s': out of range %d..%d s", q, min, max);
	*out = (int)(ms / 1000);
	return 0;
}

int hb_parse_msecs(const char *s, long long min, long long max, int *out, char *err,
		   size_t errlen)
{
	char q[HB_QUOTE_LEN];
	long long ms;
	int rc;

	/* The result is an int (TCP_USER_TIMEOUT is): a wider max cannot be honoured. */
	if (max > INT_MAX)
		max = INT_MAX;
	if (min < INT_MIN)
		min = INT_MIN;
	rc = hb_parse_duration_ms(s, &ms, err, errlen);
	hb__quote(q, sizeof(q), s);
	if (rc == -ERANGE)
		return hb__err(-ERANGE, err, errlen, "'%s': out of range %lld..%lld ms", q, min, max);
	if (rc)
		return rc;
	if (ms < min || ms > max)
		return hb__err(-ERANGE, err, errlen, "'%s': out of range %lld..%lld ms", q, min, max);
	*out = (int)ms;
	return 0;
}

int hb_parse_int(const char *s, int min, int max, int *out, char *err, size_t errlen)
{
	char q[HB_QUOTE_LEN];
	unsigned long long n;
	const char *p = s;
	bool neg = false, fits;
	long long v;

	if (!s || !*s)
		return hb__err(-EINVAL, err, errlen, "empty value (expected an integer %d..%d)", min,
			       max);
	hb__quote(q, sizeof(q), s);
	/* A minus sign is accepted so that "-1" gets the helpful range message rather than
	 * "not an integer"; the range check rejects it where negatives make no sense. */
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!hb__isdigit((unsigned char)*p))
		return hb__err(-EINVAL, err, errlen, "'%s': not an integer (expected %d..%d)", q,
			       min, max);
	fits = scan_digits(&p, &n);
	if (*p)
		return hb__err(-EINVAL, err, errlen, "'%s': not an integer (expected %d..%d)", q,
			       min, max);
	v = neg ? -(long long)n : (long long)n;
	if (!fits || v < min || v > max)
		return hb__err(-ERANGE, err, errlen, "'%s': out of range %d..%d", q, min, max);
	*out = (int)v;
	return 0;
}

int hb_parse_bool(const char *s, bool *out, char *err, size_t errlen)
{
	static const char *const yes[] = { "1", "on", "yes", "true" };
	static const char *const no[] = { "0", "off", "no", "false" };
	char q[HB_QUOTE_LEN];
	size_t i;

	if (!s || !*s)
		return hb__err(-EINVAL, err, errlen, "empty value (" BOOL_HINT ")");
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (hb__streq_nocase(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (hb__streq_nocase(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	hb__quote(q, sizeof(q), s);
	return hb__err(-EINVAL, err, errlen, "'%s': " BOOL_HINT, q);
}
