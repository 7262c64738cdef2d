// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests for cli/owners.c: socket owners found in a fixture proc tree (hb_owners_fill
 * takes the proc root as an argument, as test_sysctl's fixtures do for lib/sysctl.c). The
 * tree is built at run time in a temporary directory: PID/comm, PID/fd/N -> "socket:[INO]"
 * symlinks (readlink is all owners.c does with them), a zombie leader whose fds live in
 * PID/task/TID/fd, and the noise a real /proc has.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../cli/cli.h"

static char root[64];

static void mkdirf(const char *fmt, ...)
{
	char p[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void put(const char *text, const char *fmt, ...)
{
	char p[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void link_to(const char *target, const char *fmt, ...)
{
	char p[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	assert_int_equal(symlink(target, p), 0);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/hb-owners-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	/* 100 "curl": fds 0-2 a tty, 3 socket 1001, 4 socket 1002, 7 a pipe */
	mkdirf("%s/100", root);
	put("curl\n", "%s/100/comm", root);
	mkdirf("%s/100/fd", root);
	link_to("/dev/pts/0", "%s/100/fd/0", root);
	link_to("/dev/pts/0", "%s/100/fd/1", root);
	link_to("socket:[1001]", "%s/100/fd/3", root);
	link_to("socket:[1002]", "%s/100/fd/4", root);
	link_to("pipe:[1001]", "%s/100/fd/7", root);
	/* 200 "redis-server": shares socket 1001 (a fork), holds a socket nobody listed */
	mkdirf("%s/200", root);
	put("redis-server\n", "%s/200/comm", root);
	mkdirf("%s/200/fd", root);
	link_to("socket:[1001]", "%s/200/fd/9", root);
	link_to("socket:[4242]", "%s/200/fd/10", root);
	/* 300: zombie leader (empty fd table); thread 301 holds socket 1003 */
	mkdirf("%s/300", root);
	put("worker\n", "%s/300/comm", root);
	mkdirf("%s/300/fd", root);
	mkdirf("%s/300/task", root);
	mkdirf("%s/300/task/300", root);
	mkdirf("%s/300/task/300/fd", root);
	mkdirf("%s/300/task/301", root);
	mkdirf("%s/300/task/301/fd", root);
	link_to("socket:[1003]", "%s/300/task/301/fd/5", root);
	/* 400: links that only look like sockets */
	mkdirf("%s/400", root);
	put("noise\n", "%s/400/comm", root);
	mkdirf("%s/400/fd", root);
	link_to("socket:[1004", "%s/400/fd/3", root);
	link_to("socket:[10x4]", "%s/400/fd/4", root);
	link_to("anon_inode:[eventfd]", "%s/400/fd/5", root);
	/* 500: has 1004 but no comm file (read races with exit: comm is empty, not garbage) */
	mkdirf("%s/500", root);
	mkdirf("%s/500/fd", root);
	link_to("socket:[1004]", "%s/500/fd/6", root);
	/* not processes: self, sys, a file */
	mkdirf("%s/sys", root);
	put("x", "%s/uptime", root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const struct hb_owner *owner(const struct hb_sock *s, unsigned int i)
{
	return i < HB_SOCK_OWNERS_INLINE ? &s->owner[i] : &s->more_owners[i - HB_SOCK_OWNERS_INLINE];
}

static const struct hb_owner *find(const struct hb_sock *s, int pid)
{
	unsigned int i;

	for (i = 0; i < s->n_owners; i++)
		if (owner(s, i)->pid == pid)
			return owner(s, i);
	return NULL;
}

static void list_of(struct hb_sock_list *l, const uint64_t *inodes, size_t n)
{
	size_t i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < n; i++) {
		struct hb_sock *s = hb_sock_list_add(l);

		assert_non_null(s);
		s->inode = inodes[i];
	}
}

static void test_owners_joined(void **state)
{
	static const uint64_t ino[] = { 1001, 1002, 1003, 1004, 5555, 0 };
	struct hb_owner_stats st;
	struct hb_sock_list l;
	const struct hb_owner *o;

	(void)state;
	list_of(&l, ino, 6);
	assert_int_equal(hb_owners_fill(&l, root, &st), 0);
	assert_int_equal(st.procs_denied, 0);

	/* 1001: two processes, each with its own fd number and comm */
	assert_int_equal(l.v[0].n_owners, 2);
	o = find(&l.v[0], 100);
	assert_non_null(o);
	assert_int_equal(o->fd, 3);
	assert_string_equal(o->comm, "curl");
	o = find(&l.v[0], 200);
	assert_non_null(o);
	assert_int_equal(o->fd, 9);
	assert_string_equal(o->comm, "redis-server");

	assert_int_equal(l.v[1].n_owners, 1);
	assert_int_equal(owner(&l.v[1], 0)->pid, 100);
	assert_int_equal(owner(&l.v[1], 0)->fd, 4);

	/* 1003: found through the live thread of a zombie leader, under the leader's pid */
	assert_int_equal(l.v[2].n_owners, 1);
	assert_int_equal(owner(&l.v[2], 0)->pid, 300);
	assert_int_equal(owner(&l.v[2], 0)->fd, 5);
	assert_string_equal(owner(&l.v[2], 0)->comm, "worker");

	/* 1004: only pid 500 really holds it (400's links are malformed); no comm file */
	assert_int_equal(l.v[3].n_owners, 1);
	assert_int_equal(owner(&l.v[3], 0)->pid, 500);
	assert_string_equal(owner(&l.v[3], 0)->comm, "");

	/* nobody holds 5555; inode 0 (time-wait, request sockets) is never matched */
	assert_int_equal(l.v[4].n_owners, 0);
	assert_int_equal(l.v[5].n_owners, 0);
	hb_sock_list_free(&l);
}

/* More owners than fit inline: the rest go to more_owners, in any order, none lost. */
static void test_many_owners(void **state)
{
	static const uint64_t ino[] = { 7777 };
	char pid[16], fd[16];
	struct hb_sock_list l;
	unsigned int i, seen = 0;
	int p;

	(void)state;
	for (p = 1000; p < 1010; p++) {
		snprintf(pid, sizeof(pid), "%d", p);
		mkdirf("%s/%s", root, pid);
		put("fork\n", "%s/%s/comm", root, pid);
		mkdirf("%s/%s/fd", root, pid);
		snprintf(fd, sizeof(fd), "%d", p - 990);
		link_to("socket:[7777]", "%s/%s/fd/%s", root, pid, fd);
	}
	list_of(&l, ino, 1);
	assert_int_equal(hb_owners_fill(&l, root, NULL), 0);
	assert_int_equal(l.v[0].n_owners, 10);
	for (i = 0; i < l.v[0].n_owners; i++) {
		const struct hb_owner *o = owner(&l.v[0], i);

		assert_in_range(o->pid, 1000, 1009);
		assert_int_equal(o->fd, o->pid - 990);
		seen |= 1u << (o->pid - 1000);
	}
	assert_int_equal(seen, 0x3ff);
	hb_sock_list_free(&l);
}

static void test_empty_and_missing(void **state)
{
	static const uint64_t ino[] = { 1001 };
	struct hb_sock_list l;

	(void)state;
	memset(&l, 0, sizeof(l));
	/* no sockets: nothing to do, the tree is not even opened */
	assert_int_equal(hb_owners_fill(&l, "/nonexistent-proc", NULL), 0);
	list_of(&l, ino, 1);
	assert_int_equal(hb_owners_fill(&l, "/nonexistent-proc", NULL), -ENOENT);
	assert_int_equal(l.v[0].n_owners, 0);
	hb_sock_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owners_joined),
		cmocka_unit_test(test_many_owners),
		cmocka_unit_test(test_empty_and_missing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
