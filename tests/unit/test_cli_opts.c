// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests for cli/opts.c: hbctl's message prefix ("hbctl: CMD: text", one line on
 * stderr) for errors, usage errors, -v lines and libhb's log lines; the usage error of an
 * unknown option or a missing value; --backend's parser.
 */
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../cli/cli.h"
#include "hb/log.h"

/* stderr into a temporary file between capture_start() and capture_end() */
static int saved_fd = -1;
static FILE *cap;
static char text[1024];

static void capture_start(void)
{
	fflush(stderr);
	cap = tmpfile();
	assert_non_null(cap);
	saved_fd = dup(STDERR_FILENO);
	assert_true(saved_fd >= 0);
	assert_int_equal(dup2(fileno(cap), STDERR_FILENO), STDERR_FILENO);
}

static const char *capture_end(void)
{
	size_t n;

	fflush(stderr);
	assert_int_equal(dup2(saved_fd, STDERR_FILENO), STDERR_FILENO);
	close(saved_fd);
	rewind(cap);
	n = fread(text, 1, sizeof(text) - 1, cap);
	text[n] = '\0';
	fclose(cap);
	return text;
}

static void test_messages(void **state)
{
	struct hb_cli_opts o = { .cmd = "set" };

	(void)state;
	capture_start();
	hb_err(&o, "%s: %d", "x", 3);
	assert_string_equal(capture_end(), "hbctl: set: x: 3\n");

	capture_start();
	hb_err(NULL, "no command");
	assert_string_equal(capture_end(), "hbctl: no command\n");

	capture_start();
	assert_int_equal(hb_usage_err(&o, "bad %s", "thing"), HB_EXIT_USAGE);
	assert_string_equal(capture_end(), "hbctl: set: bad thing\n");

	/* -v lines only with -v */
	capture_start();
	hb_verbose(&o, "quiet");
	assert_string_equal(capture_end(), "");
	o.verbose = 1;
	capture_start();
	hb_verbose(&o, "loud %d", 1);
	assert_string_equal(capture_end(), "hbctl: set: loud 1\n");
}

/* -v routes libhb's (and libbpf's) log lines through the same prefix */
static void test_log_sink(void **state)
{
	struct hb_cli_opts o = { .cmd = "ls" };

	(void)state;
	assert_int_equal(hb_cli_global_opt(&o, 'v', NULL), 1);
	assert_int_equal(o.verbose, 1);
	capture_start();
	hb_log(HB_LOG_DEBUG, "hello %d", 42);
	assert_string_equal(capture_end(), "hbctl: ls: hello 42\n");
	hb_set_log_fn(NULL, HB_LOG_ERROR);
}

static void test_opt_error(void **state)
{
	struct hb_cli_opts o = { .cmd = "ls" };
	char *argv[] = { "ls", "--bogus", "--state", NULL };

	(void)state;
	optind = 2;	/* getopt_long has just read argv[1] */
	capture_start();
	assert_int_equal(hb_cli_opt_error(&o, '?', argv), HB_EXIT_USAGE);
	assert_string_equal(capture_end(),
			    "hbctl: ls: unknown option '--bogus' (see hbctl ls --help)\n");
	optind = 3;
	capture_start();
	assert_int_equal(hb_cli_opt_error(&o, ':', argv), HB_EXIT_USAGE);
	assert_string_equal(capture_end(), "hbctl: ls: option '--state' needs a value\n");
	optind = 0;
}

static void test_backend_opt(void **state)
{
	struct hb_cli_opts o = { .cmd = "ls" };
	enum hb_backend_choice b = HB_BACKEND_BPF;

	(void)state;
	assert_int_equal(hb_backend_parse("auto", &b), 0);
	assert_int_equal(b, HB_BACKEND_AUTO);
	assert_int_equal(hb_backend_parse("bpf", &b), 0);
	assert_int_equal(b, HB_BACKEND_BPF);
	assert_int_equal(hb_backend_parse("diag", &b), 0);
	assert_int_equal(b, HB_BACKEND_DIAG);
	b = HB_BACKEND_AUTO;
	assert_int_equal(hb_backend_parse("sock_diag", &b), 0);
	assert_int_equal(b, HB_BACKEND_DIAG);
	assert_int_equal(hb_backend_parse("ebpf", &b), -EINVAL);
	assert_int_equal(hb_backend_parse("", &b), -EINVAL);
	assert_int_equal(b, HB_BACKEND_DIAG);	/* unchanged on error */

	assert_int_equal(hb_cli_global_opt(&o, HB_OPT_BACKEND, "diag"), 1);
	assert_int_equal(o.backend, HB_BACKEND_DIAG);
	assert_true(o.backend_given);
	capture_start();
	assert_int_equal(hb_cli_global_opt(&o, HB_OPT_BACKEND, "ebpf"), -1);
	assert_string_equal(capture_end(),
			    "hbctl: ls: --backend: unknown back end 'ebpf' (bpf, diag, auto)\n");
	assert_int_equal(hb_cli_global_opt(&o, 'x', NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_log_sink),
		cmocka_unit_test(test_opt_error),
		cmocka_unit_test(test_backend_opt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
