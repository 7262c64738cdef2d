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

/* One run of policy apply: the file, what it resolved to, the plan and the outcomes. */
struct apply {
	const char *file, *scope_arg;
	bool dry, check_only;
	char scope[PATH_MAX];
	char *text;
	struct hb_conf conf;
	struct hb_conf_want *want;
	struct resolved *r;
	size_t *entry_of, nwant;
	struct hb_pol_info *cur;
	size_t ncur;
	struct hb_plan_step *st;
	size_t nst;
	struct outcome *oc;
	unsigned int cnt[5], failed, invalid;
};

/* Parses the arguments into a. Returns HB_EXIT_OK to go on, or the exit code to return at
 * once (HB_EXIT_DONE after --help). */
static int parse_args(int argc, char **argv, struct hb_cli_opts *o, struct apply *a)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "scope", required_argument, NULL, OPT_SCOPE },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ 0 }
	};
	int c;

	while ((c = hb_cli_getopt(argc, argv, ":jvn:h", longopts, o)) != -1) {
		switch (c) {
		case OPT_DRY_RUN:
			a->dry = true;
			break;
		case OPT_SCOPE:
			if (!*optarg)
				return hb_usage_err(o, "--scope: empty path (expected a cgroup v2 "
						    "directory, absolute or relative to the mount)");
			a->scope_arg = optarg;
			break;
		case OPT_CHECK:
			a->check_only = true;
			break;
		case HB_OPT_HELP:
			apply_usage(stdout);
			return HB_EXIT_DONE;
		default:	/* HB_OPT_USAGE: said */
			return HB_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return hb_usage_err(o, "FILE is required (the policies file, e.g. " HB_CONF_PATH ")");
	if (optind + 1 < argc)
		return hb_usage_err(o, "unexpected argument '%.40s'", argv[optind + 1]);
	a->file = argv[optind];
	return HB_EXIT_OK;
}

/* Reads and parses the file. Returns HB_EXIT_OK to go on, or the exit code to return at once
 * (--check ends here: HB_EXIT_DONE). */
static int read_conf(struct hb_cli_opts *o, struct apply *a)
{
	static char errs[8192];
	char *line;
	size_t len;
	int rc;

	a->text = read_all(a->file, &len);
	if (!a->text) {
		hb_err(o, "%s: %s", a->file, strerror(errno));
		return HB_EXIT_RUNTIME;
	}
	rc = hb_conf_parse(a->text, len, a->file, &a->conf, errs, sizeof(errs));
	if (rc == -ENOMEM) {
		hb_err(o, "out of memory");
		return HB_EXIT_RUNTIME;
	}
	if (rc) {
		for (line = strtok(errs, "\n"); line; line = strtok(NULL, "\n"))
			hb_err(o, "%s", line);
		hb_err(o, "%s has errors%s", a->file, a->check_only ? "" : ": nothing changed");
		return HB_EXIT_RUNTIME;
	}
	if (a->check_only) {
		printf("%s: %zu polic%s, no error\n", a->file, a->conf.n,
		       a->conf.n == 1 ? "y" : "ies");
		return HB_EXIT_DONE;
	}
	return HB_EXIT_OK;
}

/* Resolves --scope and each line's cgroup, and compiles its policy: a missing cgroup is an
 * error of that line only (failed), a policy that does not compile one of the file
 * (invalid). Returns HB_EXIT_OK, or HB_EXIT_RUNTIME after a message. */
static int resolve(struct hb_cli_opts *o, struct apply *a)
{
	char err[512];
	unsigned int level;
	uint64_t id;
	size_t i;

	if (a->scope_arg && hb_cgroup_resolve(a->scope_arg, a->scope, sizeof(a->scope), &id,
					      &level, err, sizeof(err))) {
		hb_err(o, "--scope: %s", err);
		return HB_EXIT_RUNTIME;
	}
	a->want = calloc(a->conf.n + 1, sizeof(*a->want));
	a->r = calloc(a->conf.n + 1, sizeof(*a->r));
	a->entry_of = calloc(a->conf.n + 1, sizeof(*a->entry_of));
	if (!a->want || !a->r || !a->entry_of) {
		hb_err(o, "out of memory");
		return HB_EXIT_RUNTIME;
	}
	for (i = 0; i < a->conf.n; i++) {
		struct hb_conf_entry *e = &a->conf.v[i];
		struct hb_conf_want *w = &a->want[a->nwant];
		struct resolved *r = &a->r[i];

		if (hb_cgroup_resolve(e->cgroup, r->abs, sizeof(r->abs), &w->id, &r->level, err,
				      sizeof(err))) {
			hb_err(o, "%s:%u: %s", a->file, e->line, err);
			a->failed++;
			continue;
		}
		if (hb_pol_compile(&e->pol, &w->cfg)) {
			hb_err(o, "%s:%u: match: too many patterns", a->file, e->line);
			a->invalid++;
			continue;
		}
		hb_conf_idle_auto(e, &w->cfg);
		w->cfg.cgroup_id = w->id;
		w->cfg.cgroup_level = r->level;
		if (e->pol.has_match) {
			hb_conf_match_text(&e->pol.match, r->match, sizeof(r->match));
			w->match = r->match;
		}
		w->cgroup = r->abs;
		w->line = e->line;
		r->ok = true;
		a->entry_of[a->nwant++] = i;
	}
	return HB_EXIT_OK;
}

/* The plan against the policies in place. A line outside --scope, twice the same cgroup, a
 * cgroup of run --kernel: errors of the file, found before anything changes; such a file
 * changes nothing (only a cgroup that does not exist yet is skipped alone). Returns
 * HB_EXIT_OK, or HB_EXIT_RUNTIME after a message. */
static int plan(struct hb_cli_opts *o, struct apply *a)
{
	char err[512];
	size_t i;

	if (hb_pol_list(&a->cur, &a->ncur, err, sizeof(err))) {
		hb_err(o, "%s", err);
		return HB_EXIT_RUNTIME;
	}
	if (hb_conf_plan(a->want, a->nwant, a->cur, a->ncur, a->scope_arg ? a->scope : NULL,
			 &a->st, &a->nst)) {
		hb_err(o, "out of memory");
		return HB_EXIT_RUNTIME;
	}
	for (i = 0; i < a->nst; i++)
		if (a->st[i].op == HB_PLAN_CONFLICT) {
			hb_err(o, "%s:%u: cgroup %s: %s", a->file, a->want[a->st[i].want].line,
			       a->want[a->st[i].want].cgroup, a->st[i].why);
			a->invalid++;
		}
	if (a->invalid) {
		hb_err(o, "%s has errors: nothing changed", a->file);
		return HB_EXIT_RUNTIME;
	}
	a->oc = calloc(a->nst + 1, sizeof(*a->oc));
	if (!a->oc) {
		hb_err(o, "out of memory");
		return HB_EXIT_RUNTIME;
	}
	return HB_EXIT_OK;
}

/* Runs (or, with --dry-run, counts) each step, printing each done step's line. */
static void run_steps(struct hb_cli_opts *o, struct apply *a)
{
	const struct hb_conf_want *w = a->want;
	bool noted = false;
	size_t i;

	for (i = 0; i < a->nst; i++) {
		const struct hb_plan_step *s = &a->st[i];
		struct outcome *oc = &a->oc[i];

		if (a->dry || s->op == HB_PLAN_CONFLICT)
			a->cnt[s->op]++;
		if (s->op == HB_PLAN_CONFLICT) {
			hb_err(o, "%s:%u: cgroup %s: %s", a->file, w[s->want].line, w[s->want].cgroup,
			       s->why);
			a->failed++;
			continue;
		}
		if (a->dry)
			continue;
		oc->done = run_step(s, w, a->r, &a->conf, a->entry_of, oc);
		if (oc->done && oc->res.no_record && !noted) {
			hb_pol_no_record_note(o, &oc->res);	/* once: the kernel's answer */
			noted = true;
		}
		if (oc->done) {
			a->cnt[s->op]++;
		} else {
			a->failed++;
			if (s->want != (size_t)-1)
				hb_err(o, "%s:%u: %s", a->file, w[s->want].line, oc->err);
			else
				hb_err(o, "remove %" PRIu64 ": %s", s->id, oc->err);
		}
		if (!o->json)
			print_step_text(s, w, a->cur, a->file, a->dry, oc);
	}
}

/* The JSON object, or (text) the dry run's plan and the summary line. */
static void print_summary(struct hb_cli_opts *o, const struct apply *a)
{
	const unsigned int *cnt = a->cnt;
	size_t i;

	if (o->json) {
		print_json(a->st, a->nst, a->want, a->cur, a->file, a->dry, a->oc, cnt, a->failed);
		return;
	}
	if (a->dry)
		for (i = 0; i < a->nst; i++)
			if (a->st[i].op != HB_PLAN_CONFLICT)
				print_step_text(&a->st[i], a->want, a->cur, a->file, a->dry,
						&a->oc[i]);
	printf(a->dry ? "dry run: %u to add, %u to replace, %u to remove, %u unchanged" :
	       "%u added, %u replaced, %u removed, %u unchanged", cnt[HB_PLAN_ADD],
	       cnt[HB_PLAN_REPLACE], cnt[HB_PLAN_REMOVE], cnt[HB_PLAN_KEEP]);
	if (a->failed)
		printf(", %u failed", a->failed);
	putchar('\n');
}

/* Applies: steps, report, and for idle=auto the (new) paths map filled from the table.
 * Returns the exit status. */
static int apply_plan(struct hb_cli_opts *o, struct apply *a)
{
	size_t i;

	/* retrofit walks the sockets of the network namespace hbctl is in */
	if (!a->dry && o->netns && hb_cli_enter_netns(o))
		return HB_EXIT_RUNTIME;
	run_steps(o, a);
	print_summary(o, a);
	if (!a->dry)
		for (i = 0; i < a->nwant; i++)
			if (a->want[i].cfg.flags & HB_POL_F_IDLE_AUTO) {
				if (hb_paths_cli_sync(o))
					a->failed++;
				break;
			}
	return a->failed ? HB_EXIT_RUNTIME : HB_EXIT_OK;
}

int cmd_policy_apply(int argc, char **argv, struct hb_cli_opts *o)
{
	static struct apply a;		/* large (the scope path): off the stack */
	int ret;

	a = (struct apply){ 0 };
	ret = parse_args(argc, argv, o, &a);
	if (ret)
		return ret;
	ret = read_conf(o, &a);
	if (!ret)
		ret = resolve(o, &a);
	if (!ret)
		ret = plan(o, &a);
	if (!ret)
		ret = apply_plan(o, &a);
	free(a.oc);
	free(a.st);
	free(a.cur);
	free(a.entry_of);
	free(a.r);
	free(a.want);
	hb_conf_free(&a.conf);
	free(a.text);
	return ret;
}
