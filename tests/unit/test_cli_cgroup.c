// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests for the one cgroup PATH resolution every subcommand uses (bpf/policy_cgroup.c,
 * include/hb/cgroup.h): mountinfo's octal escapes, where a PATH points given the cgroup v2
 * mount (under it: as it is; otherwise as /proc/PID/cgroup writes it, "/" the root), the
 * label a directory has inside the hierarchy, and hb_cgroup_resolve() on this machine's own
 * cgroup v2 hierarchy (its own cgroup in both forms, the root, errors).
 */
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

#include "hb/cgroup.h"

static void unescaped(const char *in, const char *want)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", in);
	hb_mountinfo_unescape(buf);
	assert_string_equal(buf, want);
}

static void test_unescape(void **state)
{
	(void)state;
	unescaped("/sys/fs/cgroup", "/sys/fs/cgroup");
	unescaped("", "");
	unescaped("/mnt/a\\040b", "/mnt/a b");			/* space */
	unescaped("\\011tab\\012nl", "\ttab\nnl");		/* tab, newline */
	unescaped("/x\\134y", "/x\\y");				/* the backslash itself */
	unescaped("\\040\\040", "  ");				/* adjacent */
	unescaped("/end\\040", "/end ");			/* at the end */
	unescaped("\\377", "\377");				/* the largest byte */
	/* not an escape: left as it is */
	unescaped("/a\\b", "/a\\b");
	unescaped("/a\\4000", "/a\\4000");			/* first digit above 3 */
	unescaped("/a\\08", "/a\\08");				/* 8 is no octal digit */
	unescaped("/a\\04", "/a\\04");				/* too short */
	unescaped("/a\\", "/a\\");				/* a trailing backslash */
	unescaped("\\\\040", "\\ ");				/* a backslash, then an escape */
}

static void candidate(const char *mnt, const char *spec, const char *want)
{
	char buf[PATH_MAX];

	assert_int_equal(hb_cgroup_candidate(mnt, spec, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

static void test_candidate(void **state)
{
	char small[16];

	(void)state;
	/* as /proc/PID/cgroup writes it: relative to the mount; "/" is the root */
	candidate("/sys/fs/cgroup", "/", "/sys/fs/cgroup");
	candidate("/sys/fs/cgroup", "", "/sys/fs/cgroup");
	candidate("/sys/fs/cgroup", "/system.slice/x.service",
		  "/sys/fs/cgroup/system.slice/x.service");
	candidate("/sys/fs/cgroup", "system.slice/x.service",
		  "/sys/fs/cgroup/system.slice/x.service");
	candidate("/sys/fs/cgroup", "//a", "/sys/fs/cgroup/a");
	/* under the mount: as it is */
	candidate("/sys/fs/cgroup", "/sys/fs/cgroup", "/sys/fs/cgroup");
	candidate("/sys/fs/cgroup", "/sys/fs/cgroup/", "/sys/fs/cgroup/");
	candidate("/sys/fs/cgroup", "/sys/fs/cgroup/a/b", "/sys/fs/cgroup/a/b");
	/* a name that only begins like the mount is not under it */
	candidate("/sys/fs/cgroup", "/sys/fs/cgroupx", "/sys/fs/cgroup/sys/fs/cgroupx");
	/* a hybrid host's mount; the v1 tree beside it is not under it */
	candidate("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/a",
		  "/sys/fs/cgroup/unified/a");
	candidate("/sys/fs/cgroup/unified", "/sys/fs/cgroup/cpu",
		  "/sys/fs/cgroup/unified/sys/fs/cgroup/cpu");
	candidate("/sys/fs/cgroup/unified", "/", "/sys/fs/cgroup/unified");
	/* a mount given with a trailing slash, or on "/" (a container) */
	candidate("/sys/fs/cgroup/", "/a", "/sys/fs/cgroup/a");
	candidate("/sys/fs/cgroup/", "/sys/fs/cgroup/a", "/sys/fs/cgroup/a");
	candidate("/", "/a/b", "/a/b");
	candidate("/", "a/b", "/a/b");
	candidate("/", "/", "/");
	/* too long for the buffer */
	assert_int_equal(hb_cgroup_candidate("/sys/fs/cgroup", "/abcdefgh", small, sizeof(small)),
			 -ENAMETOOLONG);
	assert_int_equal(hb_cgroup_candidate("/sys/fs/cgroup", "/sys/fs/cgroup/abcdefgh", small,
					     sizeof(small)), -ENAMETOOLONG);
}

static void label(const char *mnt, const char *abs, const char *want)
{
	char buf[PATH_MAX];

	hb_cgroup_label(mnt, abs, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_label(void **state)
{
	(void)state;
	label("/sys/fs/cgroup", "/sys/fs/cgroup", "/");
	label("/sys/fs/cgroup", "/sys/fs/cgroup/system.slice/x.service", "/system.slice/x.service");
	label("/sys/fs/cgroup/", "/sys/fs/cgroup/a", "/a");
	label("/sys/fs/cgroup", "/sys/fs/cgroupx/a", "/sys/fs/cgroupx/a");
	label("/", "/a", "/a");
	label("/", "/", "/");
}

/* This process's cgroup v2 directory, inside the hierarchy ("/user.slice/..."), or NULL. */
static const char *self_rel(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[PATH_MAX];
	const char *r = NULL;

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, len, "%s", line + 3);
			r = buf;
			break;
		}
	fclose(f);
	return r;
}

static void test_resolve_here(void **state)
{
	char mnt[PATH_MAX], rel[PATH_MAX], full[PATH_MAX * 2], abs[PATH_MAX], abs2[PATH_MAX];
	char err[512], self[PATH_MAX];
	unsigned int level, level2;
	uint64_t id, id2;
	struct stat st;
	int rc;

	(void)state;
	if (hb_cgroup2_mount(mnt, sizeof(mnt)) || !self_rel(rel, sizeof(rel)))
		skip();	/* no cgroup v2 here: nothing to resolve */

	/* the root: "/" and the mount itself are the same directory, at level 0 */
	assert_int_equal(hb_cgroup_resolve("/", abs, sizeof(abs), &id, &level, err, sizeof(err)),
			 0);
	assert_int_equal(hb_cgroup_resolve(mnt, abs2, sizeof(abs2), &id2, &level2, err,
					   sizeof(err)), 0);
	assert_string_equal(abs, abs2);
	assert_true(id == id2);
	assert_int_equal(level, 0);
	assert_int_equal(stat(abs, &st), 0);

	/* this process's own cgroup, as /proc/self/cgroup writes it and absolute */
	rc = hb_cgroup_resolve(rel, abs, sizeof(abs), &id, &level, err, sizeof(err));
	assert_int_equal(rc, 0);
	snprintf(full, sizeof(full), "%s%s", mnt, strcmp(rel, "/") ? rel : "");
	assert_int_equal(hb_cgroup_resolve(full, abs2, sizeof(abs2), &id2, &level2, err,
					   sizeof(err)), 0);
	assert_string_equal(abs, abs2);
	assert_true(id == id2);
	assert_int_equal(level, level2);
	assert_int_equal(hb_cgroup_self(self, sizeof(self), err, sizeof(err)), 0);
	assert_string_equal(abs, self);
	/* and without its leading slash */
	if (strcmp(rel, "/")) {
		assert_int_equal(hb_cgroup_resolve(rel + 1, abs2, sizeof(abs2), &id2, &level2, err,
						   sizeof(err)), 0);
		assert_string_equal(abs, abs2);
	}

	/* a cgroup that does not exist: -ENOENT, naming what was given and where it looked */
	rc = hb_cgroup_resolve("/hb-unit-no-such-cgroup", abs, sizeof(abs), &id, &level, err,
			       sizeof(err));
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(err, "cgroup '/hb-unit-no-such-cgroup' does not exist (looked for "));
	assert_non_null(strstr(err, "/hb-unit-no-such-cgroup)"));
	/* an existing directory outside the hierarchy: said so, not "does not exist" */
	rc = hb_cgroup_resolve("/proc", abs, sizeof(abs), &id, &level, err, sizeof(err));
	assert_int_equal(rc, -EMEDIUMTYPE);
	assert_non_null(strstr(err, "/proc is not a cgroup v2 directory"));
	rc = hb_cgroup_resolve("", abs, sizeof(abs), &id, &level, err, sizeof(err));
	assert_int_equal(rc, -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_candidate),
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_resolve_here),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
