// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests for cli/file.c: files hbctl writes as root never go through a planted symlink
 * (issue 13, items 1 and 2). Each test plants symlinks to a "victim" file, has hbctl's writer
 * write, and checks that the victim's bytes and mode are unchanged. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../cli/file.h"

#define VICTIM_TEXT "root-only secret\n"

static char dir[64], victim[128], target[128];

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hb-test-file.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	path_in(victim, sizeof(victim), "victim");
	path_in(target, sizeof(target), "hbkeep.prom");
	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, VICTIM_TEXT, strlen(VICTIM_TEXT)) < 0)
		return -1;
	fchmod(fd, 0600);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	(void)state;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(dir);
	return 0;
}

static void plant(const char *name)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(symlink(victim, p), 0);
}

static void assert_victim_unchanged(void)
{
	char buf[128] = "";
	struct stat st;
	int fd = open(victim, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, VICTIM_TEXT);
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(S_ISREG(st.st_mode));
}

static void assert_file(const char *path, const char *text, mode_t mode)
{
	char buf[256] = "";
	struct stat st;
	int fd;
	ssize_t n;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, text);
}

/* Entries of dir besides the victim, the target and the planted names: a temporary file
 * left behind would be one. */
static int count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* The finding: a symlink at the old predictable name .NAME.PID.tmp (and at the other names
 * a writer might pick, and at NAME itself) made root overwrite the victim. */
static void test_atomic_planted_symlinks(void **state)
{
	char name[64];
	mode_t old = umask(077);	/* the systemd unit's UMask=0077 */
	int rc;

	(void)state;
	snprintf(name, sizeof(name), ".hbkeep.prom.%d.tmp", (int)getpid());
	plant(name);
	plant(".hbkeep.prom.tmp");
	plant("hbkeep.prom.tmp");
	plant("hbkeep.prom");
	rc = hb_write_file_atomic(target, "hb_up 1\n", 8, 0644);
	umask(old);
	assert_int_equal(rc, 0);
	assert_victim_unchanged();
	/* NAME is now a regular file readable by node_exporter's user, not the link */
	assert_file(target, "hb_up 1\n", 0644);
	/* victim, target and the three other planted links: no temporary file left */
	assert_int_equal(count_entries(), 5);

	/* the second interval replaces the file again */
	assert_int_equal(hb_write_file_atomic(target, "hb_up 2\n", 8, 0644), 0);
	assert_file(target, "hb_up 2\n", 0644);
	assert_victim_unchanged();
	assert_int_equal(count_entries(), 5);
}

static void test_atomic_errors(void **state)
{
	char p[512];

	(void)state;
	/* a directory that does not exist: an error, nothing created */
	snprintf(p, sizeof(p), "%s/nodir/x.prom", dir);
	assert_int_equal(hb_write_file_atomic(p, "x", 1, 0644), -ENOENT);
	/* a directory as the target: rename fails and the temporary file goes */
	path_in(p, sizeof(p), "sub");
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub/", dir);
	assert_int_equal(hb_write_file_atomic(p, "x", 1, 0644), -EISDIR);
	path_in(p, sizeof(p), "sub");
	assert_true(hb_write_file_atomic(p, "x", 1, 0644) < 0);
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(count_entries(), 1);
	assert_victim_unchanged();
}

static void test_create_refuses_links_and_files(void **state)
{
	char p[512];
	int fd;

	(void)state;
	/* a symlink at the name: refused with EEXIST, victim unchanged */
	plant("dump.raw");
	path_in(p, sizeof(p), "dump.raw");
	assert_int_equal(hb_create_file(p, false, 0600), -EEXIST);
	assert_victim_unchanged();
	/* a dangling one too (O_CREAT alone would create the file it points to) */
	path_in(p, sizeof(p), "dangling");
	assert_int_equal(symlink("/nonexistent-hb-test/victim2", p), 0);
	assert_int_equal(hb_create_file(p, false, 0600), -EEXIST);
	/* an existing regular file is not overwritten without replace */
	path_in(p, sizeof(p), "victim");
	assert_int_equal(hb_create_file(p, false, 0600), -EEXIST);
	assert_victim_unchanged();
	/* a new name: created, mode as asked under umask */
	path_in(p, sizeof(p), "new.raw");
	fd = hb_create_file(p, false, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	assert_file(p, "abc", 0600);
}

static void test_create_replace_unlinks_the_link(void **state)
{
	char p[512];
	int fd;

	(void)state;
	plant("dump.raw");
	path_in(p, sizeof(p), "dump.raw");
	fd = hb_create_file(p, true, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "raw", 3), 3);
	close(fd);
	assert_victim_unchanged();
	assert_file(p, "raw", 0600);
	/* replace on an existing regular file: the old file is unlinked, not written */
	fd = hb_create_file(p, true, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "2", 1), 1);
	close(fd);
	assert_file(p, "2", 0600);
	/* never a directory */
	path_in(p, sizeof(p), "d");
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(hb_create_file(p, true, 0600), -EISDIR);
	assert_int_equal(rmdir(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_atomic_planted_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refuses_links_and_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create_replace_unlinks_the_link, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
