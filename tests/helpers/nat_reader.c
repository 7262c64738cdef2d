// SPDX-License-Identifier: BSD-2-Clause
/*
 * nat_reader HOST PORT: a client that only ever reads, the case keepalive exists for
 * (tests/integ/nat.sh, dead peer).
 *
 * Connects, exchanges one line with the echo server, prints "ready local ADDR:PORT", then
 * blocks in read() until something happens, and prints how read() ended and after how long:
 *   read error ENAME after N.NNN s   exit 2 (ETIMEDOUT: keepalive or user timeout gave up)
 *   read eof after N.NNN s           exit 1
 *   read data after N.NNN s          exit 0
 * Setup failures: a message on stderr and exit 3. It sets no socket option itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET }, la;
	socklen_t lalen = sizeof(la);
	char buf[256], addr[INET_ADDRSTRLEN];
	ssize_t n;
	double t;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 3) {
		fprintf(stderr, "usage: nat_reader HOST PORT\n");
		return 3;
	}
	sa.sin_port = htons(atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "nat_reader: bad address %s\n", argv[1]);
		return 3;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "nat_reader: connect %s:%s: %s\n", argv[1], argv[2], strerror(errno));
		return 3;
	}
	if (send(fd, "hello\n", 6, MSG_NOSIGNAL) != 6 || read(fd, buf, sizeof(buf)) <= 0) {
		fprintf(stderr, "nat_reader: first exchange failed: %s\n", strerror(errno));
		return 3;
	}
	getsockname(fd, (struct sockaddr *)&la, &lalen);
	inet_ntop(AF_INET, &la.sin_addr, addr, sizeof(addr));
	printf("ready local %s:%u\n", addr, ntohs(la.sin_port));
	t = now();
	do
		n = read(fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	t = now() - t;
	if (n > 0) {
		printf("read data after %.3f s\n", t);
		return 0;
	}
	if (n == 0) {
		printf("read eof after %.3f s\n", t);
		return 1;
	}
	printf("read error %s after %.3f s\n", strerrorname_np(errno), t);
	return 2;
}
