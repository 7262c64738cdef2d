// SPDX-License-Identifier: BSD-2-Clause
/*
 * Thread stress for libhbshim (run under ThreadSanitizer by tests/integ/_tsan.sh, and usable
 * under the normal build): 32 threads create, configure, connect, listen on and close TCP
 * (v4 and v6, blocking and non-blocking), UDP and AF_UNIX sockets at the same time, against a
 * loopback listener served by an accept thread; one thread also forks a child that makes
 * sockets. A second phase holds many sockets open at once so that fd numbers cross into the
 * shim's mmap'd fd-table pages while all threads race to install them.
 *
 * Usage: threads [EXPECT [ITERATIONS]]
 *   EXPECT  socket:  every TCP socket has SO_KEEPALIVE right after socket() (no match list)
 *           connect: every connected TCP socket has it after connect() (HB_MATCH=127.0.0.1)
 *           none:    no check (no shim, or HB_KEEPALIVE=off)
 * Checks errno preservation on every successful call. Exit 0 when all went well, 1 otherwise,
 * with one summary line on stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS	32
#define HOLD		64	/* sockets one thread holds open in phase 2 */
#define MAGIC_ERRNO	4711

enum expect { EXPECT_NONE, EXPECT_SOCKET, EXPECT_CONNECT };

static enum expect expect;
static int iterations = 200;
static struct sockaddr_in srv4;		/* the loopback listener */
static atomic_int failures;
static atomic_int tcp_checked;
static atomic_bool stop;
static pthread_barrier_t barrier;

#define FAIL(...)								\
	do {									\
		if (atomic_fetch_add(&failures, 1) < 20)			\
			fprintf(stderr, "threads: " __VA_ARGS__);		\
	} while (0)

static int keepalive_of(int fd)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len) < 0)
		return -1;
	return v;
}

/* socket() with errno checks: a successful call must leave errno as it found it. */
static int mksock(int domain, int type, int protocol)
{
	int fd;

	errno = MAGIC_ERRNO;
	fd = socket(domain, type, protocol);
	if (fd < 0) {
		FAIL("socket(%d, %#x, %d): %s\n", domain, type, protocol, strerror(errno));
		return -1;
	}
	if (errno != MAGIC_ERRNO)
		FAIL("socket() changed errno to %d\n", errno);
	return fd;
}

static void xclose(int fd)
{
	errno = MAGIC_ERRNO;
	if (close(fd) < 0)
		FAIL("close(%d): %s\n", fd, strerror(errno));
	else if (errno != MAGIC_ERRNO)
		FAIL("close() changed errno to %d\n", errno);
}

static void tcp_connect(unsigned int i)
{
	int nb = i & 1, fd, one = 1, idle = 30, rc, err;
	socklen_t len = sizeof(err);
	struct pollfd pfd;

	fd = mksock(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nb ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return;
	if (expect == EXPECT_SOCKET && keepalive_of(fd) != 1)
		FAIL("fd %d: no SO_KEEPALIVE after socket()\n", fd);
	/* The application's own choices, recorded (match list) or overridden (HB_FORCE). */
	if (i % 3 == 0)
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	if (i % 5 == 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	errno = MAGIC_ERRNO;
	rc = connect(fd, (struct sockaddr *)&srv4, sizeof(srv4));
	if (rc < 0 && !(nb && errno == EINPROGRESS)) {
		FAIL("connect: %s\n", strerror(errno));
	} else if (rc == 0 && errno != MAGIC_ERRNO) {
		FAIL("connect() changed errno to %d\n", errno);
	} else if (rc < 0) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 5000) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
			FAIL("non-blocking connect did not complete\n");
	}
	if (expect != EXPECT_NONE) {
		if (keepalive_of(fd) != 1)
			FAIL("fd %d: no SO_KEEPALIVE after connect()\n", fd);
		atomic_fetch_add(&tcp_checked, 1);
	}
	xclose(fd);
}

static void tcp6_listen(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = mksock(AF_INET6, SOCK_STREAM, IPPROTO_TCP);

	if (fd < 0)
		return;
	/* No IPv6 on lo is not this test's business: only the calls matter. */
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		errno = MAGIC_ERRNO;
		if (listen(fd, 4) < 0)
			FAIL("listen: %s\n", strerror(errno));
		else if (errno != MAGIC_ERRNO)
			FAIL("listen() changed errno to %d\n", errno);
	}
	xclose(fd);
}

static void udp(void)
{
	int fd = mksock(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return;
	errno = MAGIC_ERRNO;
	if (connect(fd, (struct sockaddr *)&srv4, sizeof(srv4)) < 0)
		FAIL("udp connect: %s\n", strerror(errno));
	else if (errno != MAGIC_ERRNO)
		FAIL("udp connect() changed errno to %d\n", errno);
	if (keepalive_of(fd) == 1)
		FAIL("fd %d: UDP socket has SO_KEEPALIVE\n", fd);
	xclose(fd);
}

static void unix_sock(void)
{
	int fd = mksock(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return;
	if (keepalive_of(fd) == 1)
		FAIL("fd %d: AF_UNIX socket has SO_KEEPALIVE\n", fd);
	xclose(fd);
}

/* A child of a multi-threaded parent: the shim's state must be usable there. */
static void fork_child(void)
{
	int st, fd;
	pid_t pid = fork();

	if (pid < 0) {
		FAIL("fork: %s\n", strerror(errno));
		return;
	}
	if (pid == 0) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || (expect == EXPECT_SOCKET && keepalive_of(fd) != 1))
			_exit(1);
		close(fd);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		FAIL("forked child failed\n");
}

static void *worker(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg, i;

	pthread_barrier_wait(&barrier);
	for (i = 0; i < (unsigned int)iterations; i++) {
		tcp_connect(id + i);
		udp();
		if (i % 4 == 0)
			tcp6_listen();
		if (i % 8 == 0)
			unix_sock();
		if (id == 0 && i == (unsigned int)iterations / 2)
			fork_child();
	}
	return NULL;
}

/* Phase 2: many sockets open at once, so that fd numbers climb into new table pages. */
static void *holder(void *arg)
{
	int fds[HOLD], i, n = 0;

	(void)arg;
	pthread_barrier_wait(&barrier);
	for (i = 0; i < HOLD; i++) {
		fds[n] = mksock(i & 1 ? AF_INET6 : AF_INET, i % 3 ? SOCK_STREAM : SOCK_DGRAM, 0);
		if (fds[n] < 0)
			break;
		if (expect == EXPECT_SOCKET && i % 3 && keepalive_of(fds[n]) != 1)
			FAIL("fd %d: no SO_KEEPALIVE after socket()\n", fds[n]);
		n++;
	}
	pthread_barrier_wait(&barrier);
	for (i = 0; i < n; i++)
		xclose(fds[i]);
	return NULL;
}

static void *acceptor(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };

	while (!atomic_load(&stop)) {
		if (poll(&pfd, 1, 50) != 1)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

static int run_threads(void *(*fn)(void *))
{
	pthread_t t[NTHREADS];
	int i;

	if (pthread_barrier_init(&barrier, NULL, NTHREADS))
		return -1;
	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, fn, (void *)(uintptr_t)i))
			return -1;
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	return 0;
}

/* Occupies every free fd below top with /dev/null (fds kept on a list to close later). */
static int fill_fds(int top, int *held, int max)
{
	int n = 0, fd;

	while (n < max) {
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			break;
		if (fd >= top) {
			close(fd);
			break;
		}
		held[n++] = fd;
	}
	return n;
}

int main(int argc, char **argv)
{
	static int held[20000];
	socklen_t len = sizeof(srv4);
	pthread_t acc;
	struct rlimit rl;
	int lfd, nheld = 0, round, one = 1;

	if (argc > 1) {
		if (!strcmp(argv[1], "socket"))
			expect = EXPECT_SOCKET;
		else if (!strcmp(argv[1], "connect"))
			expect = EXPECT_CONNECT;
		else if (strcmp(argv[1], "none"))
			return fprintf(stderr, "usage: threads [socket|connect|none [N]]\n"), 2;
	}
	if (argc > 2)
		iterations = atoi(argv[2]);
	/* The shim is loaded by now. Under TSan, the runtime starts llvm-symbolizer for a
	 * report: that child must not inherit the TSan build of the shim, which it can't load. */
	unsetenv("LD_PRELOAD");

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	srv4.sin_family = AF_INET;
	srv4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&srv4, sizeof(srv4)) < 0 ||
	    listen(lfd, 4096) < 0 || getsockname(lfd, (struct sockaddr *)&srv4, &len) < 0) {
		perror("threads: listener");
		return 1;
	}
	if (pthread_create(&acc, NULL, acceptor, (void *)(intptr_t)lfd)) {
		perror("threads: pthread_create");
		return 1;
	}

	/* Phase 1: churn at low fd numbers. */
	if (run_threads(worker) < 0) {
		perror("threads: phase 1");
		return 1;
	}

	/* Phase 2: up to four rounds, each starting just below a fresh 4096-fd page. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max > 20000 ? 20000 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (round = 1; round <= 4; round++) {
		int top = round * 4096 - NTHREADS * HOLD / 2;

		if (getrlimit(RLIMIT_NOFILE, &rl) < 0 ||
		    (rlim_t)(top + NTHREADS * HOLD + 16) > rl.rlim_cur)
			break;
		nheld += fill_fds(top, held + nheld, (int)(sizeof(held) / sizeof(held[0])) - nheld);
		if (run_threads(holder) < 0) {
			perror("threads: phase 2");
			return 1;
		}
	}
	while (nheld > 0)
		close(held[--nheld]);

	atomic_store(&stop, true);
	pthread_join(acc, NULL);
	close(lfd);

	printf("threads: %d threads x %d iterations, %d page rounds, %d TCP sockets checked, "
	       "%d failures\n", NTHREADS, iterations, round - 1, atomic_load(&tcp_checked),
	       atomic_load(&failures));
	return atomic_load(&failures) ? 1 : 0;
}
