// SPDX-License-Identifier: BSD-2-Clause
/*
 * Text formatting shared by hbctl's printers: durations, addresses, JSON strings. The hb_put_*
 * forms write into the output buffer (out.h) without printf; the hb_fmt_* forms wrap them for
 * callers that want a NUL-terminated string.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "cli.h"
#include "out.h"

/*
 * Two significant units at most, so that columns stay narrow and the value stays honest:
 *   < 1 s: "350ms"; < 10 s: "4.2s" (tenths, rounded; "4s" when whole); < 1 min: "42s";
 *   < 1 h: "5m3s" / "5m"; < 1 day: "1h59m" / "2h"; else "3d4h" / "3d".
 * Larger units truncate (1h59m59s is "1h59m"): a timer that says 1h59m has not reached 2h.
 */
char *hb_put_duration(char *p, long long ms)
{
	long long s, tenths;

	if (ms < 0) {
		*p++ = '?';
		return p;
	}
	if (ms < 1000) {
		p = hb_put_u64(p, (uint64_t)ms);
		return HB_PUT(p, "ms");
	}
	if (ms < 10000) {
		tenths = (ms + 50) / 100;
		if (tenths >= 100)
			return HB_PUT(p, "10s");
		*p++ = (char)('0' + tenths / 10);
		if (tenths % 10) {
			*p++ = '.';
			*p++ = (char)('0' + tenths % 10);
		}
		*p++ = 's';
		return p;
	}
	s = ms / 1000;
	if (s < 60) {
		p = hb_put_u64(p, (uint64_t)s);
		*p++ = 's';
	} else if (s < 3600) {
		p = hb_put_u64(p, (uint64_t)(s / 60));
		*p++ = 'm';
		if (s % 60) {
			p = hb_put_u64(p, (uint64_t)(s % 60));
			*p++ = 's';
		}
	} else if (s < 86400) {
		p = hb_put_u64(p, (uint64_t)(s / 3600));
		*p++ = 'h';
		if ((s % 3600) / 60) {
			p = hb_put_u64(p, (uint64_t)((s % 3600) / 60));
			*p++ = 'm';
		}
	} else {
		p = hb_put_u64(p, (uint64_t)(s / 86400));
		*p++ = 'd';
		if ((s % 86400) / 3600) {
			p = hb_put_u64(p, (uint64_t)((s % 86400) / 3600));
			*p++ = 'h';
		}
	}
	return p;
}

/* Copies the n bytes at src into buf (len bytes), truncating like snprintf. Returns buf. */
static char *copy_out(char *buf, size_t len, const char *src, size_t n)
{
	if (!len)
		return buf;
	if (n >= len)
		n = len - 1;
	memcpy(buf, src, n);
	buf[n] = 0;
	return buf;
}

char *hb_fmt_duration(char *buf, size_t len, long long ms)
{
	char t[HB_DUR_MAX];

	return copy_out(buf, len, t, (size_t)(hb_put_duration(t, ms) - t));
}

char *hb_put_addr(char *p, int family, const uint8_t addr[16], unsigned int port, bool star)
{
	char a[INET6_ADDRSTRLEN];
	int i;

	if (family == AF_INET6) {
		*p++ = '[';
		if (inet_ntop(AF_INET6, addr, a, sizeof(a))) {
			size_t n = strlen(a);

			memcpy(p, a, n);
			p += n;
		} else {
			*p++ = '?';
		}
		*p++ = ']';
	} else {
		for (i = 0; i < 4; i++) {
			if (i)
				*p++ = '.';
			p = hb_put_u64(p, addr[i]);
		}
	}
	*p++ = ':';
	if (star && port == 0)
		*p++ = '*';
	else
		p = hb_put_u64(p, port);
	return p;
}

char *hb_fmt_addr(char *buf, size_t len, int family, const uint8_t addr[16], unsigned int port,
		  bool star)
{
	char t[HB_ADDR_MAX];

	return copy_out(buf, len, t, (size_t)(hb_put_addr(t, family, addr, port, star) - t));
}

void hb_json_str(FILE *f, const char *s, size_t maxlen)
{
	struct hb_out o;
	char buf[256];

	hb_out_init_file(&o, f, buf, sizeof(buf));
	hb_out_json_str(&o, s, maxlen);
	hb_out_flush(&o);
}
