// SPDX-License-Identifier: BSD-2-Clause
/*
 * Match lists (HB_MATCH, --match): parsing, formatting and the per-socket decision.
 *
 * Decisions (DESIGN.md leaves them open):
 * - Whitespace around an element is trimmed ("10.0.0.0/8, :5432" is fine): lists are
 *   often written by hand in unit files and shell scripts. Whitespace inside an element
 *   (after '!', around '/' or ':') is an error.
 * - Address bits beyond the prefix are cleared: 10.1.2.3/8 is 10.0.0.0/8, as ip-route(8)
 *   would read it; the pattern formats back as 10.0.0.0/8 so reports show what is matched.
 * - /0 is allowed (0.0.0.0/0 is "any IPv4 address", useful after '!').
 * - A bare IPv6 address takes a prefix but never a port: in 2001:db8::1:443 the last group
 *   is part of the address. With a port, brackets are needed: [2001:db8::1]:443.
 * - Hostnames and zone ids (fe80::1%eth0) are rejected: the shim cannot resolve names.
 * - IPv4-mapped socket addresses (::ffff:a.b.c.d) match IPv4 patterns through their IPv4
 *   part, and IPv6 patterns through the whole address. An IPv6 pattern never matches an
 *   AF_INET socket address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "hb/policy.h"
#include "internal.h"

/* Longest element we look at: "![" + 45-character IPv6 + "]/128:65535" fits with room. */
#define ELEM_MAX	96

/* Parses 1..65535 from the whole of s. */
static bool parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (!hb__isdigit((unsigned char)*s))
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return false;
	}
	if (!v)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* Parses 0..max from s up to end (exclusive). */
static bool parse_prefix(const char *s, const char *end, unsigned int max, uint8_t *prefix)
{
	unsigned int v = 0;

	if (s == end)
		return false;
	for (; s < end; s++) {
		if (!hb__isdigit((unsigned char)*s))
			return false;
		v = v * 10 + (unsigned int)(*s - '0');
		if (v > max)
			return false;
	}
	*prefix = (uint8_t)v;
	return true;
}

static void mask_addr(uint8_t *addr, unsigned int prefix, unsigned int bits)
{
	unsigned int i;

	for (i = prefix; i < bits; i++)
		addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

static bool has_letter(const char *s)
{
	for (; *s; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
			return true;
	return false;
}

/*
 * Parses "/PREFIX" and/or ":PORT" after the address (rest), for a family of bits bits.
 * q is the quoted element for messages.
 */
static int parse_tail(const char *rest, bool port_ok, unsigned int bits, struct hb_pattern *pat,
		      const char *q, char *err, size_t errlen)
{
	char qs[HB_QUOTE_LEN];
	const char *end;

	pat->prefix = (uint8_t)bits;
	if (*rest == '/') {
		rest++;
		end = port_ok ? strchr(rest, ':') : NULL;
		if (!end)
			end = rest + strlen(rest);
		if (!parse_prefix(rest, end, bits, &pat->prefix)) {
			char txt[HB_QUOTE_LEN];
			size_t n = (size_t)(end - rest);

			if (n >= sizeof(txt))
				n = sizeof(txt) - 1;
			memcpy(txt, rest, n);
			txt[n] = '\0';
			hb__quote(qs, sizeof(qs), txt);
			return hb__err(-EINVAL, err, errlen,
				       "'%s': bad prefix length '%s' (expected 0..%u%s)", q, qs, bits,
				       !port_ok && strchr(txt, ':') ?
				       "; an IPv6 address with a port needs brackets: [ADDR]:PORT" : "");
		}
		rest = end;
	}
	if (*rest == ':' && port_ok) {
		if (!parse_port(rest + 1, &pat->port)) {
			hb__quote(qs, sizeof(qs), rest + 1);
			return hb__err(-EINVAL, err, errlen, "'%s': bad port '%s' (expected 1..65535)",
				       q, qs);
		}
		return 0;
	}
	if (*rest) {
		hb__quote(qs, sizeof(qs), rest);
		return hb__err(-EINVAL, err, errlen, "'%s': unexpected '%s' after the address", q,
			       qs);
	}
	return 0;
}

/* Copies s[0..n) into dst (size len) or returns false when it does not fit. */
static bool copy_part(char *dst, size_t len, const char *s, size_t n)
{
	if (n >= len)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

/* One element, already trimmed and NUL-terminated. */
static int parse_pattern(const char *el, struct hb_pattern *pat, char *err, size_t errlen)
{
	char q[HB_QUOTE_LEN], qh[HB_QUOTE_LEN], host[INET6_ADDRSTRLEN + 1];
	const char *p = el, *close, *rest;
	unsigned int colons = 0;
	int rc;

	memset(pat, 0, sizeof(*pat));
	hb__quote(q, sizeof(q), el);
	if (*p == '!') {
		pat->exclude = 1;
		p++;
		if (!*p)
			return hb__err(-EINVAL, err, errlen,
				       "'!' must be followed by a pattern (e.g. !10.0.0.0/8)");
	}

	if (*p == ':' && p[1] != ':') {
		/* :PORT, any address of any family ("::1" is an IPv6 address) */
		if (!parse_port(p + 1, &pat->port)) {
			hb__quote(qh, sizeof(qh), p + 1);
			return hb__err(-EINVAL, err, errlen, "'%s': bad port '%s' (expected 1..65535)",
				       q, qh);
		}
		return 0;
	}

	if (*p == '[') {
		close = strchr(p, ']');
		if (!close)
			return hb__err(-EINVAL, err, errlen, "'%s': missing ']' after IPv6 address", q);
		if (!copy_part(host, sizeof(host), p + 1, (size_t)(close - p - 1)) ||
		    inet_pton(AF_INET6, host, pat->addr) != 1)
			return hb__err(-EINVAL, err, errlen, "'%s': malformed IPv6 address", q);
		pat->family = AF_INET6;
		rc = parse_tail(close + 1, true, 128, pat, q, err, errlen);
		goto out;
	}

	for (rest = p; *rest; rest++)
		colons += *rest == ':';
	if (colons >= 2) {
		/* bare IPv6: ADDR or ADDR/PREFIX, never a port */
		rest = strchr(p, '/');
		if (!rest)
			rest = p + strlen(p);
		if (!copy_part(host, sizeof(host), p, (size_t)(rest - p)) ||
		    inet_pton(AF_INET6, host, pat->addr) != 1)
			return hb__err(-EINVAL, err, errlen, "'%s': malformed IPv6 address", q);
		pat->family = AF_INET6;
		rc = parse_tail(rest, false, 128, pat, q, err, errlen);
		goto out;
	}

	/* IPv4: ADDR, ADDR/PREFIX, ADDR:PORT, ADDR/PREFIX:PORT */
	rest = p + strcspn(p, "/:");
	if (!copy_part(host, sizeof(host), p, (size_t)(rest - p)) ||
	    inet_pton(AF_INET, host, pat->addr) != 1) {
		if (has_letter(p))
			return hb__err(-EINVAL, err, errlen,
				       "'%s': not an IP address (host names are not supported)", q);
		return hb__err(-EINVAL, err, errlen, "'%s': malformed IPv4 address", q);
	}
	pat->family = AF_INET;
	rc = parse_tail(rest, true, 32, pat, q, err, errlen);
out:
	if (rc)
		return rc;
	mask_addr(pat->addr, pat->prefix, pat->family == AF_INET ? 32 : 128);
	return 0;
}

int hb_match_parse(const char *s, struct hb_match *m, char *err, size_t errlen)
{
	char q[HB_QUOTE_LEN], el[ELEM_MAX + 1];
	const char *p, *start, *end;
	unsigned int idx = 0;
	int rc;

	m->n = 0;
	m->n_include = 0;
	if (s)
		for (p = s; hb__isspace((unsigned char)*p); p++)
			;
	if (!s || !*p)
		return hb__err(-EINVAL, err, errlen,
			       "empty match list (expected e.g. 10.0.0.0/8,:5432,!10.0.0.1)");
	hb__quote(q, sizeof(q), s);
	for (p = s;; p++) {
		start = p;
		p += strcspn(p, ",");
		end = p;
		idx++;
		while (start < end && hb__isspace((unsigned char)*start))
			start++;
		while (end > start && hb__isspace((unsigned char)end[-1]))
			end--;
		if (start == end) {
			rc = hb__err(-EINVAL, err, errlen,
				     "'%s': pattern %u is empty (a doubled, leading or trailing comma?)",
				     q, idx);
			goto fail;
		}
		if (m->n == HB_MATCH_MAX) {
			rc = hb__err(-E2BIG, err, errlen, "too many patterns (at most %d)",
				     HB_MATCH_MAX);
			goto fail;
		}
		if ((size_t)(end - start) > ELEM_MAX) {
			copy_part(el, sizeof(el), start, 40);
			hb__quote(q, sizeof(q), el);
			rc = hb__err(-EINVAL, err, errlen, "'%s...': pattern too long", q);
			goto fail;
		}
		copy_part(el, sizeof(el), start, (size_t)(end - start));
		rc = parse_pattern(el, &m->pat[m->n], err, errlen);
		if (rc)
			goto fail;
		if (!m->pat[m->n].exclude)
			m->n_include++;
		m->n++;
		if (!*p)
			break;
	}
	return 0;
fail:
	m->n = 0;
	m->n_include = 0;
	return rc;
}

/* First prefix bits of a and b are equal (both at least 16 bytes). */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned int prefix)
{
	unsigned int full = prefix / 8, rem = prefix % 8;
	uint8_t mask;

	if (memcmp(a, b, full))
		return false;
	if (!rem)
		return true;
	mask = (uint8_t)(0xff00u >> rem);
	return !((a[full] ^ b[full]) & mask);
}

/*
 * The address of a socket, copied out of the caller's sockaddr (which may be unaligned or
 * shorter than the struct for its family). v4 holds the IPv4 address of an AF_INET or
 * IPv4-mapped AF_INET6 address.
 */
struct addr {
	int family;
	uint16_t port;		/* host order */
	bool has_v4;
	uint8_t a[16];		/* as the family has it, zero-padded */
	uint8_t v4[16];		/* IPv4 view, zero-padded */
};

static bool get_addr(const struct sockaddr *sa, socklen_t len, struct addr *ad)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	sa_family_t fam;

	memset(ad, 0, sizeof(*ad));
	if (!sa || len < (socklen_t)sizeof(sa_family_t))
		return false;
	memcpy(&fam, (const char *)sa + offsetof(struct sockaddr, sa_family), sizeof(fam));
	if (fam == AF_INET) {
		if (len < (socklen_t)sizeof(s4))
			return false;
		memcpy(&s4, sa, sizeof(s4));
		ad->family = AF_INET;
		ad->port = ntohs(s4.sin_port);
		memcpy(ad->a, &s4.sin_addr, 4);
		memcpy(ad->v4, &s4.sin_addr, 4);
		ad->has_v4 = true;
		return true;
	}
	if (fam == AF_INET6) {
		/* RFC 2133's sockaddr_in6 had no scope id; the kernel still accepts 24 bytes. */
		memset(&s6, 0, sizeof(s6));
		if (len < (socklen_t)offsetof(struct sockaddr_in6, sin6_scope_id))
			return false;
		memcpy(&s6, sa, len < (socklen_t)sizeof(s6) ? len : sizeof(s6));
		ad->family = AF_INET6;
		ad->port = ntohs(s6.sin6_port);
		memcpy(ad->a, &s6.sin6_addr, 16);
		if (IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr)) {
			memcpy(ad->v4, ad->a + 12, 4);
			ad->has_v4 = true;
		}
		return true;
	}
	return false;
}

static bool pattern_matches(const struct hb_pattern *pt, const struct addr *ad)
{
	if (pt->port && pt->port != ad->port)
		return false;
	switch (pt->family) {
	case 0:
		return true;
	case AF_INET:
		return ad->has_v4 && prefix_eq(pt->addr, ad->v4, pt->prefix > 32 ? 32 : pt->prefix);
	case AF_INET6:
		return ad->family == AF_INET6 &&
		       prefix_eq(pt->addr, ad->a, pt->prefix > 128 ? 128 : pt->prefix);
	}
	return false;
}

/*
 * A socket address we cannot read (NULL, too short, not AF_INET/AF_INET6) is never
 * managed: the shim only asks about TCP/IP sockets, so this is a caller bug, and leaving
 * the socket alone is the harmless answer.
 */
bool hb_match_sockaddr(const struct hb_match *m, const struct sockaddr *sa, socklen_t len)
{
	bool included;
	struct addr ad;
	unsigned int i, n;

	if (!get_addr(sa, len, &ad))
		return false;
	n = m->n > HB_MATCH_MAX ? HB_MATCH_MAX : m->n;
	included = true;
	for (i = 0; i < n; i++) {
		if (!m->pat[i].exclude) {
			included = false;
			break;
		}
	}
	for (i = 0; i < n; i++) {
		const struct hb_pattern *pt = &m->pat[i];

		if (!pattern_matches(pt, &ad))
			continue;
		if (pt->exclude)
			return false;	/* exclusion wins, whatever the order */
		included = true;
	}
	return included;
}

int hb_pattern_format(const struct hb_pattern *pat, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], pfx[8] = "", port[8] = "";
	const char *ex = pat->exclude ? "!" : "";

	if (pat->port)
		snprintf(port, sizeof(port), ":%u", (unsigned int)pat->port);
	switch (pat->family) {
	case 0:
		return snprintf(buf, len, "%s:%u", ex, (unsigned int)pat->port);
	case AF_INET:
		inet_ntop(AF_INET, pat->addr, a, sizeof(a));
		if (pat->prefix < 32)
			snprintf(pfx, sizeof(pfx), "/%u", (unsigned int)pat->prefix);
		return snprintf(buf, len, "%s%s%s%s", ex, a, pfx, port);
	case AF_INET6:
		/* Always bracketed: unambiguous whether or not a port follows. */
		inet_ntop(AF_INET6, pat->addr, a, sizeof(a));
		if (pat->prefix < 128)
			snprintf(pfx, sizeof(pfx), "/%u", (unsigned int)pat->prefix);
		return snprintf(buf, len, "%s[%s]%s%s", ex, a, pfx, port);
	}
	return snprintf(buf, len, "%s?", ex);
}
