// SPDX-License-Identifier: BSD-2-Clause
/* hbctl's messages (one line each, "hbctl: CMD: ...", one printer), the global options every
 * command accepts and the option loop's step that applies them (hb_cli_getopt), --backend's
 * names and getopt's usage errors. Outside main.c so that the
 * unit tests, which link everything but main.o, have them. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "hb/log.h"

/* The one prefix printer: "hbctl: CMD: " (CMD when a command is running), the text, a
 * newline, on stderr. */
static void vsay(const struct hb_cli_opts *o, const char *fmt, va_list ap)
{
	fputs("hbctl: ", stderr);
	if (o && o->cmd)
		fprintf(stderr, "%s: ", o->cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void hb_err(const struct hb_cli_opts *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(o, fmt, ap);
	va_end(ap);
}

int hb_usage_err(const struct hb_cli_opts *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(o, fmt, ap);
	va_end(ap);
	return HB_EXIT_USAGE;
}

void hb_verbose(const struct hb_cli_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (!o || !o->verbose)
		return;
	va_start(ap, fmt);
	vsay(o, fmt, ap);
	va_end(ap);
}

/* The options whose command names the log lines: the log hook has no context argument
 * (libbpf_set_print's shape), so the sink finds it here. Set once by -v. */
static const struct hb_cli_opts *log_opts;

/* libhb's and libbpf's messages (bpf/iter.c passes libbpf's on): -v lines on stderr. */
static void log_sink(enum hb_log_level level, const char *msg)
{
	(void)level;
	hb_err(log_opts, "%s", msg);
}

int hb_backend_parse(const char *s, enum hb_backend_choice *out)
{
	if (strcmp(s, "auto") == 0)
		*out = HB_BACKEND_AUTO;
	else if (strcmp(s, "bpf") == 0)
		*out = HB_BACKEND_BPF;
	else if (strcmp(s, "diag") == 0 || strcmp(s, "sock_diag") == 0)
		*out = HB_BACKEND_DIAG;
	else
		return -EINVAL;
	return 0;
}

/* The one-line usage error for getopt_long's ':' (missing value) or '?' (unknown option). */
static void opt_error(struct hb_cli_opts *o, int c, char **argv)
{
	if (c == ':')
		hb_usage_err(o, "option '%s' needs a value", argv[optind - 1]);
	else if (o->cmd)
		hb_usage_err(o, "unknown option '%s' (see hbctl %s --help)", argv[optind - 1],
			     o->cmd);
	else
		hb_usage_err(o, "unknown option '%s' (see hbctl --help)", argv[optind - 1]);
}

/* Applies c if it is a global option. Returns 1 if it was one, 0 if not, HB_OPT_USAGE after
 * a usage error. */
static int global_opt(struct hb_cli_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'j':
		o->json = true;
		return 1;
	case 'v':
		o->verbose++;
		log_opts = o;
		hb_set_log_fn(log_sink, HB_LOG_DEBUG);
		return 1;
	case 'n':
	case HB_OPT_NETNS:
		if (!*arg) {
			hb_usage_err(o, "--netns: empty name");
			return HB_OPT_USAGE;
		}
		o->netns = arg;
		return 1;
	case HB_OPT_BACKEND:
		if (hb_backend_parse(arg, &o->backend)) {
			hb_usage_err(o, "--backend: unknown back end '%.40s' (bpf, diag, auto)", arg);
			return HB_OPT_USAGE;
		}
		o->backend_given = true;
		return 1;
	default:
		return 0;
	}
}

int hb_cli_getopt(int argc, char **argv, const char *shortopts,
		  const struct option *longopts, struct hb_cli_opts *o)
{
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		rc = global_opt(o, c, optarg);
		if (rc == HB_OPT_USAGE)
			return HB_OPT_USAGE;
		if (rc)
			continue;
		if (c == 'h' || c == HB_OPT_HELP)
			return HB_OPT_HELP;
		if (c == ':' || c == '?') {
			opt_error(o, c, argv);
			return HB_OPT_USAGE;
		}
		return c;
	}
	return -1;
}

int hb_cli_parse_globals_only(int argc, char **argv, struct hb_cli_opts *o,
			      void (*usage)(FILE *f))
{
	static const struct option longopts[] = { HB_GLOBAL_LONGOPTS, { 0 } };
	int c;

	while ((c = hb_cli_getopt(argc, argv, "+:jvn:h", longopts, o)) != -1) {
		if (c == HB_OPT_HELP) {
			usage(stdout);
			return HB_EXIT_DONE;
		}
		return HB_EXIT_USAGE;	/* HB_OPT_USAGE: said */
	}
	if (optind < argc)
		return hb_usage_err(o, "unexpected argument '%.40s'", argv[optind]);
	return HB_EXIT_OK;
}

int hb_cli_value_opt(struct hb_cli_opts *o, int c, const char *arg, struct hb_policy *p)
{
	static const char *const name[HB_V__COUNT] = {
		[HB_V_IDLE] = "--idle", [HB_V_INTVL] = "--intvl", [HB_V_CNT] = "--cnt",
		[HB_V_USER_TIMEOUT] = "--user-timeout",
	};
	char err[HB_ERR_LEN];
	int v = c - HB_OPT_VALUE;

	if (v < 0 || v >= HB_V__COUNT || !name[v])
		return hb_usage_err(o, "option %d is no value option", c);	/* a caller's bug */
	if (hb_policy_set(p, (enum hb_value)v, arg, err, sizeof(err)))
		return hb_usage_err(o, "%s: %s", name[v], err);
	return HB_EXIT_OK;
}
