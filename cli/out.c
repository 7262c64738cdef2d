// SPDX-License-Identifier: BSD-2-Clause
/* hbctl's output buffer (out.h): one write(2) per 64 KiB, and the formatters behind it. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include "out.h"

int hb_out_open(struct hb_out *o, FILE *f)
{
	memset(o, 0, sizeof(*o));
	o->buf = malloc(HB_OUT_SIZE);
	if (!o->buf)
		return -ENOMEM;
	o->cap = HB_OUT_SIZE;
	o->own = true;
	o->f = f;
	/* what stdio holds goes first; from here on the descriptor gets whole buffers */
	fflush(f);
	o->fd = fileno(f);
	return 0;
}

void hb_out_init_file(struct hb_out *o, FILE *f, char *buf, size_t cap)
{
	memset(o, 0, sizeof(*o));
	o->buf = buf;
	o->cap = cap;
	o->f = f;
	o->fd = -1;
}

static int write_all(int fd, const char *p, size_t n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {	/* a non-blocking stdout */
				poll(&pfd, 1, -1);
				continue;
			}
			return errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void hb_out_flush(struct hb_out *o)
{
	if (o->len && !o->err) {
		if (o->fd >= 0)
			o->err = write_all(o->fd, o->buf, o->len);
		else if (fwrite(o->buf, 1, o->len, o->f) != o->len)
			o->err = errno ? errno : EIO;
	}
	o->len = 0;
}

int hb_out_close(struct hb_out *o)
{
	int err;

	hb_out_flush(o);
	if (o->fd < 0 && !o->err && fflush(o->f))
		o->err = errno ? errno : EIO;
	err = o->err;
	if (o->own)
		free(o->buf);
	o->buf = NULL;
	o->cap = 0;
	return -err;
}

void hb_out_mem(struct hb_out *o, const void *p, size_t n)
{
	const char *s = p;
	size_t k;

	while (n) {
		if (o->len == o->cap)
			hb_out_flush(o);
		k = o->cap - o->len < n ? o->cap - o->len : n;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
	}
}

void hb_out_pad(struct hb_out *o, size_t n)
{
	size_t k;

	while (n) {
		k = n < 64 ? n : 64;
		memset(hb_out_reserve(o, k), ' ', k);
		o->len += k;
		n -= k;
	}
}

char *hb_put_u64(char *p, uint64_t v)
{
	static const char pairs[201] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char t[20], *e = t + sizeof(t), *q = e;

	/* two digits per division: integers are most of what the printers write */
	while (v >= 100) {
		q -= 2;
		memcpy(q, pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		q -= 2;
		memcpy(q, pairs + 2 * v, 2);
	} else {
		*--q = (char)('0' + v);
	}
	memcpy(p, q, (size_t)(e - q));
	return p + (e - q);
}

char *hb_put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return hb_put_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return hb_put_u64(p, (uint64_t)v);
}

size_t hb_utf8_len(const void *p, size_t n)
{
	const unsigned char *s = p;
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

static char *put_u_escape(char *p, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	p = HB_PUT(p, "\\u00");
	*p++ = hex[c >> 4];
	*p++ = hex[c & 15];
	return p;
}

/* Control characters, quote and backslash escaped; bytes that are not valid UTF-8 become
 * \u00XX (their Latin-1 reading), so that the output always parses. */
void hb_out_json_str(struct hb_out *o, const char *str, size_t maxlen)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strnlen(str, maxlen), i = 0, j, l;
	char *p;

	hb_out_ch(o, '"');
	while (i < n) {
		/* the common case: a run of printable ASCII */
		for (j = i; j < n && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' && s[j] != '\\'; j++)
			;
		if (j > i) {
			hb_out_mem(o, s + i, j - i);
			i = j;
			continue;
		}
		p = hb_out_reserve(o, 8);
		if (s[i] == '"' || s[i] == '\\') {
			*p++ = '\\';
			*p++ = (char)s[i++];
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			p = put_u_escape(p, s[i++]);
		} else if ((l = hb_utf8_len(s + i, n - i)) > 0) {
			memcpy(p, s + i, l);
			p += l;
			i += l;
		} else {
			p = put_u_escape(p, s[i++]);
		}
		hb_out_commit(o, p);
	}
	hb_out_ch(o, '"');
}

static const char hexdig[] = "0123456789abcdef";

static char *put_x(char *p, unsigned char c)
{
	*p++ = '\\';
	*p++ = 'x';
	*p++ = hexdig[c >> 4];
	*p++ = hexdig[c & 15];
	return p;
}

char *hb_put_word(char *p, const char *str, size_t maxlen)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strnlen(str, maxlen), i = 0, l;

	while (i < n) {
		if (s[i] < 0x80) {
			*p++ = s[i] < 0x20 || s[i] == 0x7f || s[i] == ' ' ? '?' : (char)s[i];
			i++;
			continue;
		}
		l = hb_utf8_len(s + i, n - i);
		if (l == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0) {
			/* U+0080..U+009F: the 8-bit controls, which terminals act on */
			p = put_x(p, s[i++]);
			p = put_x(p, s[i++]);
		} else if (l) {
			memcpy(p, s + i, l);
			p += l;
			i += l;
		} else {
			p = put_x(p, s[i++]);
		}
	}
	return p;
}

void hb_fput_label(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0, l;

	while (i < n) {
		if (s[i] == '\\' || s[i] == '"') {
			fputc('\\', f);
			fputc(s[i++], f);
		} else if (s[i] == '\n') {
			fputs("\\n", f);
			i++;
		} else if (s[i] < 0x80) {
			fputc(s[i++], f);
		} else if ((l = hb_utf8_len(s + i, n - i)) > 0) {
			fwrite(s + i, 1, l, f);
			i += l;
		} else {
			/* the label's text is \xNN: its backslash escaped as the format wants */
			fprintf(f, "\\\\x%c%c", hexdig[s[i] >> 4], hexdig[s[i] & 15]);
			i++;
		}
	}
}
