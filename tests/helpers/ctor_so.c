// SPDX-License-Identifier: BSD-2-Clause
/*
 * ctor.so: a library whose constructor uses a TCP socket before the shim's own constructor
 * has run (after libfaketime's test_constructors.sh). Preload it so that its initializer
 * runs first; the shim must still interpose correctly, without crashing or deadlocking.
 *
 * Environment: CTOR_CONNECT=IPV4:PORT. The constructor creates a TCP socket, connects it
 * there and writes the options it carries to stdout:
 *
 *   ctor: ka=1 idle=60 intvl=10 cnt=6 uto=0
 *
 * or "ctor: error ..." when something failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int get(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	getsockopt(fd, level, name, &v, &l);
	return v;
}

__attribute__((constructor)) static void ctor_socket(void)
{
	const char *spec = getenv("CTOR_CONNECT");
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64], line[160];
	const char *colon;
	int fd, n;

	if (!spec || !(colon = strrchr(spec, ':')) || (size_t)(colon - spec) >= sizeof(host))
		return;
	memcpy(host, spec, colon - spec);
	host[colon - spec] = 0;
	sa.sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		n = snprintf(line, sizeof(line), "ctor: error %s\n", strerror(errno));
	} else {
		n = snprintf(line, sizeof(line), "ctor: ka=%d idle=%d intvl=%d cnt=%d uto=%d\n",
			     get(fd, SOL_SOCKET, SO_KEEPALIVE), get(fd, IPPROTO_TCP, TCP_KEEPIDLE),
			     get(fd, IPPROTO_TCP, TCP_KEEPINTVL), get(fd, IPPROTO_TCP, TCP_KEEPCNT),
			     get(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
	}
	if (fd >= 0)
		close(fd);
	if (write(1, line, n) != n)
		return;
}
