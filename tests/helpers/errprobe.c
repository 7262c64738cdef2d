// SPDX-License-Identifier: BSD-2-Clause
/*
 * errprobe: what socket(), connect(), listen() and setsockopt() return to the application,
 * errno included (also errno left alone on success), and the descriptor flags it gets. The
 * test runs it with and without the shim and compares the output byte for byte: the app must
 * see exactly what libc would have given it.
 *
 *   errprobe OPEN_PORT CLOSED_PORT     (something listens on 127.0.0.1:OPEN_PORT)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SENTINEL EDOM

static void show(const char *what, int r, int e)
{
	const char *n = e ? strerrorname_np(e) : "0";

	printf("%-44s ret=%s errno=%s\n", what, r < 0 ? "-1" : r == 0 ? "0" : "fd", n ? n : "?");
}

/* Run EXPR with errno preset to SENTINEL; print its result and the errno it leaves. */
#define T(what, expr)                                                                      \
	({                                                                                 \
		int r_;                                                                    \
		errno = SENTINEL;                                                          \
		r_ = (expr);                                                               \
		show(what, r_, errno);                                                     \
		r_;                                                                        \
	})

static void flags(const char *what, int fd)
{
	printf("%-44s fl=%#x fd=%#x\n", what, fcntl(fd, F_GETFL), fcntl(fd, F_GETFD));
}

int main(int argc, char **argv)
{
	struct sockaddr_in open_sa = { .sin_family = AF_INET }, closed_sa, any = { .sin_family = AF_INET };
	int s, s6, u, nb, devnull, one = 1, zero = 0, big = 200;

	if (argc != 3) {
		fprintf(stderr, "usage: errprobe OPEN_PORT CLOSED_PORT\n");
		return 2;
	}
	inet_pton(AF_INET, "127.0.0.1", &open_sa.sin_addr);
	closed_sa = open_sa;
	open_sa.sin_port = htons(atoi(argv[1]));
	closed_sa.sin_port = htons(atoi(argv[2]));
	devnull = open("/dev/null", O_RDONLY);

	s = T("socket(INET, STREAM, 0)", socket(AF_INET, SOCK_STREAM, 0));
	flags("  flags", s);
	s6 = T("socket(INET6, STREAM|NONBLOCK|CLOEXEC, 0)",
	       socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	flags("  flags", s6);
	T("socket(INET, STREAM|CLOEXEC, IPPROTO_TCP)",
	  socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
	T("socket(INET, STREAM, IPPROTO_UDP)", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
	T("socket(INET, 0x7ff, 0)", socket(AF_INET, 0x7ff, 0));
	T("socket(12345, STREAM, 0)", socket(12345, SOCK_STREAM, 0));
	u = T("socket(INET, DGRAM, 0)", socket(AF_INET, SOCK_DGRAM, 0));

	T("setsockopt(-1, SO_KEEPALIVE)", setsockopt(-1, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)));
	T("setsockopt(/dev/null, SO_KEEPALIVE)",
	  setsockopt(devnull, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)));
	T("setsockopt(tcp, TCP_KEEPIDLE, 0)", setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &zero, sizeof(zero)));
	T("setsockopt(tcp, TCP_KEEPCNT, 200)", setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &big, sizeof(big)));
	T("setsockopt(tcp, SO_KEEPALIVE, optlen 2)", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, 2));
	T("setsockopt(tcp, SO_KEEPALIVE, NULL)", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, NULL, 4));
	T("setsockopt(tcp, TCP_KEEPIDLE, bad pointer)",
	  setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, (void *)8, 4));
	T("setsockopt(tcp, TCP_USER_TIMEOUT, -1)",
	  setsockopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &(int){ -1 }, sizeof(int)));
	T("setsockopt(tcp, TCP_NODELAY, 1)", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	T("setsockopt(udp, SO_KEEPALIVE, 1)", setsockopt(u, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)));
	T("setsockopt(tcp, 999, 1)", setsockopt(s, 999, 1, &one, sizeof(one)));

	T("connect(-1)", connect(-1, (struct sockaddr *)&open_sa, sizeof(open_sa)));
	T("connect(/dev/null)", connect(devnull, (struct sockaddr *)&open_sa, sizeof(open_sa)));
	T("connect(tcp, short addrlen)", connect(s, (struct sockaddr *)&open_sa, 4));
	T("connect(tcp, NULL addr)", connect(s, NULL, sizeof(open_sa)));
	T("connect(tcp, closed port)", connect(s, (struct sockaddr *)&closed_sa, sizeof(closed_sa)));
	close(s);
	s = socket(AF_INET, SOCK_STREAM, 0);
	T("connect(tcp, open port)", connect(s, (struct sockaddr *)&open_sa, sizeof(open_sa)));
	T("connect(tcp, again)", connect(s, (struct sockaddr *)&open_sa, sizeof(open_sa)));
	T("setsockopt(connected, TCP_KEEPINTVL, 0)",
	  setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &zero, sizeof(zero)));
	nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	T("connect(nonblocking tcp, open port)", connect(nb, (struct sockaddr *)&open_sa, sizeof(open_sa)));
	flags("  flags", nb);
	T("connect(udp)", connect(u, (struct sockaddr *)&open_sa, sizeof(open_sa)));

	T("listen(-1)", listen(-1, 5));
	T("listen(/dev/null)", listen(devnull, 5));
	T("listen(udp)", listen(u, 5));
	T("listen(connected tcp)", listen(s, 5));
	close(s);
	s = socket(AF_INET, SOCK_STREAM, 0);
	T("bind(tcp, port in use)", bind(s, (struct sockaddr *)&open_sa, sizeof(open_sa)));
	close(s);
	s = socket(AF_INET, SOCK_STREAM, 0);
	T("bind(tcp, any)", bind(s, (struct sockaddr *)&any, sizeof(any)));
	T("listen(tcp)", listen(s, 5));
	T("listen(tcp, again)", listen(s, 10));
	close(s);
	s = socket(AF_INET, SOCK_STREAM, 0);
	T("listen(unbound tcp)", listen(s, 5));
	return 0;
}
