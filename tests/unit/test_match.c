// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests for lib/match.c: match list syntax, formatting and the per-address decision. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <cmocka.h>

#include "hb/policy.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---- */

static struct sockaddr_storage ss;

static const struct sockaddr *v4(const char *ip, uint16_t port, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	*len = sizeof(*sin);
	return (const struct sockaddr *)&ss;
}

static const struct sockaddr *v6(const char *ip, uint16_t port, socklen_t *len)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	*len = sizeof(*sin6);
	return (const struct sockaddr *)&ss;
}

/* "10.1.2.3:80" or "[::1]:443" -> does list match it */
static bool matches(const char *list, const char *addr)
{
	char ip[64];
	const char *colon = strrchr(addr, ':');
	struct hb_match m;
	char err[HB_ERR_LEN];
	socklen_t len;
	const struct sockaddr *sa;
	unsigned int port;
	int rc;

	rc = hb_match_parse(list, &m, err, sizeof(err));
	if (rc)
		fail_msg("parse '%s': %s", list, err);
	assert_non_null(colon);
	sscanf(colon + 1, "%u", &port);
	if (addr[0] == '[') {
		snprintf(ip, sizeof(ip), "%.*s", (int)(colon - addr - 2), addr + 1);
		sa = v6(ip, (uint16_t)port, &len);
	} else {
		snprintf(ip, sizeof(ip), "%.*s", (int)(colon - addr), addr);
		sa = v4(ip, (uint16_t)port, &len);
	}
	return hb_match_sockaddr(&m, sa, len);
}

/* ---- syntax ---- */

static void test_valid_forms(void **state)
{
	static const struct {
		const char *in, *out;
		int family, prefix, port, exclude;
	} cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8", AF_INET, 8, 0, 0 },
		{ "192.168.1.5", "192.168.1.5", AF_INET, 32, 0, 0 },
		{ "192.168.1.5/32", "192.168.1.5", AF_INET, 32, 0, 0 },
		{ "[2001:db8::]/32", "[2001:db8::]/32", AF_INET6, 32, 0, 0 },
		{ "2001:db8::1", "[2001:db8::1]", AF_INET6, 128, 0, 0 },
		{ "2001:db8::/32", "[2001:db8::]/32", AF_INET6, 32, 0, 0 },
		{ "[2001:db8::1]", "[2001:db8::1]", AF_INET6, 128, 0, 0 },
		{ "2001:DB8:0:0:1:0:0:1", "[2001:db8::1:0:0:1]", AF_INET6, 128, 0, 0 },
		{ ":5432", ":5432", 0, 0, 5432, 0 },
		{ ":1", ":1", 0, 0, 1, 0 },
		{ ":65535", ":65535", 0, 0, 65535, 0 },
		{ "10.1.2.3:6379", "10.1.2.3:6379", AF_INET, 32, 6379, 0 },
		{ "[::1]:443", "[::1]:443", AF_INET6, 128, 443, 0 },
		{ "10.0.0.0/8:443", "10.0.0.0/8:443", AF_INET, 8, 443, 0 },
		{ "[2001:db8::]/32:443", "[2001:db8::]/32:443", AF_INET6, 32, 443, 0 },
		/* bits beyond the prefix are cleared */
		{ "10.1.2.3/8", "10.0.0.0/8", AF_INET, 8, 0, 0 },
		{ "10.1.2.3/31", "10.1.2.2/31", AF_INET, 31, 0, 0 },
		{ "[2001:db8::ffff]/127", "[2001:db8::fffe]/127", AF_INET6, 127, 0, 0 },
		{ "2001:db8:ffff::/33", "[2001:db8:8000::]/33", AF_INET6, 33, 0, 0 },
		{ "2001:db8:ffff::/17", "[2001::]/17", AF_INET6, 17, 0, 0 },
		{ "0.0.0.0/0", "0.0.0.0/0", AF_INET, 0, 0, 0 },
		{ "1.2.3.4/0", "0.0.0.0/0", AF_INET, 0, 0, 0 },
		{ "[::]/0", "[::]/0", AF_INET6, 0, 0, 0 },
		{ "::/0", "[::]/0", AF_INET6, 0, 0, 0 },
		{ "[::ffff:10.0.0.1]", "[::ffff:10.0.0.1]", AF_INET6, 128, 0, 0 },
		{ "10.0.0.0/08", "10.0.0.0/8", AF_INET, 8, 0, 0 },
		{ ":080", ":80", 0, 0, 80, 0 },
		/* a bare IPv6 address never has a port: the last group is address */
		{ "2001:db8::1:443", "[2001:db8::1:443]", AF_INET6, 128, 0, 0 },
		{ "!10.0.0.1", "!10.0.0.1", AF_INET, 32, 0, 1 },
		{ "!:22", "!:22", 0, 0, 22, 1 },
		{ "![::1]:443", "![::1]:443", AF_INET6, 128, 443, 1 },
		{ "!2001:db8::/32", "![2001:db8::]/32", AF_INET6, 32, 0, 1 },
		{ "  10.0.0.0/8\t", "10.0.0.0/8", AF_INET, 8, 0, 0 },
	};
	char err[HB_ERR_LEN], buf[64];
	struct hb_match m, m2;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct hb_pattern *p = &m.pat[0];

		if (hb_match_parse(cases[i].in, &m, err, sizeof(err)))
			fail_msg("'%s': %s", cases[i].in, err);
		assert_int_equal(m.n, 1);
		assert_int_equal(m.n_include, !cases[i].exclude);
		assert_int_equal(p->family, cases[i].family);
		assert_int_equal(p->prefix, cases[i].prefix);
		assert_int_equal(p->port, cases[i].port);
		assert_int_equal(p->exclude, cases[i].exclude);
		assert_int_equal(p->pad, 0);
		assert_int_equal(hb_pattern_format(p, buf, sizeof(buf)), strlen(cases[i].out));
		assert_string_equal(buf, cases[i].out);
		/* and the formatted text means the same pattern */
		assert_int_equal(hb_match_parse(buf, &m2, err, sizeof(err)), 0);
		assert_memory_equal(&m2.pat[0], p, sizeof(*p));
	}
}

static void test_addr_bytes(void **state)
{
	static const uint8_t want4[16] = { 10, 0, 0, 0 };
	static const uint8_t want6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	char err[HB_ERR_LEN];
	struct hb_match m;

	(void)state;
	assert_int_equal(hb_match_parse("10.200.3.4/8", &m, err, sizeof(err)), 0);
	assert_memory_equal(m.pat[0].addr, want4, 16);
	assert_int_equal(hb_match_parse("[2001:db8:1::5]/32", &m, err, sizeof(err)), 0);
	assert_memory_equal(m.pat[0].addr, want6, 16);
}

static void test_lists(void **state)
{
	char err[HB_ERR_LEN], list[HB_MATCH_MAX * 16 + 16];
	struct hb_match m;
	size_t off = 0;
	int i;

	(void)state;
	assert_int_equal(hb_match_parse("10.0.0.0/8,!10.0.0.1,:5432,[::1]:443", &m, err,
					sizeof(err)), 0);
	assert_int_equal(m.n, 4);
	assert_int_equal(m.n_include, 3);
	assert_int_equal(m.pat[1].exclude, 1);
	/* whitespace around elements is trimmed */
	assert_int_equal(hb_match_parse(" 10.0.0.0/8 ,\t:5432 , !10.0.0.1 ", &m, err, sizeof(err)),
			 0);
	assert_int_equal(m.n, 3);
	assert_int_equal(m.pat[1].port, 5432);
	assert_int_equal(m.pat[2].exclude, 1);

	/* HB_MATCH_MAX patterns fit, one more is E2BIG */
	for (i = 0; i < HB_MATCH_MAX; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s:%d", i ? "," : "",
					i + 1);
	assert_int_equal(hb_match_parse(list, &m, err, sizeof(err)), 0);
	assert_int_equal(m.n, HB_MATCH_MAX);
	snprintf(list + off, sizeof(list) - off, ",:999");
	assert_int_equal(hb_match_parse(list, &m, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "too many patterns (at most 32)");
	assert_int_equal(m.n, 0);
}

static void test_invalid(void **state)
{
	static const struct {
		const char *in;
		int rc;
	} cases[] = {
		/* empty list, empty elements */
		{ "", -EINVAL }, { "   ", -EINVAL }, { ",", -EINVAL }, { "10.0.0.1,", -EINVAL },
		{ ",10.0.0.1", -EINVAL }, { "10.0.0.1,,:80", -EINVAL }, { "10.0.0.1, ,:80", -EINVAL },
		/* '!' alone */
		{ "!", -EINVAL }, { "!,10.0.0.1", -EINVAL }, { "10.0.0.1, !", -EINVAL },
		{ "! 10.0.0.1", -EINVAL }, { "!!10.0.0.1", -EINVAL },
		/* prefixes */
		{ "10.0.0.0/33", -EINVAL }, { "10.0.0.0/-1", -EINVAL }, { "10.0.0.0/abc", -EINVAL },
		{ "10.0.0.0/", -EINVAL }, { "10.0.0.0/8/8", -EINVAL }, { "10.0.0.0/8x", -EINVAL },
		{ "10.0.0.0/ 8", -EINVAL }, { "10.0.0.0/99999999999", -EINVAL },
		{ "[::]/129", -EINVAL }, { "::/129", -EINVAL }, { "[::]/-1", -EINVAL },
		{ "[::]/", -EINVAL }, { "2001:db8::/32:443", -EINVAL },
		/* ports */
		{ ":0", -EINVAL }, { ":65536", -EINVAL }, { ":http", -EINVAL }, { ":", -EINVAL },
		{ ":-1", -EINVAL }, { ":99999999999999999999", -EINVAL }, { "10.0.0.1:0", -EINVAL },
		{ "10.0.0.1:", -EINVAL }, { "10.0.0.1:99999", -EINVAL }, { "[::1]:0", -EINVAL },
		{ "[::1]:", -EINVAL }, { "[::1]:x", -EINVAL }, { "10.0.0.0/8:0", -EINVAL },
		{ ": 80", -EINVAL },
		/* IPv6 */
		{ "2001:db8::1::2", -EINVAL }, { "[2001:db8::g]", -EINVAL }, { "[::1", -EINVAL },
		{ "2001:db8:::1", -EINVAL }, { "[10.0.0.1]", -EINVAL }, { "[]", -EINVAL },
		{ "[::1]x", -EINVAL }, { "[::1]443", -EINVAL }, { "fe80::1%eth0", -EINVAL },
		{ "[fe80::1%eth0]:22", -EINVAL }, { "1:2:3:4:5:6:7:8:9", -EINVAL },
		{ "[[::1]]", -EINVAL },
		/* IPv4 and others */
		{ "256.0.0.1", -EINVAL }, { "10.0.0", -EINVAL }, { "10.0.0.1.2", -EINVAL },
		{ "010.0.0.1", -EINVAL }, { "example.com", -EINVAL }, { "example.com:80", -EINVAL },
		{ "10.0.0.1 :80", -EINVAL }, { "*", -EINVAL }, { "10.0.0.1;:80", -EINVAL },
		{ "0.0.0.0000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "00000000000000000001", -EINVAL },
	};
	char err[HB_ERR_LEN];
	struct hb_match m;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc;

		m.n = 99;
		err[0] = '\0';
		rc = hb_match_parse(cases[i].in, &m, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("'%s': rc %d, want %d", cases[i].in, rc, cases[i].rc);
		assert_int_equal(m.n, 0);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(hb_match_parse(NULL, &m, err, sizeof(err)), -EINVAL);
}

static void test_messages(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "", "empty match list (expected e.g. 10.0.0.0/8,:5432,!10.0.0.1)" },
		{ "10.0.0.1,,:80",
		  "'10.0.0.1,,:80': pattern 2 is empty (a doubled, leading or trailing comma?)" },
		{ "!", "'!' must be followed by a pattern (e.g. !10.0.0.0/8)" },
		{ "10.0.0.0/33", "'10.0.0.0/33': bad prefix length '33' (expected 0..32)" },
		{ "10.0.0.0/abc:80", "'10.0.0.0/abc:80': bad prefix length 'abc' (expected 0..32)" },
		{ "[::]/129", "'[::]/129': bad prefix length '129' (expected 0..128)" },
		{ "2001:db8::/32:443",
		  "'2001:db8::/32:443': bad prefix length '32:443' (expected 0..128; "
		  "an IPv6 address with a port needs brackets: [ADDR]:PORT)" },
		{ ":65536", "':65536': bad port '65536' (expected 1..65535)" },
		{ "10.0.0.1:0", "'10.0.0.1:0': bad port '0' (expected 1..65535)" },
		{ "[2001:db8::g]", "'[2001:db8::g]': malformed IPv6 address" },
		{ "[::1", "'[::1': missing ']' after IPv6 address" },
		{ "[::1]x", "'[::1]x': unexpected 'x' after the address" },
		{ "256.0.0.1", "'256.0.0.1': malformed IPv4 address" },
		{ "db.example:5432", "'db.example:5432': not an IP address (host names are not supported)" },
		{ "10.0.0.1, !10.0.0.0/40", "'!10.0.0.0/40': bad prefix length '40' (expected 0..32)" },
	};
	char err[HB_ERR_LEN];
	struct hb_match m;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_not_equal(hb_match_parse(cases[i].in, &m, err, sizeof(err)), 0);
		assert_string_equal(err, cases[i].msg);
	}
}

static void test_too_long_element(void **state)
{
	char err[HB_ERR_LEN], in[400];
	struct hb_match m;

	(void)state;
	memset(in, '1', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	assert_int_equal(hb_match_parse(in, &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "pattern too long"));
	/* padding around a valid element does not count */
	memset(in, ' ', sizeof(in) - 1);
	memcpy(in + 200, ":80", 3);
	assert_int_equal(hb_match_parse(in, &m, err, sizeof(err)), 0);
	assert_int_equal(m.pat[0].port, 80);
}

/* ---- formatting ---- */

static void test_format_buffers(void **state)
{
	struct hb_pattern p = { .family = AF_INET, .prefix = 8, .addr = { 10 } };
	char buf[6];

	(void)state;
	/* like snprintf: the full length is returned, the text is cut and terminated */
	assert_int_equal(hb_pattern_format(&p, NULL, 0), (int)strlen("10.0.0.0/8"));
	assert_int_equal(hb_pattern_format(&p, buf, sizeof(buf)), (int)strlen("10.0.0.0/8"));
	assert_string_equal(buf, "10.0.");
	p.family = 99;
	assert_int_equal(hb_pattern_format(&p, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "?");
}

/* ---- matching ---- */

static void test_match_include(void **state)
{
	(void)state;
	assert_true(matches("10.0.0.0/8", "10.1.2.3:80"));
	assert_true(matches("10.0.0.0/8", "10.255.255.255:1"));
	assert_false(matches("10.0.0.0/8", "11.0.0.1:80"));
	assert_false(matches("10.0.0.0/8", "9.255.255.255:80"));
	assert_false(matches("10.0.0.0/8", "[::1]:80"));
	assert_true(matches("192.168.1.5", "192.168.1.5:22"));
	assert_false(matches("192.168.1.5", "192.168.1.6:22"));
	assert_true(matches("10.1.2.2/31", "10.1.2.3:1"));
	assert_false(matches("10.1.2.2/31", "10.1.2.4:1"));
	assert_true(matches("10.1.2.3:6379", "10.1.2.3:6379"));
	assert_false(matches("10.1.2.3:6379", "10.1.2.3:6380"));
	assert_false(matches("10.1.2.3:6379", "10.1.2.4:6379"));
	assert_true(matches("10.0.0.0/8:443", "10.9.9.9:443"));
	assert_false(matches("10.0.0.0/8:443", "10.9.9.9:80"));
	assert_true(matches("0.0.0.0/0", "1.2.3.4:5"));
	assert_false(matches("0.0.0.0/0", "[2001:db8::1]:5"));
	/* any include matching is enough */
	assert_true(matches("192.168.0.0/16,10.0.0.0/8", "10.0.0.1:80"));
	assert_false(matches("192.168.0.0/16,10.0.0.0/8", "172.16.0.1:80"));
}

static void test_match_port_only(void **state)
{
	(void)state;
	assert_true(matches(":5432", "10.0.0.1:5432"));
	assert_true(matches(":5432", "[2001:db8::1]:5432"));
	assert_true(matches(":5432", "[::ffff:10.0.0.1]:5432"));
	assert_false(matches(":5432", "10.0.0.1:5433"));
	/* a port in network order would be 0x3815: a pattern for 5432 must not match it */
	assert_false(matches(":5432", "10.0.0.1:14357"));
	assert_true(matches(":14357", "10.0.0.1:14357"));
}

static void test_match_ipv6(void **state)
{
	(void)state;
	assert_true(matches("[2001:db8::]/32", "[2001:db8:ffff::1]:80"));
	assert_false(matches("[2001:db8::]/32", "[2001:db9::1]:80"));
	assert_false(matches("[2001:db8::]/32", "10.0.0.1:80"));
	assert_true(matches("[::1]:443", "[::1]:443"));
	assert_false(matches("[::1]:443", "[::1]:80"));
	assert_false(matches("[::1]:443", "127.0.0.1:443"));
	assert_true(matches("2001:db8::1", "[2001:db8::1]:9"));
	assert_false(matches("2001:db8::1", "[2001:db8::2]:9"));
	assert_true(matches("2001:db8:8000::/33", "[2001:db8:8001::]:9"));
	assert_false(matches("2001:db8:8000::/33", "[2001:db8:7fff::]:9"));
	assert_true(matches("[::]/0", "[2001:db8::1]:9"));
	assert_false(matches("[::]/0", "10.0.0.1:9"));
}

static void test_match_mapped(void **state)
{
	(void)state;
	/* IPv4-mapped socket addresses match IPv4 patterns */
	assert_true(matches("10.0.0.0/8", "[::ffff:10.1.2.3]:80"));
	assert_false(matches("10.0.0.0/8", "[::ffff:11.1.2.3]:80"));
	assert_true(matches("10.1.2.3:6379", "[::ffff:10.1.2.3]:6379"));
	assert_false(matches("10.1.2.3:6379", "[::ffff:10.1.2.3]:6380"));
	assert_false(matches("!10.0.0.0/8", "[::ffff:10.1.2.3]:80"));
	/* not the IPv4-compatible form, nor other addresses ending in the same bytes */
	assert_false(matches("10.0.0.0/8", "[::10.1.2.3]:80"));
	assert_false(matches("10.0.0.0/8", "[2001:db8::ffff:a01:203]:80"));
	/* and IPv6 patterns still see the whole address */
	assert_true(matches("[::ffff:0.0.0.0]/96", "[::ffff:10.1.2.3]:80"));
	assert_true(matches("[::]/0", "[::ffff:10.1.2.3]:80"));
	assert_false(matches("[::ffff:10.1.2.3]", "10.1.2.3:80"));
}

static void test_match_exclude(void **state)
{
	(void)state;
	/* only excludes: everything else is managed */
	assert_false(matches("!10.0.0.0/8", "10.1.1.1:80"));
	assert_true(matches("!10.0.0.0/8", "192.168.1.1:80"));
	assert_true(matches("!10.0.0.0/8", "[::1]:80"));
	/* include and exclude, in either order: exclusion wins */
	assert_true(matches("10.0.0.0/8,!10.0.0.1", "10.0.0.2:80"));
	assert_false(matches("10.0.0.0/8,!10.0.0.1", "10.0.0.1:80"));
	assert_false(matches("!10.0.0.1,10.0.0.0/8", "10.0.0.1:80"));
	assert_false(matches("10.0.0.0/8,!10.0.0.1", "11.0.0.1:80"));
	assert_false(matches("!:22", "10.0.0.1:22"));
	assert_true(matches("!:22", "10.0.0.1:23"));
	assert_false(matches(":5432,!10.0.0.5", "10.0.0.5:5432"));
	assert_true(matches(":5432,!10.0.0.5", "10.0.0.6:5432"));
	assert_false(matches(":5432,!10.0.0.5", "10.0.0.6:80"));
	assert_false(matches("10.0.0.0/8,!10.0.0.0/8", "10.0.0.1:80"));
	assert_true(matches("!10.0.0.1:22", "10.0.0.1:23"));
	assert_false(matches("!10.0.0.1:22", "10.0.0.1:22"));
}

static void test_match_bad_sockaddr(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char err[HB_ERR_LEN];
	struct hb_match m, empty = { 0 };
	const struct sockaddr *sa;
	socklen_t len;

	(void)state;
	assert_int_equal(hb_match_parse("!10.0.0.0/8", &m, err, sizeof(err)), 0);
	assert_false(hb_match_sockaddr(&m, NULL, 0));
	assert_false(hb_match_sockaddr(&m, (struct sockaddr *)&sun, sizeof(sun)));
	sa = v4("1.2.3.4", 80, &len);
	assert_true(hb_match_sockaddr(&m, sa, len));
	assert_false(hb_match_sockaddr(&m, sa, len - 1));
	assert_false(hb_match_sockaddr(&m, sa, 1));
	sa = v6("2001:db8::1", 80, &len);
	assert_true(hb_match_sockaddr(&m, sa, len));
	/* RFC 2133's 24-byte sockaddr_in6 (no scope id) is still an address */
	assert_true(hb_match_sockaddr(&m, sa, 24));
	assert_false(hb_match_sockaddr(&m, sa, 23));
	/* an empty list manages every readable address */
	assert_true(hb_match_sockaddr(&empty, sa, len));
}

static void test_policy_matches(void **state)
{
	struct hb_policy p;
	char err[HB_ERR_LEN];
	const struct sockaddr *sa;
	socklen_t len;

	(void)state;
	hb_policy_init(&p);
	/* no match list: everything, even an address we cannot read */
	assert_true(hb_policy_matches(&p, NULL, 0));
	sa = v4("10.0.0.1", 80, &len);
	assert_true(hb_policy_matches(&p, sa, len));
	assert_int_equal(hb_policy_set_match(&p, "192.168.0.0/16", err, sizeof(err)), 0);
	assert_true(p.has_match);
	assert_false(hb_policy_matches(&p, sa, len));
	/* a bad list leaves the previous one */
	assert_int_equal(hb_policy_set_match(&p, "10.0.0.0/33", err, sizeof(err)), -EINVAL);
	assert_int_equal(p.match.n, 1);
	assert_false(hb_policy_matches(&p, sa, len));
	assert_int_equal(hb_policy_set_match(&p, "10.0.0.0/8", err, sizeof(err)), 0);
	assert_true(hb_policy_matches(&p, sa, len));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_forms),
		cmocka_unit_test(test_addr_bytes),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_too_long_element),
		cmocka_unit_test(test_format_buffers),
		cmocka_unit_test(test_match_include),
		cmocka_unit_test(test_match_port_only),
		cmocka_unit_test(test_match_ipv6),
		cmocka_unit_test(test_match_mapped),
		cmocka_unit_test(test_match_exclude),
		cmocka_unit_test(test_match_bad_sockaddr),
		cmocka_unit_test(test_policy_matches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
