// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for what the exporter writes itself (its HTTP request parser is
 * libmicrohttpd's): the label escaper hb_fput_label, the table-word escaper hb_put_word and
 * the whole exposition (hb_prom_render) with fuzzed cgroup paths, process names, addresses
 * and counters. Invariants:
 * - a label value, unescaped as the text format 0.0.4 defines (\\, \", \n), is valid UTF-8,
 *   uses no other escape, and equals the input when the input was valid UTF-8;
 * - a table word is valid UTF-8 with no control character (C0, DEL, U+0080..U+009F) and no
 *   blank, at most HB_WORD_MAX(n) bytes, and equals a clean input;
 * - every line of the exposition is "# HELP|TYPE ..." or NAME{LABEL="VALUE",...} NUMBER with
 *   such values, and the whole text is valid UTF-8.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "mon.h"
#include "out.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "invariant failed: %s\n", #c); abort(); } } while (0)

/* mon_out.c's two lookups, without its /proc and BPF dependencies */
const char *hb_mon_cause_name(unsigned int cause)
{
	static const char *const n[] = { "normal", "reset_recv", "reset_sent", "keepalive_timeout",
					 "user_timeout", "retrans_timeout" };

	return cause < sizeof(n) / sizeof(n[0]) ? n[cause] : "unknown";
}

unsigned long long hb_mon_bucket_le_ms(unsigned int i)
{
	return i + 1 < HB_MON_HIST_N ? (2ULL << i) - 1 : 0;
}

static bool utf8_ok(const char *s, size_t n)
{
	size_t i = 0, l;

	while (i < n) {
		l = hb_utf8_len(s + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

/* Unescapes a label value's inside up to the closing quote at *pp; returns its length in
 * out, or -1 when an escape or a raw byte is not allowed there. */
static long unescape(const char **pp, const char *end, char *out)
{
	const char *p = *pp;
	long n = 0;

	while (p < end && *p != '"') {
		if (*p == '\n')
			return -1;
		if (*p == '\\') {
			if (p + 1 >= end)
				return -1;
			if (p[1] == '\\' || p[1] == '"')
				out[n++] = p[1];
			else if (p[1] == 'n')
				out[n++] = '\n';
			else
				return -1;
			p += 2;
			continue;
		}
		out[n++] = *p++;
	}
	if (p >= end)
		return -1;
	*pp = p + 1;
	return n;
}

static void check_label(const char *in, size_t n)
{
	char *buf = NULL, *val;
	size_t len = 0;
	const char *p;
	FILE *f = open_memstream(&buf, &len);
	long vl;

	CHECK(f);
	hb_fput_label(f, in);
	fputc('"', f);
	fclose(f);
	p = buf;
	val = malloc(len + 1);
	CHECK(val);
	vl = unescape(&p, buf + len, val);
	CHECK(vl >= 0);
	CHECK(p == buf + len);	/* the only unescaped quote is the closing one */
	CHECK(utf8_ok(val, (size_t)vl));
	if (utf8_ok(in, n))
		CHECK((size_t)vl == n && memcmp(val, in, n) == 0);
	free(val);
	free(buf);
}

static void check_word(const char *in, size_t n)
{
	char out[HB_WORD_MAX(64)], *e;
	size_t i, l, on;
	bool clean = utf8_ok(in, n);

	e = hb_put_word(out, in, n);
	on = (size_t)(e - out);
	CHECK(on <= HB_WORD_MAX(n));
	CHECK(utf8_ok(out, on));
	for (i = 0; i < on; i += l) {
		unsigned char c = (unsigned char)out[i];

		l = hb_utf8_len(out + i, on - i);
		CHECK(c > 0x20 && c != 0x7f);
		CHECK(!(l == 2 && c == 0xc2 && (unsigned char)out[i + 1] < 0xa0));
	}
	for (i = 0; clean && i < n; i++)
		if ((unsigned char)in[i] <= 0x20 || in[i] == 0x7f ||
		    ((unsigned char)in[i] == 0xc2 && i + 1 < n && (unsigned char)in[i + 1] < 0xa0))
			clean = false;
	if (clean)
		CHECK(on == n && memcmp(out, in, n) == 0);
}

static bool name_char(char c, bool first)
{
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (!first && c >= '0' && c <= '9');
}

/* One sample line: NAME{L="V",...} NUMBER */
static void check_sample(const char *p, const char *end)
{
	char *val = malloc((size_t)(end - p) + 1), *num_end;
	long vl;

	CHECK(val);
	CHECK(name_char(*p, true));
	while (p < end && name_char(*p, false))
		p++;
	if (p < end && *p == '{') {
		p++;
		while (p < end && *p != '}') {
			CHECK(name_char(*p, true));
			while (p < end && name_char(*p, false))
				p++;
			CHECK(p + 1 < end && p[0] == '=' && p[1] == '"');
			p += 2;
			vl = unescape(&p, end, val);
			CHECK(vl >= 0 && utf8_ok(val, (size_t)vl));
			if (p < end && *p == ',')
				p++;
		}
		CHECK(p < end && *p == '}');
		p++;
	}
	CHECK(p < end && *p == ' ');
	p++;
	if (end - p == 4 && memcmp(p, "+Inf", 4) == 0) {
		free(val);
		return;
	}
	strtod(p, &num_end);
	CHECK(num_end == end);
	free(val);
}

static void check_render(const uint8_t *d, size_t n)
{
	struct hb_mon_view v = { 0 };
	struct hb_mon_snap s = { 0 };
	struct hb_mon_conn c[8];
	struct hb_mon_owner o[8];
	char cg[80], *buf = NULL;
	const char *p, *nl, *end;
	size_t len = 0, i, k, cl;
	FILE *f;

	uint8_t flags;

	if (n < 2)
		return;
	memset(c, 0, sizeof(c));
	memset(o, 0, sizeof(o));
	flags = d[0];
	s.n_conns = flags & 7;
	s.have_conns = flags & 8;
	v.conns = flags & 16;
	d++;
	n--;
	cl = d[0] < sizeof(cg) - 1 ? d[0] : sizeof(cg) - 1;
	d++;
	n--;
	cl = cl < n ? cl : n;
	memcpy(cg, d, cl);
	cg[cl] = '\0';
	d += cl;
	n -= cl;
	v.cgroup = cg;
	memcpy(&s.total, d, n < sizeof(s.total) ? n : sizeof(s.total));
	for (i = 0; i < s.n_conns; i++) {
		k = i * (sizeof(o[i].comm) - 1 + 40) % (n + 1);
		memcpy(o[i].comm, d + k, n - k < sizeof(o[i].comm) - 1 ? n - k : sizeof(o[i].comm) - 1);
		o[i].pid = (int)i;
		c[i].family = (i & 1) ? AF_INET6 : AF_INET;
		memcpy(c[i].laddr, d + k / 2, n - k / 2 < 16 ? n - k / 2 : 16);
		c[i].keepalive = (uint8_t)(i & 2);
		c[i].now_ns = (uint64_t)k * 1000000007ULL;
		c[i].created_ns = (uint64_t)i * 999999937ULL;
	}
	s.conns = c;
	s.owner = (flags & 32) ? NULL : o;
	f = open_memstream(&buf, &len);
	CHECK(f);
	hb_prom_render(f, &v, &s);
	CHECK(fclose(f) == 0);
	CHECK(utf8_ok(buf, len));
	CHECK(len == 0 || buf[len - 1] == '\n');
	end = buf + len;
	for (p = buf; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		CHECK(nl);
		if (*p == '#')
			CHECK(strncmp(p, "# HELP hbkeep_", 14) == 0 ||
			      strncmp(p, "# TYPE hbkeep_", 14) == 0);
		else
			check_sample(p, nl);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[65];
	size_t n = size < 64 ? size : 64;

	memcpy(s, data, n);
	s[n] = '\0';
	n = strlen(s);
	check_label(s, n);
	check_word(s, n);
	check_render(data, size);
	return 0;
}
