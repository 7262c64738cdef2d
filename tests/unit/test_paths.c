// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests for lib/paths.c: the table's text format, lookup (a port beats no port, then the
 * longest prefix), the idle rule, and the writer (lock, atomic replace, no symlink followed). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "hb/paths.h"

static struct sockaddr_in v4(const char *a, unsigned int port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
	return s;
}

static struct sockaddr_in6 v6(const char *a, unsigned int port)
{
	struct sockaddr_in6 s = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };

	assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
	return s;
}

static const char *lookup4(const struct hb_paths *t, const char *a, unsigned int port)
{
	static char buf[128];
	struct sockaddr_in s = v4(a, port);
	const struct hb_path *e = hb_paths_lookup(t, (struct sockaddr *)&s, sizeof(s));

	if (!e)
		return "none";
	hb_pattern_format(&e->dest, buf, sizeof(buf));
	return buf;
}

static void parse_ok(const char *text, struct hb_paths *t)
{
	char err[HB_ERR_LEN] = "";
	int rc = hb_paths_parse(text, strlen(text), t, err, sizeof(err));

	if (rc)
		fail_msg("parse failed: %d %s", rc, err);
}

static void test_parse_format(void **state)
{
	static const char text[] =
		"# comment\n"
		"\n"
		"10.0.0.0/8 survived=20s dropped=30s source=manual time=1700000000\n"
		"  203.0.113.5:443\tsurvived=29010ms dropped=30020ms source=probe time=5  \n"
		"[2001:db8::]/32 survived=900s dropped=none source=monitor time=0 future=1\n"
		"192.0.2.1 dropped=350s\n";
	struct hb_paths t;
	char line[200], *out;

	(void)state;
	hb_paths_init(&t);
	parse_ok(text, &t);
	assert_int_equal(t.n, 4);
	assert_int_equal(t.e[0].dest.prefix, 8);
	assert_int_equal(t.e[0].survived_ms, 20000);
	assert_int_equal(t.e[0].dropped_ms, 30000);
	assert_int_equal(t.e[0].source, HB_PATH_MANUAL);
	assert_int_equal(t.e[0].time, 1700000000);
	assert_int_equal(t.e[1].dest.port, 443);
	assert_int_equal(t.e[1].survived_ms, 29010);
	assert_int_equal(t.e[1].source, HB_PATH_PROBE);
	assert_int_equal(t.e[2].dest.family, AF_INET6);
	assert_int_equal(t.e[2].dropped_ms, -1);
	assert_int_equal(t.e[2].source, HB_PATH_MONITOR);
	assert_int_equal(t.e[3].survived_ms, 0);	/* survived unknown */
	assert_int_equal(t.e[3].source, HB_PATH_MANUAL);
	hb_path_format(&t.e[1], line, sizeof(line));
	assert_string_equal(line, "203.0.113.5:443 survived=29010ms dropped=30020ms source=probe "
			    "time=5");
	hb_path_format(&t.e[2], line, sizeof(line));
	assert_string_equal(line, "[2001:db8::]/32 survived=900s dropped=none source=monitor time=0");
	/* formatted, it parses back to the same table */
	out = hb_paths_format(&t);
	assert_non_null(out);
	{
		struct hb_paths u;

		hb_paths_init(&u);
		parse_ok(out, &u);
		assert_int_equal(u.n, t.n);
		assert_memory_equal(u.e, t.e, t.n * sizeof(*t.e));
		hb_paths_free(&u);
	}
	free(out);
	/* a later line for the same DEST replaces the earlier one */
	parse_ok("10.0.0.0/8 dropped=30s\n10.1.0.0/8 dropped=40s\n", &t);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.e[0].dropped_ms, 40000);
	hb_paths_free(&t);
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "10.0.0.0/8\n", "line 1: no survived= or dropped=" },
		{ "# x\n10.0.0.0/33 dropped=1s\n", "line 2: " },
		{ "!10.0.0.0/8 dropped=1s\n", "cannot be excluded" },
		{ ":443 dropped=1s\n", "needs an address" },
		{ "10.0.0.1,10.0.0.2 dropped=1s\n", "one destination" },
		{ "example.com dropped=1s\n", "host names" },
		{ "10.0.0.1 dropped=soon\n", "dropped: " },
		{ "10.0.0.1 dropped=0\n", "above 0" },
		{ "10.0.0.1 survived=none\n", "survived: " },
		{ "10.0.0.1 dropped=1s source=guess\n", "source: 'guess'" },
		{ "10.0.0.1 dropped=1s time=-4\n", "time: " },
		{ "10.0.0.1 dropped=1s junk\n", "expected KEY=VALUE" },
		{ "10.0.0.1 dropped=1.5s\n", "fractions" },
	};
	char err[HB_ERR_LEN], big[700];
	struct hb_paths t;
	unsigned int i;

	(void)state;
	hb_paths_init(&t);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(hb_paths_parse(bad[i].text, strlen(bad[i].text), &t, err,
						sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].msg))
			fail_msg("%s: message '%s' lacks '%s'", bad[i].text, err, bad[i].msg);
	}
	/* the good lines around a bad one are kept; the first bad line is named */
	assert_int_equal(hb_paths_parse("10.0.0.1 dropped=1s\nbad\n10.0.0.2 dropped=x\n"
					"10.0.0.3 dropped=3s", 62, &t, err, sizeof(err)), -EINVAL);
	assert_int_equal(t.n, 2);
	assert_true(strncmp(err, "line 2: ", 8) == 0);
	memset(big, 'x', sizeof(big));
	assert_int_equal(hb_paths_parse(big, sizeof(big), &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(hb_paths_parse("10.0.0.1 dropped=1s\0x", 21, &t, err, sizeof(err)),
			 -EINVAL);
	hb_paths_free(&t);
}

static void test_lookup(void **state)
{
	struct hb_paths t;
	struct sockaddr_in6 s6;
	const struct hb_path *e;

	(void)state;
	hb_paths_init(&t);
	parse_ok("10.0.0.0/8 dropped=300s\n"
		 "10.1.0.0/16 dropped=120s\n"
		 "10.1.2.3 dropped=60s\n"
		 "10.0.0.0/8:443 dropped=350s\n"
		 "10.1.0.0/16:443 dropped=30s\n"
		 "0.0.0.0/0 dropped=600s\n"
		 "[2001:db8::]/32 dropped=40s\n"
		 "[2001:db8::1]:443 dropped=20s\n", &t);
	assert_string_equal(lookup4(&t, "10.9.9.9", 80), "10.0.0.0/8");
	assert_string_equal(lookup4(&t, "10.1.9.9", 80), "10.1.0.0/16");
	assert_string_equal(lookup4(&t, "10.1.2.3", 80), "10.1.2.3");
	/* a port beats no port, however long the portless prefix */
	assert_string_equal(lookup4(&t, "10.1.2.3", 443), "10.1.0.0/16:443");
	assert_string_equal(lookup4(&t, "10.9.9.9", 443), "10.0.0.0/8:443");
	assert_string_equal(lookup4(&t, "192.0.2.1", 443), "0.0.0.0/0");
	s6 = v6("2001:db8::1", 443);
	e = hb_paths_lookup(&t, (struct sockaddr *)&s6, sizeof(s6));
	assert_non_null(e);
	assert_int_equal(e->dropped_ms, 20000);
	s6 = v6("2001:db8::2", 443);
	e = hb_paths_lookup(&t, (struct sockaddr *)&s6, sizeof(s6));
	assert_int_equal(e->dropped_ms, 40000);
	s6 = v6("2001:db9::2", 443);
	assert_null(hb_paths_lookup(&t, (struct sockaddr *)&s6, sizeof(s6)));
	/* IPv4-mapped: as IPv4 */
	s6 = v6("::ffff:10.1.2.3", 80);
	e = hb_paths_lookup(&t, (struct sockaddr *)&s6, sizeof(s6));
	assert_non_null(e);
	assert_int_equal(e->dropped_ms, 60000);
	/* unreadable addresses: no entry */
	assert_null(hb_paths_lookup(&t, NULL, 0));
	assert_null(hb_paths_lookup(&t, (struct sockaddr *)&s6, 4));
	hb_paths_free(&t);
	parse_ok("", &t);
	assert_string_equal(lookup4(&t, "10.9.9.9", 80), "none");
	hb_paths_free(&t);
}

static void test_idle(void **state)
{
	struct hb_path e = { .dropped_ms = 30000 };

	(void)state;
	assert_int_equal(hb_paths_idle(NULL, 60, 600), 60);
	assert_int_equal(hb_paths_idle(&e, 60, 600), 24);	/* floor(0.8 * 30) */
	e.dropped_ms = 6000;
	assert_int_equal(hb_paths_idle(&e, 60, 600), 4);	/* floor(4.8) */
	e.dropped_ms = 24000;
	assert_int_equal(hb_paths_idle(&e, 60, 600), 19);	/* floor(19.2) */
	e.dropped_ms = 30020;
	assert_int_equal(hb_paths_idle(&e, 60, 600), 24);	/* floor(24.016) */
	e.dropped_ms = 1000;
	assert_int_equal(hb_paths_idle(&e, 60, 600), 1);	/* floor(0.8): at least 1 s */
	e.dropped_ms = 350000;
	assert_int_equal(hb_paths_idle(&e, 60, 600), 280);
	e.dropped_ms = 3600000;
	assert_int_equal(hb_paths_idle(&e, 60, 600), 600);	/* at most --idle-max */
	e.dropped_ms = -1;
	e.survived_ms = 1800000;
	assert_int_equal(hb_paths_idle(&e, 60, 600), 600);	/* survived --max, no drop */
	assert_int_equal(hb_paths_idle(&e, 60, 900), 900);
}

static void test_set_remove(void **state)
{
	struct hb_paths t;
	struct hb_path e = { .dropped_ms = 1000 };
	char err[HB_ERR_LEN];
	unsigned int i;

	(void)state;
	hb_paths_init(&t);
	assert_int_equal(hb_paths_parse_dest("10.0.0.0/8", &e.dest, err, sizeof(err)), 0);
	assert_int_equal(hb_paths_set(&t, &e), 0);
	e.dropped_ms = 2000;
	assert_int_equal(hb_paths_set(&t, &e), 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.e[0].dropped_ms, 2000);
	assert_int_equal(hb_paths_remove(&t, &e.dest), 0);
	assert_int_equal(hb_paths_remove(&t, &e.dest), -ENOENT);
	for (i = 0; i < HB_PATHS_MAX; i++) {
		e.dest.family = AF_INET;
		e.dest.prefix = 32;
		e.dest.addr[0] = (uint8_t)(i >> 8);
		e.dest.addr[1] = (uint8_t)i;
		assert_int_equal(hb_paths_set(&t, &e), 0);
	}
	e.dest.addr[2] = 1;
	assert_int_equal(hb_paths_set(&t, &e), -E2BIG);
	hb_paths_free(&t);
}

struct add_arg {
	const char *dest;
	long long dropped;
};

static int add_fn(struct hb_paths *t, void *arg)
{
	const struct add_arg *a = arg;
	struct hb_path e = { .dropped_ms = a->dropped, .source = HB_PATH_MANUAL, .time = 1 };

	if (hb_paths_parse_dest(a->dest, &e.dest, NULL, 0))
		return -EINVAL;
	return hb_paths_set(t, &e);
}

static int fail_fn(struct hb_paths *t, void *arg)
{
	(void)t;
	(void)arg;
	return -ENOENT;
}

static void test_update(void **state)
{
	char dir[] = "/tmp/hbpaths.XXXXXX", file[256], other[256], err[HB_ERR_LEN], buf[512];
	struct add_arg a = { "10.0.0.0/8", 30000 };
	struct hb_paths t;
	struct stat st;
	int fd;
	ssize_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/sub/paths", dir);
	hb_paths_init(&t);
	/* missing: an empty table */
	assert_int_equal(hb_paths_load(file, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 0);
	/* the first write creates the directory and the file */
	assert_int_equal(hb_paths_update(file, add_fn, &a, err, sizeof(err)), 0);
	a.dest = "203.0.113.5:443";
	a.dropped = 350000;
	assert_int_equal(hb_paths_update(file, add_fn, &a, err, sizeof(err)), 0);
	assert_int_equal(hb_paths_load(file, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* fn's error: nothing written */
	assert_int_equal(hb_paths_update(file, fail_fn, NULL, err, sizeof(err)), -ENOENT);
	assert_int_equal(hb_paths_load(file, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 2);
	/* a symlink at the table's name is refused, its target left alone */
	snprintf(other, sizeof(other), "%s/victim", dir);
	fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep\n", 5), 5);
	close(fd);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(symlink(other, file), 0);
	assert_int_equal(hb_paths_update(file, add_fn, &a, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "symbolic link"));
	fd = open(other, O_RDONLY);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, 5);
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	unlink(file);
	assert_int_equal(hb_paths_update(file, add_fn, &a, err, sizeof(err)), 0);
	/* a symlink at the lock's name is not followed */
	snprintf(buf, sizeof(buf), "%s.lock", file);
	unlink(buf);
	assert_int_equal(symlink(other, buf), 0);
	assert_int_equal(hb_paths_update(file, add_fn, &a, err, sizeof(err)), -ELOOP);
	unlink(buf);
	/* a lock held elsewhere: hb_paths_update gives up (after 10 s) rather than hang; checked
	 * with a held lock and LOCK_NB semantics only: the wait itself is not unit-tested */
	/* a bad line: an error, and the file is not rewritten */
	fd = open(file, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "garbage\n", 8), 8);
	close(fd);
	assert_int_equal(hb_paths_update(file, add_fn, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line "));
	/* a FIFO is refused, without blocking */
	snprintf(buf, sizeof(buf), "%s/fifo", dir);
	assert_int_equal(mkfifo(buf, 0600), 0);
	assert_true(hb_paths_load(buf, &t, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "not a regular file"));
	hb_paths_free(&t);
	snprintf(buf, sizeof(buf), "rm -rf '%s'", dir);
	assert_int_equal(system(buf), 0);
}

static const char *env_none(const char *n)
{
	(void)n;
	return NULL;
}

static const char *env_set(const char *n)
{
	return strcmp(n, "HB_PATHS_FILE") ? NULL : "/tmp/x/paths";
}

static void test_file(void **state)
{
	(void)state;
	assert_string_equal(hb_paths_file(env_none), "/var/lib/hbkeep/paths");
	assert_string_equal(hb_paths_file(env_set), "/tmp/x/paths");
}

/* hbctl monitor --learn's rule: evidence -> entry, never over a manual one. */
static void test_evidence(void **state)
{
	struct hb_pattern d, m;
	struct hb_paths t;
	struct hb_path man = { 0 }, *e;
	char err[256];

	(void)state;
	hb_paths_init(&t);
	assert_int_equal(hb_paths_parse_dest("10.0.0.5", &d, err, sizeof(err)), 0);
	/* under 1 s: no evidence, no entry */
	assert_int_equal(hb_paths_evidence(&t, &d, HB_PATH_EV_SURVIVED, 999, 100), 0);
	assert_int_equal(t.n, 0);
	/* survived 20 s with no entry: nothing (an entry without a drop means --idle-max) */
	assert_int_equal(hb_paths_evidence(&t, &d, HB_PATH_EV_SURVIVED, 20000, 100), 0);
	assert_int_equal(t.n, 0);
	/* dropped after 31 s: a new monitor entry */
	assert_int_equal(hb_paths_evidence(&t, &d, HB_PATH_EV_DROPPED, 31000, 100), 1);
	e = hb_paths_find(&t, &d);
	assert_non_null(e);
	assert_int_equal(e->survived_ms, 0);
	assert_int_equal(e->dropped_ms, 31000);
	assert_int_equal(e->source, HB_PATH_MONITOR);
	assert_int_equal(e->time, 100);
	/* survived 20 s below it: the bracket 20..31 s */
	assert_int_equal(hb_paths_evidence(&t, &d, HB_PATH_EV_SURVIVED, 20000, 200), 1);
	assert_int_equal(e->survived_ms, 20000);
	assert_int_equal(e->time, 200);
	assert_int_equal(hb_paths_idle(e, 60, 600), 24);
	/* a shorter survival says nothing new; one at or past the drop changes nothing */
	assert_int_equal(hb_paths_evidence(&t, &d, HB_PATH_EV_SURVIVED, 15000, 300), 0);
	assert_int_equal(hb_paths_evidence(&t, &d, HB_PATH_EV_SURVIVED, 35000, 300), 0);
	assert_int_equal(e->dropped_ms, 31000);
	assert_int_equal(e->time, 200);
	/* a longer silence dropped: nothing new; a shorter one narrows it */
	assert_int_equal(hb_paths_evidence(&t, &d, HB_PATH_EV_DROPPED, 40000, 400), 0);
	assert_int_equal(hb_paths_evidence(&t, &d, HB_PATH_EV_DROPPED, 30000, 400), 1);
	assert_int_equal(e->dropped_ms, 30000);
	/* dropped at 10 s below the survived 20 s: the timeout shrank */
	assert_int_equal(hb_paths_evidence(&t, &d, HB_PATH_EV_DROPPED, 10000, 600), 1);
	assert_int_equal(e->survived_ms, 0);
	assert_int_equal(e->dropped_ms, 10000);
	assert_int_equal(hb_paths_idle(e, 60, 600), 8);
	/* a manual entry is never changed */
	assert_int_equal(hb_paths_parse_dest("10.0.0.0/8", &m, err, sizeof(err)), 0);
	man.dest = m;
	man.dropped_ms = 350000;
	man.source = HB_PATH_MANUAL;
	man.time = 1;
	assert_int_equal(hb_paths_set(&t, &man), 0);
	assert_int_equal(hb_paths_evidence(&t, &m, HB_PATH_EV_DROPPED, 5000, 700), 0);
	assert_int_equal(hb_paths_evidence(&t, &m, HB_PATH_EV_SURVIVED, 400000, 700), 0);
	e = hb_paths_find(&t, &m);
	assert_int_equal(e->dropped_ms, 350000);
	assert_int_equal(e->survived_ms, 0);
	assert_int_equal(e->source, HB_PATH_MANUAL);
	assert_int_equal(e->time, 1);
	hb_paths_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_set_remove),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_evidence),
	};

	return cmocka_run_group_tests_name("paths", tests, NULL, NULL);
}
