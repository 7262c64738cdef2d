// SPDX-License-Identifier: BSD-2-Clause
/* Unit tests for lib/log.c: levels, the sink, errno, truncation and concurrent use. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hb/log.h"

static char last[1024];
static enum hb_log_level last_level;
static atomic_int calls;

static void sink(enum hb_log_level level, const char *msg)
{
	/* copy with strlen: the test checks what the sink saw, truncation included */
	size_t n = strlen(msg);

	if (n >= sizeof(last))
		n = sizeof(last) - 1;
	memcpy(last, msg, n);
	last[n] = '\0';
	last_level = level;
	atomic_fetch_add(&calls, 1);
	errno = EIO;
}

static void counting_sink(enum hb_log_level level, const char *msg)
{
	(void)level;
	(void)msg;
	atomic_fetch_add(&calls, 1);
}

static int reset(void **state)
{
	(void)state;
	hb_set_log_fn(NULL, HB_LOG_OFF);
	atomic_store(&calls, 0);
	last[0] = '\0';
	return 0;
}

static void test_no_sink(void **state)
{
	(void)state;
	assert_false(hb_log_enabled(HB_LOG_ERROR));
	errno = ENOENT;
	hb_log(HB_LOG_ERROR, "nobody hears %d", 1);
	assert_int_equal(errno, ENOENT);
	/* a level without a sink still discards */
	hb_set_log_fn(NULL, HB_LOG_DEBUG);
	assert_false(hb_log_enabled(HB_LOG_ERROR));
	hb_log(HB_LOG_ERROR, "still nobody");
	assert_int_equal(atomic_load(&calls), 0);
}

static void test_levels(void **state)
{
	(void)state;
	hb_set_log_fn(sink, HB_LOG_INFO);
	assert_true(hb_log_enabled(HB_LOG_ERROR));
	assert_true(hb_log_enabled(HB_LOG_INFO));
	assert_false(hb_log_enabled(HB_LOG_DEBUG));
	assert_false(hb_log_enabled(HB_LOG_OFF));
	hb_log(HB_LOG_DEBUG, "too verbose");
	assert_int_equal(atomic_load(&calls), 0);
	hb_log(HB_LOG_OFF, "never");
	assert_int_equal(atomic_load(&calls), 0);
	hb_log(HB_LOG_INFO, "fd %d: %s", 7, "managed");
	assert_int_equal(atomic_load(&calls), 1);
	assert_string_equal(last, "fd 7: managed");
	assert_int_equal(last_level, HB_LOG_INFO);
	hb_log(HB_LOG_ERROR, "%s: %s", "HB_KEEPIDLE", "bad");
	assert_string_equal(last, "HB_KEEPIDLE: bad");
	assert_int_equal(last_level, HB_LOG_ERROR);

	hb_set_log_fn(sink, HB_LOG_OFF);
	assert_false(hb_log_enabled(HB_LOG_ERROR));
	hb_log(HB_LOG_ERROR, "off");
	assert_int_equal(atomic_load(&calls), 2);
}

static void test_errno_preserved(void **state)
{
	(void)state;
	hb_set_log_fn(sink, HB_LOG_DEBUG);
	errno = EBADF;
	hb_log(HB_LOG_ERROR, "x");	/* the sink sets EIO */
	assert_int_equal(atomic_load(&calls), 1);
	assert_int_equal(errno, EBADF);
}

static void test_truncation(void **state)
{
	char big[2000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	hb_set_log_fn(sink, HB_LOG_DEBUG);
	hb_log(HB_LOG_ERROR, "%s", big);
	assert_int_equal(strlen(last), 511);
}

static void test_parse_level(void **state)
{
	static const struct {
		const char *s;
		int rc;
		enum hb_log_level level;
	} cases[] = {
		{ "off", 0, HB_LOG_OFF }, { "error", 0, HB_LOG_ERROR }, { "info", 0, HB_LOG_INFO },
		{ "debug", 0, HB_LOG_DEBUG }, { "ERROR", 0, HB_LOG_ERROR }, { "Debug", 0, HB_LOG_DEBUG },
		{ "", -EINVAL, 0 }, { "warn", -EINVAL, 0 }, { "1", -EINVAL, 0 },
		{ "errors", -EINVAL, 0 }, { " info", -EINVAL, 0 },
	};
	enum hb_log_level l;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		l = (enum hb_log_level)99;
		assert_int_equal(hb_log_parse_level(cases[i].s, &l), cases[i].rc);
		if (!cases[i].rc)
			assert_int_equal(l, cases[i].level);
		else
			assert_int_equal(l, 99);
	}
	assert_int_equal(hb_log_parse_level(NULL, &l), -EINVAL);
}

#define THREADS 8
#define PER_THREAD 2000

static void *logger(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < PER_THREAD; i++)
		hb_log(HB_LOG_INFO, "thread message %d", i);
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[THREADS];
	int i;

	(void)state;
	hb_set_log_fn(counting_sink, HB_LOG_INFO);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, logger, NULL), 0);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(atomic_load(&calls), THREADS * PER_THREAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_sink, reset),
		cmocka_unit_test_setup(test_levels, reset),
		cmocka_unit_test_setup(test_errno_preserved, reset),
		cmocka_unit_test_setup(test_truncation, reset),
		cmocka_unit_test_setup(test_parse_level, reset),
		cmocka_unit_test_setup(test_threads, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
