// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl policy add|ls|rm: the keepalive policy of a cgroup, enforced by a sock_ops BPF
 * program (bpf/policy.bpf.c, loaded by bpf/policy.c). The policy language is libhb's, as for
 * the shim: the same parsers, defaults and match-list semantics. policy apply is
 * cmd_policy_apply.c; run --kernel (cmd_run.c) shares the compile step, hb_cli_pol_compile().
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "policy_conf.h"
#include "hb/paths.h"
#include "hb/policy.h"
#include "hb/policy_loader.h"

enum {
	OPT_CGROUP = 0x3000,
	OPT_MATCH,
	OPT_OFF,
	OPT_FORCE,
	OPT_NO_REPLACE,
	OPT_RETROFIT,
	OPT_ALL,
	OPT_IDLE_DEFAULT,
	OPT_IDLE_MAX,
};

static void policy_usage(FILE *f)
{
	fprintf(f,
		"Usage: hbctl policy add --cgroup PATH [--match LIST] [--idle DUR|auto] [--intvl DUR]\n"
		"                        [--cnt N] [--user-timeout DUR] [--off] [--force]\n"
		"                        [--idle-default DUR] [--idle-max DUR]\n"
		"                        [--no-replace] [--retrofit] [-j]\n"
		"       hbctl policy ls [-j]\n"
		"       hbctl policy rm ID | --cgroup PATH | --all\n"
		"       hbctl policy apply FILE [--dry-run] [--scope PATH] [-j]\n"
		"\n"
		"A keepalive policy enforced by the kernel for every TCP connection of every process\n"
		"in a cgroup (v2) and below it, static binaries, Go programs and containers included:\n"
		"a sock_ops BPF program sets the options when a connection is established (connect()\n"
		"completed, or accepted) and on listeners at listen(). It stays after hbctl exits\n"
		"(pinned in /sys/fs/bpf/hbkeep/policy/ID).\n"
		"The values and --match work as for hbctl run: defaults 60s/10s/6, each of\n"
		"--idle/--intvl/--cnt given replaces that one default.\n"
		"\n"
		"add: prints the policy's id (the cgroup's id). A second add on the same cgroup\n"
		"replaces its policy atomically (the BPF link is updated), unless --no-replace.\n"
		"  --cgroup PATH           cgroup v2 directory, absolute or relative to the mount\n"
		"  --match LIST            connect(): remote address; listen(), accepted: local\n"
		"  --idle DUR --intvl DUR --cnt N --user-timeout DUR\n"
		"  --idle auto             each connection's idle from its own path's timeout\n"
		"                          (hbctl paths): floor(0.8 x the timeout), --idle-max\n"
		"                          (600s) for a path with no drop known, --idle-default\n"
		"                          (60s) for a destination not in the table\n"
		"  --off                   leave SO_KEEPALIVE and TCP_KEEP* alone (--user-timeout only)\n"
		"  --force                 override what the program sets itself (SO_KEEPALIVE,\n"
		"                          TCP_KEEP*, TCP_USER_TIMEOUT), before or after connect();\n"
		"                          without it the program's choice wins, as under the shim\n"
		"  --no-replace            fail if the cgroup has a policy\n"
		"  --retrofit              also apply it to established sockets of the cgroup's\n"
		"                          processes (in hbctl's network namespace, or --netns)\n"
		"ls: id, state (active, orphan, broken), values, match list, counters, since when.\n"
		"rm: detaches and unpins, and prints each policy removed (id, state, cgroup);\n"
		"    --cgroup also removes orphans of that path, --all every policy.\n"
		"apply: makes the policies exactly FILE's (/etc/hbkeep/policies.conf; see\n"
		"       hbctl policy apply --help).\n"
		"\n"
		"Needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON), a kernel with BTF and cgroup v2.\n");
}

/* ---- add ---------------------------------------------------------------------------------- */

#define EMPTY_CGROUP	"empty path (expected a cgroup v2 directory, absolute or relative to the mount)"

/* What policy add's options collected. */
struct add_args {
	struct hb_policy pol;
	struct hb_idle_auto ia;
	const char *cgroup;
	unsigned int flags;		/* HB_POL_ADD_* */
};

/*
 * One option of policy add's own (not a global one) into *a. Kept out of policy_add so that
 * the steps of adding read apart from the options. Returns HB_EXIT_OK to go on, else the exit
 * code policy add returns (--help: HB_EXIT_DONE; a bad value: HB_EXIT_USAGE after the
 * message).
 */
static int add_opt(struct hb_cli_opts *o, int c, const char *arg, struct add_args *a)
{
	char err[HB_ERR_LEN];
	int *bound;

	switch (c) {
	HB_VALUE_CASES:
		if (c == HB_OPT_VALUE + HB_V_IDLE && !strcmp(arg, "auto")) {
			a->ia.on = true;
			return HB_EXIT_OK;
		}
		return hb_cli_value_opt(o, c, arg, &a->pol);
	case OPT_IDLE_DEFAULT:
	case OPT_IDLE_MAX:
		bound = c == OPT_IDLE_MAX ? &a->ia.max_s : &a->ia.def_s;
		if (hb_parse_secs(arg, HB_IDLE_MIN, HB_IDLE_MAX, bound, err, sizeof(err)))
			return hb_usage_err(o, "%s: %s", c == OPT_IDLE_MAX ? "--idle-max" :
					    "--idle-default", err);
		*(c == OPT_IDLE_MAX ? &a->ia.max_given : &a->ia.def_given) = true;
		return HB_EXIT_OK;
	case OPT_MATCH:
		if (hb_policy_set_match(&a->pol, arg, err, sizeof(err)))
			return hb_usage_err(o, "--match: %s", err);
		return HB_EXIT_OK;
	case OPT_OFF:
		hb_policy_set(&a->pol, HB_V_KEEPALIVE, "0", err, sizeof(err));
		return HB_EXIT_OK;
	case OPT_FORCE:
		a->pol.force = true;
		return HB_EXIT_OK;
	case OPT_CGROUP:
		if (!*arg)
			return hb_usage_err(o, "--cgroup: " EMPTY_CGROUP);
		a->cgroup = arg;
		return HB_EXIT_OK;
	case OPT_NO_REPLACE:
		a->flags |= HB_POL_ADD_NO_REPLACE;
		return HB_EXIT_OK;
	case OPT_RETROFIT:
		a->flags |= HB_POL_ADD_RETROFIT;
		return HB_EXIT_OK;
	case HB_OPT_HELP:
		policy_usage(stdout);
		return HB_EXIT_DONE;
	default:	/* HB_OPT_USAGE: said */
		return HB_EXIT_USAGE;
	}
}

/* Before hb_pol_compile(): the idle counts as given (its fallback, --idle-default). Returns 0
 * or HB_EXIT_USAGE after printing the error. */
static int idle_auto_prepare(struct hb_cli_opts *o, struct hb_idle_auto *ia, struct hb_policy *p)
{
	char err[HB_ERR_LEN], v[16];

	if (!ia->on) {
		if (ia->def_given || ia->max_given)
			return hb_usage_err(o, "--idle-default and --idle-max go with --idle auto");
		return 0;
	}
	if (!ia->def_given)
		ia->def_s = HB_PATHS_IDLE_DEFAULT;
	if (!ia->max_given)
		ia->max_s = HB_PATHS_IDLE_MAX;
	snprintf(v, sizeof(v), "%d", ia->def_s);
	hb_policy_set(p, HB_V_IDLE, v, err, sizeof(err));
	return 0;
}

/* After hb_pol_compile(): the program takes the idle from the paths map. */
static void idle_auto_compile(const struct hb_idle_auto *ia, struct hb_pol_cfg *cfg)
{
	if (!ia->on)
		return;
	cfg->flags |= HB_POL_F_IDLE_AUTO;
	cfg->mask |= HB_POL_SET_IDLE;
	cfg->idle_s = ia->def_s;
	cfg->idle_max_s = (__u32)ia->max_s;
}

int hb_cli_pol_compile(struct hb_cli_opts *o, struct hb_policy *pol, struct hb_idle_auto *ia,
		       struct hb_pol_cfg *cfg, char *text, size_t textlen)
{
	if (idle_auto_prepare(o, ia, pol))
		return HB_EXIT_USAGE;
	if (hb_policy_is_noop(pol))
		return hb_usage_err(o, "--off without --user-timeout leaves nothing to do");
	if (hb_pol_compile(pol, cfg))
		return hb_usage_err(o, "--match: too many patterns");
	idle_auto_compile(ia, cfg);
	text[0] = '\0';
	if (pol->has_match)
		hb_conf_match_text(&pol->match, text, textlen);
	return 0;
}

/* The policy works without its cgroup setsockopt program, but sees less: said once, when
 * it is added. */
void hb_pol_no_record_note(struct hb_cli_opts *o, const struct hb_pol_add_res *res)
{
	if (res->no_record)
		hb_err(o, "note: the policy's cgroup setsockopt program was %s: a program's own "
		       "SO_KEEPALIVE=0 before connect() is switched on (the TCP_KEEP* values it "
		       "sets stay its own), and ls cannot tell the program's values from the "
		       "policy's", res->note);
}

/* Message for a failed hb_pol_* call; -EPERM and friends are runtime errors all the same. */
static int runtime_err(struct hb_cli_opts *o, const char *err)
{
	hb_err(o, "%s", err);
	return HB_EXIT_RUNTIME;
}

/* What policy add prints: the id (or one JSON object), and what --retrofit changed. */
static void print_added(struct hb_cli_opts *o, const struct hb_pol_add_res *r, const char *abs,
			unsigned int flags)
{
	if (o->json) {
		printf("{\"id\":%" PRIu64 ",\"cgroup\":", r->id);
		hb_json_str(stdout, abs, PATH_MAX);
		printf(",\"replaced\":%s,\"link_id\":%u,\"prog_id\":%u", r->replaced ? "true" : "false",
		       r->link_id, r->prog_id);
		if (flags & HB_POL_ADD_RETROFIT)
			printf(",\"retrofit\":{\"applied\":%" PRIu64 ",\"failed\":%" PRIu64 "}",
			       r->retrofit_applied, r->retrofit_failed);
		printf("}\n");
	} else {
		printf("%" PRIu64 "\n", r->id);
		if (flags & HB_POL_ADD_RETROFIT)
			hb_err(o, "retrofitted %" PRIu64 " established connection%s, %" PRIu64
			       " failed", r->retrofit_applied, r->retrofit_applied == 1 ? "" : "s",
			       r->retrofit_failed);
	}
}

/* Parses policy add's arguments into a. Returns HB_EXIT_OK to go on, else the exit code. */
static int add_parse(int argc, char **argv, struct hb_cli_opts *o, struct add_args *a)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "match", required_argument, NULL, OPT_MATCH },
		HB_VALUE_LONGOPTS,
		{ "off", no_argument, NULL, OPT_OFF },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "no-replace", no_argument, NULL, OPT_NO_REPLACE },
		{ "retrofit", no_argument, NULL, OPT_RETROFIT },
		{ "idle-default", required_argument, NULL, OPT_IDLE_DEFAULT },
		{ "idle-max", required_argument, NULL, OPT_IDLE_MAX },
		{ 0 }
	};
	int c, rc;

	hb_policy_init(&a->pol);
	while ((c = hb_cli_getopt(argc, argv, "+:jvn:h", longopts, o)) != -1) {
		rc = add_opt(o, c, optarg, a);
		if (rc)
			return rc;
	}
	if (optind < argc)
		return hb_usage_err(o, "unexpected argument '%.40s'", argv[optind]);
	if (!a->cgroup)
		return hb_usage_err(o, "--cgroup PATH is required");
	return HB_EXIT_OK;
}

static int policy_add(int argc, char **argv, struct hb_cli_opts *o)
{
	static struct add_args a;	/* large (the match list): off the stack */
	static struct hb_pol_cfg cfg;
	static char text[HB_POL_MATCH_LEN], abs[PATH_MAX], err[512];
	struct hb_pol_add_res res;
	unsigned int level = 0;
	uint64_t id = 0;
	int rc;

	memset(&a, 0, sizeof(a));
	rc = add_parse(argc, argv, o, &a);
	if (rc)
		return rc;
	rc = hb_cli_pol_compile(o, &a.pol, &a.ia, &cfg, text, sizeof(text));
	if (rc)
		return rc;
	rc = hb_cgroup_resolve(a.cgroup, abs, sizeof(abs), &id, &level, err, sizeof(err));
	if (rc)
		return runtime_err(o, err);
	/* --retrofit walks the sockets of the network namespace hbctl is in */
	rc = hb_cli_enter_netns(o);
	if (rc)
		return rc;
	rc = hb_pol_add(&cfg, abs, id, level, a.pol.has_match ? text : NULL, a.flags, &res, err,
			sizeof(err));
	if (rc == -EEXIST && !res.id && (a.flags & HB_POL_ADD_NO_REPLACE)) {
		hb_err(o, "%s; without --no-replace it is replaced", err);
		return HB_EXIT_RUNTIME;
	}
	if (rc && !res.id)
		return runtime_err(o, err);
	if (a.ia.on && hb_paths_cli_sync(o))
		return HB_EXIT_RUNTIME;
	hb_verbose(o, "%s policy %" PRIu64 " on %s (link %u, program %u)",
		   res.replaced ? "replaced" : "added", res.id, abs, res.link_id, res.prog_id);
	hb_pol_no_record_note(o, &res);
	print_added(o, &res, abs, a.flags);
	if (rc)		/* the policy is in place; the retrofit failed */
		return runtime_err(o, err);
	return HB_EXIT_OK;
}

/* ---- ls ----------------------------------------------------------------------------------- */

static void fmt_time(char *buf, size_t len, uint64_t ns, bool utc)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (!ns || !(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm))) {
		snprintf(buf, len, "?");
		return;
	}
	strftime(buf, len, utc ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%S", &tm);
}

/* A value of the policy for the table: "60s", or "-" when the policy leaves it. */
static const char *col_value(char *buf, size_t len, const struct hb_pol_cfg *c, __u32 bit,
			     long long v, bool ms)
{
	if (!(c->mask & bit))
		return "-";
	if (ms)
		return hb_fmt_duration(buf, len, v);
	snprintf(buf, len, "%lld", v);
	return buf;
}

static void json_num_or_null(FILE *f, const char *name, const struct hb_pol_cfg *c, __u32 bit,
			     long long v)
{
	if (c->mask & bit)
		fprintf(f, ",\"%s\":%lld", name, v);
	else
		fprintf(f, ",\"%s\":null", name);
}

static void print_json(const struct hb_pol_info *v, size_t n)
{
	char t[40];
	size_t i;

	fputc('[', stdout);
	for (i = 0; i < n; i++) {
		const struct hb_pol_info *p = &v[i];
		const struct hb_pol_cfg *c = &p->meta.cfg;
		const char *why = hb_pol_state_reason(p->state);

		printf("%s\n{\"id\":%" PRIu64 ",\"cgroup\":", i ? "," : "", p->id);
		if (p->state == HB_POL_BROKEN)
			fputs("null", stdout);
		else
			hb_json_str(stdout, p->meta.cgroup, sizeof(p->meta.cgroup));
		printf(",\"state\":\"%s\",\"reason\":", hb_pol_state_name(p->state));
		if (*why)
			hb_json_str(stdout, why, 64);
		else
			fputs("null", stdout);
		printf(",\"keepalive\":%s", c->mask & HB_POL_SET_KEEPALIVE ? "true" : "false");
		json_num_or_null(stdout, "keepidle_s", c, HB_POL_SET_IDLE, c->idle_s);
		json_num_or_null(stdout, "keepintvl_s", c, HB_POL_SET_INTVL, c->intvl_s);
		json_num_or_null(stdout, "keepcnt", c, HB_POL_SET_CNT, c->cnt);
		json_num_or_null(stdout, "user_timeout_ms", c, HB_POL_SET_UTO, c->user_timeout_ms);
		fputs(",\"match\":", stdout);
		if (c->flags & HB_POL_F_MATCH)
			hb_json_str(stdout, p->meta.match, sizeof(p->meta.match));
		else
			fputs("null", stdout);
		printf(",\"force\":%s", c->flags & HB_POL_F_FORCE ? "true" : "false");
		printf(",\"matched\":%llu,\"applied\":%llu,\"failed\":%llu,\"kept\":%llu,"
		       "\"seen\":%llu,\"listeners\":%llu,\"retrofitted\":%llu,"
		       "\"skipped_inner\":%llu,\"last_errno\":%lld",
		       (unsigned long long)p->stats.matched, (unsigned long long)p->stats.applied,
		       (unsigned long long)p->stats.failed, (unsigned long long)p->stats.kept,
		       (unsigned long long)p->stats.seen, (unsigned long long)p->stats.listeners,
		       (unsigned long long)p->stats.retrofitted,
		       (unsigned long long)p->stats.skipped_inner, (long long)-p->stats.last_err);
		fmt_time(t, sizeof(t), p->meta.created_ns, true);
		printf(",\"since\":\"%s\"", t);
		fmt_time(t, sizeof(t), p->meta.updated_ns, true);
		printf(",\"updated\":\"%s\"", t);
		printf(",\"transient\":%s", p->meta.flags & HB_POL_M_TRANSIENT ? "true" : "false");
		if (p->meta.flags & HB_POL_M_TRANSIENT)
			printf(",\"owner_pid\":%u", p->meta.owner_pid);
		else
			fputs(",\"owner_pid\":null", stdout);
		printf(",\"link_id\":%u,\"prog_id\":%u}", p->link_id, p->prog_id);
	}
	fputs(n ? "\n]\n" : "]\n", stdout);
}

static void print_table(const struct hb_pol_info *v, size_t n)
{
	char a[4][24], t[40];
	size_t i;

	if (!n)
		return;
	printf("%-10s %-7s %-3s %-6s %-6s %-4s %-6s %-5s %8s %8s %7s  %-19s  %s\n", "ID",
	       "STATE", "KA", "IDLE", "INTVL", "CNT", "UTO", "FORCE", "MATCHED", "APPLIED",
	       "FAILED", "SINCE", "CGROUP [MATCH]");
	for (i = 0; i < n; i++) {
		const struct hb_pol_info *p = &v[i];
		const struct hb_pol_cfg *c = &p->meta.cfg;

		fmt_time(t, sizeof(t), p->meta.created_ns, false);
		printf("%-10" PRIu64 " %-7s %-3s %-6s %-6s %-4s %-6s %-5s %8llu %8llu %7llu  %-19s  %s",
		       p->id, hb_pol_state_name(p->state),
		       c->mask & HB_POL_SET_KEEPALIVE ? "on" : "-",
		       col_value(a[0], sizeof(a[0]), c, HB_POL_SET_IDLE, c->idle_s * 1000LL, true),
		       col_value(a[1], sizeof(a[1]), c, HB_POL_SET_INTVL, c->intvl_s * 1000LL, true),
		       col_value(a[2], sizeof(a[2]), c, HB_POL_SET_CNT, c->cnt, false),
		       col_value(a[3], sizeof(a[3]), c, HB_POL_SET_UTO, c->user_timeout_ms, true),
		       c->flags & HB_POL_F_FORCE ? "yes" : "no",
		       (unsigned long long)p->stats.matched, (unsigned long long)p->stats.applied,
		       (unsigned long long)p->stats.failed, t,
		       p->state == HB_POL_BROKEN ? "?" : p->meta.cgroup);
		if (c->flags & HB_POL_F_MATCH)
			printf(" [%s]", p->meta.match);
		putchar('\n');
	}
}

/* Below the table: how to remove each policy that is not active. */
static void print_stale_notes(struct hb_cli_opts *o, const struct hb_pol_info *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].state != HB_POL_ACTIVE)
			hb_err(o, "%" PRIu64 " is %s (%s): remove it with hbctl policy rm %" PRIu64
			       " (or --all)", v[i].id, hb_pol_state_name(v[i].state),
			       hb_pol_state_reason(v[i].state), v[i].id);
}

static int policy_ls(int argc, char **argv, struct hb_cli_opts *o)
{
	struct hb_pol_info *v;
	char err[512];
	size_t n;
	int rc;

	rc = hb_cli_parse_globals_only(argc, argv, o, policy_usage);
	if (rc)
		return rc;
	if (hb_pol_list(&v, &n, err, sizeof(err)))
		return runtime_err(o, err);
	if (o->json) {
		print_json(v, n);
	} else {
		print_table(v, n);
		print_stale_notes(o, v, n);
	}
	free(v);
	return HB_EXIT_OK;
}

/* ---- rm ----------------------------------------------------------------------------------- */

/* Ids of the policies whose cgroup is spec: the id of the cgroup it names now, and any whose
 * recorded path is it (a removed or recreated cgroup). Returns the number found. */
static size_t ids_for_cgroup(const char *spec, uint64_t *ids, size_t max, char *err, size_t errlen)
{
	char abs[PATH_MAX], mnt[PATH_MAX], cand[2][PATH_MAX * 2];
	struct hb_pol_info *v = NULL;
	unsigned int level;
	uint64_t id = 0;
	size_t n = 0, k = 0, i, j;
	bool have_abs;

	have_abs = !hb_cgroup_resolve(spec, abs, sizeof(abs), &id, &level, err, errlen);
	cand[0][0] = cand[1][0] = '\0';
	if (spec[0] == '/')
		snprintf(cand[0], sizeof(cand[0]), "%s", spec);
	if (!hb_cgroup2_mount(mnt, sizeof(mnt)))
		snprintf(cand[1], sizeof(cand[1]), "%s/%s", mnt, spec + (spec[0] == '/'));
	if (hb_pol_list(&v, &n, err, errlen))
		return 0;
	for (i = 0; i < n && k < max; i++) {
		bool hit = have_abs && (v[i].id == id || !strcmp(v[i].meta.cgroup, abs));

		for (j = 0; j < 2 && !hit; j++)
			hit = cand[j][0] && !strcmp(v[i].meta.cgroup, cand[j]);
		if (hit)
			ids[k++] = v[i].id;
	}
	free(v);
	if (!k)
		snprintf(err, errlen, "no policy on cgroup %.300s", have_abs ? abs : spec);
	return k;
}

/* One line (or JSON object) per removed policy: its id, state and cgroup, so that an orphan
 * removed along with the live policy of the same path is named. */
static void print_removed(struct hb_cli_opts *o, uint64_t id, const struct hb_pol_info *v,
			  size_t n, size_t k)
{
	const struct hb_pol_info *p = NULL;
	const char *why;
	size_t i;

	for (i = 0; i < n && !p; i++)
		if (v[i].id == id)
			p = &v[i];
	why = p ? hb_pol_state_reason(p->state) : "";
	if (o->json) {
		printf("%s\n{\"id\":%" PRIu64 ",\"cgroup\":", k ? "," : "", id);
		if (p && p->state != HB_POL_BROKEN)
			hb_json_str(stdout, p->meta.cgroup, sizeof(p->meta.cgroup));
		else
			fputs("null", stdout);
		printf(",\"state\":");
		if (p)
			printf("\"%s\"", hb_pol_state_name(p->state));
		else
			fputs("null", stdout);
		printf(",\"reason\":");
		if (*why)
			hb_json_str(stdout, why, 64);
		else
			fputs("null", stdout);
		fputc('}', stdout);
		return;
	}
	if (!p) {
		printf("removed %" PRIu64 "\n", id);
		return;
	}
	printf("removed %" PRIu64 " %s%s%s%s %s\n", id, hb_pol_state_name(p->state),
	       *why ? " (" : "", why, *why ? ")" : "",
	       p->state == HB_POL_BROKEN ? "?" : p->meta.cgroup);
}

static int policy_rm(int argc, char **argv, struct hb_cli_opts *o)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "all", no_argument, NULL, OPT_ALL },
		{ 0 }
	};
	uint64_t ids[64];
	const char *cgroup = NULL;
	struct hb_pol_info *v;
	char err[512], *end;
	size_t n = 0, i, m, removed = 0;
	bool all = false;
	int c, ret = HB_EXIT_OK;

	while ((c = hb_cli_getopt(argc, argv, "+:jvn:h", longopts, o)) != -1) {
		switch (c) {
		case OPT_CGROUP:
			if (!*optarg)
				return hb_usage_err(o, "--cgroup: " EMPTY_CGROUP);
			cgroup = optarg;
			break;
		case OPT_ALL:
			all = true;
			break;
		case HB_OPT_HELP:
			policy_usage(stdout);
			return HB_EXIT_DONE;
		default:	/* HB_OPT_USAGE: said */
			return HB_EXIT_USAGE;
		}
	}
	if ((optind < argc) + (cgroup != NULL) + all != 1)
		return hb_usage_err(o, "give one of ID, --cgroup PATH, --all");
	if (optind + 1 < argc)
		return hb_usage_err(o, "unexpected argument '%.40s'", argv[optind + 1]);
	if (all) {
		if (hb_pol_list(&v, &m, err, sizeof(err)))
			return runtime_err(o, err);
		for (i = 0; i < m && n < sizeof(ids) / sizeof(ids[0]); i++)
			ids[n++] = v[i].id;
		free(v);
	} else if (cgroup) {
		n = ids_for_cgroup(cgroup, ids, sizeof(ids) / sizeof(ids[0]), err, sizeof(err));
		if (!n)
			return runtime_err(o, err);
	} else {
		errno = 0;
		ids[0] = strtoull(argv[optind], &end, 10);
		if (errno || *end || end == argv[optind] || argv[optind][0] == '-')
			return hb_usage_err(o, "'%.40s' is not a policy id (see hbctl policy ls)",
					    argv[optind]);
		n = 1;
	}
	/* what each id is, to say what was removed (--cgroup may find an orphan beside the
	 * live policy); without it (no privilege) hb_pol_remove says why */
	if (hb_pol_list(&v, &m, err, sizeof(err))) {
		v = NULL;
		m = 0;
	}
	if (o->json)
		fputc('[', stdout);
	for (i = 0; i < n; i++) {
		if (hb_pol_remove(ids[i], err, sizeof(err))) {
			hb_err(o, "%s", err);
			ret = HB_EXIT_RUNTIME;
		} else {
			print_removed(o, ids[i], v, m, removed++);
		}
	}
	if (o->json)
		fputs(removed ? "\n]\n" : "]\n", stdout);
	free(v);
	return ret;
}

int cmd_policy(int argc, char **argv, struct hb_cli_opts *o)
{
	static const struct {
		const char *name, *cmd;
		int (*fn)(int, char **, struct hb_cli_opts *);
	} sub[] = {
		{ "add", "policy add", policy_add },
		{ "ls", "policy ls", policy_ls },
		{ "rm", "policy rm", policy_rm },
		{ "apply", "policy apply", cmd_policy_apply },
	};
	size_t i;

	if (argc < 2) {
		policy_usage(stderr);
		return HB_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		policy_usage(stdout);
		return HB_EXIT_OK;
	}
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if (strcmp(argv[1], sub[i].name))
			continue;
		o->cmd = sub[i].cmd;
		optind = 0;	/* glibc: full re-initialisation for the subcommand's parse */
		return sub[i].fn(argc - 1, argv + 1, o);
	}
	return hb_usage_err(o, "unknown subcommand '%.40s' (add, ls, rm, apply)", argv[1]);
}
