// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl policy apply FILE [--dry-run] [--scope PATH]: makes the kernel's cgroup policies
 * exactly the file's (policy_conf.h has the format). Reads the file, resolves each line's
 * cgroup, lists the policies in place, plans (policy_conf.c, pure), then adds, replaces and
 * removes through bpf/policy.c's hb_pol_add() / hb_pol_remove(), as `policy add` and
 * `policy rm` do. A second apply of the same file changes nothing.
 *
 * A file with any error changes nothing: everything (syntax, values, --scope, conflicts) is
 * checked before the first change. A line whose cgroup does not exist (yet) is reported and
 * skipped; the others are applied and the exit status is 1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "policy_conf.h"

#define CONF_MAX_BYTES	(1 << 20)

enum { OPT_DRY_RUN = 0x3100, OPT_SCOPE, OPT_CHECK };

/* One line of the file, resolved. */
struct resolved {
	bool ok;			/* cgroup resolved, policy compiled */
	char abs[PATH_MAX];
	unsigned int level;
	char match[HB_POL_MATCH_LEN];
};

static void apply_usage(FILE *f)
{
	fprintf(f,
		"Usage: hbctl policy apply FILE [--dry-run] [--scope PATH] [-j]\n"
		"       hbctl policy apply --check FILE\n"
		"\n"
		"Makes the cgroup policies exactly the ones FILE lists (" HB_CONF_PATH "):\n"
		"adds those missing, replaces those whose values differ (atomically), removes those\n"
		"FILE does not have; policies of hbctl run --kernel are left alone. Idempotent: a\n"
		"second apply changes nothing. FILE - reads standard input.\n"
		"\n"
		"  --dry-run       print the plan, change nothing\n"
		"  --check         only check FILE's syntax and values (no cgroup, no privileges)\n"
		"  --scope PATH    manage only the policies on cgroup PATH and below it\n"
		"  -j, --json      the plan and its outcome as one JSON object\n"
		"\n"
		"FILE: one policy per line, KEY=VALUE words; '#' starts a comment:\n"
		"  cgroup=/system.slice match=10.0.0.0/8,!:22 idle=60 intvl=10 cnt=6 \\\n"
		"      user-timeout=30s force=no\n"
		"Keys: cgroup (required: cgroup v2 directory, absolute or relative to the mount),\n"
		"match, idle (DUR or auto: the path table, see hbctl paths; with idle-default and\n"
		"idle-max), intvl, cnt, user-timeout, keepalive (on|off), force (yes|no), retrofit\n"
		"(yes|no: also change established connections when added or replaced). Errors read\n"
		"FILE:LINE: message. See hbctl(8).\n");
}

/* The whole file (or stdin for "-"), NUL-terminated; NULL with errno set. */
static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	char *buf;
	size_t n;
	int e;

	if (!f)
		return NULL;
	buf = malloc(CONF_MAX_BYTES + 1);
	if (!buf) {
		e = ENOMEM;
		goto fail;
	}
	errno = 0;
	n = fread(buf, 1, CONF_MAX_BYTES + 1, f);
	if (ferror(f)) {
		e = errno ? errno : EIO;	/* a directory: EISDIR, not "Input/output error" */
		goto fail;
	}
	if (n > CONF_MAX_BYTES) {
		e = EFBIG;
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	free(buf);
	if (f != stdin)
		fclose(f);
	errno = e;
	return NULL;
}

/* "idle=60s intvl=10s cnt=6 user-timeout=30s match=... force" from a compiled policy. */
static void describe(char *buf, size_t len, const struct hb_pol_cfg *c, const char *match)
{
	char d[32];
	size_t o = 0;

#define PUT(...) (o += (size_t)snprintf(buf + o, o < len ? len - o : 0, __VA_ARGS__))
	buf[0] = '\0';
	PUT("%s", c->mask & HB_POL_SET_KEEPALIVE ? "keepalive=on" : "keepalive=off");
	if (c->flags & HB_POL_F_IDLE_AUTO)
		PUT(" idle=auto idle-default=%ds idle-max=%us", c->idle_s, c->idle_max_s);
	else if (c->mask & HB_POL_SET_IDLE)
		PUT(" idle=%ds", c->idle_s);
	if (c->mask & HB_POL_SET_INTVL)
		PUT(" intvl=%ds", c->intvl_s);
	if (c->mask & HB_POL_SET_CNT)
		PUT(" cnt=%d", c->cnt);
	if (c->mask & HB_POL_SET_UTO)
		PUT(" user-timeout=%s", hb_fmt_duration(d, sizeof(d), c->user_timeout_ms));
	if (match && *match)
		PUT(" match=%s", match);
	if (c->flags & HB_POL_F_FORCE)
		PUT(" force=yes");
#undef PUT
	if (o >= len && len > 4)
		strcpy(buf + len - 4, "...");
}

struct outcome {
	bool done;
	char err[512];
	struct hb_pol_add_res res;	/* of an add or replace */
};

static void print_step_text(const struct hb_plan_step *s, const struct hb_conf_want *w,
			    const struct hb_pol_info *cur, const char *file, bool dry,
			    const struct outcome *oc)
{
	static const char *const past[] = { "kept", "added", "replaced", "removed", "conflict" };
	const struct hb_pol_info *c = s->cur != (size_t)-1 ? &cur[s->cur] : NULL;
	char desc[HB_POL_MATCH_LEN + 256];
	const char *cg;

	if (s->want != (size_t)-1) {
		cg = w[s->want].cgroup;
		describe(desc, sizeof(desc), &w[s->want].cfg, w[s->want].match);
	} else {
		cg = c && c->state != HB_POL_BROKEN ? c->meta.cgroup : "?";
		snprintf(desc, sizeof(desc), "(%s)", s->why ? s->why : "");
	}
	printf("%-8s %-10" PRIu64 " %s  %s", dry || s->op == HB_PLAN_CONFLICT ?
	       hb_plan_op_name(s->op) : past[s->op], s->id, cg, desc);
	if (s->want != (size_t)-1)
		printf("  (%s:%u)", file, w[s->want].line);
	if (!dry && !oc->done && s->op != HB_PLAN_KEEP)
		printf("  FAILED");
	putchar('\n');
}

static void print_json(const struct hb_plan_step *st, size_t n, const struct hb_conf_want *w,
		       const struct hb_pol_info *cur, const char *file, bool dry,
		       const struct outcome *oc, const unsigned int cnt[5], unsigned int failed)
{
	size_t i;

	printf("{\"file\":");
	hb_json_str(stdout, file, PATH_MAX);
	printf(",\"dry_run\":%s,\"ok\":%s,\"steps\":[", dry ? "true" : "false",
	       failed ? "false" : "true");
	for (i = 0; i < n; i++) {
		const struct hb_plan_step *s = &st[i];
		const struct hb_pol_info *c = s->cur != (size_t)-1 ? &cur[s->cur] : NULL;

		printf("%s{\"op\":\"%s\",\"id\":%" PRIu64 ",\"cgroup\":", i ? "," : "",
		       hb_plan_op_name(s->op), s->id);
		if (s->want != (size_t)-1)
			hb_json_str(stdout, w[s->want].cgroup, PATH_MAX);
		else if (c && c->state != HB_POL_BROKEN)
			hb_json_str(stdout, c->meta.cgroup, sizeof(c->meta.cgroup));
		else
			printf("null");
		if (s->want != (size_t)-1)
			printf(",\"line\":%u", w[s->want].line);
		else
			printf(",\"line\":null");
		printf(",\"why\":");
		if (s->why)
			hb_json_str(stdout, s->why, 128);
		else
			printf("null");
		printf(",\"done\":%s,\"error\":", oc[i].done ? "true" : "false");
		if (oc[i].err[0])
			hb_json_str(stdout, oc[i].err, sizeof(oc[i].err));
		else
			printf("null");
		printf("}");
	}
	printf("],\"summary\":{\"keep\":%u,\"add\":%u,\"replace\":%u,\"remove\":%u,"
	       "\"conflict\":%u,\"failed\":%u}}\n", cnt[HB_PLAN_KEEP], cnt[HB_PLAN_ADD],
	       cnt[HB_PLAN_REPLACE], cnt[HB_PLAN_REMOVE], cnt[HB_PLAN_CONFLICT], failed);
}

/* Runs one step. Returns true when it is done (or nothing was to do). */
static bool run_step(const struct hb_plan_step *s, const struct hb_conf_want *w,
		     const struct resolved *r, const struct hb_conf *conf, const size_t *entry_of,
		     struct outcome *oc)
{
	unsigned int flags;
	size_t e;

	switch (s->op) {
	case HB_PLAN_KEEP:
		return true;
	case HB_PLAN_REMOVE:
		return !hb_pol_remove(s->id, oc->err, sizeof(oc->err));
	case HB_PLAN_ADD:
	case HB_PLAN_REPLACE:
		e = entry_of[s->want];
		flags = conf->v[e].retrofit ? HB_POL_ADD_RETROFIT : 0;
		return !hb_pol_add(&w[s->want].cfg, r[e].abs, w[s->want].id, r[e].level,
				   w[s->want].match, flags, &oc->res, oc->err, sizeof(oc->err));
	default:
		snprintf(oc->err, sizeof(oc->err), "%s", s->why ? s->why : "conflict");
		return false;
	}
}

int cmd_policy_apply(int argc, char **argv, struct hb_cli_opts *o)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "scope", required_argument, NULL, OPT_SCOPE },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ 0 }
	};
	static char errs[8192], err[512], scope[PATH_MAX];
	struct hb_conf conf = { 0 };
	struct hb_conf_want *want = NULL;
	struct resolved *r = NULL;
	struct hb_pol_info *cur = NULL;
	struct hb_plan_step *st = NULL;
	struct outcome *oc = NULL;
	size_t *entry_of = NULL, nwant = 0, ncur = 0, nst = 0, len, i;
	unsigned int cnt[5] = { 0 }, failed = 0, invalid = 0, level;
	const char *file, *scope_arg = NULL;
	bool dry = false, check_only = false, noted = false;
	char *text = NULL, *line;
	uint64_t id;
	int c, rc, ret = HB_EXIT_RUNTIME;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jvn:h", longopts, NULL)) != -1) {
		rc = hb_cli_global_opt(o, c, optarg);
		if (rc < 0)
			return HB_EXIT_USAGE;
		if (rc > 0)
			continue;
		switch (c) {
		case OPT_DRY_RUN:
			dry = true;
			break;
		case OPT_SCOPE:
			if (!*optarg)
				return hb_usage_err(o, "--scope: empty path (expected a cgroup v2 "
						    "directory, absolute or relative to the mount)");
			scope_arg = optarg;
			break;
		case OPT_CHECK:
			check_only = true;
			break;
		case 'h':
		case HB_OPT_HELP:
			apply_usage(stdout);
			return HB_EXIT_OK;
		default:
			return hb_cli_opt_error(o, c, argv);
		}
	}
	if (optind >= argc)
		return hb_usage_err(o, "FILE is required (the policies file, e.g. " HB_CONF_PATH ")");
	if (optind + 1 < argc)
		return hb_usage_err(o, "unexpected argument '%.40s'", argv[optind + 1]);
	file = argv[optind];

	text = read_all(file, &len);
	if (!text) {
		hb_err(o, "%s: %s", file, strerror(errno));
		return HB_EXIT_RUNTIME;
	}
	rc = hb_conf_parse(text, len, file, &conf, errs, sizeof(errs));
	if (rc == -ENOMEM) {
		hb_err(o, "out of memory");
		goto out;
	}
	if (rc) {
		for (line = strtok(errs, "\n"); line; line = strtok(NULL, "\n"))
			hb_err(o, "%s", line);
		hb_err(o, "%s has errors%s", file, check_only ? "" : ": nothing changed");
		goto out;
	}
	if (check_only) {
		printf("%s: %zu polic%s, no error\n", file, conf.n, conf.n == 1 ? "y" : "ies");
		ret = HB_EXIT_OK;
		goto out;
	}
	if (scope_arg && hb_cgroup_resolve(scope_arg, scope, sizeof(scope), &id, &level, err,
					   sizeof(err))) {
		hb_err(o, "--scope: %s", err);
		goto out;
	}
	want = calloc(conf.n + 1, sizeof(*want));
	r = calloc(conf.n + 1, sizeof(*r));
	entry_of = calloc(conf.n + 1, sizeof(*entry_of));
	if (!want || !r || !entry_of) {
		hb_err(o, "out of memory");
		goto out;
	}
	/* resolve each line: a missing cgroup is an error of that line only */
	for (i = 0; i < conf.n; i++) {
		struct hb_conf_entry *e = &conf.v[i];
		struct hb_conf_want *w = &want[nwant];

		if (hb_cgroup_resolve(e->cgroup, r[i].abs, sizeof(r[i].abs), &w->id, &r[i].level,
				      err, sizeof(err))) {
			hb_err(o, "%s:%u: %s", file, e->line, err);
			failed++;
			continue;
		}
		if (hb_pol_compile(&e->pol, &w->cfg)) {
			hb_err(o, "%s:%u: match: too many patterns", file, e->line);
			invalid++;
			continue;
		}
		hb_conf_idle_auto(e, &w->cfg);
		w->cfg.cgroup_id = w->id;
		w->cfg.cgroup_level = r[i].level;
		if (e->pol.has_match) {
			hb_conf_match_text(&e->pol.match, r[i].match, sizeof(r[i].match));
			w->match = r[i].match;
		}
		w->cgroup = r[i].abs;
		w->line = e->line;
		r[i].ok = true;
		entry_of[nwant++] = i;
	}
	if (hb_pol_list(&cur, &ncur, err, sizeof(err))) {
		hb_err(o, "%s", err);
		goto out;
	}
	if (hb_conf_plan(want, nwant, cur, ncur, scope_arg ? scope : NULL, &st, &nst)) {
		hb_err(o, "out of memory");
		goto out;
	}
	/* A line outside --scope, twice the same cgroup, a cgroup of run --kernel: errors of
	 * the file, found before anything changes; such a file changes nothing (only a cgroup
	 * that does not exist yet is skipped alone) */
	for (i = 0; i < nst; i++)
		if (st[i].op == HB_PLAN_CONFLICT) {
			hb_err(o, "%s:%u: cgroup %s: %s", file, want[st[i].want].line,
			       want[st[i].want].cgroup, st[i].why);
			invalid++;
		}
	if (invalid) {
		hb_err(o, "%s has errors: nothing changed", file);
		goto out;
	}
	oc = calloc(nst + 1, sizeof(*oc));
	if (!oc) {
		hb_err(o, "out of memory");
		goto out;
	}
	/* retrofit walks the sockets of the network namespace hbctl is in */
	if (!dry && o->netns && hb_cli_enter_netns(o))
		goto out;
	for (i = 0; i < nst; i++) {
		if (dry || st[i].op == HB_PLAN_CONFLICT)
			cnt[st[i].op]++;
		if (st[i].op == HB_PLAN_CONFLICT) {
			hb_err(o, "%s:%u: cgroup %s: %s", file, want[st[i].want].line,
			       want[st[i].want].cgroup, st[i].why);
			failed++;
			continue;
		}
		if (dry)
			continue;
		oc[i].done = run_step(&st[i], want, r, &conf, entry_of, &oc[i]);
		if (oc[i].done && oc[i].res.no_record && !noted) {
			hb_pol_no_record_note(o, &oc[i].res);	/* once: the kernel's answer */
			noted = true;
		}
		if (oc[i].done) {
			cnt[st[i].op]++;
		} else {
			failed++;
			if (st[i].want != (size_t)-1)
				hb_err(o, "%s:%u: %s", file, want[st[i].want].line, oc[i].err);
			else
				hb_err(o, "remove %" PRIu64 ": %s", st[i].id, oc[i].err);
		}
		if (!o->json)
			print_step_text(&st[i], want, cur, file, dry, &oc[i]);
	}
	if (o->json) {
		print_json(st, nst, want, cur, file, dry, oc, cnt, failed);
	} else {
		if (dry)
			for (i = 0; i < nst; i++)
				if (st[i].op != HB_PLAN_CONFLICT)
					print_step_text(&st[i], want, cur, file, dry, &oc[i]);
		printf(dry ? "dry run: %u to add, %u to replace, %u to remove, %u unchanged" :
		       "%u added, %u replaced, %u removed, %u unchanged", cnt[HB_PLAN_ADD],
		       cnt[HB_PLAN_REPLACE], cnt[HB_PLAN_REMOVE], cnt[HB_PLAN_KEEP]);
		if (failed)
			printf(", %u failed", failed);
		putchar('\n');
	}
	if (!dry)	/* idle=auto: fill the (new) paths map from the table */
		for (i = 0; i < nwant; i++)
			if (want[i].cfg.flags & HB_POL_F_IDLE_AUTO) {
				if (hb_paths_cli_sync(o))
					failed++;
				break;
			}
	ret = failed ? HB_EXIT_RUNTIME : HB_EXIT_OK;
out:
	free(oc);
	free(st);
	free(cur);
	free(entry_of);
	free(r);
	free(want);
	hb_conf_free(&conf);
	free(text);
	return ret;
}
