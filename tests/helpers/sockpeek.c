// SPDX-License-Identifier: BSD-2-Clause
/*
 * sockpeek: reads the keepalive options of another process's TCP sockets, from outside it.
 *
 *   sockpeek PID PORT
 *
 * For every TCP socket of PID whose local or remote port is PORT, duplicates it with
 * pidfd_getfd(2) and prints one line with what getsockopt() says on the socket itself:
 *
 *   L=127.0.0.1:41234 R=127.0.0.1:6379 ka=1 idle=15 intvl=5 cnt=3 uto=0
 *
 * R=* for a listening socket. This is how the tests read the exact values of programs they
 * cannot modify (curl, redis-cli, redis-server); ss shows only the running timer.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int get(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	getsockopt(fd, level, name, &v, &l);
	return v;
}

static int fmt(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s->sin_port));
		return ntohs(s->sin_port);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s->sin6_port));
		return ntohs(s->sin6_port);
	}
	snprintf(buf, len, "*");
	return -1;
}

int main(int argc, char **argv)
{
	char path[64], l[80], r[80];
	struct dirent *de;
	int pid, port, pidfd, found = 0;
	DIR *d;

	if (argc != 3) {
		fprintf(stderr, "usage: sockpeek PID PORT\n");
		return 2;
	}
	pid = atoi(argv[1]);
	port = atoi(argv[2]);
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "sockpeek: pidfd_open %d: %s\n", pid, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "sockpeek: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		struct sockaddr_storage ls = { 0 }, rs = { 0 };
		socklen_t len;
		int tfd = atoi(de->d_name), fd, lp, rp;
		char link[128], lnk[64];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(lnk, sizeof(lnk), "/proc/%d/fd/%d", pid, tfd);
		n = readlink(lnk, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = 0;
		if (strncmp(link, "socket:", 7))
			continue;
		fd = syscall(SYS_pidfd_getfd, pidfd, tfd, 0);
		if (fd < 0) {
			fprintf(stderr, "sockpeek: pidfd_getfd %d: %s\n", tfd, strerror(errno));
			return 1;
		}
		if ((get(fd, SOL_SOCKET, SO_DOMAIN) != AF_INET &&
		     get(fd, SOL_SOCKET, SO_DOMAIN) != AF_INET6) ||
		    get(fd, SOL_SOCKET, SO_TYPE) != SOCK_STREAM ||
		    get(fd, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_TCP) {
			close(fd);
			continue;
		}
		len = sizeof(ls);
		getsockname(fd, (struct sockaddr *)&ls, &len);
		len = sizeof(rs);
		if (getpeername(fd, (struct sockaddr *)&rs, &len) < 0)
			rs.ss_family = AF_UNSPEC;
		lp = fmt(&ls, l, sizeof(l));
		rp = fmt(&rs, r, sizeof(r));
		if (lp == port || rp == port) {
			printf("L=%s R=%s ka=%d idle=%d intvl=%d cnt=%d uto=%d\n", l, r,
			       get(fd, SOL_SOCKET, SO_KEEPALIVE), get(fd, IPPROTO_TCP, TCP_KEEPIDLE),
			       get(fd, IPPROTO_TCP, TCP_KEEPINTVL), get(fd, IPPROTO_TCP, TCP_KEEPCNT),
			       get(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
			found++;
		}
		close(fd);
	}
	closedir(d);
	return found ? 0 : 3;
}
