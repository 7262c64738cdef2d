/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers shared by the lib/ files. Not part of the API: nothing outside lib/ includes this.
 * Everything here is locale-independent on purpose: the library runs inside arbitrary
 * programs (LD_PRELOAD) that may have called setlocale(), and "on" must mean "on" there too.
 */
#ifndef HB_LIB_INTERNAL_H
#define HB_LIB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* Room for a quoted user value in a message: hb__quote() keeps the message readable even
 * when someone pastes a megabyte into HB_MATCH. */
#include "hb/log.h"

#define HB_QUOTE_LEN	48

/* Copies s for use inside an error message: at most 40 bytes, bytes that are not printable
 * ASCII become '?', and "..." marks a cut. dst is always NUL-terminated (len > 0). */
void hb__quote(char *dst, size_t len, const char *s);

/* lib's parsers write "return hb__err(-EINVAL, err, errlen, ...)": hb_errf (hb/log.h). */
#define hb__err hb_errf

static inline bool hb__isdigit(int c)
{
	return c >= '0' && c <= '9';
}

static inline bool hb__isspace(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static inline int hb__tolower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* ASCII case-insensitive equality (strcasecmp follows the locale). */
static inline bool hb__streq_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (hb__tolower((unsigned char)*a) != hb__tolower((unsigned char)*b))
			return false;
	return *a == *b;
}

#endif /* HB_LIB_INTERNAL_H */
