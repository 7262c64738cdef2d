// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbbench: the cost of the calls libhbshim.so interposes, measured from inside a program.
 * scripts/bench.sh runs it alternately with and without LD_PRELOAD and compares; on its own
 * it only measures whatever it is run under.
 *
 *   hbbench [-n N] [-w WARMUP] [-b BATCHES] [-k KIND[,KIND...]] [-c]
 *
 * Kinds (default: all, in this order):
 *   tcp      socket(AF_INET, SOCK_STREAM, 0) + close()
 *   udp      socket(AF_INET, SOCK_DGRAM, 0) + close()
 *   unix     socket(AF_UNIX, SOCK_STREAM, 0) + close()
 *   connect  socket(AF_INET, SOCK_STREAM, 0) + connect() to a listener on 127.0.0.1 that
 *            this program creates (a thread accepts and closes) + close()
 *
 * Timing mode (default): per kind, WARMUP operations (default 1000), then N (default 20000;
 * connect: 2000) timed with CLOCK_MONOTONIC in BATCHES equal batches (default 5); prints one
 * line per kind, "KIND NS_PER_OP", from the fastest batch, the one least disturbed by
 * whatever else the machine was doing.
 * Count mode (-c): exactly N operations per kind, no warm-up, no output: for strace -c and
 * callgrind, where the caller compares two values of N so that start-up costs cancel.
 *
 * Exit status: 0, or 1 when an operation fails (with a message on stderr), 2 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum kind { K_TCP, K_UDP, K_UNIX, K_CONNECT, K__COUNT };
static const char *const kind_names[K__COUNT] = { "tcp", "udp", "unix", "connect" };

static struct sockaddr_in listen_addr;
static _Atomic long accepted;	/* connections the acceptor thread has accepted and closed */
static long connected;		/* connections loop_connect() has made */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *acceptor(void *arg)
{
	int lfd = *(int *)arg, fd;

	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd >= 0) {
			close(fd);
			accepted++;
		} else if (errno != EINTR && errno != ECONNABORTED)
			return NULL;
	}
}

/* A listener on 127.0.0.1, ephemeral port (so that TIME_WAIT left by an earlier run never
 * collides with this one's connections), with a thread that accepts and closes. */
static int start_listener(void)
{
	static int lfd;
	socklen_t len = sizeof(listen_addr);
	pthread_t t;
	int one = 1;

	listen_addr.sin_family = AF_INET;
	listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0 ||
	    listen(lfd, 4096) < 0 || getsockname(lfd, (struct sockaddr *)&listen_addr, &len) < 0) {
		fprintf(stderr, "hbbench: listener on 127.0.0.1: %s\n", strerror(errno));
		return -1;
	}
	if (pthread_create(&t, NULL, acceptor, &lfd) != 0) {
		fprintf(stderr, "hbbench: pthread_create failed\n");
		return -1;
	}
	return 0;
}

/* The measured loops: one function per kind, nothing else inside. Returns 0 or -1. */
static __attribute__((noinline)) int loop_socket(int domain, int type, long n)
{
	for (long i = 0; i < n; i++) {
		int fd = socket(domain, type, 0);

		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

static __attribute__((noinline)) int loop_connect(long n)
{
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
		close(fd);
	}
	connected += n;
	return 0;
}

/* Waits (up to 5 s) until the acceptor caught up, so that every run makes the same calls
 * in both threads whatever the scheduling: strace -f -c counts compare across runs. */
static void drain_acceptor(void)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 5000 && accepted < connected; i++)
		nanosleep(&ms, NULL);
}

static int run(enum kind k, long n)
{
	switch (k) {
	case K_TCP:
		return loop_socket(AF_INET, SOCK_STREAM, n);
	case K_UDP:
		return loop_socket(AF_INET, SOCK_DGRAM, n);
	case K_UNIX:
		return loop_socket(AF_UNIX, SOCK_STREAM, n);
	default:
		return loop_connect(n);
	}
}

static int parse_kinds(char *s, int *want)
{
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		int k;

		for (k = 0; k < K__COUNT && strcmp(tok, kind_names[k]); k++)
			;
		if (k == K__COUNT)
			return -1;
		want[k] = 1;
	}
	return 0;
}

static long parse_count(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	return errno || *end || end == s || v < 0 || v > 100000000 ? -1 : v;
}

int main(int argc, char **argv)
{
	int want[K__COUNT] = { 0 }, any = 0, count_mode = 0, opt;
	long n = -1, warmup = 1000, batches = 5;

	while ((opt = getopt(argc, argv, "n:w:b:k:c")) != -1) {
		switch (opt) {
		case 'n':
			n = parse_count(optarg);
			break;
		case 'w':
			warmup = parse_count(optarg);
			break;
		case 'b':
			batches = parse_count(optarg);
			break;
		case 'k':
			if (parse_kinds(optarg, want) < 0)
				goto usage;
			break;
		case 'c':
			count_mode = 1;
			break;
		default:
			goto usage;
		}
		if ((opt == 'n' && n < 0) || (opt == 'w' && warmup < 0) || (opt == 'b' && batches < 1))
			goto usage;
	}
	if (optind != argc)
		goto usage;
	for (int k = 0; k < K__COUNT; k++)
		any |= want[k];
	if (!any)
		for (int k = 0; k < K__COUNT; k++)
			want[k] = 1;
	if (want[K_CONNECT] && start_listener() < 0)
		return 1;

	for (int k = 0; k < K__COUNT; k++) {
		long ops = n >= 0 ? n : k == K_CONNECT ? 2000 : 20000;
		double t, best;

		if (!want[k])
			continue;
		if (count_mode) {
			if (run(k, ops) < 0)
				goto fail;
			drain_acceptor();
			continue;
		}
		if (run(k, warmup) < 0)
			goto fail;
		drain_acceptor();
		best = -1;
		for (int b = 0; b < batches; b++) {
			long m = ops / batches;

			t = now_ns();
			if (run(k, m) < 0)
				goto fail;
			t = (now_ns() - t) / (m ? m : 1);
			drain_acceptor();
			if (best < 0 || t < best)
				best = t;
		}
		printf("%s %.1f\n", kind_names[k], best);
		fflush(stdout);
		continue;
fail:
		fprintf(stderr, "hbbench: %s: %s\n", kind_names[k], strerror(errno));
		return 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: hbbench [-n N] [-w WARMUP] [-b BATCHES] [-k tcp,udp,unix,connect] [-c]\n");
	return 2;
}
