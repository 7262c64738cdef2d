// SPDX-License-Identifier: BSD-2-Clause
/*
 * siglj: signal handlers against the shim. A fast interval timer interrupts a loop of TCP
 * socket() calls; each handler makes a TCP socket of its own (async-signal-safe calls only),
 * checks that it got keepalive, and siglongjmps back into the loop, often out of the middle
 * of the shim's socket() wrapper. Afterwards, with the timer stopped, 100 more sockets.
 *
 *   siglj [JUMPS]     (default 300: stop the storm after that many jumps)
 *
 * Prints "after=M/100 handler=H/T jumps=J": M of the 100 later sockets had SO_KEEPALIVE on,
 * H of the T sockets made inside a handler. Exit 0, or 1 when a call fails.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <unistd.h>

static sigjmp_buf env;
static volatile sig_atomic_t in_loop, handler_total, handler_ok;

static int keepalive_on(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len) == 0 && v;
}

static void on_alarm(int sig)
{
	int fd;

	(void)sig;
	if (!in_loop)
		return;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0) {
		handler_total++;
		handler_ok += keepalive_on(fd);
		close(fd);
	}
	siglongjmp(env, 1);
}

/* The 100 sockets after the storm. */
static int report(long jumps)
{
	int i, after = 0;

	for (i = 0; i < 100; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0) {
			perror("siglj: socket");
			return 1;
		}
		after += keepalive_on(fd);
		close(fd);
	}
	printf("after=%d/100 handler=%d/%d jumps=%ld\n", after, (int)handler_ok,
	       (int)handler_total, jumps);
	return 0;
}

int main(int argc, char **argv)
{
	struct itimerval it = { { 0, 50 }, { 0, 50 } }, stop = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa;
	volatile long jumps = 0, iter = 0;
	long want = argc > 1 ? atol(argv[1]) : 300;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0 || setitimer(ITIMER_REAL, &it, NULL) < 0) {
		perror("siglj: timer");
		return 1;
	}
	if (sigsetjmp(env, 1))
		jumps++;
	/* Sockets left open by a jump out of socket() are leaked on purpose: at most one per
	 * jump, well below the descriptor limit. */
	in_loop = 1;
	while (jumps < want && iter < 2000000) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		iter++;
		if (fd >= 0)
			close(fd);
	}
	in_loop = 0;
	setitimer(ITIMER_REAL, &stop, NULL);
	return report(jumps);
}
