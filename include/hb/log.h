/* SPDX-License-Identifier: BSD-2-Clause */
/* Logging hook: libhb never prints; it calls the function set here (libbpf_set_print style). */
#ifndef HB_LOG_H
#define HB_LOG_H

#include <stddef.h>

enum hb_log_level {
	HB_LOG_OFF,
	HB_LOG_ERROR,
	HB_LOG_INFO,
	HB_LOG_DEBUG,
};

typedef void (*hb_log_fn)(enum hb_log_level level, const char *msg);

/* Sets the sink (NULL: discard) and the most verbose level passed to it. */
void hb_set_log_fn(hb_log_fn fn, enum hb_log_level max_level);
/* Whether a message at level would reach the sink (to skip formatting work). */
int hb_log_enabled(enum hb_log_level level);
/* Formats into a bounded stack buffer (no malloc) and passes it to the sink. */
void hb_log(enum hb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses off/error/info/debug. Returns 0 or -EINVAL. */
/* Writes a message into err (if err and errlen) and returns rc: the one formatter of error
 * texts for lib and the loaders, which return 0/-errno with a text and never print
 * ("return hb_errf(-EINVAL, err, errlen, ...)"). */
int hb_errf(int rc, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int hb_log_parse_level(const char *s, enum hb_log_level *out);

#endif /* HB_LOG_H */
