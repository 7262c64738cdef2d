// SPDX-License-Identifier: BSD-2-Clause
/*
 * pingpong: 1-byte TCP request/response over one connection, for scripts/bench-monitor.sh.
 *
 *   pingpong server HOST PORT          echo every byte back (one connection at a time,
 *                                      forever); prints "ready"
 *   pingpong client HOST PORT SECONDS  send 1 byte, wait for it, again, for SECONDS; prints
 *                                      "TRANSACTIONS SECONDS TPS"
 * TCP_NODELAY on both ends, blocking I/O: each transaction is one segment each way (the
 * ACKs ride on the next segment), so a transaction costs two packets per socket.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int addr(const char *host, const char *port, struct sockaddr_in *a)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((unsigned short)atoi(port));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	int fd, c, one = 1;
	long n = 0;
	char b = 'x';
	double t0, end, t;

	if (argc < 4 || addr(argv[2], argv[3], &a)) {
		fprintf(stderr, "usage: pingpong server HOST PORT | client HOST PORT SECONDS\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (strcmp(argv[1], "server") == 0) {
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8)) {
			perror("pingpong: bind/listen");
			return 1;
		}
		printf("ready\n");
		fflush(stdout);
		for (;;) {
			c = accept(fd, NULL, NULL);
			if (c < 0)
				continue;
			setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			while (read(c, &b, 1) == 1 && write(c, &b, 1) == 1)
				;
			close(c);
		}
	}
	if (argc < 5)
		return 2;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("pingpong: connect");
		return 1;
	}
	t0 = now_s();
	end = t0 + atof(argv[4]);
	do {
		/* check the clock every 256 transactions only */
		for (c = 0; c < 256; c++) {
			if (write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1) {
				perror("pingpong: transaction");
				return 1;
			}
		}
		n += 256;
		t = now_s();
	} while (t < end);
	printf("%ld %.3f %.0f\n", n, t - t0, (double)n / (t - t0));
	close(fd);
	return 0;
}
