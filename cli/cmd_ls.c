// SPDX-License-Identifier: BSD-2-Clause
/* hbctl ls: fetch -> filter -> print, optionally again every --watch interval. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "mon.h"
#include "hb/paths.h"
#include "hb/policy.h"

enum {
	OPT_NAT = 0x3000,
	OPT_WATCH,
	OPT_DUMP_RAW,
	OPT_FORCE,
};

static void ls_usage(FILE *f)
{
	fprintf(f,
		"Usage: hbctl ls [FILTER] [-p] [-j] [--nat-timeout DUR|auto] [--watch DUR] [-v]\n"
		"\n"
		"List TCP sockets (every state, like ss -ta) with their keepalive settings,\n"
		"pending timer and idle time. Values in parentheses come from the namespace's\n"
		"sysctl, not the socket; ? is a value the caller's privileges cannot read, - one\n"
		"the socket does not have (no timer, a listener's ages, time-wait options).\n"
		"\n"
		"  -p, --processes         show owners (pid/comm/fd)\n"
		"  -j, --json              one JSON array\n"
		"  --nat-timeout DUR       mark connections a middlebox with that idle timeout\n"
		"                          would drop, and print a summary line\n"
		"  --nat-timeout auto      judge each connection by its own path's timeout (the\n"
		"                          dropped= of its entry in the path table, hbctl paths);\n"
		"                          one with no entry or no drop known is not judged\n"
		"  --watch DUR             list again every DUR until interrupted\n"
		"  --dump-raw FILE         also write the raw netlink reply to FILE, a new file\n"
		"                          (replay it with HB_DIAG_FILE=FILE)\n"
		"  --force                 with --dump-raw: replace an existing FILE\n"
		"  --netns NAME|PATH|PID   --backend bpf|diag|auto   -v\n"
		"\n"
		"FILTER (values of one option are OR-ed, different options AND-ed):\n"
		"  --pid PID  --comm NAME  --port N  --sport N  --dport N\n"
		"  --state S[,S...]  (established, syn-sent, syn-recv, fin-wait-1, fin-wait-2,\n"
		"                     time-wait, closed, close-wait, last-ack, listen, closing,\n"
		"                     connected, synchronized, all)\n"
		"  --keepalive on|off  --idle-over DUR\n"
		"\n"
		"DUR: 90 (seconds), 500ms, 90s, 5m, 1h. Exit 3 when a FILTER matched nothing.\n");
}

static int sleep_ms(long long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* A recorded dump (HB_DIAG_FILE) says nothing of the live policies' records. */
static bool replaying(void)
{
	const char *f = getenv("HB_DIAG_FILE");

	return f && *f;
}

/*
 * The path table, for --nat-timeout auto (each connection by its path's timeout) and for -j's
 * sources (an idle a kernel policy with --idle auto took from it). For auto a table that
 * cannot be read is an error, and a bad line a warning (the good lines count); for the
 * sources alone the table is best effort. po->paths is t when it has entries.
 */
static int load_paths(struct hb_cli_opts *o, struct hb_print_opts *po, struct hb_paths *t,
		      int n_iter)
{
	const char *file;
	char err[256];
	int rc;

	po->paths = NULL;
	if (!po->nat_auto && !(po->json && !replaying()))
		return 0;
	file = hb_paths_file(NULL);
	rc = hb_paths_load(file, t, err, sizeof(err));
	if (rc == -EINVAL && t->n) {
		if (po->nat_auto && !n_iter)
			hb_err(o, "warning: %s (that line is ignored)", err);
	} else if (rc) {
		hb_paths_free(t);
		if (po->nat_auto) {
			hb_err(o, "--nat-timeout auto: %s", err);
			return HB_EXIT_RUNTIME;
		}
	} else if (po->nat_auto && !t->n && !n_iter) {
		hb_err(o, "warning: --nat-timeout auto: the path table is empty: no connection is "
		       "judged (see hbctl paths add)");
	}
	po->paths = t->n ? t : NULL;
	return 0;
}

/* What ls's options collected */
struct ls_args {
	struct hb_filter flt;
	struct hb_fetch fx;
	struct hb_print_opts po;
	long long watch_ms;	/* -1: no --watch */
};

/*
 * One option of ls's own (not a global or filter one) into *a. Kept out of cmd_ls so the
 * option loop reads apart from what each option means. Returns HB_EXIT_OK to go on, else the
 * exit code cmd_ls returns (--help: HB_EXIT_DONE; a bad value: HB_EXIT_USAGE after the
 * message).
 */
static int ls_opt(struct hb_cli_opts *o, int c, char *arg, struct ls_args *a)
{
	char err[HB_ERR_LEN];
	int rc;

	switch (c) {
	case 'p':
		a->po.owners = true;
		return HB_EXIT_OK;
	case OPT_NAT:
		if (strcmp(arg, "auto") == 0) {
			a->po.nat_auto = true;
			a->po.nat_timeout_ms = 0;
			return HB_EXIT_OK;
		}
		a->po.nat_auto = false;
		rc = hb_parse_duration_ms(arg, &a->po.nat_timeout_ms, err, sizeof(err));
		if (!rc && a->po.nat_timeout_ms <= 0)
			return hb_usage_err(o, "--nat-timeout: must be more than 0");
		if (rc)
			return hb_usage_err(o, "--nat-timeout: %s", err);
		return HB_EXIT_OK;
	case OPT_WATCH:
		rc = hb_parse_duration_ms(arg, &a->watch_ms, err, sizeof(err));
		if (rc)
			return hb_usage_err(o, "--watch: %s", err);
		if (a->watch_ms < 100)
			return hb_usage_err(o, "--watch: at least 100ms");
		return HB_EXIT_OK;
	case OPT_DUMP_RAW:
		if (!*arg)
			return hb_usage_err(o, "--dump-raw: empty file name");
		a->fx.dump_raw = arg;
		return HB_EXIT_OK;
	case OPT_FORCE:
		a->fx.dump_force = true;
		return HB_EXIT_OK;
	case HB_OPT_HELP:
		ls_usage(stdout);
		return HB_EXIT_DONE;
	default:	/* HB_OPT_USAGE: said */
		return HB_EXIT_USAGE;
	}
}

/* The line --watch puts above each table, as watch(1) does; with colour the screen is
 * cleared first, else the tables are kept apart by a blank line. */
static void watch_header(const struct ls_args *a, int n_iter)
{
	time_t now = time(NULL);
	char ts[32], d[32];

	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", localtime(&now));
	if (a->po.color)
		fputs("\033[H\033[2J", stdout);
	else if (n_iter)
		fputc('\n', stdout);
	printf("Every %s: hbctl ls   %s\n\n", hb_fmt_duration(d, sizeof(d), a->watch_ms), ts);
}

/*
 * Prints the filtered socket list l (the table or JSON, then the NAT risk summary) with
 * the path table in a->po.paths. Returns 0, or HB_EXIT_RUNTIME after a message.
 */
static int ls_print(struct hb_cli_opts *o, struct ls_args *a, struct hb_sock_list *l,
		    int n_iter)
{
	struct hb_print_opts *po = &a->po;
	int wrc;

	if (po->nat_auto)		/* -j alone: pol_src looks up what it needs */
		hb_paths_attach(l, po->paths);
	if (po->json && !replaying())		/* the table shows no sources */
		hb_pol_src_attach(l, po->paths);	/* "program" / "policy" / "path" */
	if (a->watch_ms >= 0 && !po->json)
		watch_header(a, n_iter);
	if (po->json)
		wrc = hb_print_json(stdout, l, po);
	else
		wrc = hb_print_table(stdout, l, po);
	if (wrc) {
		hb_err(o, "writing output: %s", strerror(-wrc));
		return HB_EXIT_RUNTIME;
	}
	if (po->nat_timeout_ms >= 0) {
		/* stdout stays one JSON document with -j */
		if (!po->json)
			fputc('\n', stdout);
		hb_print_risk_summary(po->json ? stderr : stdout, l, po);
	}
	return 0;
}

/*
 * One round of ls: fetch, filter, print. Returns the exit code: HB_EXIT_OK, HB_EXIT_NOMATCH
 * when a filter matched nothing (without --watch), or an error after its message.
 */
static int ls_round(struct hb_cli_opts *o, struct ls_args *a, int n_iter)
{
	struct hb_sock_list l = { 0 };
	struct hb_paths paths;
	int rc;

	rc = hb_fetch_sockets(o, &a->fx, &l);
	if (rc) {
		hb_sock_list_free(&l);
		return rc;
	}
	hb_filter_apply(&a->flt, &l);
	a->po.monitor = hb_mon_attach(&l) > 0;	/* counters of a running hbctl monitor */
	hb_paths_init(&paths);
	rc = load_paths(o, &a->po, &paths, n_iter);
	if (rc) {
		hb_sock_list_free(&l);
		return rc;
	}
	rc = ls_print(o, a, &l, n_iter);
	a->po.paths = NULL;
	hb_paths_free(&paths);
	if (rc) {
		hb_sock_list_free(&l);
		return rc;
	}
	fflush(stdout);
	if (a->watch_ms < 0) {
		rc = a->flt.active && l.n == 0 ? HB_EXIT_NOMATCH : HB_EXIT_OK;
		hb_sock_list_free(&l);
		if (ferror(stdout)) {
			hb_err(o, "writing output: %s", strerror(errno));
			return HB_EXIT_RUNTIME;
		}
		/* as `set` says it: the header alone (or []) would leave the user guessing */
		if (rc == HB_EXIT_NOMATCH)
			hb_err(o, "no socket matched");
		return rc;
	}
	hb_sock_list_free(&l);
	if (ferror(stdout))
		return HB_EXIT_RUNTIME;
	return HB_EXIT_OK;
}

int cmd_ls(int argc, char **argv, struct hb_cli_opts *o)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		HB_FILTER_LONGOPTS,
		{ "processes", no_argument, NULL, 'p' },
		{ "nat-timeout", required_argument, NULL, OPT_NAT },
		{ "watch", required_argument, NULL, OPT_WATCH },
		{ "dump-raw", required_argument, NULL, OPT_DUMP_RAW },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ 0 }
	};
	struct ls_args a = {
		.fx = { .config = true },
		.po = { .nat_timeout_ms = -1 },
		.watch_ms = -1,
	};
	char err[HB_ERR_LEN];
	int c, rc, n_iter;

	hb_filter_init(&a.flt);
	while ((c = hb_cli_getopt(argc, argv, ":jvpn:h", longopts, o)) != -1) {
		rc = hb_filter_opt(&a.flt, c, optarg, err, sizeof(err));
		if (rc < 0)
			return hb_usage_err(o, "%s", err);
		if (rc > 0)
			continue;
		rc = ls_opt(o, c, optarg, &a);
		if (rc)
			return rc;
	}
	if (optind < argc)
		return hb_usage_err(o, "unexpected argument '%.40s' (see hbctl ls --help)",
				    argv[optind]);
	if (a.fx.dump_force && !a.fx.dump_raw)
		return hb_usage_err(o, "--force goes with --dump-raw FILE");
	if (a.fx.dump_raw && a.watch_ms >= 0)
		return hb_usage_err(o, "--dump-raw and --watch do not go together");
	a.fx.owners = a.po.owners || hb_filter_needs_owners(&a.flt);
	a.po.json = o->json;
	a.po.color = !a.po.json && hb_want_color(stdout);
	rc = hb_cli_enter_netns(o);
	if (rc)
		return rc;
	for (n_iter = 0;; n_iter++) {
		rc = ls_round(o, &a, n_iter);
		if (rc || a.watch_ms < 0)
			return rc;
		sleep_ms(a.watch_ms);
	}
}
