// SPDX-License-Identifier: BSD-2-Clause
/*
 * static_client: a TCP client and server for the kernel policy's tests (tests/integ/policy*.sh),
 * meant to be linked statically (the tests build it with gcc -static), so that no LD_PRELOAD
 * can reach it; with -R it makes raw system calls (syscall(SYS_socket, ...)), as Go programs
 * do, so that not even a libc could.
 *
 *   static_client [-R] [-s OPT=VAL]... [-w SECS] HOST PORT [HOST PORT]...
 *   static_client [-R] [-s OPT=VAL]... [-w SECS] -l PORT [-a N]
 *
 * Client: connects to each HOST PORT (numeric IPv4 or IPv6, IPv4-mapped included) and
 * prints one line per connection with the socket's own view of its options:
 *
 *   ka=1 idle=60 intvl=10 cnt=6 uto=0 lport=40000 rport=7000
 *
 * Server (-l): listens on [::]:PORT (both families), accepts N connections (default 1) and
 * prints the same line for each accepted socket (lport is PORT, rport the peer's port).
 * OPT is ka, idle, intvl, cnt or uto: -s sets it on the socket before connect() (the
 * program's own choice), or on the listener. -w SECS keeps the sockets open that long
 * afterwards (or until killed). "ready" is printed once listening (server) or once every
 * line is out. Exit 0, or 1 with a message on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_CONN 16
#define MAX_SET 8

static int raw;

/* The socket calls, through libc or straight to the kernel (-R). */
static int x_socket(int d, int t, int p)
{
	return raw ? (int)syscall(SYS_socket, d, t, p) : socket(d, t, p);
}

static int x_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return raw ? (int)syscall(SYS_connect, fd, sa, len) : connect(fd, sa, len);
}

static int x_setsockopt(int fd, int l, int n, const void *v, socklen_t len)
{
	return raw ? (int)syscall(SYS_setsockopt, fd, l, n, v, len) : setsockopt(fd, l, n, v, len);
}

static int x_getsockopt(int fd, int l, int n, void *v, socklen_t *len)
{
	return raw ? (int)syscall(SYS_getsockopt, fd, l, n, v, len) : getsockopt(fd, l, n, v, len);
}

static int x_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	return raw ? (int)syscall(SYS_bind, fd, sa, len) : bind(fd, sa, len);
}

static int x_listen(int fd, int n)
{
	return raw ? (int)syscall(SYS_listen, fd, n) : listen(fd, n);
}

static int x_accept(int fd)
{
	return raw ? (int)syscall(SYS_accept4, fd, NULL, NULL, 0) : accept(fd, NULL, NULL);
}

static int x_name(int fd, struct sockaddr_storage *ss, int peer)
{
	socklen_t len = sizeof(*ss);

	if (raw)
		return (int)syscall(peer ? SYS_getpeername : SYS_getsockname, fd, ss, &len);
	return peer ? getpeername(fd, (struct sockaddr *)ss, &len) :
		      getsockname(fd, (struct sockaddr *)ss, &len);
}

static void die(const char *what)
{
	fprintf(stderr, "static_client: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct opt {
	int level, name, val;
};

static int parse_opt(const char *s, struct opt *o)
{
	static const struct {
		const char *n;
		int level, name;
	} t[] = {
		{ "ka", SOL_SOCKET, SO_KEEPALIVE },	{ "idle", IPPROTO_TCP, TCP_KEEPIDLE },
		{ "intvl", IPPROTO_TCP, TCP_KEEPINTVL }, { "cnt", IPPROTO_TCP, TCP_KEEPCNT },
		{ "uto", IPPROTO_TCP, TCP_USER_TIMEOUT },
	};
	const char *eq = strchr(s, '=');
	size_t i;

	if (!eq)
		return -1;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strlen(t[i].n) == (size_t)(eq - s) && !strncmp(s, t[i].n, (size_t)(eq - s))) {
			o->level = t[i].level;
			o->name = t[i].name;
			o->val = atoi(eq + 1);
			return 0;
		}
	}
	return -1;
}

static int get_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (x_getsockopt(fd, level, name, &v, &len) < 0)
		return -1;
	return v;
}

static unsigned int port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void report(int fd)
{
	struct sockaddr_storage l, r;

	memset(&l, 0, sizeof(l));
	memset(&r, 0, sizeof(r));
	x_name(fd, &l, 0);
	x_name(fd, &r, 1);
	printf("ka=%d idle=%d intvl=%d cnt=%d uto=%d lport=%u rport=%u\n",
	       get_int(fd, SOL_SOCKET, SO_KEEPALIVE), get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE),
	       get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL), get_int(fd, IPPROTO_TCP, TCP_KEEPCNT),
	       get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), port_of(&l), port_of(&r));
	fflush(stdout);
}

static void apply_opts(int fd, const struct opt *set, int nset)
{
	int i;

	for (i = 0; i < nset; i++)
		if (x_setsockopt(fd, set[i].level, set[i].name, &set[i].val, sizeof(int)) < 0)
			die("setsockopt");
}

static int parse_addr(const char *host, const char *port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	int p = atoi(port);

	memset(ss, 0, sizeof(*ss));
	if (p <= 0 || p > 65535)
		return -1;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct opt set[MAX_SET];
	struct sockaddr_storage ss;
	struct sockaddr_in6 any;
	socklen_t len;
	int fds[MAX_CONN], nfd = 0, nset = 0, c, i, lfd, one = 1, zero = 0;
	int listen_port = 0, naccept = 1;
	double wait_s = 0;

	while ((c = getopt(argc, argv, "Rs:w:l:a:")) != -1) {
		switch (c) {
		case 'R':
			raw = 1;
			break;
		case 's':
			if (nset == MAX_SET || parse_opt(optarg, &set[nset]))
				goto usage;
			nset++;
			break;
		case 'w':
			wait_s = atof(optarg);
			break;
		case 'l':
			listen_port = atoi(optarg);
			break;
		case 'a':
			naccept = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (listen_port) {
		if (optind != argc || naccept < 1 || naccept > MAX_CONN)
			goto usage;
		lfd = x_socket(AF_INET6, SOCK_STREAM, 0);
		if (lfd < 0)
			die("socket");
		x_setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		x_setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		apply_opts(lfd, set, nset);
		memset(&any, 0, sizeof(any));
		any.sin6_family = AF_INET6;
		any.sin6_port = htons((uint16_t)listen_port);
		if (x_bind(lfd, (struct sockaddr *)&any, sizeof(any)) < 0)
			die("bind");
		if (x_listen(lfd, 64) < 0)
			die("listen");
		printf("ready\n");
		fflush(stdout);
		for (i = 0; i < naccept; i++) {
			fds[nfd] = x_accept(lfd);
			if (fds[nfd] < 0)
				die("accept");
			report(fds[nfd++]);
		}
	} else {
		if (optind >= argc || (argc - optind) % 2 || (argc - optind) / 2 > MAX_CONN)
			goto usage;
		for (i = optind; i < argc; i += 2) {
			if (parse_addr(argv[i], argv[i + 1], &ss, &len)) {
				fprintf(stderr, "static_client: bad address %s %s\n", argv[i],
					argv[i + 1]);
				return 1;
			}
			fds[nfd] = x_socket(ss.ss_family, SOCK_STREAM, 0);
			if (fds[nfd] < 0)
				die("socket");
			apply_opts(fds[nfd], set, nset);
			if (x_connect(fds[nfd], (struct sockaddr *)&ss, len) < 0)
				die("connect");
			report(fds[nfd++]);
		}
		printf("ready\n");
		fflush(stdout);
	}
	if (wait_s > 0)
		usleep((useconds_t)(wait_s * 1e6));
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	return 0;
usage:
	fprintf(stderr, "usage: static_client [-R] [-s OPT=VAL]... [-w SECS] HOST PORT...\n"
			"       static_client [-R] [-s OPT=VAL]... [-w SECS] -l PORT [-a N]\n");
	return 1;
}
