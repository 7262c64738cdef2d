// SPDX-License-Identifier: BSD-2-Clause
/*
 * Test helper for hbctl's integration tests: holds TCP connections with known keepalive
 * settings and reports, from inside, what getsockopt says about them.
 *
 *   ka_hold [-6] [-n N] [-k 0|1] [-i IDLE_S] [-t INTVL_S] [-c CNT] [-u UTO_MS] connect HOST PORT
 *   ka_hold [-6] listen HOST PORT
 *   ka_hold [-6] churn HOST PORT SECONDS
 *
 * connect: opens N (default 1) connections, applying only the options given (setsockopt
 * before connect), prints "conn fd=FD lport=PORT" for each, then "ready".
 * listen: prints "ready" once listening, then accepts and holds every connection.
 * Both: on SIGUSR1 print "fd=FD ka=K idle=I intvl=T cnt=C uto=U" for each held connection,
 * then "end"; run until killed. Output is line-buffered so tests can poll the file.
 * churn: a forked acceptor closes what it accepts while the parent connects and closes as
 * fast as it can for SECONDS (3 of 4 with SO_LINGER 0, so that time-wait sockets appear
 * without exhausting the ports), then prints "churned N" and exits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 4096

static volatile sig_atomic_t dump_req;
static int fds[MAX_FDS], nfds;

static void on_usr1(int sig)
{
	(void)sig;
	dump_req = 1;
}

static int getint(int fd, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &len) < 0)
		return -1;
	return v;
}

static void dump(void)
{
	int i;

	for (i = 0; i < nfds; i++)
		printf("fd=%d ka=%d idle=%d intvl=%d cnt=%d uto=%d\n", fds[i],
		       getint(fds[i], SOL_SOCKET, SO_KEEPALIVE),
		       getint(fds[i], IPPROTO_TCP, TCP_KEEPIDLE),
		       getint(fds[i], IPPROTO_TCP, TCP_KEEPINTVL),
		       getint(fds[i], IPPROTO_TCP, TCP_KEEPCNT),
		       getint(fds[i], IPPROTO_TCP, TCP_USER_TIMEOUT));
	printf("end\n");
	fflush(stdout);
}

static void die(const char *what)
{
	fprintf(stderr, "ka_hold: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void setopt(int fd, int level, int opt, int v, const char *name)
{
	if (v >= 0 && setsockopt(fd, level, opt, &v, sizeof(v)) < 0)
		die(name);
}

static socklen_t mkaddr(int v6, const char *host, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			die("bad IPv6 address");
		return sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			die("bad IPv4 address");
		return sizeof(*a);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int churn(int v6, struct sockaddr_storage *ss, socklen_t alen, double secs)
{
	int one = 1, l = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0), status;
	long n = 0;
	double end;
	pid_t child;

	if (l < 0)
		die("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)ss, alen) < 0)
		die("bind");
	if (listen(l, 4096) < 0)
		die("listen");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		for (;;) {
			int a = accept(l, NULL, NULL);

			if (a >= 0)
				close(a);
		}
	}
	close(l);
	printf("ready\n");
	for (end = now_s() + secs; now_s() < end; n++) {
		struct linger lg = { 1, 0 };
		int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			die("socket");
		if (n % 4)
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (connect(fd, (struct sockaddr *)ss, alen) < 0 && errno != EADDRNOTAVAIL &&
		    errno != ECONNREFUSED && errno != EAGAIN)
			die("connect");
		close(fd);
	}
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	printf("churned %ld\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	int v6 = 0, n = 1, ka = -1, idle = -1, intvl = -1, cnt = -1, uto = -1, c, i, port;
	struct sockaddr_storage ss;
	struct sigaction sa;
	socklen_t alen;

	while ((c = getopt(argc, argv, "6n:k:i:t:c:u:")) != -1) {
		switch (c) {
		case '6': v6 = 1; break;
		case 'n': n = atoi(optarg); break;
		case 'k': ka = atoi(optarg); break;
		case 'i': idle = atoi(optarg); break;
		case 't': intvl = atoi(optarg); break;
		case 'c': cnt = atoi(optarg); break;
		case 'u': uto = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: ka_hold [-6] [-n N] [-k 0|1] [-i S] [-t S] [-c N] "
				"[-u MS] connect|listen HOST PORT | churn HOST PORT SECONDS\n");
			return 2;
		}
	}
	if (argc - optind == 4 && strcmp(argv[optind], "churn") == 0) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		alen = mkaddr(v6, argv[optind + 1], atoi(argv[optind + 2]), &ss);
		return churn(v6, &ss, alen, atof(argv[optind + 3]));
	}
	if (argc - optind != 3 || n < 1 || n > MAX_FDS) {
		fprintf(stderr, "ka_hold: need connect|listen HOST PORT, or churn HOST PORT SECONDS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;	/* no SA_RESTART: accept() and pause() return */
	sigaction(SIGUSR1, &sa, NULL);
	port = atoi(argv[optind + 2]);
	alen = mkaddr(v6, argv[optind + 1], port, &ss);

	if (strcmp(argv[optind], "listen") == 0) {
		int one = 1, l = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);

		if (l < 0)
			die("socket");
		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(l, (struct sockaddr *)&ss, alen) < 0)
			die("bind");
		if (listen(l, 4096) < 0)
			die("listen");
		printf("ready\n");
		for (;;) {
			int a = accept(l, NULL, NULL);

			if (dump_req) {
				dump_req = 0;
				dump();
			}
			if (a < 0) {
				if (errno == EINTR)
					continue;
				die("accept");
			}
			if (nfds < MAX_FDS)
				fds[nfds++] = a;
			else
				close(a);
		}
	}
	if (strcmp(argv[optind], "connect") != 0) {
		fprintf(stderr, "ka_hold: unknown mode '%s'\n", argv[optind]);
		return 2;
	}
	for (i = 0; i < n; i++) {
		struct sockaddr_storage me;
		socklen_t mlen = sizeof(me);
		int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			die("socket");
		setopt(fd, SOL_SOCKET, SO_KEEPALIVE, ka, "SO_KEEPALIVE");
		setopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle, "TCP_KEEPIDLE");
		setopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, intvl, "TCP_KEEPINTVL");
		setopt(fd, IPPROTO_TCP, TCP_KEEPCNT, cnt, "TCP_KEEPCNT");
		setopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, uto, "TCP_USER_TIMEOUT");
		if (connect(fd, (struct sockaddr *)&ss, alen) < 0)
			die("connect");
		getsockname(fd, (struct sockaddr *)&me, &mlen);
		printf("conn fd=%d lport=%d\n", fd, ntohs(((struct sockaddr_in *)&me)->sin_port));
		fds[nfds++] = fd;
	}
	printf("ready\n");
	for (;;) {
		pause();
		if (dump_req) {
			dump_req = 0;
			dump();
		}
	}
}
