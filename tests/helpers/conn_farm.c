// SPDX-License-Identifier: BSD-2-Clause
/*
 * Benchmark helper for scripts/bench-hbctl.sh: opens many established loopback TCP
 * connection pairs, spread over several processes, and holds them.
 *
 *   conn_farm -n PAIRS [-P PROCS] [-p BASEPORT] [-k]
 *
 * Run it inside a private network namespace (the script does). Worker i listens on
 * 127.0.0.1:BASEPORT+i and holds both ends of PAIRS/PROCS connections; with -k every second
 * client socket has SO_KEEPALIVE on (so timers show up). Each worker raises RLIMIT_NOFILE as
 * far as it may; without -P, PROCS is chosen so that each worker's share fits the limit it
 * can get (at least 4). Prints "ready PAIRS PROCS" when every worker is done, then waits for
 * SIGTERM or SIGINT and ends its workers (who also die with it: PR_SET_PDEATHSIG).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROCS 64

static volatile sig_atomic_t exiting;

static void on_term(int sig)
{
	(void)sig;
	exiting = 1;
}

static void raise_nofile(rlim_t want)
{
	struct rlimit rl;
	FILE *f;
	unsigned long nr_open = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	f = fopen("/proc/sys/fs/nr_open", "r");
	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (rl.rlim_cur >= want)
		return;
	/* As root the hard limit may go up to fs.nr_open; otherwise stop at the hard limit. */
	rl.rlim_cur = want;
	if (rl.rlim_max < want) {
		rl.rlim_max = nr_open && nr_open < want ? nr_open : want;
		if (rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
	}
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The listener of worker idx. All are bound before any worker connects: with the wide
 * ephemeral port range the bench sets, a client could otherwise take a later listener's port. */
static int listener(int idx, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int lfd, one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port + idx);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4096)) {
		fprintf(stderr, "conn_farm: listener %d (port %d): %s\n", idx, port + idx,
			strerror(errno));
		return -1;
	}
	return lfd;
}

/* One worker: n pairs through its own listener. Returns 0 or an exit status. */
static int worker(int idx, int n, int lfd, int keepalive, int ready_fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, sfd, i, one = 1;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	raise_nofile((rlim_t)2 * n + 64);
	if (getsockname(lfd, (struct sockaddr *)&sa, &len))
		return 1;
	for (i = 0; i < n && !exiting; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			fprintf(stderr, "conn_farm: worker %d: socket %d: %s\n", idx, i,
				strerror(errno));
			return 1;
		}
		if (keepalive && (i & 1))
			setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			fprintf(stderr, "conn_farm: worker %d: connect %d: %s\n", idx, i,
				strerror(errno));
			return 1;
		}
		sfd = accept(lfd, NULL, NULL);
		if (sfd < 0) {
			fprintf(stderr, "conn_farm: worker %d: accept %d: %s\n", idx, i,
				strerror(errno));
			return 1;
		}
	}
	close(lfd);
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	close(ready_fd);
	while (!exiting)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	int opt, pairs = 0, procs = 0, port = 20000, keepalive = 0, i, ready = 0, pfd[2], st;
	pid_t pids[MAX_PROCS];
	int lfds[MAX_PROCS];
	struct sigaction sa;
	char c;

	while ((opt = getopt(argc, argv, "n:P:p:k")) != -1) {
		switch (opt) {
		case 'n': pairs = atoi(optarg); break;
		case 'P': procs = atoi(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 'k': keepalive = 1; break;
		default: goto usage;
		}
	}
	if (pairs <= 0 || procs < 0)
		goto usage;
	if (!procs) {
		struct rlimit rl;
		long per;

		procs = 4;
		raise_nofile((rlim_t)2 * pairs / procs + 64);
		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY) {
			per = ((long)rl.rlim_cur - 64) / 2;
			if (per < 1)
				per = 1;
			while ((long)pairs > per * procs && procs < MAX_PROCS)
				procs++;
		}
		if (procs > pairs)
			procs = pairs;
	}
	if (procs > MAX_PROCS || procs > pairs)
		goto usage;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (pipe(pfd))
		return 1;
	for (i = 0; i < procs; i++) {
		lfds[i] = listener(i, port);
		if (lfds[i] < 0)
			return 1;
	}
	for (i = 0; i < procs; i++) {
		int n = pairs / procs + (i < pairs % procs);

		pids[i] = fork();
		if (pids[i] < 0) {
			perror("conn_farm: fork");
			procs = i;
			goto out;
		}
		if (pids[i] == 0) {
			int j;

			close(pfd[0]);
			for (j = 0; j < procs; j++)
				if (j != i)
					close(lfds[j]);
			_exit(worker(i, n, lfds[i], keepalive, pfd[1]));
		}
	}
	close(pfd[1]);
	for (i = 0; i < procs; i++)
		close(lfds[i]);
	while (ready < procs && read(pfd[0], &c, 1) == 1)
		ready++;
	if (ready < procs) {
		fprintf(stderr, "conn_farm: only %d of %d workers got ready\n", ready, procs);
		goto out;
	}
	printf("ready %d %d\n", pairs, procs);
	fflush(stdout);
	while (!exiting)
		pause();
out:
	for (i = 0; i < procs; i++)
		kill(pids[i], SIGTERM);
	for (i = 0; i < procs; i++)
		waitpid(pids[i], &st, 0);
	return ready == procs ? 0 : 1;
usage:
	fprintf(stderr, "usage: conn_farm -n PAIRS [-P PROCS] [-p BASEPORT] [-k]\n");
	return 2;
}
