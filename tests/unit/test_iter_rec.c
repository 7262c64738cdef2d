// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests for the BPF iterator back end's record conversion (bpf/iter_rec.c, bpf/iter_int.h)
 * and its read loop (bpf/iter_read.c), linked without libbpf: hand-built records of
 * iter.bpf.c's layout (hb/iter.h) in, struct hb_sock out, checked field by field for what
 * `hbctl ls --backend bpf` prints: addresses and ports, state, keepalive and its values with
 * their source (socket or sysctl), timers, ages and idle time, and the owners joined by inode.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "hb/bpf_loader.h"
#include "hb/iter.h"
#include "hb/sock.h"
#include "../../bpf/iter_int.h"

#define HZ	250u
/* a jiffies clock past the 32-bit wrap (it starts 5 minutes before it) */
#define NOW	(0x100000000ULL + 3600ULL * HZ)

/* One listing: the list, the conversion that appends to it, the owner walk's records. */
struct fix {
	struct hb_sock_list l;
	struct hb_iter_conv c;
	struct hb_iter_fds f;
};

static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	hb__iter_conv_init(&x->c, &x->l);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	hb__iter_conv_free(&x->c);
	hb__iter_fds_free(&x->f);
	hb_sock_list_free(&x->l);
	free(x);
	return 0;
}

static void addr(int family, const char *text, __u8 out[16])
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(family, text, out), 1);
}

/* An established IPv4 socket with every option at the sysctl (0 in the socket's field). */
static struct hb_iter_sock full(void)
{
	struct hb_iter_sock r;

	memset(&r, 0xa5, sizeof(r));	/* no field left to chance: each one set below */
	memset(r.laddr, 0, sizeof(r.laddr));
	memset(r.raddr, 0, sizeof(r.raddr));
	r.cookie = 0x1122334455667788ULL;
	r.inode = 0x100000007ULL;
	r.now = NOW;
	r.timer_expires = 0;
	addr(AF_INET, "10.1.2.3", r.laddr);
	addr(AF_INET, "192.0.2.7", r.raddr);
	r.uid = 1000;
	r.ifindex = 0;
	r.lport = 8080;
	r.rport = 443;
	r.family = AF_INET;
	r.state = TCP_ESTABLISHED;
	r.kind = HB_ITER_FULL;
	r.flags = 0;
	r.timer = HB_ITER_TIMER_NONE;
	r.probes = 0;
	r.ka_probes = 0;
	r.sys_ka_probes = 9;
	r.hz = HZ;
	r.ka_time = 0;
	r.ka_intvl = 0;
	r.sys_ka_time = 7200 * HZ;
	r.sys_ka_intvl = 75 * HZ;
	r.user_timeout = 0;
	r.lsndtime = 0;
	r.lrcvtime = 0;
	r.rcv_tstamp = 0;
	return r;
}

/* Converts r into x's list and returns the new record. */
static struct hb_sock *conv(struct fix *x, const struct hb_iter_sock *r)
{
	size_t n = x->l.n;

	assert_int_equal(hb__iter_sock_rec(r, &x->c), 0);
	assert_int_equal(x->l.n, n + 1);
	return &x->l.v[n];
}

static const char *ntop(const struct hb_sock *s, const uint8_t a[16])
{
	static char buf[2][INET6_ADDRSTRLEN];
	static int i;

	i ^= 1;
	assert_non_null(inet_ntop(s->family, a, buf[i], sizeof(buf[i])));
	return buf[i];
}

/* ---- addresses, ports, identity ----------------------------------------------------------- */

static void test_ipv4(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r = full();
	static const uint8_t la[16] = { 10, 1, 2, 3 }, ra[16] = { 192, 0, 2, 7 };
	struct hb_sock *s;

	r.uid = 4294967294u;	/* nobody's 65534 is too easy: the whole 32 bits */
	r.ifindex = 7;
	s = conv(x, &r);
	assert_int_equal(s->family, AF_INET);
	/* network byte order, IPv4 in the first 4 bytes and the rest zero */
	assert_memory_equal(s->laddr, la, 16);
	assert_memory_equal(s->raddr, ra, 16);
	assert_string_equal(ntop(s, s->laddr), "10.1.2.3");
	assert_string_equal(ntop(s, s->raddr), "192.0.2.7");
	/* host byte order, as the record carries them: 8080 is 0x1f90, not 0x901f */
	assert_int_equal(s->lport, 8080);
	assert_int_equal(s->rport, 443);
	assert_int_equal(s->state, TCP_ESTABLISHED);
	assert_int_equal(s->inode, 0x100000007ULL);
	assert_int_equal(s->cookie, 0x1122334455667788ULL);
	assert_int_equal(s->uid, 4294967294u);
	assert_int_equal(s->ifindex, 7);
	assert_int_equal(s->n_owners, 0);
	assert_null(s->mon);
	assert_int_equal(s->path, 0);
	assert_int_equal(s->src_ka, HB_SOCK_SRC_UNKNOWN);	/* only a policy's record knows */
}

static void test_ipv6(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r = full();
	uint8_t la[16], ra[16];
	struct hb_sock *s;

	r.family = AF_INET6;
	addr(AF_INET6, "2001:db8::1:2", r.laddr);
	addr(AF_INET6, "fe80::aabb:ccff:fedd:eeff", r.raddr);
	memcpy(la, r.laddr, 16);
	memcpy(ra, r.raddr, 16);
	r.lport = 65534;
	r.rport = 1;
	s = conv(x, &r);
	assert_int_equal(s->family, AF_INET6);
	assert_memory_equal(s->laddr, la, 16);
	assert_memory_equal(s->raddr, ra, 16);
	assert_string_equal(ntop(s, s->laddr), "2001:db8::1:2");
	assert_string_equal(ntop(s, s->raddr), "fe80::aabb:ccff:fedd:eeff");
	assert_int_equal(s->lport, 65534);
	assert_int_equal(s->rport, 1);
}

/* An IPv4 peer of an IPv6 socket: the family stays AF_INET6, the address ::ffff:a.b.c.d. */
static void test_v4_mapped(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r = full();
	static const uint8_t ra[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 9 };
	struct hb_sock *s;

	r.family = AF_INET6;
	addr(AF_INET6, "::ffff:127.0.0.1", r.laddr);
	addr(AF_INET6, "::ffff:198.51.100.9", r.raddr);
	r.lport = 22;
	r.rport = 50000;
	s = conv(x, &r);
	assert_int_equal(s->family, AF_INET6);
	assert_memory_equal(s->raddr, ra, 16);
	assert_string_equal(ntop(s, s->laddr), "::ffff:127.0.0.1");
	assert_string_equal(ntop(s, s->raddr), "::ffff:198.51.100.9");
	assert_int_equal(s->lport, 22);
	assert_int_equal(s->rport, 50000);
}

/* ---- keepalive configuration and its source ----------------------------------------------- */

/* Nothing set on the socket: every value is the namespace's sysctl, and says so. */
static void test_keepalive_sysctl(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r = full();
	struct hb_sock *s;

	s = conv(x, &r);
	assert_false(s->no_options);
	assert_int_equal(s->keepalive, 0);
	assert_int_equal(s->keepidle_s, 7200);
	assert_int_equal(s->src_idle, HB_SOCK_SRC_SYSCTL);
	assert_int_equal(s->keepintvl_s, 75);
	assert_int_equal(s->src_intvl, HB_SOCK_SRC_SYSCTL);
	assert_int_equal(s->keepcnt, 9);
	assert_int_equal(s->src_cnt, HB_SOCK_SRC_SYSCTL);
	/* no user timeout: 0, and the retransmission sysctls decide */
	assert_int_equal(s->user_timeout_ms, 0);
	assert_int_equal(s->src_uto, HB_SOCK_SRC_SYSCTL);
	/* the namespace's sysctls, for -v, from the first full socket */
	assert_true(x->c.have_sysctl);
	assert_int_equal(x->l.sysctl.idle_s, 7200);
	assert_int_equal(x->l.sysctl.intvl_s, 75);
	assert_int_equal(x->l.sysctl.cnt, 9);
}

/* Everything set on the socket (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT, TCP_USER_TIMEOUT). */
static void test_keepalive_socket(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r = full();
	struct hb_sock *s;

	r.flags = HB_ITER_F_KEEPOPEN;
	r.ka_time = 600 * HZ;
	r.ka_intvl = 30 * HZ;
	r.ka_probes = 5;
	r.user_timeout = 20000;		/* ms already: not converted */
	s = conv(x, &r);
	assert_int_equal(s->keepalive, 1);
	assert_int_equal(s->keepidle_s, 600);
	assert_int_equal(s->src_idle, HB_SOCK_SRC_SOCKET);
	assert_int_equal(s->keepintvl_s, 30);
	assert_int_equal(s->src_intvl, HB_SOCK_SRC_SOCKET);
	assert_int_equal(s->keepcnt, 5);
	assert_int_equal(s->src_cnt, HB_SOCK_SRC_SOCKET);
	assert_int_equal(s->user_timeout_ms, 20000);
	assert_int_equal(s->src_uto, HB_SOCK_SRC_SOCKET);
	/* the sysctls stay the namespace's, whatever the socket overrides */
	assert_int_equal(x->l.sysctl.idle_s, 7200);
	assert_int_equal(x->l.sysctl.intvl_s, 75);
	assert_int_equal(x->l.sysctl.cnt, 9);
}

/* Each value takes its own source: one set on the socket does not drag the others along. */
static void test_keepalive_mixed(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r;
	struct hb_sock *s;

	r = full();
	r.ka_intvl = 10 * HZ;
	s = conv(x, &r);
	assert_int_equal(s->keepidle_s, 7200);
	assert_int_equal(s->src_idle, HB_SOCK_SRC_SYSCTL);
	assert_int_equal(s->keepintvl_s, 10);
	assert_int_equal(s->src_intvl, HB_SOCK_SRC_SOCKET);
	assert_int_equal(s->keepcnt, 9);
	assert_int_equal(s->src_cnt, HB_SOCK_SRC_SYSCTL);
	assert_int_equal(s->src_uto, HB_SOCK_SRC_SYSCTL);

	r = full();
	r.flags = HB_ITER_F_KEEPOPEN | 0x80;	/* other flag bits are not keepalive */
	r.ka_time = 45 * HZ;
	r.ka_probes = 1;
	s = conv(x, &r);
	assert_int_equal(s->keepalive, 1);
	assert_int_equal(s->keepidle_s, 45);
	assert_int_equal(s->src_idle, HB_SOCK_SRC_SOCKET);
	assert_int_equal(s->keepintvl_s, 75);
	assert_int_equal(s->src_intvl, HB_SOCK_SRC_SYSCTL);
	assert_int_equal(s->keepcnt, 1);
	assert_int_equal(s->src_cnt, HB_SOCK_SRC_SOCKET);

	r = full();
	r.flags = 0x80;
	r.user_timeout = 1;
	s = conv(x, &r);
	assert_int_equal(s->keepalive, 0);
	assert_int_equal(s->user_timeout_ms, 1);
	assert_int_equal(s->src_uto, HB_SOCK_SRC_SOCKET);
	assert_int_equal(s->src_idle, HB_SOCK_SRC_SYSCTL);
}

/* Jiffies to seconds round to the nearest second, with the record's HZ. */
static void test_seconds_rounding(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r = full();
	struct hb_sock *s;

	r.ka_time = 10 * HZ + HZ / 2 - 1;	/* 10.496 s */
	r.ka_intvl = 10 * HZ + HZ / 2;		/* 10.5 s */
	r.sys_ka_time = HZ / 2 - 1;		/* just under half a second: 0 */
	s = conv(x, &r);
	assert_int_equal(s->keepidle_s, 10);
	assert_int_equal(s->keepintvl_s, 11);
	assert_int_equal(x->l.sysctl.idle_s, 0);
}

/* The record's HZ is the unit: 1000 jiffies are 1 s at HZ=1000, 10 s at HZ=100. */
static void test_hz_from_record(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r = full();
	struct hb_iter_conv c2;
	struct hb_sock *s;

	r.hz = 1000;
	r.ka_time = 1000;
	r.sys_ka_intvl = 75000;
	r.timer = HB_ITER_TIMER_KEEPALIVE;
	r.timer_expires = r.now + 1500;
	s = conv(x, &r);
	assert_int_equal(s->keepidle_s, 1);
	assert_int_equal(s->keepintvl_s, 75);
	assert_int_equal(s->timer_expires_ms, 1500);

	hb__iter_conv_init(&c2, &x->l);
	r.hz = 100;
	r.sys_ka_intvl = 7500;
	assert_int_equal(hb__iter_sock_rec(&r, &c2), 0);
	s = &x->l.v[x->l.n - 1];
	assert_int_equal(s->keepidle_s, 10);
	assert_int_equal(s->keepintvl_s, 75);
	assert_int_equal(s->timer_expires_ms, 15000);
	hb__iter_conv_free(&c2);
}

/* Without CONFIG_HZ (0 in the record), the jiffies clock against CLOCK_MONOTONIC tells:
 * jiffies = 2^32 + HZ * (uptime - 300 s). */
static void test_hz_guessed(void **state)
{
	static const unsigned int hzs[] = { 100, 250, 300, 1000 };
	struct fix *x = *state;
	struct hb_iter_sock r;
	struct hb_iter_conv c2;
	struct timespec ts;
	struct hb_sock *s;
	double up;
	size_t i;

	for (i = 0; i < sizeof(hzs) / sizeof(hzs[0]); i++) {
		assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
		up = (double)ts.tv_sec + ts.tv_nsec / 1e9;
		if (up < 310)
			skip();	/* at 300 s of uptime every HZ gives the same jiffies */
		r = full();
		r.hz = 0;
		r.now = (uint64_t)(4294967296.0 + hzs[i] * (up - 300.0));
		r.ka_time = 60 * hzs[i];
		hb__iter_conv_init(&c2, &x->l);
		assert_int_equal(hb__iter_sock_rec(&r, &c2), 0);
		s = &x->l.v[x->l.n - 1];
		assert_int_equal(c2.hz, hzs[i]);
		assert_int_equal(s->keepidle_s, 60);
		hb__iter_conv_free(&c2);
	}
}

/* ---- states, kinds, timers ---------------------------------------------------------------- */

static void test_states(void **state)
{
	static const uint8_t states[] = { TCP_ESTABLISHED, TCP_SYN_SENT, TCP_FIN_WAIT1,
					  TCP_CLOSE_WAIT, TCP_LAST_ACK, TCP_CLOSING, TCP_CLOSE,
					  TCP_LISTEN };
	struct fix *x = *state;
	struct hb_iter_sock r;
	size_t i;

	for (i = 0; i < sizeof(states); i++) {
		r = full();
		r.state = states[i];
		assert_int_equal(conv(x, &r)->state, states[i]);
	}
}

/* A time-wait socket (the kernel's substate) has addresses, a timer and no options: every
 * option and age stays unknown ("-" in the table), and its empty sysctl fields are not read. */
static void test_timewait(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r = full();
	struct hb_sock *s;

	r.kind = HB_ITER_TIMEWAIT;
	r.state = TCP_TIME_WAIT;
	r.inode = 0;
	r.uid = 0;
	r.flags = HB_ITER_F_KEEPOPEN;	/* whatever the record holds there: not read */
	r.ka_time = r.sys_ka_time = 0;
	r.ka_intvl = r.sys_ka_intvl = 0;
	r.sys_ka_probes = 0;
	r.user_timeout = 99;
	r.lsndtime = (uint32_t)NOW - HZ;
	r.lrcvtime = (uint32_t)NOW - HZ;
	r.timer = HB_ITER_TIMER_TIMEWAIT;
	r.timer_expires = NOW + 60 * HZ;
	s = conv(x, &r);
	assert_true(s->no_options);
	assert_int_equal(s->state, TCP_TIME_WAIT);
	assert_string_equal(ntop(s, s->laddr), "10.1.2.3");
	assert_int_equal(s->lport, 8080);
	assert_int_equal(s->timer, HB_TIMER_TIMEWAIT);
	assert_int_equal(s->timer_expires_ms, 60000);
	assert_int_equal(s->keepalive, HB_UNKNOWN);
	assert_int_equal(s->keepidle_s, HB_UNKNOWN);
	assert_int_equal(s->keepintvl_s, HB_UNKNOWN);
	assert_int_equal(s->keepcnt, HB_UNKNOWN);
	assert_int_equal(s->user_timeout_ms, HB_UNKNOWN);
	assert_int_equal(s->src_idle, HB_SOCK_SRC_UNKNOWN);
	assert_int_equal(s->src_intvl, HB_SOCK_SRC_UNKNOWN);
	assert_int_equal(s->src_cnt, HB_SOCK_SRC_UNKNOWN);
	assert_int_equal(s->src_uto, HB_SOCK_SRC_UNKNOWN);
	assert_int_equal(s->last_send_ms, HB_UNKNOWN);
	assert_int_equal(s->last_recv_ms, HB_UNKNOWN);
	assert_int_equal(s->last_ack_ms, HB_UNKNOWN);
	assert_int_equal(s->idle_ms, HB_UNKNOWN);
	/* the sysctls come from a full socket (or /proc, in iter.c), never from this one */
	assert_false(x->c.have_sysctl);

	r.state = TCP_FIN_WAIT2;	/* the other substate */
	assert_int_equal(conv(x, &r)->state, TCP_FIN_WAIT2);
	assert_false(x->c.have_sysctl);

	r = full();
	r.sys_ka_time = 3600 * HZ;
	conv(x, &r);
	assert_true(x->c.have_sysctl);
	assert_int_equal(x->l.sysctl.idle_s, 3600);
}

/* A request socket (SYN_RECV): the retransmit timer of the SYN-ACK and its retransmissions. */
static void test_request(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r = full();
	struct hb_sock *s;

	r.kind = HB_ITER_REQUEST;
	r.state = TCP_SYN_RECV;
	r.inode = 0;
	r.timer = HB_ITER_TIMER_RETRANS;
	r.probes = 2;
	r.timer_expires = NOW + HZ / 5;
	s = conv(x, &r);
	assert_true(s->no_options);
	assert_int_equal(s->state, TCP_SYN_RECV);
	assert_int_equal(s->uid, 1000);
	assert_int_equal(s->timer, HB_TIMER_RETRANS);
	assert_int_equal(s->timer_expires_ms, 200);
	assert_int_equal(s->probes, 2);
	assert_int_equal(s->keepalive, HB_UNKNOWN);
	assert_int_equal(s->src_idle, HB_SOCK_SRC_UNKNOWN);
	assert_int_equal(s->idle_ms, HB_UNKNOWN);
	assert_false(x->c.have_sysctl);
}

static void test_timers(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r;
	struct hb_sock *s;

	r = full();
	s = conv(x, &r);
	assert_int_equal(s->timer, HB_TIMER_NONE);
	assert_int_equal(s->timer_expires_ms, HB_UNKNOWN);
	assert_int_equal(s->probes, 0);

	r = full();
	r.timer = HB_ITER_TIMER_RETRANS;
	r.probes = 3;
	r.timer_expires = NOW + 50;		/* 50 jiffies at 250 Hz */
	s = conv(x, &r);
	assert_int_equal(s->timer, HB_TIMER_RETRANS);
	assert_int_equal(s->timer_expires_ms, 200);
	assert_int_equal(s->probes, 3);

	r = full();
	r.flags = HB_ITER_F_KEEPOPEN;
	r.timer = HB_ITER_TIMER_KEEPALIVE;
	r.probes = 4;
	r.timer_expires = NOW + 75 * HZ;
	s = conv(x, &r);
	assert_int_equal(s->timer, HB_TIMER_KEEPALIVE);
	assert_int_equal(s->timer_expires_ms, 75000);
	assert_int_equal(s->probes, 4);

	r = full();
	r.timer = HB_ITER_TIMER_PROBE;
	r.probes = 1;
	r.timer_expires = NOW + 2 * HZ;
	s = conv(x, &r);
	assert_int_equal(s->timer, HB_TIMER_PROBE);
	assert_int_equal(s->timer_expires_ms, 2000);

	/* overdue: the timer should have fired already, a negative time left */
	r = full();
	r.timer = HB_ITER_TIMER_RETRANS;
	r.timer_expires = NOW - 25;
	s = conv(x, &r);
	assert_int_equal(s->timer_expires_ms, -100);

	/* expiry across the 32-bit wrap of the jiffies clock: 64-bit arithmetic */
	r = full();
	r.now = 0xfffffff0ULL;
	r.timer = HB_ITER_TIMER_KEEPALIVE;
	r.timer_expires = 0x100000000ULL + 10 * HZ;
	s = conv(x, &r);
	assert_int_equal(s->timer_expires_ms, 10000 + 16 * 1000 / HZ);
}

/* ---- ages and idle time ------------------------------------------------------------------- */

static void test_ages(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r;
	struct hb_sock *s;

	/* sent 3 s ago, received 5 s ago, ACK 1 s ago: idle since the later data, 3 s */
	r = full();
	r.lsndtime = (uint32_t)(NOW - 3 * HZ);
	r.lrcvtime = (uint32_t)(NOW - 5 * HZ);
	r.rcv_tstamp = (uint32_t)(NOW - HZ);
	s = conv(x, &r);
	assert_int_equal(s->last_send_ms, 3000);
	assert_int_equal(s->last_recv_ms, 5000);
	assert_int_equal(s->last_ack_ms, 1000);
	assert_int_equal(s->idle_ms, 3000);

	/* received more recently than sent */
	r.lsndtime = (uint32_t)(NOW - 8 * HZ);
	r.lrcvtime = (uint32_t)(NOW - 2 * HZ - HZ / 2);
	s = conv(x, &r);
	assert_int_equal(s->last_send_ms, 8000);
	assert_int_equal(s->last_recv_ms, 2500);
	assert_int_equal(s->idle_ms, 2500);

	/* never sent (0: never set): idle since the last receive */
	r.lsndtime = 0;
	s = conv(x, &r);
	assert_int_equal(s->last_send_ms, HB_UNKNOWN);
	assert_int_equal(s->idle_ms, 2500);

	/* never received: idle since the last send */
	r.lsndtime = (uint32_t)(NOW - 4 * HZ);
	r.lrcvtime = 0;
	r.rcv_tstamp = 0;
	s = conv(x, &r);
	assert_int_equal(s->last_recv_ms, HB_UNKNOWN);
	assert_int_equal(s->last_ack_ms, HB_UNKNOWN);
	assert_int_equal(s->idle_ms, 4000);

	/* neither */
	r.lsndtime = 0;
	s = conv(x, &r);
	assert_int_equal(s->last_send_ms, HB_UNKNOWN);
	assert_int_equal(s->idle_ms, HB_UNKNOWN);

	/* stamps are tcp_jiffies32: a stamp before the 32-bit wrap, the clock after it */
	r = full();
	r.now = 0x100000000ULL + 2 * HZ;
	r.lsndtime = 0xffffffffu - HZ + 1;	/* 3 s before now */
	r.lrcvtime = (uint32_t)r.now - 1;	/* 1 jiffy: 4 ms */
	s = conv(x, &r);
	assert_int_equal(s->last_send_ms, 3000);
	assert_int_equal(s->last_recv_ms, 4);
	assert_int_equal(s->idle_ms, 4);

	/* a listener has no ages, whatever its fields hold */
	r = full();
	r.state = TCP_LISTEN;
	r.lsndtime = (uint32_t)(NOW - 3 * HZ);
	r.lrcvtime = (uint32_t)(NOW - 3 * HZ);
	r.rcv_tstamp = (uint32_t)(NOW - 3 * HZ);
	s = conv(x, &r);
	assert_int_equal(s->last_send_ms, HB_UNKNOWN);
	assert_int_equal(s->last_recv_ms, HB_UNKNOWN);
	assert_int_equal(s->last_ack_ms, HB_UNKNOWN);
	assert_int_equal(s->idle_ms, HB_UNKNOWN);
	assert_false(s->no_options);		/* but options: it is a full socket */
	assert_int_equal(s->keepidle_s, 7200);
}

/* ---- owners -------------------------------------------------------------------------------- */

static void file(struct fix *x, uint64_t inode, uint32_t pid, uint32_t fd, const char *comm)
{
	struct hb_iter_file f;

	memset(&f, 0, sizeof(f));
	f.inode = inode;
	f.pid = pid;
	f.fd = fd;
	memcpy(f.comm, comm, strnlen(comm, sizeof(f.comm)));
	assert_int_equal(hb__iter_file_rec(&f, &x->f), 0);
}

static struct hb_sock *sock_ino(struct fix *x, uint64_t inode, enum hb_iter_kind kind)
{
	struct hb_iter_sock r = full();

	r.inode = inode;
	r.kind = kind;
	return conv(x, &r);
}

static const struct hb_owner *owner(const struct hb_sock *s, unsigned int i)
{
	return i < HB_SOCK_OWNERS_INLINE ? &s->owner[i] : &s->more_owners[i - HB_SOCK_OWNERS_INLINE];
}

static void assert_owner(const struct hb_sock *s, unsigned int i, int pid, int fd,
			 const char *comm)
{
	const struct hb_owner *o;

	assert_true(i < s->n_owners);
	o = owner(s, i);
	assert_int_equal(o->pid, pid);
	assert_int_equal(o->fd, fd);
	assert_string_equal(o->comm, comm);
}

/* Descriptors join their socket by inode, each (pid, fd) once, with the comm of its process;
 * descriptors of sockets not listed, and inode 0, join nothing. */
static void test_owners(void **state)
{
	struct fix *x = *state;
	size_t a, b, c, tw;

	a = x->l.n;
	sock_ino(x, 1001, HB_ITER_FULL);
	b = x->l.n;
	sock_ino(x, 1002, HB_ITER_FULL);
	c = x->l.n;
	sock_ino(x, 1003, HB_ITER_FULL);
	tw = x->l.n;
	sock_ino(x, 0, HB_ITER_TIMEWAIT);

	file(x, 1001, 100, 3, "nginx");
	file(x, 1002, 100, 4, "nginx");
	file(x, 9999, 100, 5, "nginx");		/* another namespace's socket */
	file(x, 1001, 200, 3, "worker");	/* a shared listener: a second process */
	file(x, 0, 200, 8, "worker");
	file(x, 1002, 300, 5, "dup");
	file(x, 1002, 300, 5, "dup");		/* the same descriptor twice: one owner */
	file(x, 1002, 100, 6, "nginx-new");	/* pid 100 again, a new run with its comm */
	file(x, 1001, 400, 9, "abcdefghijklmnop");	/* 16 bytes, no NUL: 15 kept */
	assert_int_equal(x->f.n, 9);
	assert_int_equal(x->f.ncomm, 5);

	assert_int_equal(hb__iter_join(&x->c, &x->f), 0);

	assert_int_equal(x->l.v[a].n_owners, 3);
	assert_owner(&x->l.v[a], 0, 100, 3, "nginx");
	assert_owner(&x->l.v[a], 1, 200, 3, "worker");
	assert_owner(&x->l.v[a], 2, 400, 9, "abcdefghijklmno");
	assert_int_equal(x->l.v[b].n_owners, 3);
	assert_owner(&x->l.v[b], 0, 100, 4, "nginx");
	assert_owner(&x->l.v[b], 1, 300, 5, "dup");
	assert_owner(&x->l.v[b], 2, 100, 6, "nginx-new");
	assert_int_equal(x->l.v[c].n_owners, 0);
	assert_int_equal(x->l.v[tw].n_owners, 0);
}

/* A socket many processes hold (a prefork server's listener): every one of them, in order. */
static void test_many_owners(void **state)
{
	struct fix *x = *state;
	struct hb_sock *s;
	char comm[16];
	unsigned int i;

	sock_ino(x, 42, HB_ITER_FULL);
	for (i = 0; i < 70; i++) {
		snprintf(comm, sizeof(comm), "w%u", i / 2);
		file(x, 42, 1000 + i / 2, 3 + i % 2, comm);
	}
	assert_int_equal(hb__iter_join(&x->c, &x->f), 0);
	s = &x->l.v[0];
	assert_int_equal(s->n_owners, 70);
	for (i = 0; i < 70; i++) {
		snprintf(comm, sizeof(comm), "w%u", i / 2);
		assert_owner(s, i, 1000 + (int)i / 2, 3 + (int)i % 2, comm);
	}
}

/* Thousands of sockets: the inode index finds each one (collisions, probing). */
static void test_owners_many_sockets(void **state)
{
	struct fix *x = *state;
	unsigned int i, n = 5000;

	for (i = 0; i < n; i++)
		sock_ino(x, 0x10000 + (uint64_t)i * 4096, HB_ITER_FULL);
	/* the walk meets them in another order, one process each */
	for (i = n; i-- > 0;)
		file(x, 0x10000 + (uint64_t)i * 4096, 10 + i, 100 + i, "p");
	assert_int_equal(hb__iter_join(&x->c, &x->f), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(x->l.v[i].n_owners, 1);
		assert_owner(&x->l.v[i], 0, 10 + (int)i, 100 + (int)i, "p");
	}
}

/* Records the list held before this conversion started are not this walk's to join. */
static void test_owners_only_this_listing(void **state)
{
	struct fix *x = *state;
	struct hb_sock *old;

	old = hb_sock_list_add(&x->l);
	assert_non_null(old);
	old->inode = 77;
	hb__iter_conv_free(&x->c);
	hb__iter_conv_init(&x->c, &x->l);
	sock_ino(x, 78, HB_ITER_FULL);
	file(x, 77, 1, 3, "a");
	file(x, 78, 1, 4, "a");
	assert_int_equal(hb__iter_join(&x->c, &x->f), 0);
	assert_int_equal(x->l.v[0].n_owners, 0);
	assert_int_equal(x->l.v[1].n_owners, 1);
	assert_owner(&x->l.v[1], 0, 1, 4, "a");
}

/* ---- the read loop: whole records only ------------------------------------------------------ */

/* Writes len bytes of p into a pipe and returns its read end. */
static int pipe_with(const void *p, size_t len)
{
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_true(len <= 65536);	/* the pipe's default capacity: no writer thread */
	assert_int_equal(write(fds[1], p, len), (ssize_t)len);
	close(fds[1]);
	return fds[0];
}

/* Records as iter.c reads them; a read buffer that is no multiple of the record size, so
 * records arrive split across reads and are put back together. */
static void test_read_records(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r[5];
	char buf[2 * sizeof(r[0]) + 40];
	int fd, i;

	for (i = 0; i < 5; i++) {
		r[i] = full();
		r[i].lport = (uint16_t)(1000 + i);
		r[i].inode = 500 + (uint64_t)i;
	}
	fd = pipe_with(r, sizeof(r));
	assert_int_equal(hb_bpf_iter_read(fd, buf, sizeof(buf), sizeof(r[0]), hb__iter_sock_rec,
					  &x->c), 0);
	close(fd);
	assert_int_equal(x->l.n, 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(x->l.v[i].lport, 1000 + i);
		assert_int_equal(x->l.v[i].inode, 500 + i);
		assert_int_equal(x->l.v[i].keepidle_s, 7200);
	}
}

/* A trailing partial record is an error (-EPROTO), not a socket made of half a record; the
 * whole ones before it were converted. */
static void test_read_truncated(void **state)
{
	struct fix *x = *state;
	struct hb_iter_sock r[3];
	struct hb_iter_file f[2];
	char buf[4096];
	int fd, i;

	for (i = 0; i < 3; i++)
		r[i] = full();
	fd = pipe_with(r, 2 * sizeof(r[0]) + 60);
	assert_int_equal(hb_bpf_iter_read(fd, buf, sizeof(buf), sizeof(r[0]), hb__iter_sock_rec,
					  &x->c), -EPROTO);
	close(fd);
	assert_int_equal(x->l.n, 2);

	/* a single short record: nothing converted */
	fd = pipe_with(r, sizeof(r[0]) - 1);
	assert_int_equal(hb_bpf_iter_read(fd, buf, sizeof(buf), sizeof(r[0]), hb__iter_sock_rec,
					  &x->c), -EPROTO);
	close(fd);
	assert_int_equal(x->l.n, 2);

	/* the owner walk's records the same way */
	memset(f, 0, sizeof(f));
	f[0].inode = f[1].inode = 1;
	fd = pipe_with(f, sizeof(f) - 1);
	assert_int_equal(hb_bpf_iter_read(fd, buf, sizeof(buf), sizeof(f[0]), hb__iter_file_rec,
					  &x->f), -EPROTO);
	close(fd);
	assert_int_equal(x->f.n, 1);

	/* nothing at all is an empty listing, not an error */
	fd = pipe_with(r, 0);
	assert_int_equal(hb_bpf_iter_read(fd, buf, sizeof(buf), sizeof(r[0]), hb__iter_sock_rec,
					  &x->c), 0);
	close(fd);
}

static int fail_second(const void *rec, void *ctx)
{
	int *n = ctx;

	(void)rec;
	return ++*n == 2 ? -ENOMEM : 0;
}

/* The callback's first error stops the read and is its result. */
static void test_read_callback_error(void **state)
{
	struct hb_iter_sock r[4];
	char buf[4096];
	int fd, n = 0, i;

	(void)state;
	for (i = 0; i < 4; i++)
		r[i] = full();
	fd = pipe_with(r, sizeof(r));
	assert_int_equal(hb_bpf_iter_read(fd, buf, sizeof(buf), sizeof(r[0]), fail_second, &n),
			 -ENOMEM);
	close(fd);
	assert_int_equal(n, 2);
	/* a closed fd: read()'s errno */
	assert_int_equal(hb_bpf_iter_read(fd, buf, sizeof(buf), sizeof(r[0]), fail_second, &n),
			 -EBADF);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ipv4),
		T(test_ipv6),
		T(test_v4_mapped),
		T(test_keepalive_sysctl),
		T(test_keepalive_socket),
		T(test_keepalive_mixed),
		T(test_seconds_rounding),
		T(test_hz_from_record),
		T(test_hz_guessed),
		T(test_states),
		T(test_timewait),
		T(test_request),
		T(test_timers),
		T(test_ages),
		T(test_owners),
		T(test_many_owners),
		T(test_owners_many_sockets),
		T(test_owners_only_this_listing),
		T(test_read_records),
		T(test_read_truncated),
		T(test_read_callback_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
