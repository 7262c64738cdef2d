// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests for the kernel policy's compiler (bpf/policy_compile.c, include/hb/policy_match.h):
 * the compiled match list must decide exactly as libhb's hb_match_sockaddr() (which the shim
 * uses) for every address, and hb_pol_compile() must carry the values the policy sets and
 * only those. hb_pol_match() is the very function the sock_ops program runs.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hb/policy.h"
#include "hb/policy_loader.h"
#include "hb/policy_match.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct hb_pol_cfg cfg;

/* Both decisions for one socket address; fails the test when they differ. */
static bool both(const struct hb_match *m, const struct sockaddr_storage *ss, socklen_t len,
		 const char *what)
{
	bool lib = hb_match_sockaddr(m, (const struct sockaddr *)ss, len), bpf;
	__u32 a[4] = { 0 };
	__u16 port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		memcpy(&a[0], &s4->sin_addr, 4);
		port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		memcpy(a, &s6->sin6_addr, 16);
		port = ntohs(s6->sin6_port);
	}
	assert_int_equal(hb_pol_compile_match(m, &cfg), 0);
	bpf = hb_pol_match(&cfg, ss->ss_family, a, port);
	if (lib != bpf)
		fail_msg("%s: libhb says %d, the BPF matcher %d", what, lib, bpf);
	return lib;
}

static bool decide(const char *list, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct hb_match m;
	char err[HB_ERR_LEN], what[160];
	socklen_t len;

	assert_int_equal(hb_match_parse(list, &m, err, sizeof(err)), 0);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof(*s4);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
	}
	snprintf(what, sizeof(what), "'%s' vs %s port %u", list, ip, port);
	return both(&m, &ss, len, what);
}

static void test_fixed_cases(void **state)
{
	static const struct {
		const char *list, *ip;
		uint16_t port;
		bool want;
	} t[] = {
		{ "10.0.0.0/8", "10.1.2.3", 80, true },
		{ "10.0.0.0/8", "11.1.2.3", 80, false },
		{ "10.1.2.3", "10.1.2.3", 1, true },
		{ "10.1.2.3", "10.1.2.4", 1, false },
		{ ":5432", "192.0.2.1", 5432, true },
		{ ":5432", "2001:db8::1", 5432, true },
		{ ":5432", "192.0.2.1", 5433, false },
		{ "10.1.2.3:6379", "10.1.2.3", 6379, true },
		{ "10.1.2.3:6379", "10.1.2.3", 6380, false },
		{ "[2001:db8::]/32", "2001:db8:ffff::1", 1, true },
		{ "[2001:db8::]/32", "2001:db9::1", 1, false },
		{ "[::1]:443", "::1", 443, true },
		{ "[::1]:443", "::1", 444, false },
		{ "[2001:db8::]/33", "2001:db8:7fff::", 9, true },
		{ "[2001:db8::]/33", "2001:db8:8000::", 9, false },
		/* IPv4-mapped: IPv4 patterns see the IPv4 part, IPv6 patterns the whole */
		{ "10.0.0.0/8", "::ffff:10.9.9.9", 1, true },
		{ "[::ffff:0:0]/96", "::ffff:10.9.9.9", 1, true },
		{ "[::ffff:0:0]/96", "10.9.9.9", 1, false },
		{ "[::]/0", "10.9.9.9", 1, false },
		{ "0.0.0.0/0", "2001:db8::1", 1, false },
		{ "0.0.0.0/0", "::ffff:1.2.3.4", 1, true },
		/* exclusion wins, whatever the order; only excludes: everything else */
		{ "10.0.0.0/8,!10.0.0.1", "10.0.0.1", 1, false },
		{ "!10.0.0.1,10.0.0.0/8", "10.0.0.1", 1, false },
		{ "!10.0.0.1,10.0.0.0/8", "10.0.0.2", 1, true },
		{ "!10.0.0.1", "192.0.2.1", 1, true },
		{ "!10.0.0.1", "::1", 1, true },
		{ "!:22", "192.0.2.1", 22, false },
		{ "!:22", "192.0.2.1", 23, true },
		{ "!10.0.0.0/8", "::ffff:10.1.1.1", 1, false },
		{ "10.0.0.0/8,[fd00::]/8,!10.9.0.0/16,![fd00::9]", "fd00::9", 1, false },
		{ "10.0.0.0/8,[fd00::]/8,!10.9.0.0/16,![fd00::9]", "fd00::8", 1, true },
		{ "10.0.0.0/8,[fd00::]/8,!10.9.0.0/16,![fd00::9]", "10.9.1.1", 1, false },
		{ "1.2.3.4/31", "1.2.3.5", 1, true },
		{ "1.2.3.4/31", "1.2.3.6", 1, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(t); i++)
		if (decide(t[i].list, t[i].ip, t[i].port) != t[i].want)
			fail_msg("'%s' vs %s:%u: want %d", t[i].list, t[i].ip, t[i].port, t[i].want);
}

/* xorshift64*: deterministic, so that a failure can be replayed */
static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ull;
}

/* A few base addresses, so that random patterns and addresses often share prefixes. */
static void random_addr(struct sockaddr_storage *ss, socklen_t *len)
{
	static const char *const base4[] = { "10.0.0.0", "10.1.2.3", "192.168.1.5", "0.0.0.0" };
	static const char *const base6[] = { "2001:db8::", "::1", "fd00::9", "::" };
	static const uint16_t ports[] = { 22, 443, 5432, 6379, 65535 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	uint64_t r = rnd();
	uint8_t *b;
	int i, nb;

	memset(ss, 0, sizeof(*ss));
	switch (r % 3) {
	case 0:
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, base4[(r >> 4) % 4], &s4->sin_addr);
		b = (uint8_t *)&s4->sin_addr;
		nb = 4;
		s4->sin_port = htons(ports[(r >> 8) % 5]);
		*len = sizeof(*s4);
		break;
	case 1:
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, base6[(r >> 4) % 4], &s6->sin6_addr);
		b = (uint8_t *)&s6->sin6_addr;
		nb = 16;
		s6->sin6_port = htons(ports[(r >> 8) % 5]);
		*len = sizeof(*s6);
		break;
	default:		/* IPv4-mapped */
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6->sin6_addr);
		b = (uint8_t *)&s6->sin6_addr + 12;
		nb = 4;
		s6->sin6_port = htons(ports[(r >> 8) % 5]);
		*len = sizeof(*s6);
		break;
	}
	/* flip 0..3 random bits */
	for (i = 0; i < (int)((r >> 12) % 4); i++) {
		uint64_t x = rnd();

		b[x % (uint64_t)nb] ^= (uint8_t)(1u << ((x >> 8) % 8));
	}
}

static void pattern_of(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	uint64_t r = rnd();
	const char *ex = r % 5 == 0 ? "!" : "";
	unsigned int port = 0, pfx;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
		pfx = (unsigned int)((r >> 8) % 33);
		if ((r >> 16) % 4 == 0)
			snprintf(buf, len, "%s:%u", ex, port);
		else if ((r >> 16) % 4 == 1)
			snprintf(buf, len, "%s%s/%u:%u", ex, a, pfx, port);
		else
			snprintf(buf, len, "%s%s/%u", ex, a, pfx);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
		pfx = (unsigned int)((r >> 8) % 129);
		if ((r >> 16) % 4 == 1)
			snprintf(buf, len, "%s[%s]/%u:%u", ex, a, pfx, port);
		else
			snprintf(buf, len, "%s[%s]/%u", ex, a, pfx);
	}
}

static void test_random_lists(void **state)
{
	struct sockaddr_storage ss;
	struct hb_match m;
	char list[2048], pat[160], err[HB_ERR_LEN], what[2300];
	socklen_t len;
	int round, i, n, k, managed = 0, total = 0;

	(void)state;
	for (round = 0; round < 3000; round++) {
		n = 1 + (int)(rnd() % 8);
		list[0] = '\0';
		for (i = 0; i < n; i++) {
			random_addr(&ss, &len);
			pattern_of(&ss, pat, sizeof(pat));
			if (i)
				strcat(list, ",");
			strcat(list, pat);
		}
		assert_int_equal(hb_match_parse(list, &m, err, sizeof(err)), 0);
		for (k = 0; k < 64; k++) {
			random_addr(&ss, &len);
			snprintf(what, sizeof(what), "round %d list '%s'", round, list);
			managed += both(&m, &ss, len, what);
			total++;
		}
	}
	/* the generator must exercise both outcomes */
	assert_true(managed > total / 20 && managed < total - total / 20);
}

/* Every match list of the fuzz corpus that parses, against addresses built from it. */
static void test_corpus(void **state)
{
	const char *dir = getenv("HB_CORPUS") ? getenv("HB_CORPUS") : "tests/fuzz/corpus/fuzz_match";
	struct sockaddr_storage ss;
	struct dirent *de;
	struct hb_match m;
	char path[512], buf[4096], err[HB_ERR_LEN];
	socklen_t len;
	size_t got;
	int files = 0, k;
	FILE *f;
	DIR *d;

	(void)state;
	d = opendir(dir);
	if (!d)
		skip();
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		got = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[got] = '\0';
		if (strlen(buf) != got || hb_match_parse(buf, &m, err, sizeof(err)))
			continue;
		files++;
		for (k = 0; k < 200; k++) {
			random_addr(&ss, &len);
			both(&m, &ss, len, path);
		}
	}
	closedir(d);
	assert_true(files > 0);
}

static void compile(const char *idle, const char *intvl, const char *cnt, const char *uto,
		    const char *ka, const char *match, bool force)
{
	struct hb_policy p;
	char err[HB_ERR_LEN];

	hb_policy_init(&p);
	if (idle)
		assert_int_equal(hb_policy_set(&p, HB_V_IDLE, idle, err, sizeof(err)), 0);
	if (intvl)
		assert_int_equal(hb_policy_set(&p, HB_V_INTVL, intvl, err, sizeof(err)), 0);
	if (cnt)
		assert_int_equal(hb_policy_set(&p, HB_V_CNT, cnt, err, sizeof(err)), 0);
	if (uto)
		assert_int_equal(hb_policy_set(&p, HB_V_USER_TIMEOUT, uto, err, sizeof(err)), 0);
	if (ka)
		assert_int_equal(hb_policy_set(&p, HB_V_KEEPALIVE, ka, err, sizeof(err)), 0);
	if (match)
		assert_int_equal(hb_policy_set_match(&p, match, err, sizeof(err)), 0);
	p.force = force;
	assert_int_equal(hb_pol_compile(&p, &cfg), 0);
}

/* The program's own choice against the policy, before connect() (the recorder's bits) and
 * without a recorder (what the socket shows), with and without --force. */
static void test_decide(void **state)
{
	struct hb_pol_cfg cfg = { .mask = HB_POL_SET_KEEPALIVE | HB_POL_SET_IDLE };

	(void)state;
	/* SO_KEEPALIVE=0 before connect(): recorded, so it stays off, as under the shim */
	assert_int_equal(hb_pol_decide(&cfg, HB_POL_SET_KEEPALIVE, HB_POL_SET_KEEPALIVE, 0, 1),
			 HB_POL_DO_KEEP);
	/* never set: the policy switches it on */
	assert_int_equal(hb_pol_decide(&cfg, HB_POL_SET_KEEPALIVE, 0, 0, 1), HB_POL_DO_SET);
	/* the program turned it on itself: kept (it is the policy's value too, but its own) */
	assert_int_equal(hb_pol_decide(&cfg, HB_POL_SET_KEEPALIVE, HB_POL_SET_KEEPALIVE, 1, 1),
			 HB_POL_DO_KEEP);
	/* TCP_KEEPIDLE 15 s set by the program; without a recorder the field tells */
	assert_int_equal(hb_pol_decide(&cfg, HB_POL_SET_IDLE, HB_POL_SET_IDLE, 15, 60),
			 HB_POL_DO_KEEP);
	assert_int_equal(hb_pol_decide(&cfg, HB_POL_SET_IDLE, 0, 15, 60), HB_POL_DO_KEEP);
	/* inherited from a listener the policy set up */
	assert_int_equal(hb_pol_decide(&cfg, HB_POL_SET_IDLE, 0, 60, 60), HB_POL_DO_HAVE);
	/* a value the policy does not set */
	assert_int_equal(hb_pol_decide(&cfg, HB_POL_SET_CNT, HB_POL_SET_CNT, 3, 6),
			 HB_POL_DO_NOTHING);
	/* --force: the policy wins over every choice of the program's */
	cfg.flags = HB_POL_F_FORCE;
	assert_int_equal(hb_pol_decide(&cfg, HB_POL_SET_KEEPALIVE, HB_POL_SET_KEEPALIVE, 0, 1),
			 HB_POL_DO_SET);
	assert_int_equal(hb_pol_decide(&cfg, HB_POL_SET_IDLE, HB_POL_SET_IDLE, 15, 60),
			 HB_POL_DO_SET);
	assert_int_equal(hb_pol_decide(&cfg, HB_POL_SET_IDLE, 0, 15, 60), HB_POL_DO_SET);
	assert_int_equal(hb_pol_decide(&cfg, HB_POL_SET_IDLE, HB_POL_SET_IDLE, 60, 60),
			 HB_POL_DO_HAVE);
}

static void test_compile_values(void **state)
{
	(void)state;
	/* nothing given: hbkeep's defaults, all set */
	compile(NULL, NULL, NULL, NULL, NULL, NULL, false);
	assert_int_equal(cfg.mask, HB_POL_SET_KEEPALIVE | HB_POL_SET_IDLE | HB_POL_SET_INTVL |
				   HB_POL_SET_CNT);
	assert_int_equal(cfg.idle_s, HB_DEFAULT_IDLE);
	assert_int_equal(cfg.intvl_s, HB_DEFAULT_INTVL);
	assert_int_equal(cfg.cnt, HB_DEFAULT_CNT);
	assert_int_equal(cfg.flags, 0);
	/* one value given replaces that one default (issue 11): 90/10/6, as in the shim */
	compile("90s", NULL, NULL, NULL, NULL, NULL, false);
	assert_int_equal(cfg.mask, HB_POL_SET_KEEPALIVE | HB_POL_SET_IDLE | HB_POL_SET_INTVL |
				   HB_POL_SET_CNT);
	assert_int_equal(cfg.idle_s, 90);
	assert_int_equal(cfg.intvl_s, HB_DEFAULT_INTVL);
	assert_int_equal(cfg.cnt, HB_DEFAULT_CNT);
	/* user timeout in ms; 0 is the kernel's own behaviour: not set */
	compile("1m", "5", "3", "2m", NULL, NULL, true);
	assert_int_equal(cfg.mask, HB_POL_SET_KEEPALIVE | HB_POL_SET_IDLE | HB_POL_SET_INTVL |
				   HB_POL_SET_CNT | HB_POL_SET_UTO);
	assert_int_equal(cfg.idle_s, 60);
	assert_int_equal(cfg.intvl_s, 5);
	assert_int_equal(cfg.cnt, 3);
	assert_int_equal(cfg.user_timeout_ms, 120000);
	assert_int_equal(cfg.flags, HB_POL_F_FORCE);
	compile(NULL, NULL, NULL, "0", NULL, NULL, false);
	assert_false(cfg.mask & HB_POL_SET_UTO);
	/* keepalive off: only the user timeout */
	compile("30", NULL, NULL, "5s", "off", NULL, false);
	assert_int_equal(cfg.mask, HB_POL_SET_UTO);
	assert_int_equal(cfg.user_timeout_ms, 5000);
	/* a match list sets the flag and the patterns, word-wise */
	compile(NULL, NULL, NULL, NULL, NULL, "10.1.0.0/16:80,![2001:db8::]/33", false);
	assert_int_equal(cfg.flags, HB_POL_F_MATCH);
	assert_int_equal(cfg.n, 2);
	assert_int_equal(cfg.n_include, 1);
	assert_int_equal(cfg.pat[0].family, AF_INET);
	assert_int_equal(cfg.pat[0].port, 80);
	assert_int_equal(cfg.pat[0].mask[0], htonl(0xffff0000u));
	assert_int_equal(cfg.pat[0].addr[0], htonl(0x0a010000u));
	assert_int_equal(cfg.pat[1].family, AF_INET6);
	assert_int_equal(cfg.pat[1].exclude, 1);
	assert_int_equal(cfg.pat[1].mask[0], 0xffffffffu);
	assert_int_equal(cfg.pat[1].mask[1], htonl(0x80000000u));
	assert_int_equal(cfg.pat[1].mask[2], 0);
	assert_int_equal(cfg.pat[1].mask[3], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_cases),
		cmocka_unit_test(test_random_lists),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_compile_values),
		cmocka_unit_test(test_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
