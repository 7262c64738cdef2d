// SPDX-License-Identifier: BSD-2-Clause
/*
 * nat_client HOST PORT IDLE_S WAIT_S: the client side of the NAT-timeout scenario
 * (tests/integ/nat.sh, scripts/demo.sh).
 *
 * Connects, exchanges one line with the echo server (so that the router's conntrack entry
 * is ESTABLISHED), prints its own socket's keepalive options as getsockopt() reads them,
 * stays idle IDLE_S seconds (fractions allowed) without any application traffic, then sends
 * one line and waits up to WAIT_S seconds for the echo. Output, one line each, flushed:
 *   connected local ADDR:PORT
 *   sockopts keepalive=N idle=N intvl=N cnt=N user_timeout_ms=N
 *   idle N.NNN s
 *   outcome reply after N.NNN s        exit 0
 *   outcome noreply after N.NNN s      exit 1  (nothing came back within WAIT_S)
 *   outcome error ENAME after N.NNN s  exit 2  (the kernel gave up on the connection)
 *   outcome eof after N.NNN s          exit 2
 * Anything that prevents the scenario from starting: a message on stderr and exit 3.
 * It never sets a socket option itself: whatever keepalive it has comes from the shim.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int getopt_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -1;
	return v;
}

/* Waits up to timeout_s for the echo of one line. Returns 0 reply, 1 nothing, 2 error/EOF. */
static int await_reply(int fd, double timeout_s, int *err)
{
	double end = now() + timeout_s;
	char buf[256];

	for (;;) {
		double left = end - now();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r;

		if (left <= 0)
			return 1;
		r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = errno;
			return 2;
		}
		if (r == 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0)
			return 0;
		*err = n == 0 ? 0 : errno;
		return 2;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET }, la;
	socklen_t lalen = sizeof(la);
	double idle_s, wait_s, t;
	int fd, rc, err = 0;
	char addr[INET_ADDRSTRLEN];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 5) {
		fprintf(stderr, "usage: nat_client HOST PORT IDLE_S WAIT_S\n");
		return 3;
	}
	idle_s = atof(argv[3]);
	wait_s = atof(argv[4]);
	sa.sin_port = htons(atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "nat_client: bad address %s\n", argv[1]);
		return 3;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "nat_client: connect %s:%s: %s\n", argv[1], argv[2], strerror(errno));
		return 3;
	}
	getsockname(fd, (struct sockaddr *)&la, &lalen);
	inet_ntop(AF_INET, &la.sin_addr, addr, sizeof(addr));
	printf("connected local %s:%u\n", addr, ntohs(la.sin_port));
	if (send(fd, "hello\n", 6, MSG_NOSIGNAL) != 6 || await_reply(fd, 5, &err) != 0) {
		fprintf(stderr, "nat_client: first exchange failed: %s\n", strerror(err));
		return 3;
	}
	printf("sockopts keepalive=%d idle=%d intvl=%d cnt=%d user_timeout_ms=%d\n",
	       getopt_int(fd, SOL_SOCKET, SO_KEEPALIVE), getopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE),
	       getopt_int(fd, IPPROTO_TCP, TCP_KEEPINTVL), getopt_int(fd, IPPROTO_TCP, TCP_KEEPCNT),
	       getopt_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
	printf("idle %.3f s\n", idle_s);
	struct timespec ts = { (time_t)idle_s, (long)((idle_s - (time_t)idle_s) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	t = now();
	if (send(fd, "ping\n", 5, MSG_NOSIGNAL) != 5) {
		err = errno;
		rc = 2;
	} else {
		rc = await_reply(fd, wait_s, &err);
	}
	t = now() - t;
	if (rc == 0)
		printf("outcome reply after %.3f s\n", t);
	else if (rc == 1)
		printf("outcome noreply after %.3f s\n", t);
	else if (err)
		printf("outcome error %s after %.3f s\n", strerrorname_np(err), t);
	else
		printf("outcome eof after %.3f s\n", t);
	close(fd);
	return rc;
}
