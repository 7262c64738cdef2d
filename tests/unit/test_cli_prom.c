// SPDX-License-Identifier: BSD-2-Clause
/*
 * The --prometheus endpoint (cli/prom_http.c) without a monitor: the server runs on a
 * loopback socket of the test's own, gets bodies through hb_prom_publish() as the monitor
 * loop hands them over, and real TCP clients talk to it. The hostile clients of issue 13
 * (one byte every 0.9 s, 40 silent connections, more connections than the cap) must not
 * delay another scrape or a publish. Bounds are generous (seconds), not benchmarks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
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

#include "../../cli/cli.h"
#include "../../cli/mon.h"
#include "../../cli/out.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A server on 127.0.0.1:<ephemeral>; *port gets the port. */
static struct hb_prom_srv *start(unsigned short *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct hb_prom_srv *s;
	char err[256] = "";
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 128), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	s = hb_prom_serve(fd, err, sizeof(err));
	if (!s)
		fail_msg("hb_prom_serve: %s", err);
	return s;
}

/* A connected client socket from src (127.0.0.x), blocking, with a 5 s receive timeout. */
static int dial(const char *src, unsigned short port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in b = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	inet_pton(AF_INET, src, &b.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&b, sizeof(b)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		fail_msg("connect: %s", strerror(errno));
	return fd;
}

/* One request; returns the status code (0: no answer) and the body in body (if given). */
static int request(const char *src, unsigned short port, const char *method, const char *path,
		   char *body, size_t blen)
{
	char req[256], resp[65536];
	size_t have = 0;
	ssize_t n;
	int fd = dial(src, port), status = 0;
	const char *b;

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		 method, path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (have < sizeof(resp) - 1 && (n = read(fd, resp + have, sizeof(resp) - 1 - have)) > 0)
		have += (size_t)n;
	resp[have] = '\0';
	close(fd);
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
		return 0;
	if (body) {
		b = strstr(resp, "\r\n\r\n");
		snprintf(body, blen, "%s", b ? b + 4 : "");
	}
	return status;
}

static void test_answers(void **state)
{
	char body[4096];
	unsigned short port;
	struct hb_prom_srv *s = start(&port);
	char *text;

	(void)state;
	/* before the monitor's first snapshot: 503, so that Prometheus marks the scrape failed */
	assert_int_equal(request("127.0.0.1", port, "GET", "/metrics", NULL, 0), 503);
	text = strdup("# TYPE hbkeep_x counter\nhbkeep_x 1\n");
	assert_int_equal(hb_prom_publish(s, text, strlen(text)), 0);
	assert_int_equal(request("127.0.0.1", port, "GET", "/metrics", body, sizeof(body)), 200);
	assert_string_equal(body, "# TYPE hbkeep_x counter\nhbkeep_x 1\n");
	assert_int_equal(request("127.0.0.1", port, "GET", "/", body, sizeof(body)), 200);
	assert_int_equal(request("127.0.0.1", port, "GET", "/metrics?x=1", body, sizeof(body)),
			 200);
	assert_int_equal(request("127.0.0.1", port, "HEAD", "/metrics", body, sizeof(body)), 200);
	assert_string_equal(body, "");
	assert_int_equal(request("127.0.0.1", port, "GET", "/etc/passwd", NULL, 0), 404);
	assert_int_equal(request("127.0.0.1", port, "POST", "/metrics", NULL, 0), 405);
	/* the next interval's text replaces it */
	text = strdup("hbkeep_x 2\n");
	assert_int_equal(hb_prom_publish(s, text, strlen(text)), 0);
	assert_int_equal(request("127.0.0.1", port, "GET", "/metrics", body, sizeof(body)), 200);
	assert_string_equal(body, "hbkeep_x 2\n");
	hb_prom_stop(s);
}

/* A --conns exposition of a busy host is megabytes: it arrives whole, through the
 * connection's small memory pool. */
static void test_big_body(void **state)
{
	const size_t big = 8u << 20;
	unsigned short port;
	struct hb_prom_srv *s = start(&port);
	char *text = malloc(big), *got = malloc(big + 4096), req[] =
		"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	size_t have = 0, i;
	ssize_t n;
	int fd;
	const char *b;

	(void)state;
	assert_non_null(text);
	assert_non_null(got);
	for (i = 0; i < big; i++)
		text[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
	assert_int_equal(hb_prom_publish(s, text, big), 0);
	fd = dial("127.0.0.1", port);
	assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	while (have < big + 4096 && (n = read(fd, got + have, big + 4096 - have)) > 0)
		have += (size_t)n;
	close(fd);
	b = memmem(got, have, "\r\n\r\n", 4);
	assert_non_null(b);
	b += 4;
	assert_int_equal(have - (size_t)(b - got), big);
	for (i = 0; i < big; i++)
		if (b[i] != (i % 64 == 63 ? '\n' : (char)('a' + i % 26)))
			fail_msg("byte %zu differs", i);
	free(got);
	hb_prom_stop(s);
}

struct slow {
	unsigned short port;
	volatile int stop;
	int bytes;
};

/* Sends a request one byte every 0.9 s, as the client that froze the old endpoint. */
static void *slow_client(void *arg)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: a-very-slow-client.example\r\n";
	struct slow *sl = arg;
	int fd = dial("127.0.0.1", sl->port);

	for (size_t i = 0; !sl->stop && i < sizeof(req) - 1; i++) {
		if (write(fd, req + i, 1) != 1)
			break;
		sl->bytes++;
		usleep(900 * 1000);
	}
	close(fd);
	return NULL;
}

static void test_hostile_clients(void **state)
{
	unsigned short port;
	struct hb_prom_srv *s = start(&port);
	struct slow sl = { 0 };
	pthread_t th;
	int silent[40], i, st;
	char body[256], *text;
	double t0, worst = 0, pub = 0;

	(void)state;
	text = strdup("hbkeep_up 1\n");
	assert_int_equal(hb_prom_publish(s, text, strlen(text)), 0);
	sl.port = port;
	assert_int_equal(pthread_create(&th, NULL, slow_client, &sl), 0);
	for (i = 0; i < 40; i++)	/* connected, never a byte */
		silent[i] = dial("127.0.0.1", port);
	usleep(300 * 1000);
	/* 5 scrapes and publishes over ~4 s while both kinds of client hold their connections */
	for (i = 0; i < 5; i++) {
		t0 = now_s();
		st = request("127.0.0.1", port, "GET", "/metrics", body, sizeof(body));
		if (now_s() - t0 > worst)
			worst = now_s() - t0;
		assert_int_equal(st, 200);
		assert_string_equal(body, i ? "hbkeep_up 2\n" : "hbkeep_up 1\n");
		t0 = now_s();
		text = strdup("hbkeep_up 2\n");
		assert_int_equal(hb_prom_publish(s, text, strlen(text)), 0);
		if (now_s() - t0 > pub)
			pub = now_s() - t0;
		usleep(800 * 1000);
	}
	print_message("# slowest scrape %.3f s, slowest publish %.6f s, slow client sent %d bytes\n",
		      worst, pub, sl.bytes);
	assert_true(sl.bytes >= 4);	/* it was really trickling the whole time */
	assert_true(worst < 3.0);
	assert_true(pub < 1.0);
	sl.stop = 1;
	pthread_join(th, NULL);
	for (i = 0; i < 40; i++)
		close(silent[i]);
	hb_prom_stop(s);
}

/* A silent connection is closed by the server after HB_PROM_TIMEOUT_S. */
static void test_idle_timeout(void **state)
{
	unsigned short port;
	struct hb_prom_srv *s = start(&port);
	struct pollfd p;
	char c;
	double t0 = now_s(), took;
	int fd = dial("127.0.0.1", port);

	(void)state;
	p.fd = fd;
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, (HB_PROM_TIMEOUT_S + 5) * 1000), 1);
	took = now_s() - t0;
	assert_true(read(fd, &c, 1) <= 0);	/* closed, not answered */
	print_message("# idle connection closed after %.1f s\n", took);
	assert_true(took >= HB_PROM_TIMEOUT_S - 1);
	close(fd);
	hb_prom_stop(s);
}

/* More connections from one address than HB_PROM_MAX_PER_IP: the extra ones are refused;
 * another address still gets its scrape. */
static void test_per_ip_cap(void **state)
{
	unsigned short port;
	struct hb_prom_srv *s = start(&port);
	int fds[HB_PROM_MAX_PER_IP + 1], i, closed = 0;
	char body[64], c, *text;
	struct pollfd p;

	(void)state;
	text = strdup("hbkeep_up 1\n");
	assert_int_equal(hb_prom_publish(s, text, strlen(text)), 0);
	for (i = 0; i <= HB_PROM_MAX_PER_IP; i++)
		fds[i] = dial("127.0.0.3", port);
	usleep(300 * 1000);
	for (i = 0; i <= HB_PROM_MAX_PER_IP; i++) {
		p.fd = fds[i];
		p.events = POLLIN;
		if (poll(&p, 1, 0) == 1 && read(fds[i], &c, 1) <= 0)
			closed++;
	}
	assert_int_equal(closed, 1);
	assert_int_equal(request("127.0.0.4", port, "GET", "/metrics", body, sizeof(body)), 200);
	assert_string_equal(body, "hbkeep_up 1\n");
	for (i = 0; i <= HB_PROM_MAX_PER_IP; i++)
		close(fds[i]);
	hb_prom_stop(s);
}

/* Every byte of s is part of a valid UTF-8 sequence. */
static bool valid_utf8(const char *s, size_t n)
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

static const char *word(const char *s, size_t max)
{
	static char buf[256];

	*hb_put_word(buf, s, max) = '\0';
	return buf;
}

static const char *lab(const char *s)
{
	static char buf[256];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	assert_non_null(f);
	hb_fput_label(f, s);
	fputc('\0', f);
	fclose(f);
	return buf;
}

static void test_table_word(void **state)
{
	(void)state;
	assert_string_equal(word("nginx", 15), "nginx");
	assert_string_equal(word("a b\tc\x7f", 15), "a?b?c?");
	/* valid UTF-8 stays; a name the kernel cut after 15 bytes mid-character does not */
	assert_string_equal(word("caf\xc3\xa9", 15), "caf\xc3\xa9");
	assert_string_equal(word("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe5\x90\x8d",
				 15), "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe5\x90\x8d");
	assert_string_equal(word("abcdefghijklm\xc3\xa9", 14), "abcdefghijklm\\xc3");
	assert_string_equal(word("\xff\xfe\x80ok", 15), "\\xff\\xfe\\x80ok");
	/* 8-bit controls: raw bytes and their UTF-8 form (U+0085 NEL, U+009B CSI) */
	assert_string_equal(word("\x9b" "31m", 15), "\\x9b31m");
	assert_string_equal(word("a\xc2\x85" "b\xc2\x9b", 15), "a\\xc2\\x85b\\xc2\\x9b");
	assert_string_equal(word("\xc2\xa0", 15), "\xc2\xa0");
	/* overlong, surrogate, beyond U+10FFFF */
	assert_string_equal(word("\xc0\xaf", 15), "\\xc0\\xaf");
	assert_string_equal(word("\xed\xa0\x80", 15), "\\xed\\xa0\\x80");
	assert_string_equal(word("\xf4\x90\x80\x80", 15), "\\xf4\\x90\\x80\\x80");
	assert_string_equal(word("", 15), "");
}

static void test_label_value(void **state)
{
	(void)state;
	assert_string_equal(lab("/system.slice/x.service"), "/system.slice/x.service");
	assert_string_equal(lab("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
	assert_string_equal(lab("caf\xc3\xa9\t"), "caf\xc3\xa9\t");
	/* invalid bytes: the label's text is \xNN, its backslash escaped for the format */
	assert_string_equal(lab("\xff\xfe"), "\\\\xff\\\\xfe");
	assert_string_equal(lab("abcdefghijklm\xc3"), "abcdefghijklm\\\\xc3");
	assert_string_equal(lab("\xe2\x82"), "\\\\xe2\\\\x82");
}

/* The whole exposition with a cgroup path and owners that are not UTF-8 stays UTF-8, and
 * their series carry the escaped names. */
static void test_render_invalid_names(void **state)
{
	struct hb_mon_view v = { .cgroup = "/bad\xff.slice", .conns = true };
	struct hb_mon_conn c[3] = { 0 };
	struct hb_mon_owner o[3] = { { 1, "\xff\xfe\xc0" }, { 2, "abcdefghijklm\xc3" },
				     { 3, "ok" } };
	struct hb_mon_snap s = { .conns = c, .owner = o, .n_conns = 3, .have_conns = true };
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	for (i = 0; i < 3; i++) {
		c[i].family = AF_INET;
		c[i].laddr[0] = 127;
		c[i].laddr[3] = 1;
		c[i].raddr[0] = 127;
		c[i].raddr[3] = 1;
		c[i].lport = (unsigned short)(40000 + i);
		c[i].rport = 80;
		c[i].keepalive = 1;
	}
	assert_non_null(f);
	hb_prom_render(f, &v, &s);
	fclose(f);
	assert_true(valid_utf8(buf, len));
	assert_non_null(strstr(buf, "hbkeep_open_connections{cgroup=\"/bad\\\\xff.slice\","
				    "comm=\"\\\\xff\\\\xfe\\\\xc0\",keepalive=\"on\"} 1\n"));
	assert_non_null(strstr(buf, "comm=\"abcdefghijklm\\\\xc3\",keepalive=\"on\"} 1\n"));
	assert_non_null(strstr(buf, "comm=\"ok\",keepalive=\"on\"} 1\n"));
	free(buf);
}

static void test_listen_spec(void **state)
{
	static const char *const bad[] = { "", "x", "127.0.0.1:", "127.0.0.1:0", ":65536",
					   "localhost:9464", "[::1]9464", "[::1:9464", "1.2.3:80" };
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(hb_prom_listen(bad[i], err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "ADDR:PORT"));
	}
	/* PORT and :PORT alone bind loopback only (DESIGN.md "Files, sockets and privileges") */
	for (i = 0; i < 2; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t al = sizeof(a);
		char spec[16];
		int fd;

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM, 0);	/* a free port */
		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
		close(fd);
		snprintf(spec, sizeof(spec), "%s%u", i ? ":" : "", ntohs(a.sin_port));
		fd = hb_prom_listen(spec, err, sizeof(err));
		assert_true(fd >= 0);
		memset(&a, 0, sizeof(a));
		al = sizeof(a);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
		assert_int_equal(a.sin_family, AF_INET);
		assert_int_equal(ntohl(a.sin_addr.s_addr), INADDR_LOOPBACK);
		close(fd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_word),
		cmocka_unit_test(test_label_value),
		cmocka_unit_test(test_render_invalid_names),
		cmocka_unit_test(test_listen_spec),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_big_body),
		cmocka_unit_test(test_hostile_clients),
		cmocka_unit_test(test_per_ip_cap),
		cmocka_unit_test(test_idle_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
