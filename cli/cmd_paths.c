// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl paths ls|add|rm|learn: the table of path timeouts (include/hb/paths.h) that
 * --idle auto reads. ls prints it with the idle time each entry gives; add records a known
 * timeout (a manual entry: dropped = the timeout); rm removes entries; learn runs probe-nat
 * and records its bracket (source probe). Every change is made under the writers' lock and
 * replaces the file atomically; with kernel policies loaded, the pinned map follows.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "hb/paths.h"
#include "hb/policy_loader.h"
#include "probe_nat.h"

enum {
	OPT_TIMEOUT = 0x3100,
	OPT_ALL,
};

static void paths_usage(FILE *f)
{
	fprintf(f,
		"Usage: hbctl paths ls [-j]\n"
		"       hbctl paths add DEST --timeout DUR\n"
		"       hbctl paths rm DEST | --all\n"
		"       hbctl paths learn HOST:PORT [probe-nat options]\n"
		"\n"
		"The table of path timeouts that --idle auto (policy add, run --kernel, idle=auto\n"
		"in a policy file) and HB_KEEPIDLE=auto read: each connection gets an idle time\n"
		"that fits its own path, floor(0.8 x the timeout) (at least 1 s, at most\n"
		"--idle-max); --idle-max (600s) for a path that survived probe-nat's --max with no\n"
		"drop; --idle-default (60s) for a destination with no entry.\n"
		"\n"
		"  ls                 the entries: destination, the idle they give, the timeout\n"
		"                     (dropped), the longest silence survived, source, age\n"
		"  add DEST --timeout DUR  a known timeout (an AWS NLB: 350s); replaces DEST's entry\n"
		"  rm DEST | --all    remove DEST's entry, or every entry\n"
		"  learn HOST:PORT    measure with hbctl probe-nat (its options: --max, --resolution,\n"
		"                     --parallel) and record the bracket for the address it used\n"
		"\n"
		"DEST: an address or prefix with an optional port, as in match lists: 10.0.0.0/8,\n"
		"203.0.113.5:443, [2001:db8::]/32. The most specific entry wins (an entry with a\n"
		"port beats one without, then the longest prefix).\n"
		"The table: %s (HB_PATHS_FILE overrides). With kernel policies loaded,\n"
		"add, rm and learn update their map too: new connections get the new idle time.\n"
		"Exit status: 0 ok, 1 error, 2 usage, 3 no such entry (rm).\n", HB_PATHS_DEFAULT_FILE);
}

/* "4m 10s", "3h", "12d" */
static void fmt_age(char *buf, size_t len, long long s)
{
	if (s < 0)
		snprintf(buf, len, "-");
	else if (s < 120)
		snprintf(buf, len, "%llds", s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%lldh", s / 3600);
	else
		snprintf(buf, len, "%lldd", s / 86400);
}

static void fmt_secs(char *buf, size_t len, long long ms)
{
	if (ms < 0)
		snprintf(buf, len, "none");
	else
		hb_pn_fmt_secs(buf, len, ms);
}

static int do_ls(struct hb_cli_opts *o, const char *file)
{
	char err[HB_ERR_LEN], dest[80], s[32], d[32], age[24];
	long long now = (long long)time(NULL);
	struct hb_paths t;
	unsigned int i;
	int rc;

	hb_paths_init(&t);
	rc = hb_paths_load(file, &t, err, sizeof(err));
	if (rc && rc != -EINVAL) {
		hb_err(o, "%s", err);
		return HB_EXIT_RUNTIME;
	}
	if (rc)		/* the good lines are shown; the bad one named */
		hb_err(o, "warning: %s (that line is ignored by every reader)", err);
	if (o->json) {
		fputc('[', stdout);
		for (i = 0; i < t.n; i++) {
			const struct hb_path *e = &t.e[i];

			hb_pattern_format(&e->dest, dest, sizeof(dest));
			fprintf(stdout, "%s{\"dest\":\"%s\",\"idle_s\":%d,\"dropped_s\":", i ? "," : "",
				dest, hb_paths_idle(e, HB_PATHS_IDLE_DEFAULT, HB_PATHS_IDLE_MAX));
			if (e->dropped_ms < 0)
				fputs("null", stdout);
			else
				fputs(hb_pn_fmt_secs(d, sizeof(d), e->dropped_ms), stdout);
			fprintf(stdout, ",\"survived_s\":%s,\"source\":\"%s\",\"time\":%lld,"
				"\"age_s\":", hb_pn_fmt_secs(s, sizeof(s), e->survived_ms),
				hb_path_source_name(e->source), e->time);
			if (e->time > 0 && now >= e->time)
				fprintf(stdout, "%lld}", now - e->time);
			else
				fputs("null}", stdout);
		}
		fputs("]\n", stdout);
	} else if (t.n) {
		printf("%-32s %6s %9s %9s %-8s %s\n", "DEST", "IDLE", "DROPPED", "SURVIVED",
		       "SOURCE", "AGE");
		for (i = 0; i < t.n; i++) {
			const struct hb_path *e = &t.e[i];

			hb_pattern_format(&e->dest, dest, sizeof(dest));
			fmt_secs(d, sizeof(d), e->dropped_ms);
			fmt_age(age, sizeof(age), e->time > 0 ? now - e->time : -1);
			printf("%-32s %5ds %8s%s %8ss %-8s %s\n", dest,
			       hb_paths_idle(e, HB_PATHS_IDLE_DEFAULT, HB_PATHS_IDLE_MAX), d,
			       e->dropped_ms < 0 ? " " : "s",
			       hb_pn_fmt_secs(s, sizeof(s), e->survived_ms),
			       hb_path_source_name(e->source), age);
		}
	} else {
		printf("no paths in %s (hbctl paths add DEST --timeout DUR, or paths learn "
		       "HOST:PORT)\n", file);
	}
	hb_paths_free(&t);
	return HB_EXIT_OK;
}

struct change {
	enum { CH_SET, CH_RM, CH_ALL } what;
	struct hb_path e;
	unsigned int removed;
};

static int apply(struct hb_paths *t, void *arg)
{
	struct change *c = arg;

	switch (c->what) {
	case CH_SET:
		return hb_paths_set(t, &c->e);
	case CH_RM:
		return hb_paths_remove(t, &c->e.dest);
	case CH_ALL:
		c->removed = t->n;
		t->n = 0;
		return 0;
	}
	return -EINVAL;
}

/* Writes the change, then brings the kernel policies' map in line with the new table. */
static int commit(struct hb_cli_opts *o, const char *file, struct change *c)
{
	char err[HB_ERR_LEN], dest[80];
	struct hb_paths t;
	int rc;

	rc = hb_paths_update(file, apply, c, err, sizeof(err));
	if (rc == -ENOENT && c->what == CH_RM) {
		hb_pattern_format(&c->e.dest, dest, sizeof(dest));
		hb_err(o, "no entry for %s in %s", dest, file);
		return HB_EXIT_NOMATCH;
	}
	if (rc == -E2BIG) {
		hb_err(o, "%s: the table is full (%d entries)", file, HB_PATHS_MAX);
		return HB_EXIT_RUNTIME;
	}
	if (rc) {
		hb_err(o, "%s", err);
		return HB_EXIT_RUNTIME;
	}
	hb_paths_init(&t);
	if (hb_paths_load(file, &t, err, sizeof(err)) == 0) {
		rc = hb_paths_map_sync(&t, err, sizeof(err));
		if (rc < 0)
			hb_err(o, "warning: the table is written, but the kernel policies' map "
			       "is not: %s", err);
		else if (rc > 0)
			hb_verbose(o, "the kernel policies' map updated (%d entries)", rc);
	}
	hb_paths_free(&t);
	return HB_EXIT_OK;
}

int hb_paths_cli_sync(struct hb_cli_opts *o)
{
	const char *file = hb_paths_file(NULL);
	char err[HB_ERR_LEN];
	struct hb_paths t;
	int rc;

	hb_paths_init(&t);
	rc = hb_paths_load(file, &t, err, sizeof(err));
	if (rc == -EINVAL)
		hb_err(o, "warning: %s (that line is ignored)", err);
	else if (rc)
		hb_err(o, "warning: %s: every connection gets --idle-default", err);
	rc = hb_paths_map_sync(&t, err, sizeof(err));
	hb_paths_free(&t);
	if (rc < 0) {
		hb_err(o, "%s", err);
		return HB_EXIT_RUNTIME;
	}
	hb_verbose(o, "--idle auto: %d path%s from %s", rc, rc == 1 ? "" : "s", file);
	return 0;
}

static int do_add(struct hb_cli_opts *o, const char *file, int argc, char **argv)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ 0 }
	};
	char err[HB_ERR_LEN];
	struct change c = { .what = CH_SET };
	long long timeout = -1;
	int ch;

	while ((ch = hb_cli_getopt(argc, argv, ":jvn:h", longopts, o)) != -1) {
		switch (ch) {
		case OPT_TIMEOUT:
			if (hb_parse_duration_ms(optarg, &timeout, err, sizeof(err)))
				return hb_usage_err(o, "--timeout: %s", err);
			if (timeout < 1000 || timeout > (long long)HB_IDLE_MAX * 1000 * 100)
				return hb_usage_err(o, "--timeout: '%.40s': not in 1s..%ds", optarg,
						    HB_IDLE_MAX * 100);
			break;
		case HB_OPT_HELP:
			paths_usage(stdout);
			return HB_EXIT_DONE;
		default:	/* HB_OPT_USAGE: said */
			return HB_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return hb_usage_err(o, "add: no destination (hbctl paths add DEST --timeout DUR)");
	if (optind + 1 < argc)
		return hb_usage_err(o, "add: unexpected argument '%.40s'", argv[optind + 1]);
	if (hb_paths_parse_dest(argv[optind], &c.e.dest, err, sizeof(err)))
		return hb_usage_err(o, "add: %s", err);
	if (timeout < 0)
		return hb_usage_err(o, "add: --timeout DUR is required (the path's timeout)");
	c.e.dropped_ms = timeout;	/* DESIGN.md: a manual --timeout T means dropped=T */
	c.e.survived_ms = 0;
	c.e.source = HB_PATH_MANUAL;
	c.e.time = (long long)time(NULL);
	return commit(o, file, &c);
}

static int do_rm(struct hb_cli_opts *o, const char *file, int argc, char **argv)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		{ "all", no_argument, NULL, OPT_ALL },
		{ 0 }
	};
	char err[HB_ERR_LEN];
	struct change c = { .what = CH_RM };
	bool all = false;
	int ch, rc;

	while ((ch = hb_cli_getopt(argc, argv, ":jvn:h", longopts, o)) != -1) {
		switch (ch) {
		case OPT_ALL:
			all = true;
			break;
		case HB_OPT_HELP:
			paths_usage(stdout);
			return HB_EXIT_DONE;
		default:	/* HB_OPT_USAGE: said */
			return HB_EXIT_USAGE;
		}
	}
	if (all && optind < argc)
		return hb_usage_err(o, "rm: DEST or --all, not both");
	if (!all && optind >= argc)
		return hb_usage_err(o, "rm: no destination (hbctl paths rm DEST | --all)");
	if (optind + 1 < argc)
		return hb_usage_err(o, "rm: unexpected argument '%.40s'", argv[optind + 1]);
	if (all) {
		c.what = CH_ALL;
	} else if (hb_paths_parse_dest(argv[optind], &c.e.dest, err, sizeof(err))) {
		return hb_usage_err(o, "rm: %s", err);
	}
	rc = commit(o, file, &c);
	if (!rc && all && !o->json)
		printf("removed %u entr%s\n", c.removed, c.removed == 1 ? "y" : "ies");
	return rc;
}

static int do_learn(struct hb_cli_opts *o, const char *file, int argc, char **argv)
{
	struct hb_pn_found f = { 0 };
	struct change c = { .what = CH_SET };
	char err[HB_ERR_LEN];
	int i, rc;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			paths_usage(stdout);
			return HB_EXIT_OK;
		}
	rc = hb_probe_nat_run(argc, argv, o, &f);
	if (rc)
		return rc;
	if (!f.measured)
		return HB_EXIT_RUNTIME;
	if (hb_paths_parse_dest(f.address, &c.e.dest, err, sizeof(err))) {
		hb_err(o, "learn: %s", err);
		return HB_EXIT_RUNTIME;
	}
	c.e.survived_ms = f.survived_ms;
	c.e.dropped_ms = f.dropped_ms;
	c.e.source = HB_PATH_PROBE;
	c.e.time = (long long)time(NULL);
	rc = commit(o, file, &c);
	if (!rc && !o->json)
		printf("recorded in %s: %s gets an idle of %d s with --idle auto\n", file,
		       f.address, hb_paths_idle(&c.e, HB_PATHS_IDLE_DEFAULT, HB_PATHS_IDLE_MAX));
	return rc;
}

int cmd_paths(int argc, char **argv, struct hb_cli_opts *o)
{
	const char *file = hb_paths_file(NULL), *sub;

	if (argc < 2) {
		paths_usage(stderr);
		return HB_EXIT_USAGE;
	}
	sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		paths_usage(stdout);
		return HB_EXIT_OK;
	}
	argc--;
	argv++;
	optind = 0;	/* glibc: full re-initialisation for the subcommand's parse */
	if (!strcmp(sub, "ls")) {
		int rc = hb_cli_parse_globals_only(argc, argv, o, paths_usage);

		return rc ? rc : do_ls(o, file);
	}
	if (!strcmp(sub, "add"))
		return do_add(o, file, argc, argv);
	if (!strcmp(sub, "rm"))
		return do_rm(o, file, argc, argv);
	if (!strcmp(sub, "learn"))
		return do_learn(o, file, argc, argv);
	return hb_usage_err(o, "unknown subcommand '%.40s' (ls, add, rm, learn)", sub);
}
