// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests for the sock_diag back end as hbctl assembles it (cli/backend.c's
 * hb_fetch_sockets with --backend diag): the dump, the owners from /proc and the keepalive
 * settings by pidfd_getfd, on a listener of this process; and --dump-raw's file, which
 * HB_DIAG_FILE replays to the same records. Real netlink, real /proc: no privilege needed
 * for our own sockets. hb_diag_list(), the back end's function, on its own too.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../cli/cli.h"

/* A listener on 127.0.0.1 with keepalive on and idle 123 s; returns its fd, *port set. */
/* The settings come through pidfd_open + pidfd_getfd: where the system call is missing (an
 * old kernel, or valgrind 3.19, which does not know it) those checks are skipped. */
static void need_pidfd(void)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	if (fd < 0 && errno == ENOSYS)
		skip();
	if (fd >= 0)
		close(fd);
}

static int listener(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd, one = 1, idle = 123;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
	assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static const struct hb_sock *find(const struct hb_sock_list *l, uint16_t port)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].lport == port && l->v[i].state == HB_TCP_LISTEN)
			return &l->v[i];
	return NULL;
}

static void test_diag_owners_config(void **state)
{
	struct hb_cli_opts o = { .cmd = "ls", .backend = HB_BACKEND_DIAG, .backend_given = true };
	struct hb_fetch fx = { .owners = true, .config = true };
	struct hb_sock_list l = { 0 };
	const struct hb_sock *s;
	uint16_t port;
	int fd;

	(void)state;
	need_pidfd();
	unsetenv("HB_DIAG_FILE");
	fd = listener(&port);
	assert_int_equal(hb_fetch_sockets(&o, &fx, &l), HB_EXIT_OK);
	assert_false(fx.used_bpf);
	assert_string_equal(l.backend, "sock_diag");
	assert_true(fx.quiet);		/* the privilege notes are said once */
	s = find(&l, port);
	assert_non_null(s);
	assert_true(s->inode != 0);
	assert_true(s->n_owners >= 1);
	assert_int_equal(s->owner[0].pid, getpid());
	assert_int_equal(s->owner[0].fd, fd);
	assert_int_equal(s->keepalive, 1);
	assert_int_equal(s->keepidle_s, 123);
	assert_int_equal(s->src_idle, HB_SOCK_SRC_SOCKET);
	hb_sock_list_free(&l);

	/* neither owners nor settings asked for: none filled */
	fx = (struct hb_fetch){ 0 };
	memset(&l, 0, sizeof(l));
	assert_int_equal(hb_fetch_sockets(&o, &fx, &l), HB_EXIT_OK);
	s = find(&l, port);
	assert_non_null(s);
	assert_int_equal(s->n_owners, 0);
	hb_sock_list_free(&l);
	close(fd);
}

/* The back end's own function (backend.h): owners without settings, then both */
static void test_diag_list(void **state)
{
	struct hb_list_opts lo = { .owners = true };
	struct hb_sock_list l = { 0 };
	struct hb_diag_stats st;
	const struct hb_sock *s;
	uint16_t port;
	int fd;

	(void)state;
	need_pidfd();
	fd = listener(&port);
	assert_int_equal(hb_diag_list(&l, &lo, NULL, &st), 0);
	s = find(&l, port);
	assert_non_null(s);
	assert_int_equal(s->owner[0].pid, getpid());
	assert_int_equal(s->keepidle_s, HB_UNKNOWN);	/* not asked for */
	hb_sock_list_free(&l);

	memset(&l, 0, sizeof(l));
	lo = (struct hb_list_opts){ .config = true };	/* settings need the owners: found too */
	assert_int_equal(hb_diag_list(&l, &lo, NULL, &st), 0);
	s = find(&l, port);
	assert_non_null(s);
	assert_int_equal(s->owner[0].fd, fd);
	assert_int_equal(s->keepidle_s, 123);
	assert_int_equal(st.cfg_denied, 0);
	hb_sock_list_free(&l);
	close(fd);
}

static void test_dump_raw_replay(void **state)
{
	struct hb_cli_opts o = { .cmd = "ls", .backend = HB_BACKEND_DIAG, .backend_given = true };
	char path[] = "/tmp/hb-test-backend-XXXXXX", file[64];
	struct hb_fetch fx = { 0 };
	struct hb_sock_list l = { 0 }, r = { 0 };
	uint16_t port;
	int fd;

	(void)state;
	unsetenv("HB_DIAG_FILE");
	assert_non_null(mkdtemp(path));
	snprintf(file, sizeof(file), "%s/dump", path);
	fd = listener(&port);
	fx.dump_raw = file;
	assert_int_equal(hb_fetch_sockets(&o, &fx, &l), HB_EXIT_OK);
	assert_non_null(find(&l, port));
	/* an existing file is not replaced without --force: a runtime error */
	fx = (struct hb_fetch){ .dump_raw = file, .quiet = true };
	hb_sock_list_free(&l);
	memset(&l, 0, sizeof(l));
	assert_int_equal(hb_fetch_sockets(&o, &fx, &l), HB_EXIT_RUNTIME);
	hb_sock_list_free(&l);

	setenv("HB_DIAG_FILE", file, 1);
	fx = (struct hb_fetch){ 0 };
	assert_int_equal(hb_fetch_sockets(&o, &fx, &r), HB_EXIT_OK);
	unsetenv("HB_DIAG_FILE");
	assert_string_equal(r.backend, "sock_diag (replay)");
	assert_non_null(find(&r, port));
	hb_sock_list_free(&r);
	close(fd);
	unlink(file);
	rmdir(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diag_owners_config),
		cmocka_unit_test(test_diag_list),
		cmocka_unit_test(test_dump_raw_replay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
