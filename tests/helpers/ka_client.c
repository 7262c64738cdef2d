// SPDX-License-Identifier: BSD-2-Clause
/*
 * ka_client: a TCP client for the shim's integration tests.
 *
 *   ka_client [-n] [-P] [-r] [-s OPT=VAL]... [-S OPT=VAL]... [-w SECS] HOST PORT [HOST PORT]...
 *
 * Connects to each HOST PORT (numeric IPv4 or IPv6, IPv4-mapped included) and prints, per
 * connection, the socket's own view of its options, read with getsockopt() from inside:
 *
 *   ka=1 idle=60 intvl=10 cnt=6 uto=0
 *
 * OPT is ka, idle, intvl, cnt or uto. -s sets an option itself before connect() (the app's
 * own choice), -S after connect(). -n: socket(SOCK_NONBLOCK|SOCK_CLOEXEC) and a non-blocking
 * connect() completed with poll(). -P: protocol IPPROTO_TCP instead of 0. -r: first create a
 * TCP socket, set SO_KEEPALIVE=0 and TCP_KEEPIDLE=4321 on it and close it, so that the real
 * socket reuses its fd number (per-fd state must not leak to it). -w SECS: after printing,
 * keep the connections open for SECS seconds (or until killed) so that ss can see them.
 * Exit 0 on success; 1 with a message on stderr on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 16
#define MAX_SET 16

struct opt {
	int level, name, val;
};

static int die(const char *what)
{
	fprintf(stderr, "ka_client: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int parse_opt(const char *s, struct opt *o)
{
	static const struct {
		const char *n;
		int level, name;
	} t[] = {
		{ "ka", SOL_SOCKET, SO_KEEPALIVE },   { "idle", IPPROTO_TCP, TCP_KEEPIDLE },
		{ "intvl", IPPROTO_TCP, TCP_KEEPINTVL }, { "cnt", IPPROTO_TCP, TCP_KEEPCNT },
		{ "uto", IPPROTO_TCP, TCP_USER_TIMEOUT },
	};
	const char *eq = strchr(s, '=');
	size_t i;

	if (!eq)
		return -1;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strlen(t[i].n) == (size_t)(eq - s) && !strncmp(s, t[i].n, eq - s)) {
			o->level = t[i].level;
			o->name = t[i].name;
			o->val = atoi(eq + 1);
			return 0;
		}
	}
	return -1;
}

static int get(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, level, name, &v, &l) < 0)
		die("getsockopt");
	return v;
}

static void print_opts(int fd)
{
	printf("ka=%d idle=%d intvl=%d cnt=%d uto=%d\n", get(fd, SOL_SOCKET, SO_KEEPALIVE),
	       get(fd, IPPROTO_TCP, TCP_KEEPIDLE), get(fd, IPPROTO_TCP, TCP_KEEPINTVL),
	       get(fd, IPPROTO_TCP, TCP_KEEPCNT), get(fd, IPPROTO_TCP, TCP_USER_TIMEOUT));
}

static void set_all(int fd, const struct opt *o, int n)
{
	for (int i = 0; i < n; i++)
		if (setsockopt(fd, o[i].level, o[i].name, &o[i].val, sizeof(o[i].val)) < 0)
			die("setsockopt");
}

int main(int argc, char **argv)
{
	struct opt pre[MAX_SET], post[MAX_SET];
	int npre = 0, npost = 0, nonblock = 0, proto = 0, reuse = 0, wait_s = 0, c, i;
	int fds[MAX_CONN], nfd = 0;

	while ((c = getopt(argc, argv, "nPrs:S:w:")) != -1) {
		switch (c) {
		case 'n': nonblock = 1; break;
		case 'P': proto = IPPROTO_TCP; break;
		case 'r': reuse = 1; break;
		case 's':
			if (npre == MAX_SET || parse_opt(optarg, &pre[npre++]) < 0)
				goto usage;
			break;
		case 'S':
			if (npost == MAX_SET || parse_opt(optarg, &post[npost++]) < 0)
				goto usage;
			break;
		case 'w': wait_s = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (argc - optind < 2 || (argc - optind) % 2 || (argc - optind) / 2 > MAX_CONN)
		goto usage;

	for (i = optind; i < argc; i += 2) {
		struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
					  .ai_socktype = SOCK_STREAM };
		struct addrinfo *ai;
		int fd, r, type = SOCK_STREAM;

		r = getaddrinfo(argv[i], argv[i + 1], &hints, &ai);
		if (r) {
			fprintf(stderr, "ka_client: %s %s: %s\n", argv[i], argv[i + 1], gai_strerror(r));
			return 1;
		}
		if (reuse) {
			int v0 = 0, v1 = 4321;

			fd = socket(ai->ai_family, SOCK_STREAM, 0);
			if (fd < 0)
				die("socket");
			if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v0, sizeof(v0)) < 0 ||
			    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v1, sizeof(v1)) < 0)
				die("setsockopt");
			close(fd);
		}
		if (nonblock)
			type |= SOCK_NONBLOCK | SOCK_CLOEXEC;
		fd = socket(ai->ai_family, type, proto);
		if (fd < 0)
			die("socket");
		set_all(fd, pre, npre);
		r = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (r < 0 && nonblock && errno == EINPROGRESS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int err = 0;
			socklen_t l = sizeof(err);

			if (poll(&p, 1, 10000) != 1)
				die("poll");
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
				die("getsockopt SO_ERROR");
			errno = err;
			r = err ? -1 : 0;
		} else if (r == 0 && nonblock) {
			errno = 0;
			die("non-blocking connect() returned 0 at once");
		}
		if (r < 0)
			die("connect");
		if (nonblock) {
			if (!(fcntl(fd, F_GETFL) & O_NONBLOCK) || !(fcntl(fd, F_GETFD) & FD_CLOEXEC)) {
				errno = 0;
				die("SOCK_NONBLOCK|SOCK_CLOEXEC lost");
			}
		}
		set_all(fd, post, npost);
		freeaddrinfo(ai);
		fds[nfd++] = fd;
	}
	for (i = 0; i < nfd; i++)
		print_opts(fds[i]);
	fflush(stdout);
	if (wait_s > 0) {
		struct timespec ts = { .tv_sec = wait_s };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	return 0;
usage:
	fprintf(stderr, "usage: ka_client [-n] [-P] [-r] [-s OPT=VAL]... [-S OPT=VAL]... "
			"[-w SECS] HOST PORT [HOST PORT]...\n");
	return 2;
}
