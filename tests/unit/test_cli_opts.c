// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests for cli/opts.c: hbctl's message prefix ("hbctl: CMD: text", one line on
 * stderr) for errors, usage errors, -v lines and libhb's log lines; the option loop's step
 * every command shares (hb_cli_getopt: the global options applied, the command's own
 * returned, --help, the usage error of an unknown option or a missing value); a command of
 * global options only; the value options; --backend's parser.
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

/* Runs hb_cli_getopt over argv (NULL-terminated) from the start, as a command does. */
static int next_opt(int argc, char **argv, struct hb_cli_opts *o)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		{ "watch", required_argument, NULL, 'w' },
		{ "all", no_argument, NULL, 'a' },
		{ 0 }
	};

	return hb_cli_getopt(argc, argv, ":jvn:hw:a", longopts, o);
}

/* -v routes libhb's (and libbpf's) log lines through the same prefix */
static void test_log_sink(void **state)
{
	struct hb_cli_opts o = { .cmd = "ls" };
	char *argv[] = { "ls", "-v", NULL };

	(void)state;
	optind = 0;
	assert_int_equal(next_opt(2, argv, &o), -1);
	assert_int_equal(o.verbose, 1);
	capture_start();
	hb_log(HB_LOG_DEBUG, "hello %d", 42);
	assert_string_equal(capture_end(), "hbctl: ls: hello 42\n");
	hb_set_log_fn(NULL, HB_LOG_ERROR);
}

/* the global options are applied on the way; the command's own come back, in order */
static void test_getopt_globals(void **state)
{
	struct hb_cli_opts o = { .cmd = "ls" };
	char *argv[] = { "ls", "-j", "--watch", "2s", "--netns", "blue", "-a", "--backend",
			 "diag", "ARG", NULL };

	(void)state;
	optind = 0;
	assert_int_equal(next_opt(10, argv, &o), 'w');
	assert_string_equal(optarg, "2s");
	assert_int_equal(next_opt(10, argv, &o), 'a');
	assert_int_equal(next_opt(10, argv, &o), -1);
	assert_true(o.json);
	assert_string_equal(o.netns, "blue");
	assert_int_equal(o.backend, HB_BACKEND_DIAG);
	assert_true(o.backend_given);
	assert_int_equal(o.verbose, 0);
	assert_string_equal(argv[optind], "ARG");	/* the operand is the caller's */
	optind = 0;
}

static void test_getopt_help(void **state)
{
	struct hb_cli_opts o = { .cmd = "ls" };
	char *a1[] = { "ls", "-h", NULL }, *a2[] = { "ls", "-a", "--help", NULL };

	(void)state;
	optind = 0;
	assert_int_equal(next_opt(2, a1, &o), HB_OPT_HELP);
	optind = 0;
	assert_int_equal(next_opt(3, a2, &o), 'a');
	assert_int_equal(next_opt(3, a2, &o), HB_OPT_HELP);
	optind = 0;
}

static void test_getopt_errors(void **state)
{
	struct hb_cli_opts o = { .cmd = "ls" };
	struct hb_cli_opts top = { 0 };		/* before a command: main() */
	char *unknown[] = { "ls", "--bogus", "--watch", NULL };
	char *missing[] = { "ls", "--watch", NULL };
	char *top_unknown[] = { "hbctl", "-x", NULL };
	char *bad_backend[] = { "ls", "--backend", "ebpf", NULL };
	char *empty_netns[] = { "ls", "-n", "", NULL };

	(void)state;
	optind = 0;
	capture_start();
	assert_int_equal(next_opt(3, unknown, &o), HB_OPT_USAGE);
	assert_string_equal(capture_end(),
			    "hbctl: ls: unknown option '--bogus' (see hbctl ls --help)\n");
	optind = 0;
	capture_start();
	assert_int_equal(next_opt(2, missing, &o), HB_OPT_USAGE);
	assert_string_equal(capture_end(), "hbctl: ls: option '--watch' needs a value\n");
	optind = 0;
	capture_start();
	assert_int_equal(next_opt(2, top_unknown, &top), HB_OPT_USAGE);
	assert_string_equal(capture_end(), "hbctl: unknown option '-x' (see hbctl --help)\n");
	optind = 0;
	capture_start();
	assert_int_equal(next_opt(3, bad_backend, &o), HB_OPT_USAGE);
	assert_string_equal(capture_end(),
			    "hbctl: ls: --backend: unknown back end 'ebpf' (bpf, diag, auto)\n");
	assert_false(o.backend_given);
	optind = 0;
	capture_start();
	assert_int_equal(next_opt(3, empty_netns, &o), HB_OPT_USAGE);
	assert_string_equal(capture_end(), "hbctl: ls: --netns: empty name\n");
	assert_null(o.netns);
	optind = 0;
}

static int usage_calls;
static void fake_usage(FILE *f)
{
	(void)f;
	usage_calls++;
}

/* a command of global options only: go on, done after --help, or a usage error */
static void test_globals_only(void **state)
{
	struct hb_cli_opts o = { .cmd = "doctor" };
	char *ok[] = { "doctor", "-j", NULL }, *help[] = { "doctor", "--help", NULL };
	char *extra[] = { "doctor", "now", NULL }, *bad[] = { "doctor", "-q", NULL };

	(void)state;
	optind = 0;
	assert_int_equal(hb_cli_parse_globals_only(2, ok, &o, fake_usage), HB_EXIT_OK);
	assert_true(o.json);
	optind = 0;
	assert_int_equal(hb_cli_parse_globals_only(2, help, &o, fake_usage), HB_EXIT_DONE);
	assert_int_equal(usage_calls, 1);
	optind = 0;
	capture_start();
	assert_int_equal(hb_cli_parse_globals_only(2, extra, &o, fake_usage), HB_EXIT_USAGE);
	assert_string_equal(capture_end(), "hbctl: doctor: unexpected argument 'now'\n");
	optind = 0;
	capture_start();
	assert_int_equal(hb_cli_parse_globals_only(2, bad, &o, fake_usage), HB_EXIT_USAGE);
	assert_string_equal(capture_end(),
			    "hbctl: doctor: unknown option '-q' (see hbctl doctor --help)\n");
	assert_int_equal(usage_calls, 1);
	optind = 0;
}

static void test_value_opt(void **state)
{
	struct hb_cli_opts o = { .cmd = "set" };
	struct hb_policy p;

	(void)state;
	hb_policy_init(&p);
	assert_int_equal(hb_cli_value_opt(&o, HB_OPT_VALUE + HB_V_INTVL, "7", &p), HB_EXIT_OK);
	assert_int_equal(p.intvl_s, 7);
	assert_true(p.set & HB_BIT(HB_V_INTVL));
	capture_start();
	assert_int_equal(hb_cli_value_opt(&o, HB_OPT_VALUE + HB_V_CNT, "0", &p), HB_EXIT_USAGE);
	assert_true(strncmp(capture_end(), "hbctl: set: --cnt: ", 19) == 0);
}

static void test_backend_opt(void **state)
{
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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_log_sink),
		cmocka_unit_test(test_getopt_globals),
		cmocka_unit_test(test_getopt_help),
		cmocka_unit_test(test_getopt_errors),
		cmocka_unit_test(test_globals_only),
		cmocka_unit_test(test_value_opt),
		cmocka_unit_test(test_backend_opt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
