// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for match lists (lib/match.c). Invariants:
 * - a parsed list is well formed (counts, families, prefixes, masked address bits);
 * - every pattern formats back to text that parses to the very same pattern, and the
 *   whole list, formatted and joined, parses to the same list;
 * - hb_match_sockaddr() agrees with a bit-by-bit reference on addresses taken from the
 *   input and from the patterns themselves, and IPv4-mapped addresses behave as IPv4.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/policy.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "invariant failed: %s\n", #c); abort(); } } while (0)

static bool bit(const uint8_t *a, unsigned int i)
{
	return a[i / 8] >> (7 - i % 8) & 1;
}

static void check_pattern(const struct hb_pattern *pt)
{
	unsigned int bits, i;

	CHECK(pt->pad == 0 && pt->exclude <= 1);
	switch (pt->family) {
	case 0:
		CHECK(pt->prefix == 0 && pt->port != 0);
		for (i = 0; i < 16; i++)
			CHECK(pt->addr[i] == 0);
		return;
	case AF_INET:
		bits = 32;
		break;
	case AF_INET6:
		bits = 128;
		break;
	default:
		CHECK(!"bad family");
		return;
	}
	CHECK(pt->prefix <= bits);
	for (i = pt->prefix; i < 128; i++)
		CHECK(!bit(pt->addr, i));
}

struct ref_addr {
	int family;
	uint8_t a[16];
	uint16_t port;
};

static bool ref_pattern(const struct hb_pattern *pt, const struct ref_addr *ad)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *a = ad->a;
	unsigned int i;

	if (pt->port && pt->port != ad->port)
		return false;
	if (pt->family == 0)
		return true;
	if (pt->family == AF_INET) {
		if (ad->family == AF_INET6 && !memcmp(ad->a, mapped, 12))
			a = ad->a + 12;
		else if (ad->family != AF_INET)
			return false;
	} else if (ad->family != AF_INET6) {
		return false;
	}
	for (i = 0; i < pt->prefix; i++)
		if (bit(pt->addr, i) != bit(a, i))
			return false;
	return true;
}

static bool ref_match(const struct hb_match *m, const struct ref_addr *ad)
{
	bool inc = m->n_include == 0;
	unsigned int i;

	for (i = 0; i < m->n; i++)
		if (ref_pattern(&m->pat[i], ad)) {
			if (m->pat[i].exclude)
				return false;
			inc = true;
		}
	return inc;
}

static bool lib_match(const struct hb_match *m, const struct ref_addr *ad)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };

	if (ad->family == AF_INET) {
		s4.sin_port = htons(ad->port);
		memcpy(&s4.sin_addr, ad->a, 4);
		return hb_match_sockaddr(m, (struct sockaddr *)&s4, sizeof(s4));
	}
	s6.sin6_port = htons(ad->port);
	memcpy(&s6.sin6_addr, ad->a, 16);
	return hb_match_sockaddr(m, (struct sockaddr *)&s6, sizeof(s6));
}

static void check_addr(const struct hb_match *m, const struct ref_addr *ad)
{
	struct ref_addr mapped;
	bool has_v6 = false;
	unsigned int i;

	CHECK(lib_match(m, ad) == ref_match(m, ad));
	if (ad->family != AF_INET)
		return;
	for (i = 0; i < m->n; i++)
		has_v6 |= m->pat[i].family == AF_INET6;
	if (has_v6)
		return;
	mapped.family = AF_INET6;
	mapped.port = ad->port;
	memset(mapped.a, 0, 10);
	mapped.a[10] = mapped.a[11] = 0xff;
	memcpy(mapped.a + 12, ad->a, 4);
	CHECK(lib_match(m, &mapped) == lib_match(m, ad));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[HB_ERR_LEN], buf[128], *s, *joined;
	struct hb_match m, m2;
	struct ref_addr ad;
	unsigned int i, inc = 0;
	size_t off = 0;
	int rc, len;

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	err[0] = '\0';
	rc = hb_match_parse(s, &m, err, sizeof(err));
	CHECK(rc == 0 || rc == -EINVAL || rc == -E2BIG);
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc) {
		CHECK(m.n == 0 && m.n_include == 0 && err[0] != '\0');
		/* and a tiny message buffer is never overrun */
		char *tiny = malloc(3);

		CHECK(tiny && hb_match_parse(s, &m2, tiny, 3) == rc);
		CHECK(memchr(tiny, '\0', 3) != NULL);
		free(tiny);
		free(s);
		return 0;
	}
	CHECK(m.n >= 1 && m.n <= HB_MATCH_MAX);

	joined = malloc(m.n * sizeof(buf) + 1);
	CHECK(joined != NULL);
	for (i = 0; i < m.n; i++) {
		const struct hb_pattern *pt = &m.pat[i];

		check_pattern(pt);
		inc += !pt->exclude;
		len = hb_pattern_format(pt, buf, sizeof(buf));
		CHECK(len > 0 && (size_t)len < sizeof(buf) && strlen(buf) == (size_t)len);
		CHECK(hb_pattern_format(pt, NULL, 0) == len);
		rc = hb_match_parse(buf, &m2, err, sizeof(err));
		if (rc)
			fprintf(stderr, "'%s' does not re-parse: %s\n", buf, err);
		CHECK(rc == 0 && m2.n == 1);
		CHECK(!memcmp(&m2.pat[0], pt, sizeof(*pt)));
		off += (size_t)sprintf(joined + off, "%s%s", i ? "," : "", buf);

		/* the pattern's own address and port match it */
		if (pt->family) {
			struct hb_match one = { .n = 1, .n_include = 1, .pat = { *pt } };

			one.pat[0].exclude = 0;
			ad.family = pt->family;
			memcpy(ad.a, pt->addr, 16);
			ad.port = pt->port ? pt->port : 1;
			CHECK(lib_match(&one, &ad));
			check_addr(&m, &ad);
		}
	}
	CHECK(inc == m.n_include);
	rc = hb_match_parse(joined, &m2, err, sizeof(err));
	CHECK(rc == 0 && m2.n == m.n && m2.n_include == m.n_include);
	CHECK(!memcmp(m2.pat, m.pat, m.n * sizeof(m.pat[0])));
	free(joined);

	/* addresses from the raw input bytes: both families, and mapped */
	if (size >= 18) {
		ad.port = (uint16_t)(data[size - 1] | data[size - 2] << 8);
		ad.family = AF_INET;
		memset(ad.a, 0, 16);
		memcpy(ad.a, data + size - 6, 4);
		check_addr(&m, &ad);
		ad.family = AF_INET6;
		memcpy(ad.a, data + size - 18, 16);
		check_addr(&m, &ad);
		memset(ad.a, 0, 10);
		ad.a[10] = ad.a[11] = 0xff;
		check_addr(&m, &ad);
	}
	free(s);
	return 0;
}
