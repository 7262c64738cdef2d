// SPDX-License-Identifier: BSD-2-Clause
/*
 * sockkinds: creates (and uses, and closes) one socket of each kind named, between marker
 * syscalls, so that `strace -f` shows exactly which syscalls each kind of socket caused:
 *
 *   sockkinds HOST6 HOST4 PORT KIND...
 *
 * KIND: tcp, tcp6, tcpnb (SOCK_NONBLOCK|SOCK_CLOEXEC), tcpproto (IPPROTO_TCP): connect to
 * HOST4/HOST6 PORT. udp, udp6: connect (no traffic). unix, unixdgram, unixseq: socketpair.
 * raw (SOCK_RAW, IPPROTO_TCP), mptcp (SOCK_STREAM, IPPROTO_MPTCP), tcpudp (SOCK_STREAM,
 * IPPROTO_UDP: fails): socket() only. Before and after each: access("/hbmark-KIND-begin") and
 * access("/hbmark-KIND-end"), which fail with ENOENT and are only markers.
 * Prints "KIND ok" or "KIND fail ERRNO" for each, at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static void mark(const char *kind, const char *what)
{
	char p[96];

	snprintf(p, sizeof(p), "/hbmark-%s-%s", kind, what);
	if (access(p, F_OK) == 0)
		fprintf(stderr, "sockkinds: %s exists?\n", p);
}

int main(int argc, char **argv)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	static char out[4096];
	size_t o = 0;
	int i;

	if (argc < 5) {
		fprintf(stderr, "usage: sockkinds HOST6 HOST4 PORT KIND...\n");
		return 2;
	}
	inet_pton(AF_INET6, argv[1], &s6.sin6_addr);
	inet_pton(AF_INET, argv[2], &s4.sin_addr);
	s6.sin6_port = s4.sin_port = htons(atoi(argv[3]));
	for (i = 4; i < argc; i++) {
		const char *k = argv[i];
		int fd = -1, sv[2] = { -1, -1 }, r = 0;

		mark(k, "begin");
		if (!strcmp(k, "tcp") || !strcmp(k, "tcpnb") || !strcmp(k, "tcpproto")) {
			int type = SOCK_STREAM | (!strcmp(k, "tcpnb") ? SOCK_NONBLOCK | SOCK_CLOEXEC : 0);

			fd = socket(AF_INET, type, !strcmp(k, "tcpproto") ? IPPROTO_TCP : 0);
			r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&s4, sizeof(s4));
			if (r < 0 && errno == EINPROGRESS) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };

				r = poll(&p, 1, 5000) == 1 ? 0 : -1;
			}
		} else if (!strcmp(k, "tcp6")) {
			fd = socket(AF_INET6, SOCK_STREAM, 0);
			r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&s6, sizeof(s6));
		} else if (!strcmp(k, "udp")) {
			fd = socket(AF_INET, SOCK_DGRAM, 0);
			r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&s4, sizeof(s4));
		} else if (!strcmp(k, "udp6")) {
			fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&s6, sizeof(s6));
		} else if (!strcmp(k, "unix")) {
			r = socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		} else if (!strcmp(k, "unixdgram")) {
			r = socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
		} else if (!strcmp(k, "unixseq")) {
			r = socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
		} else if (!strcmp(k, "raw")) {
			fd = socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
			r = fd < 0 ? -1 : 0;
		} else if (!strcmp(k, "mptcp")) {
			fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
			r = fd < 0 ? -1 : 0;
		} else if (!strcmp(k, "tcpudp")) {
			fd = socket(AF_INET, SOCK_STREAM, IPPROTO_UDP);
			r = fd < 0 ? -1 : 0;
		} else {
			fprintf(stderr, "sockkinds: unknown kind %s\n", k);
			return 2;
		}
		/* into a buffer: stdio's first use would add syscalls inside the markers */
		if (r < 0)
			o += snprintf(out + o, sizeof(out) - o, "%s fail %s\n", k, strerrorname_np(errno));
		else
			o += snprintf(out + o, sizeof(out) - o, "%s ok\n", k);
		if (o >= sizeof(out))
			o = sizeof(out) - 1;
		if (fd >= 0)
			close(fd);
		if (sv[0] >= 0) {
			close(sv[0]);
			close(sv[1]);
		}
		mark(k, "end");
	}
	fputs(out, stdout);
	return 0;
}
