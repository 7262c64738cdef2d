// SPDX-License-Identifier: BSD-2-Clause
/* Message helpers for the parsers (see internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define QUOTE_MAX	40	/* bytes of a user value kept in a message */

void hb__quote(char *dst, size_t len, const char *s)
{
	size_t i, n = 0, keep;
	bool cut;

	if (!len)
		return;
	if (!s)
		s = "";
	/* Keep room for "..." and the NUL so that a cut value is visibly cut. */
	keep = len > 4 ? len - 4 : 0;
	if (keep > QUOTE_MAX)
		keep = QUOTE_MAX;
	for (i = 0; s[i] && n < keep; i++) {
		unsigned char c = (unsigned char)s[i];

		/* Control bytes or UTF-8 from the environment must not reach a terminal raw. */
		dst[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	cut = s[i] != '\0';
	if (cut && n + 3 < len) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n < len ? n : len - 1] = '\0';
}

int hb_errf(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}
