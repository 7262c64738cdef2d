// SPDX-License-Identifier: BSD-2-Clause
/*
 * Test helper for tests/integ/hbctl_bpf.sh: holds loopback TCP connections with known
 * keepalive settings so that hbctl can be checked against the process's own view.
 *
 *   ka_iter_hold [-6] [-f] -p PORT SPEC...
 *
 * Listens on 127.0.0.1:PORT ([::1] with -6) and, for each SPEC, connects one client socket
 * and accepts its server end. SPEC is "default" (nothing set) or a comma list of
 * ka=0|1, idle=S, intvl=S, cnt=N, uto=MS applied to the client socket with setsockopt().
 * With -f a child is forked after set-up that holds the same descriptors (shared sockets).
 *
 * Prints "pid PID" (and "child PID" with -f), then one line per client socket:
 *   "conn I fd=FD lport=PORT"
 * and "ready", then sleeps. On SIGUSR1 it prints, for each client socket, what getsockopt()
 * says, then "end":
 *   "fd=FD ka=0|1 idle=S intvl=S cnt=N uto=MS"
 * SIGTERM ends it (the child too).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CONNS 64

static volatile sig_atomic_t dump_req, exiting;
static int cfds[MAX_CONNS], ncfds;

static void on_usr1(int sig)
{
	(void)sig;
	dump_req = 1;
}

static void on_term(int sig)
{
	(void)sig;
	exiting = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "ka_iter_hold: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void setopt(int fd, int level, int name, int val, const char *what)
{
	if (setsockopt(fd, level, name, &val, sizeof(val)))
		die(what);
}

static void apply_spec(int fd, const char *spec)
{
	char *copy, *tok, *save = NULL;

	if (!strcmp(spec, "default"))
		return;
	copy = strdup(spec);
	if (!copy)
		die("strdup");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		int v;

		if (!eq) {
			fprintf(stderr, "ka_iter_hold: bad spec item '%s'\n", tok);
			exit(2);
		}
		*eq = '\0';
		v = atoi(eq + 1);
		if (!strcmp(tok, "ka"))
			setopt(fd, SOL_SOCKET, SO_KEEPALIVE, v, "SO_KEEPALIVE");
		else if (!strcmp(tok, "idle"))
			setopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, v, "TCP_KEEPIDLE");
		else if (!strcmp(tok, "intvl"))
			setopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, v, "TCP_KEEPINTVL");
		else if (!strcmp(tok, "cnt"))
			setopt(fd, IPPROTO_TCP, TCP_KEEPCNT, v, "TCP_KEEPCNT");
		else if (!strcmp(tok, "uto"))
			setopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, v, "TCP_USER_TIMEOUT");
		else {
			fprintf(stderr, "ka_iter_hold: unknown option '%s'\n", tok);
			exit(2);
		}
	}
	free(copy);
}

static int getopt_int(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, level, name, &v, &len))
		return -1;
	return v;
}

static void dump(void)
{
	int i;

	for (i = 0; i < ncfds; i++)
		printf("fd=%d ka=%d idle=%d intvl=%d cnt=%d uto=%d\n", cfds[i],
		       getopt_int(cfds[i], SOL_SOCKET, SO_KEEPALIVE),
		       getopt_int(cfds[i], IPPROTO_TCP, TCP_KEEPIDLE),
		       getopt_int(cfds[i], IPPROTO_TCP, TCP_KEEPINTVL),
		       getopt_int(cfds[i], IPPROTO_TCP, TCP_KEEPCNT),
		       getopt_int(cfds[i], IPPROTO_TCP, TCP_USER_TIMEOUT));
	printf("end\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	int opt, v6 = 0, do_fork = 0, port = 0, lfd, fd, sfd, one = 1, i;
	socklen_t alen;
	pid_t child = 0;
	struct sigaction sa;

	while ((opt = getopt(argc, argv, "6fp:")) != -1) {
		switch (opt) {
		case '6': v6 = 1; break;
		case 'f': do_fork = 1; break;
		case 'p': port = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: ka_iter_hold [-6] [-f] -p PORT SPEC...\n");
			return 2;
		}
	}
	if (!port || optind >= argc || argc - optind > MAX_CONNS) {
		fprintf(stderr, "usage: ka_iter_hold [-6] [-f] -p PORT SPEC...\n");
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons(port);
		alen = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(port);
		alen = sizeof(*sin);
	}
	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, alen) || listen(lfd, 128))
		die("bind/listen");

	printf("pid %d\n", (int)getpid());
	for (i = optind; i < argc; i++) {
		struct sockaddr_storage local;
		socklen_t llen = sizeof(local);

		fd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket");
		apply_spec(fd, argv[i]);
		if (connect(fd, (struct sockaddr *)&ss, alen))
			die("connect");
		sfd = accept(lfd, NULL, NULL);
		if (sfd < 0)
			die("accept");
		getsockname(fd, (struct sockaddr *)&local, &llen);
		cfds[ncfds++] = fd;
		printf("conn %d fd=%d lport=%d\n", i - optind, fd,
		       ntohs(v6 ? ((struct sockaddr_in6 *)&local)->sin6_port :
				  ((struct sockaddr_in *)&local)->sin_port));
	}
	fflush(stdout);
	if (do_fork) {
		child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			/* the child must not outlive the test's kill of the parent */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			while (!exiting && getppid() != 1)
				pause();
			_exit(0);
		}
		printf("child %d\n", (int)child);
	}
	printf("ready\n");
	fflush(stdout);

	while (!exiting) {
		pause();
		if (dump_req) {
			dump_req = 0;
			dump();
		}
	}
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	return 0;
}
