// SPDX-License-Identifier: BSD-2-Clause
/*
 * holdsrv: a TCP server for the shim's integration tests.
 *
 *   holdsrv [-p] HOST PORT [HOST PORT]...
 *
 * Listens on each numeric HOST PORT (IPv4 or IPv6), accepts every connection and holds it
 * open, reading and discarding what the peer sends, until the peer closes it or holdsrv is
 * killed. With -p, prints for each accepted connection the accepted socket's options as
 * getsockopt() sees them from inside the server:
 *
 *   ka=1 idle=60 intvl=10 cnt=6 uto=0
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 1024

static int get(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	getsockopt(fd, level, name, &v, &l);
	return v;
}

int main(int argc, char **argv)
{
	struct pollfd p[MAX_FDS];
	int nlisten = 0, n, print = 0, i, one = 1;
	char buf[4096];

	if (argc > 1 && !strcmp(argv[1], "-p")) {
		print = 1;
		argv++;
		argc--;
	}
	if (argc < 3 || (argc - 1) % 2) {
		fprintf(stderr, "usage: holdsrv [-p] HOST PORT [HOST PORT]...\n");
		return 2;
	}
	for (i = 1; i < argc; i += 2) {
		struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
					  .ai_socktype = SOCK_STREAM };
		struct addrinfo *ai;
		int fd, r;

		r = getaddrinfo(argv[i], argv[i + 1], &hints, &ai);
		if (r) {
			fprintf(stderr, "holdsrv: %s %s: %s\n", argv[i], argv[i + 1], gai_strerror(r));
			return 1;
		}
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
			fprintf(stderr, "holdsrv: %s %s: %s\n", argv[i], argv[i + 1], strerror(errno));
			return 1;
		}
		freeaddrinfo(ai);
		p[nlisten].fd = fd;
		p[nlisten++].events = POLLIN;
	}
	n = nlisten;
	for (;;) {
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (i < nlisten) {
				int c = accept(p[i].fd, NULL, NULL);

				if (c < 0)
					continue;
				if (print) {
					printf("ka=%d idle=%d intvl=%d cnt=%d uto=%d\n",
					       get(c, SOL_SOCKET, SO_KEEPALIVE),
					       get(c, IPPROTO_TCP, TCP_KEEPIDLE),
					       get(c, IPPROTO_TCP, TCP_KEEPINTVL),
					       get(c, IPPROTO_TCP, TCP_KEEPCNT),
					       get(c, IPPROTO_TCP, TCP_USER_TIMEOUT));
					fflush(stdout);
				}
				if (n == MAX_FDS) {
					close(c);
					continue;
				}
				p[n].fd = c;
				p[n].events = POLLIN;
				p[n++].revents = 0;
			} else if (read(p[i].fd, buf, sizeof(buf)) <= 0) {
				close(p[i].fd);
				p[i--] = p[--n];
			}
		}
	}
}
