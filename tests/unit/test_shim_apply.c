// SPDX-License-Identifier: BSD-2-Clause
/*
 * shim/apply.c through its seam: struct hb_sys with fake setsockopt()/getsockname() that
 * record what the shim asked for. Asserts behaviour (which options, which values, for which
 * sockets), not call order beyond what the contract fixes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "hb/log.h"
#include "hb/paths.h"
#include "hb/policy.h"
#include "../../shim/shim.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP	262
#endif

/* ---- fakes --------------------------------------------------------------------------------- */

#define MAX_CALLS	16

static struct call {
	int fd, level, optname, val;
	socklen_t len;
} calls[MAX_CALLS];
static int ncalls;
static int fail_optname = -1;	/* setsockopt(optname) fails with fail_errno */
static int fail_errno;
static struct sockaddr_storage fake_local;	/* what getsockname() reports */
static socklen_t fake_local_len;
static int getsockname_errno;			/* nonzero: getsockname() fails */
static int ngetsockname;

static int fake_setsockopt(int fd, int level, int optname, const void *val, socklen_t len)
{
	struct call *c;

	assert_true(ncalls < MAX_CALLS);
	c = &calls[ncalls++];
	c->fd = fd;
	c->level = level;
	c->optname = optname;
	c->len = len;
	assert_int_equal(len, sizeof(int));
	memcpy(&c->val, val, sizeof(int));
	if (optname == fail_optname) {
		errno = fail_errno;
		return -1;
	}
	errno = 0;	/* success must not leak anything either */
	return 0;
}

static int fake_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	(void)fd;
	ngetsockname++;
	if (getsockname_errno) {
		errno = getsockname_errno;
		return -1;
	}
	memcpy(sa, &fake_local, fake_local_len < *len ? fake_local_len : *len);
	*len = fake_local_len;
	errno = 0;
	return 0;
}

static const struct hb_sys fake_sys = {
	.setsockopt = fake_setsockopt,
	.getsockname = fake_getsockname,
};

/* The environment hb_policy_from_env() sees: NULL-terminated name, value pairs. */
static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
	const char *const *e;

	for (e = fake_env; e && *e; e += 2)
		if (!strcmp(e[0], name))
			return e[1];
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	memset(calls, 0, sizeof(calls));
	ncalls = 0;
	fail_optname = -1;
	fail_errno = 0;
	memset(&fake_local, 0, sizeof(fake_local));
	fake_local_len = 0;
	getsockname_errno = 0;
	ngetsockname = 0;
	fake_env = NULL;
	hb_set_log_fn(NULL, HB_LOG_OFF);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static const struct hb_sysctl kdef = { 7200, 75, 9 };	/* kernel defaults */
static const struct hb_sysctl same = { 60, 10, 6 };	/* equal to hbkeep's defaults */

static struct hb_policy policy(const char *const *env)
{
	struct hb_policy p;

	fake_env = env;
	assert_int_equal(hb_policy_from_env(&p, fake_getenv), 0);
	return p;
}

/* The value the fake saw for (level, optname), or -1 if it was not set. */
static int set_value(int level, int optname)
{
	int i, v = -1, n = 0;

	for (i = 0; i < ncalls; i++) {
		if (calls[i].level == level && calls[i].optname == optname) {
			v = calls[i].val;
			n++;
		}
	}
	assert_true(n <= 1);	/* never the same option twice */
	return v;
}

static struct sockaddr_in sin4(const char *ip, int port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, ip, &s.sin_addr), 1);
	return s;
}

static struct sockaddr_in6 sin6(const char *ip, int port)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	s.sin6_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET6, ip, &s.sin6_addr), 1);
	return s;
}

/* ---- which socket() calls are ours --------------------------------------------------------- */

static void test_is_tcp(void **state)
{
	(void)state;
	assert_true(hb_shim_is_tcp(AF_INET, SOCK_STREAM, 0));
	assert_true(hb_shim_is_tcp(AF_INET, SOCK_STREAM, IPPROTO_TCP));
	assert_true(hb_shim_is_tcp(AF_INET6, SOCK_STREAM, 0));
	assert_true(hb_shim_is_tcp(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				   IPPROTO_TCP));
	assert_true(hb_shim_is_tcp(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));

	assert_false(hb_shim_is_tcp(AF_INET, SOCK_DGRAM, 0));
	assert_false(hb_shim_is_tcp(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_UDP));
	assert_false(hb_shim_is_tcp(AF_UNIX, SOCK_STREAM, 0));
	assert_false(hb_shim_is_tcp(AF_INET, SOCK_RAW, IPPROTO_TCP));
	assert_false(hb_shim_is_tcp(AF_INET, SOCK_SEQPACKET, 0));
	assert_false(hb_shim_is_tcp(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
	assert_false(hb_shim_is_tcp(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP));
	assert_false(hb_shim_is_tcp(AF_PACKET, SOCK_STREAM, 0));
	assert_false(hb_shim_is_tcp(AF_UNSPEC, SOCK_STREAM, 0));
	/* Unknown type flags are not masked: the kernel rejects them, we don't manage them. */
	assert_false(hb_shim_is_tcp(AF_INET, SOCK_STREAM | 0x40000000, 0));
}

/* ---- the plan ------------------------------------------------------------------------------ */

static void test_apply_defaults(void **state)
{
	struct hb_policy p = policy(NULL);
	struct hb_shim_result res;
	int i;

	(void)state;
	assert_int_equal(hb_shim_apply(7, &p, &kdef, 0, &fake_sys, &res), 4);
	assert_int_equal(ncalls, 4);
	for (i = 0; i < ncalls; i++)
		assert_int_equal(calls[i].fd, 7);
	assert_int_equal(set_value(SOL_SOCKET, SO_KEEPALIVE), 1);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPIDLE), 60);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPINTVL), 10);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPCNT), 6);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_USER_TIMEOUT), -1);
	assert_int_equal(res.calls, 4);
	assert_int_equal(res.failed, 0);
	assert_int_equal(res.app, 0);
	assert_int_equal(res.applied, HB_BIT(HB_V_KEEPALIVE) | HB_BIT(HB_V_IDLE) |
				      HB_BIT(HB_V_INTVL) | HB_BIT(HB_V_CNT));
	/* SO_KEEPALIVE last (policy.h hb_value_order): on a live socket the timer is armed
	 * once, with the final idle time. */
	assert_int_equal(calls[3].optname, SO_KEEPALIVE);
}

static void test_apply_skips_sysctl_values(void **state)
{
	static const char *const env[] = { "HB_KEEPIDLE", "7200", NULL };
	struct hb_policy p = policy(NULL);

	(void)state;
	/* The namespace already has 60/10/6: only SO_KEEPALIVE is needed. */
	assert_int_equal(hb_shim_apply(3, &p, &same, 0, &fake_sys, NULL), 1);
	assert_int_equal(set_value(SOL_SOCKET, SO_KEEPALIVE), 1);

	/* Only idle set, to the sysctl's value: not set; the others stay hbkeep's defaults. */
	ncalls = 0;
	p = policy(env);
	assert_int_equal(hb_shim_apply(3, &p, &kdef, 0, &fake_sys, NULL), 3);
	assert_int_equal(set_value(SOL_SOCKET, SO_KEEPALIVE), 1);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPIDLE), -1);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPINTVL), 10);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPCNT), 6);
}

static void test_apply_user_values(void **state)
{
	static const char *const env[] = {
		"HB_KEEPIDLE", "5m", "HB_KEEPINTVL", "30s", "HB_KEEPCNT", "4",
		"HB_USER_TIMEOUT", "90s", NULL,
	};
	struct hb_policy p = policy(env);

	(void)state;
	assert_int_equal(hb_shim_apply(3, &p, &kdef, 0, &fake_sys, NULL), 5);
	assert_int_equal(set_value(SOL_SOCKET, SO_KEEPALIVE), 1);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPIDLE), 300);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPINTVL), 30);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPCNT), 4);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_USER_TIMEOUT), 90000);
}

static void test_apply_compat_names(void **state)
{
	static const char *const env[] = { "KEEPIDLE", "120", "DD_TCP_KEEPALIVE_PROBES", "3", NULL };
	struct hb_policy p = policy(env);

	(void)state;
	assert_int_equal(hb_shim_apply(3, &p, &kdef, 0, &fake_sys, NULL), 3);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPIDLE), 120);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPCNT), 3);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPINTVL), -1);	/* sysctl's 75 */
}

static void test_apply_msantos(void **state)
{
	static const char *const none[] = { "TCP_KEEPCNT", "9", NULL };
	static const char *const env[] = { "TCP_KEEPIDLE", "30", NULL };
	struct hb_policy p;

	(void)state;
	/* What msantos/libkeepalive sets: 15/15/9 and (15 + 15 * 9) * 1000 ms (the count
	 * equals the kernel's 9 here, so the socket has it already). */
	p = policy(none);
	assert_int_equal(hb_shim_apply(3, &p, &kdef, 0, &fake_sys, NULL), 4);
	assert_int_equal(set_value(SOL_SOCKET, SO_KEEPALIVE), 1);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPIDLE), 15);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPINTVL), 15);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPCNT), -1);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_USER_TIMEOUT), 150000);
	ncalls = 0;
	p = policy(env);
	hb_shim_apply(3, &p, &kdef, 0, &fake_sys, NULL);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPIDLE), 30);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_USER_TIMEOUT), 165000);
}

static void test_keepalive_off(void **state)
{
	static const char *const off[] = { "HB_KEEPALIVE", "off", NULL };
	static const char *const uto[] = { "HB_KEEPALIVE", "0", "HB_USER_TIMEOUT", "5s", NULL };
	static const char *const compat[] = { "KEEPALIVE", "off", NULL };
	struct hb_policy p;

	(void)state;
	p = policy(off);
	assert_true(hb_policy_is_noop(&p));
	assert_int_equal(hb_shim_apply(3, &p, &kdef, 0, &fake_sys, NULL), 0);
	assert_int_equal(ncalls, 0);

	p = policy(compat);
	assert_true(hb_policy_is_noop(&p));

	/* Keepalive left alone, the user timeout still applies. */
	p = policy(uto);
	assert_false(hb_policy_is_noop(&p));
	assert_int_equal(hb_shim_apply(3, &p, &kdef, 0, &fake_sys, NULL), 1);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_USER_TIMEOUT), 5000);
	assert_int_equal(set_value(SOL_SOCKET, SO_KEEPALIVE), -1);
}

static void test_apply_preserves_errno_on_failure(void **state)
{
	struct hb_policy p = policy(NULL);
	struct hb_shim_result res;

	(void)state;
	fail_optname = TCP_KEEPIDLE;
	fail_errno = EPERM;
	errno = 4242;
	assert_int_equal(hb_shim_apply(9, &p, &kdef, 0, &fake_sys, &res), 4);
	assert_int_equal(errno, 4242);
	/* One failure does not stop the rest. */
	assert_int_equal(ncalls, 4);
	assert_int_equal(res.failed, 1);
	assert_int_equal(res.err, EPERM);
	assert_int_equal(res.err_v, HB_V_IDLE);
	assert_false(res.applied & HB_BIT(HB_V_IDLE));
	assert_true(res.applied & HB_BIT(HB_V_CNT));

	/* Success leaves errno alone too (the fake zeroes it). */
	ncalls = 0;
	fail_optname = -1;
	errno = EAGAIN;
	hb_shim_apply(9, &p, &kdef, 0, &fake_sys, NULL);
	assert_int_equal(errno, EAGAIN);
}

/* ---- the application's own choices --------------------------------------------------------- */

static void test_app_wins(void **state)
{
	struct hb_policy p = policy(NULL);
	struct hb_shim_result res;
	unsigned int app = HB_BIT(HB_V_KEEPALIVE) | HB_BIT(HB_V_IDLE);

	(void)state;
	assert_int_equal(hb_shim_apply(3, &p, &kdef, app, &fake_sys, &res), 2);
	assert_int_equal(set_value(SOL_SOCKET, SO_KEEPALIVE), -1);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPIDLE), -1);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPINTVL), 10);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPCNT), 6);
	assert_int_equal(res.app, app);

	/* Everything chosen by the app: nothing left to do. */
	ncalls = 0;
	assert_int_equal(hb_shim_apply(3, &p, &kdef, HB_ALL_BITS, &fake_sys, NULL), 0);
}

static void test_force_reasserts(void **state)
{
	static const char *const env[] = { "HB_FORCE", "1", NULL };
	struct hb_policy p = policy(env);
	struct hb_shim_result res;

	(void)state;
	assert_true(p.force);
	/* With HB_FORCE the app's earlier choices (match-list mode) are set back. */
	assert_int_equal(hb_shim_apply(3, &p, &kdef, HB_BIT(HB_V_IDLE), &fake_sys, &res), 4);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPIDLE), 60);
	assert_int_equal(res.app, 0);

	/* Even a value the plan skips because the sysctl has it already. */
	ncalls = 0;
	assert_int_equal(hb_shim_apply(3, &p, &same, HB_BIT(HB_V_IDLE), &fake_sys, NULL), 2);
	assert_int_equal(set_value(SOL_SOCKET, SO_KEEPALIVE), 1);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_KEEPIDLE), 60);

	/* But not a user timeout the policy does not have. */
	ncalls = 0;
	assert_int_equal(hb_shim_apply(3, &p, &same, HB_BIT(HB_V_USER_TIMEOUT), &fake_sys, NULL),
			 1);
	assert_int_equal(set_value(IPPROTO_TCP, TCP_USER_TIMEOUT), -1);
}

static void test_force_value(void **state)
{
	static const char *const force[] = { "HB_FORCE", "yes", "HB_KEEPIDLE", "45", NULL };
	static const char *const force_off[] = {
		"HB_FORCE", "1", "HB_KEEPALIVE", "off", "HB_USER_TIMEOUT", "10s", NULL,
	};
	const unsigned int managed = HB_FD_TCP | HB_FD_MANAGED;
	struct hb_policy p = policy(force), nf = policy(NULL);
	int one = 1, zero = 0, val = -1;

	(void)state;
	assert_true(hb_shim_force_value(&p, &kdef, managed, SOL_SOCKET, SO_KEEPALIVE, &zero,
					sizeof(zero), &val));
	assert_int_equal(val, 1);
	assert_true(hb_shim_force_value(&p, &kdef, managed, IPPROTO_TCP, TCP_KEEPIDLE, &one,
					sizeof(one), &val));
	assert_int_equal(val, 45);
	assert_true(hb_shim_force_value(&p, &kdef, managed, IPPROTO_TCP, TCP_KEEPINTVL, &one,
					sizeof(one), &val));
	assert_int_equal(val, 10);	/* hbkeep's default: only idle was set */

	/* Not forced: no HB_FORCE, not managed, not ours, not our option. */
	assert_false(hb_shim_force_value(&nf, &kdef, managed, IPPROTO_TCP, TCP_KEEPIDLE, &one,
					 sizeof(one), &val));
	assert_false(hb_shim_force_value(&p, &kdef, HB_FD_TCP, IPPROTO_TCP, TCP_KEEPIDLE, &one,
					 sizeof(one), &val));
	assert_false(hb_shim_force_value(&p, &kdef, 0, SOL_SOCKET, SO_KEEPALIVE, &one,
					 sizeof(one), &val));
	assert_false(hb_shim_force_value(&p, &kdef, managed, SOL_SOCKET, SO_REUSEADDR, &one,
					 sizeof(one), &val));
	assert_false(hb_shim_force_value(&p, &kdef, managed, IPPROTO_TCP, TCP_NODELAY, &one,
					 sizeof(one), &val));
	assert_false(hb_shim_force_value(&p, &kdef, managed, IPPROTO_IP, TCP_KEEPIDLE, &one,
					 sizeof(one), &val));
	/* A call the kernel would reject keeps its error. */
	assert_false(hb_shim_force_value(&p, &kdef, managed, SOL_SOCKET, SO_KEEPALIVE, NULL,
					 sizeof(int), &val));
	assert_false(hb_shim_force_value(&p, &kdef, managed, SOL_SOCKET, SO_KEEPALIVE, &one, 2,
					 &val));
	/* No user timeout in the policy: the app's stays. */
	assert_false(hb_shim_force_value(&p, &kdef, managed, IPPROTO_TCP, TCP_USER_TIMEOUT,
					 &one, sizeof(one), &val));

	/* HB_KEEPALIVE=off leaves keepalive to the app even with HB_FORCE. */
	p = policy(force_off);
	assert_false(hb_shim_force_value(&p, &kdef, managed, SOL_SOCKET, SO_KEEPALIVE, &one,
					 sizeof(one), &val));
	assert_false(hb_shim_force_value(&p, &kdef, managed, IPPROTO_TCP, TCP_KEEPIDLE, &one,
					 sizeof(one), &val));
	assert_true(hb_shim_force_value(&p, &kdef, managed, IPPROTO_TCP, TCP_USER_TIMEOUT, &one,
					sizeof(one), &val));
	assert_int_equal(val, 10000);
	ncalls = 0;
	assert_int_equal(hb_shim_apply(3, &p, &kdef, HB_BIT(HB_V_KEEPALIVE), &fake_sys, NULL), 1);
	assert_int_equal(set_value(SOL_SOCKET, SO_KEEPALIVE), -1);
}

static void test_record(void **state)
{
	(void)state;
	assert_int_equal(hb_shim_record(HB_FD_TCP, SOL_SOCKET, SO_KEEPALIVE),
			 HB_BIT(HB_V_KEEPALIVE));
	assert_int_equal(hb_shim_record(HB_FD_TCP, IPPROTO_TCP, TCP_KEEPIDLE), HB_BIT(HB_V_IDLE));
	assert_int_equal(hb_shim_record(HB_FD_TCP, IPPROTO_TCP, TCP_KEEPINTVL),
			 HB_BIT(HB_V_INTVL));
	assert_int_equal(hb_shim_record(HB_FD_TCP | HB_FD_MANAGED, IPPROTO_TCP, TCP_KEEPCNT),
			 HB_BIT(HB_V_CNT));
	assert_int_equal(hb_shim_record(HB_FD_TCP, IPPROTO_TCP, TCP_USER_TIMEOUT),
			 HB_BIT(HB_V_USER_TIMEOUT));
	assert_int_equal(hb_shim_record(HB_FD_TCP, SOL_SOCKET, SO_REUSEADDR), 0);
	assert_int_equal(hb_shim_record(HB_FD_TCP, IPPROTO_TCP, TCP_NODELAY), 0);
	assert_int_equal(hb_shim_record(0, SOL_SOCKET, SO_KEEPALIVE), 0);	/* not ours */
	/* The recorded bits fit the state byte below the flags. */
	assert_int_equal(HB_FD_APP & (HB_FD_TCP | HB_FD_MANAGED | HB_FD_DECIDED), 0);
}

/* ---- match lists --------------------------------------------------------------------------- */

static void test_connect_wants(void **state)
{
	static const char *const env[] = { "HB_MATCH", "10.0.0.0/8,!10.9.0.0/16,[2001:db8::]/32",
					   NULL };
	struct hb_policy p = policy(env), nomatch = policy(NULL);
	struct sockaddr_in a = sin4("10.1.2.3", 80), b = sin4("192.168.1.1", 80),
			   x = sin4("10.9.1.1", 80);
	struct sockaddr_in6 c = sin6("2001:db8::1", 443), m = sin6("::ffff:10.0.0.1", 80);
	struct sockaddr_un u = { .sun_family = AF_UNIX, .sun_path = "/tmp/x" };
	struct sockaddr un = { .sa_family = AF_UNSPEC };

	(void)state;
	assert_true(p.has_match);
	assert_true(hb_shim_connect_wants(&p, HB_FD_TCP, (struct sockaddr *)&a, sizeof(a)));
	assert_true(hb_shim_connect_wants(&p, HB_FD_TCP | HB_BIT(HB_V_IDLE),
					  (struct sockaddr *)&a, sizeof(a)));
	assert_true(hb_shim_connect_wants(&p, HB_FD_TCP, (struct sockaddr *)&c, sizeof(c)));
	assert_true(hb_shim_connect_wants(&p, HB_FD_TCP, (struct sockaddr *)&m, sizeof(m)));
	assert_false(hb_shim_connect_wants(&p, HB_FD_TCP, (struct sockaddr *)&b, sizeof(b)));
	assert_false(hb_shim_connect_wants(&p, HB_FD_TCP, (struct sockaddr *)&x, sizeof(x)));
	/* Already managed, not ours (UDP, AF_UNIX, ...): no decision. */
	assert_false(hb_shim_connect_wants(&p, HB_FD_TCP | HB_FD_MANAGED, (struct sockaddr *)&a,
					   sizeof(a)));
	assert_false(hb_shim_connect_wants(&p, 0, (struct sockaddr *)&a, sizeof(a)));
	/* Odd addresses. */
	assert_false(hb_shim_connect_wants(&p, HB_FD_TCP, (struct sockaddr *)&u, sizeof(u)));
	assert_false(hb_shim_connect_wants(&p, HB_FD_TCP, &un, sizeof(un)));
	assert_false(hb_shim_connect_wants(&p, HB_FD_TCP, NULL, 0));
	assert_false(hb_shim_connect_wants(&p, HB_FD_TCP, (struct sockaddr *)&a, 8));
	assert_false(hb_shim_connect_wants(&p, HB_FD_TCP, (struct sockaddr *)&c, sizeof(a)));
	/* Without a match list, socket() already did the work. */
	assert_false(hb_shim_connect_wants(&nomatch, HB_FD_TCP, (struct sockaddr *)&a,
					   sizeof(a)));
}

static void set_local(const void *sa, socklen_t len)
{
	memcpy(&fake_local, sa, len);
	fake_local_len = len;
}

static void test_listen_decide(void **state)
{
	static const char *const port[] = { "HB_MATCH", ":5432", NULL };
	static const char *const net[] = { "HB_MATCH", "10.0.0.0/8", NULL };
	static const char *const any[] = { "HB_MATCH", "0.0.0.0/0", NULL };
	struct hb_policy pp = policy(port), pn = policy(net), pa = policy(any), none = policy(NULL);
	struct sockaddr_in wild = sin4("0.0.0.0", 5432), lo = sin4("127.0.0.1", 5432),
			   ten = sin4("10.0.0.5", 80), unbound = sin4("0.0.0.0", 0);
	struct sockaddr_in6 wild6 = sin6("::", 5432);
	struct sockaddr_storage ss;
	socklen_t len;

	(void)state;
	set_local(&wild, sizeof(wild));
	assert_int_equal(hb_shim_listen_decide(4, &pp, HB_FD_TCP, &fake_sys, false, &ss, &len),
			 HB_LISTEN_APPLY);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_port, htons(5432));
	/* A wildcard bind is matched as the wildcard: not inside 10.0.0.0/8. */
	assert_int_equal(hb_shim_listen_decide(4, &pn, HB_FD_TCP, &fake_sys, false, &ss, &len),
			 HB_LISTEN_SKIP);
	assert_int_equal(hb_shim_listen_decide(4, &pa, HB_FD_TCP, &fake_sys, false, &ss, &len),
			 HB_LISTEN_APPLY);
	set_local(&wild6, sizeof(wild6));
	assert_int_equal(hb_shim_listen_decide(4, &pp, HB_FD_TCP, &fake_sys, false, &ss, &len),
			 HB_LISTEN_APPLY);
	set_local(&lo, sizeof(lo));
	assert_int_equal(hb_shim_listen_decide(4, &pn, HB_FD_TCP, &fake_sys, false, &ss, &len),
			 HB_LISTEN_SKIP);
	set_local(&ten, sizeof(ten));
	assert_int_equal(hb_shim_listen_decide(4, &pn, HB_FD_TCP, &fake_sys, false, &ss, &len),
			 HB_LISTEN_APPLY);
	assert_int_equal(hb_shim_listen_decide(4, &pp, HB_FD_TCP, &fake_sys, false, &ss, &len),
			 HB_LISTEN_SKIP);

	/* Unbound: decide after listen() picked the port. */
	set_local(&unbound, sizeof(unbound));
	assert_int_equal(hb_shim_listen_decide(4, &pp, HB_FD_TCP, &fake_sys, false, &ss, &len),
			 HB_LISTEN_LATER);
	assert_int_equal(hb_shim_listen_decide(4, &pp, HB_FD_TCP, &fake_sys, true, &ss, &len),
			 HB_LISTEN_SKIP);

	/* Not ours, already decided or managed: not even a getsockname(). */
	ngetsockname = 0;
	assert_int_equal(hb_shim_listen_decide(4, &pp, 0, &fake_sys, false, &ss, &len),
			 HB_LISTEN_NONE);
	assert_int_equal(hb_shim_listen_decide(4, &pp, HB_FD_TCP | HB_FD_DECIDED, &fake_sys,
					       false, &ss, &len), HB_LISTEN_NONE);
	assert_int_equal(hb_shim_listen_decide(4, &pp, HB_FD_TCP | HB_FD_MANAGED, &fake_sys,
					       false, &ss, &len), HB_LISTEN_NONE);
	assert_int_equal(hb_shim_listen_decide(4, &none, HB_FD_TCP, &fake_sys, false,
					       &ss, &len), HB_LISTEN_NONE);
	assert_int_equal(ngetsockname, 0);

	/* getsockname() failing (a stale fd): no decision, errno untouched. */
	getsockname_errno = ENOTSOCK;
	errno = 77;
	assert_int_equal(hb_shim_listen_decide(4, &pp, HB_FD_TCP, &fake_sys, false, &ss, &len),
			 HB_LISTEN_NONE);
	assert_int_equal(errno, 77);
}

/* ---- the log line -------------------------------------------------------------------------- */

static void test_describe(void **state)
{
	static const char *const uto[] = { "HB_KEEPALIVE", "off", "HB_USER_TIMEOUT", "30s", NULL };
	struct hb_policy p = policy(NULL);
	struct sockaddr_in a = sin4("10.0.0.2", 80);
	struct sockaddr_in6 b = sin6("::1", 443);
	struct hb_shim_result res;
	char buf[256];

	(void)state;
	hb_shim_apply(5, &p, &kdef, 0, &fake_sys, &res);
	hb_shim_describe(buf, sizeof(buf), 5, AF_INET, (struct sockaddr *)&a, sizeof(a), &p,
			 &kdef, &res);
	assert_string_equal(buf, "fd 5 inet 10.0.0.2:80: keepalive on idle 60 intvl 10 cnt 6 "
			    "(4 setsockopt)");
	hb_shim_describe(buf, sizeof(buf), 6, AF_INET6, NULL, 0, &p, &kdef, &res);
	assert_string_equal(buf, "fd 6 inet6: keepalive on idle 60 intvl 10 cnt 6 (4 setsockopt)");
	hb_shim_describe(buf, sizeof(buf), 6, AF_UNSPEC, (struct sockaddr *)&b, sizeof(b), &p,
			 &kdef, &res);
	assert_string_equal(buf, "fd 6 inet6 [::1]:443: keepalive on idle 60 intvl 10 cnt 6 "
			    "(4 setsockopt)");

	fail_optname = TCP_KEEPCNT;
	fail_errno = EPERM;
	hb_shim_apply(5, &p, &kdef, HB_BIT(HB_V_IDLE), &fake_sys, &res);
	hb_shim_describe(buf, sizeof(buf), 5, AF_INET, NULL, 0, &p, &kdef, &res);
	assert_string_equal(buf, "fd 5 inet: keepalive on idle (app) intvl 10 cnt 6 "
			    "(3 setsockopt, 1 failed: cnt: Operation not permitted)");

	fail_optname = -1;
	p = policy(uto);
	hb_shim_apply(5, &p, &kdef, 0, &fake_sys, &res);
	hb_shim_describe(buf, sizeof(buf), 5, AF_INET, NULL, 0, &p, &kdef, &res);
	assert_string_equal(buf, "fd 5 inet: user_timeout 30000ms (1 setsockopt)");

	/* Cut, never overrun. */
	memset(buf, 'x', sizeof(buf));
	assert_true(hb_shim_describe(buf, 10, 5, AF_INET, NULL, 0, &p, &kdef, &res) >= 10);
	assert_int_equal(strlen(buf), 9);
	assert_int_equal(buf[10], 'x');
}

/* ---- the program's own choice: the override line ------------------------------------------ */

static void test_override_line(void **state)
{
	static const char *const uto[] = { "HB_USER_TIMEOUT", "20s", NULL };
	static const char *const off[] = { "HB_KEEPALIVE", "off", "HB_USER_TIMEOUT", "20s", NULL };
	struct hb_policy p = policy(NULL);
	struct hb_want w;
	char buf[128];

	(void)state;
	hb_policy_want(&p, &kdef, &w);
	assert_true(hb_shim_overrides(&w, HB_V_IDLE, 15));
	assert_false(hb_shim_overrides(&w, HB_V_IDLE, 60));	/* the same value: no news */
	assert_true(hb_shim_overrides(&w, HB_V_KEEPALIVE, 0));
	assert_false(hb_shim_overrides(&w, HB_V_KEEPALIVE, 1));
	assert_false(hb_shim_overrides(&w, HB_V_KEEPALIVE, 7));	/* any non-zero is on */
	assert_false(hb_shim_overrides(&w, HB_V_USER_TIMEOUT, 5000));	/* no policy value */
	p = policy(uto);
	hb_policy_want(&p, &kdef, &w);
	assert_true(hb_shim_overrides(&w, HB_V_USER_TIMEOUT, 5000));
	assert_false(hb_shim_overrides(&w, HB_V_USER_TIMEOUT, 20000));
	p = policy(off);	/* keepalive left to the program: nothing to override */
	hb_policy_want(&p, &kdef, &w);
	assert_false(hb_shim_overrides(&w, HB_V_KEEPALIVE, 1));
	assert_false(hb_shim_overrides(&w, HB_V_IDLE, 15));

	hb_shim_describe_override(buf, sizeof(buf), 5, HB_V_IDLE, 15);
	assert_string_equal(buf, "fd 5: program set TCP_KEEPIDLE 15; HB_FORCE=1 overrides");
	hb_shim_describe_override(buf, sizeof(buf), 12, HB_V_KEEPALIVE, 0);
	assert_string_equal(buf, "fd 12: program set SO_KEEPALIVE 0; HB_FORCE=1 overrides");
}

/* ---- HB_KEEPIDLE=auto ---------------------------------------------------------------------- */

static char logged[4][200];
static int nlogged;

static void capture(enum hb_log_level level, const char *msg)
{
	(void)level;
	if (nlogged < 4)
		snprintf(logged[nlogged], sizeof(logged[0]), "%s", msg);
	nlogged++;
}

static struct hb_shim_auto auto_env(const char *const *env, int bad)
{
	struct hb_shim_auto a;

	fake_env = env;
	nlogged = 0;
	hb_set_log_fn(capture, HB_LOG_ERROR);
	assert_int_equal(hb_shim_auto_env(fake_getenv, &a), bad);
	assert_int_equal(nlogged, bad);
	hb_set_log_fn(NULL, HB_LOG_OFF);
	return a;
}

static void test_auto_env(void **state)
{
	static const char *const none[] = { "HB_KEEPIDLE", "30", NULL };
	static const char *const on[] = { "HB_KEEPIDLE", "auto", NULL };
	static const char *const bounds[] = { "HB_KEEPIDLE", "AUTO", "HB_IDLE_DEFAULT", "2m",
					      "HB_IDLE_MAX", "300s", NULL };
	static const char *const bad[] = { "HB_KEEPIDLE", "auto", "HB_IDLE_DEFAULT", "1500ms",
					   "HB_IDLE_MAX", "0", NULL };
	static const char *const alone[] = { "HB_IDLE_MAX", "300", NULL };
	struct hb_shim_auto a;

	(void)state;
	a = auto_env(NULL, 0);
	assert_false(a.on);
	a = auto_env(none, 0);
	assert_false(a.on);
	a = auto_env(on, 0);
	assert_true(a.on);
	assert_int_equal(a.idle_default, 60);
	assert_int_equal(a.idle_max, 600);
	a = auto_env(bounds, 0);
	assert_true(a.on);
	assert_int_equal(a.idle_default, 120);
	assert_int_equal(a.idle_max, 300);
	/* each bad value: one line naming it, and its default stays */
	a = auto_env(bad, 2);
	assert_true(a.on);
	assert_int_equal(a.idle_default, 60);
	assert_int_equal(a.idle_max, 600);
	assert_non_null(strstr(logged[0], "HB_IDLE_DEFAULT: "));
	assert_non_null(strstr(logged[1], "HB_IDLE_MAX: "));
	a = auto_env(alone, 1);
	assert_false(a.on);
	assert_string_equal(logged[0], "HB_IDLE_MAX: goes with HB_KEEPIDLE=auto: ignored");
}

static struct hb_paths table(const char *text)
{
	struct hb_paths t;
	char err[HB_ERR_LEN];

	hb_paths_init(&t);
	assert_int_equal(hb_paths_parse(text, strlen(text), &t, err, sizeof(err)), 0);
	return t;
}

static void test_auto_decide(void **state)
{
	struct hb_paths t = table(
		"10.0.0.0/8 survived=0s dropped=300s source=manual time=0\n"
		"10.1.0.0/16 survived=0s dropped=30s source=manual time=0\n"
		"10.1.2.3 survived=0s dropped=6s source=manual time=0\n"
		"10.0.0.0/8:443 survived=0s dropped=24s source=manual time=0\n"
		"192.0.2.0/24 survived=40s dropped=none source=probe time=0\n"
		"198.51.100.0/24 survived=70s dropped=75s source=probe time=0\n"
		"203.0.113.1 survived=0s dropped=1s source=manual time=0\n"
		"[2001:db8::]/32 survived=0s dropped=10s source=manual time=0\n");
	struct hb_shim_auto a = { .on = true, .idle_default = 60, .idle_max = 600 };
	const unsigned int ours = HB_FD_TCP | HB_FD_MANAGED;
	const struct hb_path *e = NULL;
	struct sockaddr_in s;
	struct sockaddr_in6 s6;
	int idle = -1;

	(void)state;
#define DECIDE(sa, st, force) \
	hb_shim_auto_decide(&t, &a, force, st, (const struct sockaddr *)&(sa), sizeof(sa), &idle, &e)
	/* the longest prefix: floor(0.8 x dropped) */
	s = sin4("10.9.9.9", 80);
	assert_int_equal(DECIDE(s, ours, false), HB_AUTO_SET);
	assert_int_equal(idle, 240);
	assert_int_equal(e->dest.prefix, 8);
	s = sin4("10.1.9.9", 80);
	assert_int_equal(DECIDE(s, ours, false), HB_AUTO_SET);
	assert_int_equal(idle, 24);
	s = sin4("10.1.2.3", 80);
	assert_int_equal(DECIDE(s, ours, false), HB_AUTO_SET);
	assert_int_equal(idle, 4);
	/* a port beats no port, even against a longer prefix */
	s = sin4("10.1.2.3", 443);
	assert_int_equal(DECIDE(s, ours, false), HB_AUTO_SET);
	assert_int_equal(idle, 19);
	assert_int_equal(e->dest.port, 443);
	/* survived with no drop: idle-max; no entry: idle-default, nothing to set */
	s = sin4("192.0.2.7", 80);
	assert_int_equal(DECIDE(s, ours, false), HB_AUTO_SET);
	assert_int_equal(idle, 600);
	s = sin4("172.16.0.1", 80);
	assert_int_equal(DECIDE(s, ours, false), HB_AUTO_KEEP);
	assert_int_equal(idle, 60);
	assert_null(e);
	/* a path whose idle is the default: nothing to set (floor(0.8 x 75) = 60) */
	s = sin4("198.51.100.9", 80);
	assert_int_equal(DECIDE(s, ours, false), HB_AUTO_KEEP);
	assert_int_equal(idle, 60);
	assert_non_null(e);
	/* at least 1 s */
	s = sin4("203.0.113.1", 80);
	assert_int_equal(DECIDE(s, ours, false), HB_AUTO_SET);
	assert_int_equal(idle, 1);
	/* IPv6, and IPv4-mapped looked up as IPv4 */
	s6 = sin6("2001:db8::5", 80);
	assert_int_equal(DECIDE(s6, ours, false), HB_AUTO_SET);
	assert_int_equal(idle, 8);
	s6 = sin6("::ffff:10.1.2.3", 80);
	assert_int_equal(DECIDE(s6, ours, false), HB_AUTO_SET);
	assert_int_equal(idle, 4);
	/* the bounds from HB_IDLE_DEFAULT / HB_IDLE_MAX */
	a.idle_max = 100;
	a.idle_default = 30;
	s = sin4("10.9.9.9", 80);
	assert_int_equal(DECIDE(s, ours, false), HB_AUTO_SET);
	assert_int_equal(idle, 100);
	s = sin4("192.0.2.7", 80);
	assert_int_equal(DECIDE(s, ours, false), HB_AUTO_SET);
	assert_int_equal(idle, 100);
	s = sin4("172.16.0.1", 80);
	assert_int_equal(DECIDE(s, ours, false), HB_AUTO_KEEP);
	assert_int_equal(idle, 30);

	/* not ours: not TCP, not managed (match list said no), decided already */
	s = sin4("10.1.2.3", 80);
	assert_int_equal(DECIDE(s, 0, false), HB_AUTO_NONE);
	assert_int_equal(DECIDE(s, HB_FD_TCP, false), HB_AUTO_NONE);
	assert_int_equal(DECIDE(s, ours | HB_FD_PATHED, false), HB_AUTO_NONE);
	/* the program's own TCP_KEEPIDLE wins, unless HB_FORCE; its other values do not count */
	assert_int_equal(DECIDE(s, ours | HB_BIT(HB_V_IDLE), false), HB_AUTO_NONE);
	assert_int_equal(DECIDE(s, ours | HB_BIT(HB_V_IDLE), true), HB_AUTO_SET);
	assert_int_equal(DECIDE(s, ours | HB_BIT(HB_V_INTVL) | HB_BIT(HB_V_CNT), false),
			 HB_AUTO_SET);
	/* no inet address: AF_UNSPEC (dissolve), short */
	{
		struct sockaddr un = { .sa_family = AF_UNSPEC };

		assert_int_equal(DECIDE(un, ours, false), HB_AUTO_NONE);
		assert_int_equal(hb_shim_auto_decide(&t, &a, false, ours,
						     (const struct sockaddr *)&s, 4, &idle, &e),
				 HB_AUTO_NONE);
	}
	/* an empty table (missing, unreadable): the default for every destination */
	hb_paths_free(&t);
	assert_int_equal(DECIDE(s, ours, false), HB_AUTO_KEEP);
	assert_int_equal(idle, 30);
#undef DECIDE
}

static void test_auto_line(void **state)
{
	struct hb_paths t = table(
		"198.51.100.2:7000 survived=0s dropped=24s source=manual time=0\n"
		"192.0.2.0/24 survived=40500ms dropped=none source=probe time=0\n");
	struct sockaddr_in a = sin4("198.51.100.2", 7000), b = sin4("192.0.2.9", 80),
			   c = sin4("10.0.0.1", 22);
	struct sockaddr_in6 d = sin6("2001:db8::1", 443);
	char buf[256];

	(void)state;
	hb_shim_describe_auto(buf, sizeof(buf), 5, (struct sockaddr *)&a, sizeof(a), &t.e[0], 19, 0);
	assert_string_equal(buf, "fd 5 198.51.100.2:7000: idle 19 s from path 198.51.100.2:7000 "
			    "(dropped 24 s)");
	hb_shim_describe_auto(buf, sizeof(buf), 6, (struct sockaddr *)&b, sizeof(b), &t.e[1], 600,
			      0);
	assert_string_equal(buf, "fd 6 192.0.2.9:80: idle 600 s from path 192.0.2.0/24 "
			    "(survived 40.500 s, no drop: HB_IDLE_MAX)");
	hb_shim_describe_auto(buf, sizeof(buf), 7, (struct sockaddr *)&c, sizeof(c), NULL, 60, 0);
	assert_string_equal(buf, "fd 7 10.0.0.1:22: idle 60 s, no path entry (HB_IDLE_DEFAULT)");
	hb_shim_describe_auto(buf, sizeof(buf), 8, (struct sockaddr *)&d, sizeof(d), NULL, 60,
			      EPERM);
	assert_string_equal(buf, "fd 8 [2001:db8::1]:443: idle 60 s, no path entry "
			    "(HB_IDLE_DEFAULT): setsockopt TCP_KEEPIDLE failed: Operation not "
			    "permitted");
	/* cut, never overrun */
	memset(buf, 'x', sizeof(buf));
	assert_true(hb_shim_describe_auto(buf, 12, 5, (struct sockaddr *)&a, sizeof(a), &t.e[0],
					  19, 0) >= 12);
	assert_int_equal(strlen(buf), 11);
	assert_int_equal(buf[12], 'x');
	hb_paths_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_is_tcp, setup),
		cmocka_unit_test_setup(test_apply_defaults, setup),
		cmocka_unit_test_setup(test_apply_skips_sysctl_values, setup),
		cmocka_unit_test_setup(test_apply_user_values, setup),
		cmocka_unit_test_setup(test_apply_compat_names, setup),
		cmocka_unit_test_setup(test_apply_msantos, setup),
		cmocka_unit_test_setup(test_keepalive_off, setup),
		cmocka_unit_test_setup(test_apply_preserves_errno_on_failure, setup),
		cmocka_unit_test_setup(test_app_wins, setup),
		cmocka_unit_test_setup(test_force_reasserts, setup),
		cmocka_unit_test_setup(test_force_value, setup),
		cmocka_unit_test_setup(test_record, setup),
		cmocka_unit_test_setup(test_connect_wants, setup),
		cmocka_unit_test_setup(test_listen_decide, setup),
		cmocka_unit_test_setup(test_describe, setup),
		cmocka_unit_test_setup(test_override_line, setup),
		cmocka_unit_test_setup(test_auto_env, setup),
		cmocka_unit_test_setup(test_auto_decide, setup),
		cmocka_unit_test_setup(test_auto_line, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
