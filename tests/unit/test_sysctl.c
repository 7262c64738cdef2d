// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests for lib/sysctl.c: reading net.ipv4.tcp_keepalive_* from a fake procroot. */
#include <errno.h>
#include <limits.h>
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

#include "hb/policy.h"

static const char *const files[] = { "tcp_keepalive_time", "tcp_keepalive_intvl",
				     "tcp_keepalive_probes" };

struct fake {
	char root[PATH_MAX];	/* the fake procroot */
	char dir[PATH_MAX + 32];	/* root/sys/net/ipv4 */
};

static void path_of(const struct fake *f, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", f->dir, name);
}

/* Writes content to the file, or removes it when content is NULL. */
static void put(const struct fake *f, const char *name, const char *content)
{
	char path[PATH_MAX + 64];
	FILE *fp;

	path_of(f, name, path, sizeof(path));
	if (!content) {
		unlink(path);
		return;
	}
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(content, fp);
	assert_int_equal(fclose(fp), 0);
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fake *f = calloc(1, sizeof(*f));
	char sub[PATH_MAX + 16];

	if (!f)
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/hbtest-sysctl.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->root))
		return -1;
	snprintf(sub, sizeof(sub), "%s/sys", f->root);
	mkdir(sub, 0700);
	snprintf(sub, sizeof(sub), "%s/sys/net", f->root);
	mkdir(sub, 0700);
	snprintf(f->dir, sizeof(f->dir), "%s/sys/net/ipv4", f->root);
	if (mkdir(f->dir, 0700))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	char sub[PATH_MAX + 16];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		put(f, files[i], NULL);
	rmdir(f->dir);
	snprintf(sub, sizeof(sub), "%s/sys/net", f->root);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/sys", f->root);
	rmdir(sub);
	rmdir(f->root);
	free(f);
	return 0;
}

static void test_default(void **state)
{
	struct hb_sysctl s;

	(void)state;
	hb_sysctl_default(&s);
	assert_int_equal(s.idle_s, 7200);
	assert_int_equal(s.intvl_s, 75);
	assert_int_equal(s.cnt, 9);
}

static void test_read_all(void **state)
{
	struct fake *f = *state;
	struct hb_sysctl s;

	put(f, files[0], "300\n");
	put(f, files[1], "30\n");
	put(f, files[2], "5");		/* no newline is fine too */
	memset(&s, 0, sizeof(s));
	errno = EBADF;
	assert_int_equal(hb_sysctl_read(&s, f->root), 0);
	assert_int_equal(errno, EBADF);	/* runs in a constructor: errno as found */
	assert_int_equal(s.idle_s, 300);
	assert_int_equal(s.intvl_s, 30);
	assert_int_equal(s.cnt, 5);
}

static void test_read_missing_one(void **state)
{
	struct fake *f = *state;
	struct hb_sysctl s;

	put(f, files[0], "60\n");
	put(f, files[1], NULL);
	put(f, files[2], "4\n");
	errno = 0;
	assert_int_equal(hb_sysctl_read(&s, f->root), -ENOENT);
	assert_int_equal(errno, 0);
	/* the others are still read; the missing one is the kernel default */
	assert_int_equal(s.idle_s, 60);
	assert_int_equal(s.intvl_s, 75);
	assert_int_equal(s.cnt, 4);
}

static void test_read_garbage(void **state)
{
	static const char *const bad[] = { "", "\n", "abc\n", "-5\n", "12x\n", " 7\n",
					   "99999999999999999999\n", "1 2\n" };
	struct fake *f = *state;
	struct hb_sysctl s;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(f, files[0], bad[i]);
		put(f, files[1], "11\n");
		put(f, files[2], NULL);
		/* the first failure is reported; all three are filled */
		assert_int_equal(hb_sysctl_read(&s, f->root), -EINVAL);
		assert_int_equal(s.idle_s, 7200);
		assert_int_equal(s.intvl_s, 11);
		assert_int_equal(s.cnt, 9);
	}
	/* trailing white space is what procfs writes */
	put(f, files[0], "42 \n\n");
	put(f, files[2], "2\n");
	assert_int_equal(hb_sysctl_read(&s, f->root), 0);
	assert_int_equal(s.idle_s, 42);
}

static void test_read_no_root(void **state)
{
	char longroot[PATH_MAX + 10];
	struct fake *f = *state;
	struct hb_sysctl s;
	char root[PATH_MAX + 16];

	snprintf(root, sizeof(root), "%s/nonexistent", f->root);
	memset(&s, 0, sizeof(s));
	assert_int_equal(hb_sysctl_read(&s, root), -ENOENT);
	assert_int_equal(s.idle_s, 7200);
	assert_int_equal(s.intvl_s, 75);
	assert_int_equal(s.cnt, 9);

	memset(longroot, 'a', sizeof(longroot) - 1);
	longroot[0] = '/';
	longroot[sizeof(longroot) - 1] = '\0';
	assert_int_equal(hb_sysctl_read(&s, longroot), -ENAMETOOLONG);
	assert_int_equal(s.idle_s, 7200);
}

static void test_read_directory(void **state)
{
	struct fake *f = *state;
	struct hb_sysctl s;
	char path[PATH_MAX + 64];

	/* a directory where the file should be: read() fails with EISDIR */
	path_of(f, files[2], path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	put(f, files[0], "1\n");
	put(f, files[1], "2\n");
	assert_int_equal(hb_sysctl_read(&s, f->root), -EISDIR);
	assert_int_equal(s.idle_s, 1);
	assert_int_equal(s.cnt, 9);
	rmdir(path);
}

static void test_read_proc(void **state)
{
	struct hb_sysctl s;
	int rc;

	(void)state;
	/* the real thing, where there is one (NULL means /proc) */
	rc = hb_sysctl_read(&s, NULL);
	if (rc == -ENOENT || rc == -EACCES)
		skip();
	assert_int_equal(rc, 0);
	assert_true(s.idle_s > 0);
	assert_true(s.intvl_s > 0);
	assert_true(s.cnt > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test_setup_teardown(test_read_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_missing_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_no_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_directory, setup, teardown),
		cmocka_unit_test(test_read_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
