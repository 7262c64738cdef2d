/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hbctl's output buffer: the printers append integers, strings, addresses and durations into
 * one 64 KiB buffer and hand it to write(2) when it is full, so that listing 100k sockets
 * costs a few hundred system calls and no printf. vfprintf/fwrite were ~40% of `hbctl ls -j`.
 *
 * Two modes: hb_out_open() writes straight to the FILE's descriptor (after flushing what
 * stdio holds, so that the order of earlier printf output is kept); a FILE without a
 * descriptor (open_memstream, in the tests) and hb_out_init_file() go through fwrite().
 */
#ifndef HB_CLI_OUT_H
#define HB_CLI_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define HB_OUT_SIZE	65536	/* one write(2) per this many bytes */
#define HB_OUT_RESERVE	1024	/* the most hb_out_reserve() may ask for at once */

struct hb_out {
	char *buf;
	size_t len, cap;
	FILE *f;
	int fd;			/* >= 0: write(2) to it; -1: fwrite() to f */
	int err;		/* first write error (positive errno); later output is dropped */
	bool own;		/* buf is malloc'd */
};

/* Buffered output to f (its descriptor when it has one). Returns 0 or -ENOMEM. */
int hb_out_open(struct hb_out *o, FILE *f);
/* Output to f through fwrite(), into the caller's buffer buf of cap >= 64 bytes. */
void hb_out_init_file(struct hb_out *o, FILE *f, char *buf, size_t cap);
/* Hands the buffered bytes on. */
void hb_out_flush(struct hb_out *o);
/* Flushes and frees. Returns 0 or -errno of the first write error. */
int hb_out_close(struct hb_out *o);

/* Room for n (<= min(cap, HB_OUT_RESERVE)) bytes at the returned pointer; hb_out_commit()
 * then says where the writing ended. */
static inline char *hb_out_reserve(struct hb_out *o, size_t n)
{
	if (o->cap - o->len < n)
		hb_out_flush(o);
	return o->buf + o->len;
}

static inline void hb_out_commit(struct hb_out *o, const char *end)
{
	o->len = (size_t)(end - o->buf);
}

void hb_out_mem(struct hb_out *o, const void *p, size_t n);

static inline void hb_out_str(struct hb_out *o, const char *s)
{
	hb_out_mem(o, s, strlen(s));
}

static inline void hb_out_ch(struct hb_out *o, char c)
{
	*hb_out_reserve(o, 1) = c;
	o->len++;
}

/* n spaces */
void hb_out_pad(struct hb_out *o, size_t n);
/* s as a JSON string, quotes included (hb_json_str's rules), at most maxlen bytes of s. */
void hb_out_json_str(struct hb_out *o, const char *s, size_t maxlen);

/* Appends a literal (a string constant) at p and returns the end. */
#define HB_PUT(p, lit) ((char *)memcpy((p), (lit), sizeof(lit) - 1) + sizeof(lit) - 1)

/* Raw formatters: write at p without a terminating NUL and return the end. p needs room
 * for 20 bytes (integers), HB_DUR_MAX (durations) or HB_ADDR_MAX (addresses). */
#define HB_DUR_MAX	24
#define HB_ADDR_MAX	56
char *hb_put_u64(char *p, uint64_t v);
char *hb_put_i64(char *p, int64_t v);
char *hb_put_duration(char *p, long long ms);
char *hb_put_addr(char *p, int family, const uint8_t addr[16], unsigned int port, bool star);

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if it is not one (overlong
 * forms, surrogates and code points beyond U+10FFFF are not). */
size_t hb_utf8_len(const void *s, size_t n);
/* s (at most maxlen bytes) as one word of a table cell that is safe on a terminal: control
 * characters, DEL and blanks become '?', bytes that are not valid UTF-8 and the 8-bit
 * controls U+0080..U+009F become \xNN (one per byte), the rest is copied. p needs room for
 * HB_WORD_MAX(maxlen) bytes. Returns the end (no NUL). */
#define HB_WORD_MAX(n)	(4 * (n))
char *hb_put_word(char *p, const char *s, size_t maxlen);
/* s as the inside of a Prometheus label value (text format 0.0.4): backslash, quote and
 * newline escaped as the format wants, and each byte that is not valid UTF-8 written as the
 * text \xNN (exposition: \\xNN), so that the value is always valid UTF-8. */
void hb_fput_label(FILE *f, const char *s);

#endif /* HB_CLI_OUT_H */
