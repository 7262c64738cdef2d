// SPDX-License-Identifier: BSD-2-Clause
/*
 * The log hook (libbpf_set_print style). The sink and level are set once at init and read
 * from any thread afterwards, possibly while another thread is still inside init: C11
 * atomics make those reads well defined without a lock on the socket() path.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "hb/log.h"
#include "internal.h"

#define LOG_BUF	512	/* one line; longer messages are cut, never allocated */

static _Atomic(hb_log_fn) log_fn;
static atomic_int log_level = HB_LOG_OFF;

void hb_set_log_fn(hb_log_fn fn, enum hb_log_level max_level)
{
	/* Level first, then the sink with release: whoever sees the new sink sees its level. */
	atomic_store_explicit(&log_level, (int)max_level, memory_order_relaxed);
	atomic_store_explicit(&log_fn, fn, memory_order_release);
}

int hb_log_enabled(enum hb_log_level level)
{
	if (level == HB_LOG_OFF)
		return 0;
	if (!atomic_load_explicit(&log_fn, memory_order_acquire))
		return 0;
	return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void hb_log(enum hb_log_level level, const char *fmt, ...)
{
	char buf[LOG_BUF];
	int saved = errno;	/* callers log between a libc call and its errno check */
	hb_log_fn fn;
	va_list ap;

	if (level == HB_LOG_OFF ||
	    (int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
		goto out;
	fn = atomic_load_explicit(&log_fn, memory_order_acquire);
	if (!fn)
		goto out;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fn(level, buf);
out:
	errno = saved;
}

int hb_log_parse_level(const char *s, enum hb_log_level *out)
{
	static const char *const names[] = {
		[HB_LOG_OFF] = "off",
		[HB_LOG_ERROR] = "error",
		[HB_LOG_INFO] = "info",
		[HB_LOG_DEBUG] = "debug",
	};
	unsigned int i;

	if (!s)
		return -EINVAL;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (hb__streq_nocase(s, names[i])) {
			*out = (enum hb_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}
