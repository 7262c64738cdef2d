// SPDX-License-Identifier: BSD-2-Clause
/*
 * ka_threads: concurrency and fork stress of the shim.
 *
 *   ka_threads [-f] THREADS ITERS KA IDLE INTVL CNT UTO
 *
 * Listens on 127.0.0.1 (an acceptor thread accepts and closes), then THREADS threads each
 * ITERS times: create a TCP socket (every third one SOCK_NONBLOCK|SOCK_CLOEXEC), connect,
 * check its options, close; plus a UDP socket and an AF_UNIX pair that must stay untouched.
 * Odd-numbered threads set TCP_KEEPIDLE=IDLE+1 themselves before connect() (the app's choice,
 * which must win), so that fd numbers recycled between threads show whether per-fd state
 * leaks. Expected: SO_KEEPALIVE=KA, TCP_KEEPIDLE=IDLE (IDLE+1 on odd threads),
 * TCP_KEEPINTVL=INTVL, TCP_KEEPCNT=CNT, TCP_USER_TIMEOUT=UTO.
 * -f: meanwhile one more thread forks 40 children while the others run; each child makes and
 * checks one connection; a child that does not finish in 10 s (deadlock) counts as a failure.
 * Prints "ops=N mismatches=M forks=F fork_failures=G"; exits 0 when M and G are 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in srv = { .sin_family = AF_INET };
static int iters, want[5];
static atomic_int ops, mismatches, forks, fork_failures, stop;
static int lfd;

static int get(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	getsockopt(fd, level, name, &v, &l);
	return v;
}

/* One connection; returns 0 when its options are as expected. */
static int one_conn(int app_idle, int nonblock)
{
	int fd, got[5], exp[5], i, r;

	fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK | SOCK_CLOEXEC : 0), 0);
	if (fd < 0)
		return -1;
	if (app_idle && setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &app_idle, sizeof(app_idle)) < 0) {
		close(fd);
		return -1;
	}
	r = connect(fd, (struct sockaddr *)&srv, sizeof(srv));
	if (r < 0 && nonblock && errno == EINPROGRESS) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		r = poll(&p, 1, 10000) == 1 && !get(fd, SOL_SOCKET, SO_ERROR) ? 0 : -1;
	}
	if (r < 0) {
		close(fd);
		return -1;
	}
	got[0] = get(fd, SOL_SOCKET, SO_KEEPALIVE);
	got[1] = get(fd, IPPROTO_TCP, TCP_KEEPIDLE);
	got[2] = get(fd, IPPROTO_TCP, TCP_KEEPINTVL);
	got[3] = get(fd, IPPROTO_TCP, TCP_KEEPCNT);
	got[4] = get(fd, IPPROTO_TCP, TCP_USER_TIMEOUT);
	if (nonblock && (!(fcntl(fd, F_GETFL) & O_NONBLOCK) || !(fcntl(fd, F_GETFD) & FD_CLOEXEC)))
		got[0] = -2;
	close(fd);
	memcpy(exp, want, sizeof(exp));
	if (app_idle)
		exp[1] = app_idle;
	for (i = 0; i < 5; i++)
		if (got[i] != exp[i])
			return 1;
	return 0;
}

static void *worker(void *arg)
{
	long t = (long)arg;
	int app_idle = t % 2 ? want[1] + 1 : 0;

	for (int i = 0; i < iters; i++) {
		int r = one_conn(app_idle, i % 3 == 0), u, sv[2];

		if (r) {
			if (atomic_fetch_add(&mismatches, 1) < 5)
				fprintf(stderr, "ka_threads: thread %ld iteration %d: %s\n", t, i,
					r < 0 ? strerror(errno) : "unexpected options");
		}
		u = socket(AF_INET, SOCK_DGRAM | (i % 2 ? SOCK_CLOEXEC : 0), 0);
		if (u < 0 || get(u, SOL_SOCKET, SO_KEEPALIVE) != 0)
			atomic_fetch_add(&mismatches, 1);
		if (u >= 0)
			close(u);
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || get(sv[0], SOL_SOCKET, SO_KEEPALIVE))
			atomic_fetch_add(&mismatches, 1);
		close(sv[0]);
		close(sv[1]);
		atomic_fetch_add(&ops, 1);
	}
	return NULL;
}

static void *acceptor(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int c;

		if (poll(&p, 1, 100) != 1)
			continue;
		c = accept(lfd, NULL, NULL);
		if (c >= 0)
			close(c);
	}
	return NULL;
}

static void *forker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 40; i++) {
		pid_t pid = fork(), w = 0;
		int st = 0, ms;

		if (pid < 0) {
			atomic_fetch_add(&fork_failures, 1);
			continue;
		}
		if (pid == 0)
			_exit(one_conn(0, 0) ? 1 : 0);
		atomic_fetch_add(&forks, 1);
		for (ms = 0; ms < 10000; ms += 5) {
			w = waitpid(pid, &st, WNOHANG);
			if (w)
				break;
			nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
		}
		if (w != pid) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fprintf(stderr, "ka_threads: fork child %d hung\n", (int)pid);
			atomic_fetch_add(&fork_failures, 1);
		} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "ka_threads: fork child %d failed (status %#x)\n", (int)pid, st);
			atomic_fetch_add(&fork_failures, 1);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int do_fork = 0, nthreads, i;
	pthread_t *th, acc, fk;
	socklen_t sl = sizeof(srv);

	if (argc > 1 && !strcmp(argv[1], "-f")) {
		do_fork = 1;
		argv++;
		argc--;
	}
	if (argc != 8) {
		fprintf(stderr, "usage: ka_threads [-f] THREADS ITERS KA IDLE INTVL CNT UTO\n");
		return 2;
	}
	nthreads = atoi(argv[1]);
	iters = atoi(argv[2]);
	for (i = 0; i < 5; i++)
		want[i] = atoi(argv[3 + i]);
	inet_pton(AF_INET, "127.0.0.1", &srv.sin_addr);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&srv, sizeof(srv)) < 0 || listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&srv, &sl) < 0) {
		perror("ka_threads: listen");
		return 1;
	}
	th = calloc(nthreads, sizeof(*th));
	pthread_create(&acc, NULL, acceptor, NULL);
	if (do_fork)
		pthread_create(&fk, NULL, forker, NULL);
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(long)i);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	if (do_fork)
		pthread_join(fk, NULL);
	atomic_store(&stop, 1);
	pthread_join(acc, NULL);
	printf("ops=%d mismatches=%d forks=%d fork_failures=%d\n", atomic_load(&ops),
	       atomic_load(&mismatches), atomic_load(&forks), atomic_load(&fork_failures));
	return atomic_load(&mismatches) || atomic_load(&fork_failures);
}
