// SPDX-License-Identifier: BSD-2-Clause
/* Text formatting shared by hbctl's printers: durations, addresses, JSON strings. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "cli.h"

/*
 * Two significant units at most, so that columns stay narrow and the value stays honest:
 *   < 1 s: "350ms"; < 10 s: "4.2s" (tenths, rounded; "4s" when whole); < 1 min: "42s";
 *   < 1 h: "5m3s" / "5m"; < 1 day: "1h59m" / "2h"; else "3d4h" / "3d".
 * Larger units truncate (1h59m59s is "1h59m"): a timer that says 1h59m has not reached 2h.
 */
char *hb_fmt_duration(char *buf, size_t len, long long ms)
{
	long long s, tenths;

	if (ms < 0) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (ms < 1000) {
		snprintf(buf, len, "%lldms", ms);
		return buf;
	}
	if (ms < 10000) {
		tenths = (ms + 50) / 100;
		if (tenths >= 100)
			snprintf(buf, len, "10s");
		else if (tenths % 10 == 0)
			snprintf(buf, len, "%llds", tenths / 10);
		else
			snprintf(buf, len, "%lld.%llds", tenths / 10, tenths % 10);
		return buf;
	}
	s = ms / 1000;
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, s % 60 ? "%lldm%llds" : "%lldm", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, (s % 3600) / 60 ? "%lldh%lldm" : "%lldh", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, len, (s % 86400) / 3600 ? "%lldd%lldh" : "%lldd", s / 86400,
			 (s % 86400) / 3600);
	return buf;
}

char *hb_fmt_addr(char *buf, size_t len, int family, const uint8_t addr[16], unsigned int port,
		  bool star)
{
	char a[INET6_ADDRSTRLEN], p[8];

	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	if (star && port == 0)
		snprintf(p, sizeof(p), "*");
	else
		snprintf(p, sizeof(p), "%u", port);
	if (family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", a, p);
	else
		snprintf(buf, len, "%s:%s", a, p);
	return buf;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void hb_json_str(FILE *f, const char *str, size_t maxlen)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strnlen(str, maxlen), i = 0, l;

	fputc('"', f);
	while (i < n) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			i++;
		} else if ((l = utf8_len(s + i, n - i)) > 0) {
			fwrite(s + i, 1, l, f);
			i += l;
		} else {
			/* a stray byte: its Latin-1 reading, which is at least valid JSON */
			fprintf(f, "\\u%04x", c);
			i++;
		}
	}
	fputc('"', f);
}
