// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl set: list -> filter -> apply through the back end that listed (BPF iterator by
 * cookie, or pidfd_getfd + setsockopt in each owner). No process is stopped.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "hb/policy.h"

enum {
	OPT_ALL = 0x3000,
	OPT_ON,
	OPT_OFF,
	OPT_DRY,
};

static void set_usage(FILE *f)
{
	fprintf(f,
		"Usage: hbctl set [FILTER] [--all] [--on|--off] [--idle DUR] [--intvl DUR]\n"
		"                 [--cnt N] [--user-timeout DUR] [--dry-run] [-j] [-v]\n"
		"\n"
		"Change the keepalive settings of live sockets of any process, without stopping\n"
		"it. --idle, --intvl and --cnt imply --on unless --off is given. Time-wait,\n"
		"request and orphaned sockets (no owning file) are skipped.\n"
		"\n"
		"  --all                   every socket (a FILTER or --all is required)\n"
		"  --on, --off             SO_KEEPALIVE\n"
		"  --idle DUR              TCP_KEEPIDLE (1s..32767s)\n"
		"  --intvl DUR             TCP_KEEPINTVL (1s..32767s)\n"
		"  --cnt N                 TCP_KEEPCNT (1..127)\n"
		"  --user-timeout DUR      TCP_USER_TIMEOUT (0 = kernel default)\n"
		"  --dry-run               show what would change (old -> new), change nothing;\n"
		"                          sockets the real set would be refused: would fail\n"
		"  -j, --json  --netns NAME|PATH|PID  --backend bpf|diag|auto  -v\n"
		"\n"
		"FILTER: --pid PID --comm NAME --port N --sport N --dport N --state S\n"
		"        --keepalive on|off --idle-over DUR (see hbctl ls --help)\n"
		"\n"
		"Exit status: 0 all changed (a socket closed meanwhile is no failure), 1 some\n"
		"failed, 2 usage, 3 nothing matched.\n");
}

static const struct hb_owner *first_owner(const struct hb_sock *s)
{
	return s->n_owners ? &s->owner[0] : NULL;
}

static void fmt_int(char *buf, size_t len, int v, bool secs)
{
	if (v < 0)
		snprintf(buf, len, "?");
	else if (secs)
		snprintf(buf, len, "%ds", v);
	else
		snprintf(buf, len, "%d", v);
}

/* "keepidle 7200s -> 30s, keepalive off -> on" */
static void describe_change(char *buf, size_t len, const struct hb_sock *s,
			    const struct hb_set_values *v)
{
	char a[16];
	size_t off = 0;

#define ADD(...) (off += (size_t)snprintf(buf + off, off < len ? len - off : 0, __VA_ARGS__))
	buf[0] = 0;
	if (v->mask & HB_BIT(HB_V_KEEPALIVE))
		ADD("%skeepalive %s -> %s", off ? ", " : "",
		    s->keepalive < 0 ? "?" : s->keepalive ? "on" : "off", v->keepalive ? "on" : "off");
	if (v->mask & HB_BIT(HB_V_IDLE)) {
		fmt_int(a, sizeof(a), s->keepidle_s, true);
		ADD("%skeepidle %s -> %ds", off ? ", " : "", a, v->idle_s);
	}
	if (v->mask & HB_BIT(HB_V_INTVL)) {
		fmt_int(a, sizeof(a), s->keepintvl_s, true);
		ADD("%skeepintvl %s -> %ds", off ? ", " : "", a, v->intvl_s);
	}
	if (v->mask & HB_BIT(HB_V_CNT)) {
		fmt_int(a, sizeof(a), s->keepcnt, false);
		ADD("%skeepcnt %s -> %d", off ? ", " : "", a, v->cnt);
	}
	if (v->mask & HB_BIT(HB_V_USER_TIMEOUT)) {
		fmt_int(a, sizeof(a), s->user_timeout_ms, false);
		ADD("%suser_timeout_ms %s -> %d", off ? ", " : "", a, v->user_timeout_ms);
	}
#undef ADD
}

static void json_sock_head(FILE *f, const struct hb_sock *s)
{
	char a[64];
	const struct hb_owner *ow = first_owner(s);

	fprintf(f, "{\"local\":\"%s\"", hb_fmt_addr(a, sizeof(a), s->family, s->laddr, s->lport,
						      false));
	fprintf(f, ",\"peer\":\"%s\"", hb_fmt_addr(a, sizeof(a), s->family, s->raddr, s->rport,
						     false));
	fprintf(f, ",\"inode\":%llu", (unsigned long long)s->inode);
	if (ow) {
		fprintf(f, ",\"pid\":%d,\"comm\":", ow->pid);
		hb_json_str(f, ow->comm, sizeof(ow->comm));
		fprintf(f, ",\"fd\":%d", ow->fd);
	} else {
		fputs(",\"pid\":null,\"comm\":null,\"fd\":null", f);
	}
}

static int cmp_fail(const void *a, const void *b)
{
	uint64_t x = ((const struct hb_set_failure *)a)->cookie;
	uint64_t y = ((const struct hb_set_failure *)b)->cookie;

	return x < y ? -1 : x > y;
}

static const char *fail_reason(int err, int pid);

/* The failure the access probe found for s, or NULL (res->fail sorted by cookie). */
static const struct hb_set_failure *probe_failed(const struct hb_set_result *res,
						 const struct hb_sock *s)
{
	struct hb_set_failure key = { .cookie = s->cookie };

	return res->failed ? bsearch(&key, res->fail, res->failed, sizeof(key), cmp_fail) : NULL;
}

/* The plan; sockets the probe (the real set's access path, minus the change) could not
 * reach are listed as would-fail, with the reason the real set would give. */
static void print_dry_run(const struct hb_cli_opts *o, const struct hb_sock_list *l,
			  const struct hb_set_values *v, const struct hb_set_result *probe,
			  bool json)
{
	char what[256], sock[160];
	size_t i, k = 0;

	if (json)
		fputs("{\"dry_run\":true,\"matched\":", stdout);
	if (json)
		printf("%zu,\"changes\":[", l->n);
	for (i = 0; i < l->n; i++) {
		const struct hb_sock *s = &l->v[i];
		const struct hb_owner *ow = first_owner(s);

		if (probe_failed(probe, s))
			continue;
		describe_change(what, sizeof(what), s, v);
		if (json) {
			fputs(k++ ? ",\n" : "\n", stdout);
			json_sock_head(stdout, s);
			fputs(",\"change\":", stdout);
			hb_json_str(stdout, what, sizeof(what));
			fputc('}', stdout);
			continue;
		}
		hb_fmt_sock(sock, sizeof(sock), s);
		if (ow)
			printf("would set %s (pid %d %s fd %d): %s\n", sock, ow->pid, ow->comm, ow->fd,
			       what);
		else
			printf("would set %s (no owner found): %s\n", sock, what);
	}
	if (json)
		fputs(k ? "\n],\"would_fail\":[" : "],\"would_fail\":[", stdout);
	for (i = 0, k = 0; i < l->n; i++) {
		const struct hb_sock *s = &l->v[i];
		const struct hb_set_failure *f = probe_failed(probe, s);

		if (!f)
			continue;
		if (json) {
			fputs(k++ ? ",\n" : "\n", stdout);
			json_sock_head(stdout, s);
			printf(",\"failed_pid\":%d,\"error\":", f->pid);
			hb_json_str(stdout, fail_reason(f->err, f->pid), 200);
			fputc('}', stdout);
			continue;
		}
		hb_fmt_sock(sock, sizeof(sock), s);
		if (f->pid)
			hb_err(o, "%s: pid %d: would fail: %s", sock, f->pid,
			       fail_reason(f->err, f->pid));
		else
			hb_err(o, "%s: would fail: %s", sock, fail_reason(f->err, f->pid));
	}
	if (json) {
		fputs(k ? "\n]}\n" : "]}\n", stdout);
	} else {
		printf("%zu socket%s would change", l->n - probe->failed,
		       l->n - probe->failed == 1 ? "" : "s");
		if (probe->failed)
			printf(", %zu would fail", probe->failed);
		printf(" (dry run)\n");
	}
}

static const struct hb_sock *by_cookie(const struct hb_sock_list *l, uint64_t cookie)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].cookie == cookie)
			return &l->v[i];
	return NULL;
}

static const char *fail_reason(int err, int pid)
{
	if (err == ESRCH && pid == 0)
		return "no owning process found (needs CAP_SYS_PTRACE to see other users' fds)";
	if (err == EPERM || err == EACCES)
		return "Operation not permitted (pidfd_getfd needs the same user or CAP_SYS_PTRACE)";
	if (err == ESTALE)
		return "the process closed or replaced the fd meanwhile";
	return strerror(err);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Takes out of res->fail the sockets that closed between listing and setting: absent from a
 * second sock_diag dump, or no longer a socket a process holds (time-wait, an orphan in
 * FIN-WAIT, CLOSE). Either back end sees them fail in its own way (no longer found,
 * EINVAL for a time-wait socket, a closed fd, no owner left), but nothing was refused: it
 * is no failure. Returns how many. */
static size_t take_closed(struct hb_set_result *res, const struct hb_sock_list *l,
			  uint64_t **closed)
{
	struct hb_sock_list now = { 0 };
	uint64_t *live;
	size_t i, k = 0, nc = 0, nl = 0;

	*closed = NULL;
	if (!res->failed || hb_diag_dump(&now, NULL))
		return 0;	/* without a second look, every failure stays one */
	live = calloc(now.n + 1, sizeof(*live));
	*closed = calloc(res->failed, sizeof(**closed));
	if (!live || !*closed) {
		free(live);
		free(*closed);
		*closed = NULL;
		hb_sock_list_free(&now);
		return 0;
	}
	for (i = 0; i < now.n; i++)
		if (now.v[i].inode && !now.v[i].no_options && now.v[i].state != HB_TCP_CLOSE)
			live[nl++] = now.v[i].cookie;
	qsort(live, nl, sizeof(*live), cmp_u64);
	for (i = 0; i < res->failed; i++) {
		const struct hb_set_failure *f = &res->fail[i];

		if (by_cookie(l, f->cookie) &&
		    !bsearch(&f->cookie, live, nl, sizeof(*live), cmp_u64))
			(*closed)[nc++] = f->cookie;
		else
			res->fail[k++] = *f;
	}
	res->failed = k;
	free(live);
	hb_sock_list_free(&now);
	return nc;
}

static void report(const struct hb_cli_opts *o, const struct hb_sock_list *l,
		   const struct hb_set_result *res, const uint64_t *closed, size_t nclosed,
		   bool json)
{
	char sock[160];
	size_t i;

	if (json) {
		printf("{\"matched\":%zu,\"changed\":%zu,\"failed\":[", l->n, res->changed);
		for (i = 0; i < res->failed; i++) {
			const struct hb_set_failure *f = &res->fail[i];
			const struct hb_sock *s = by_cookie(l, f->cookie);

			fputs(i ? ",\n" : "\n", stdout);
			if (s) {
				json_sock_head(stdout, s);
			} else {
				fputs("{\"local\":null,\"peer\":null,\"inode\":null,\"comm\":null,"
				      "\"fd\":null", stdout);
			}
			printf(",\"failed_pid\":%d,\"error\":", f->pid);
			hb_json_str(stdout, fail_reason(f->err, f->pid), 200);
			fputc('}', stdout);
		}
		printf("%s],\"closed_meanwhile\":%zu}\n", res->failed ? "\n" : "", nclosed);
	} else {
		printf("changed %zu of %zu socket%s", res->changed, l->n, l->n == 1 ? "" : "s");
		if (nclosed)
			printf(" (%zu closed meanwhile)", nclosed);
		putchar('\n');
	}
	for (i = 0; i < nclosed; i++) {
		hb_fmt_sock(sock, sizeof(sock), by_cookie(l, closed[i]));
		hb_err(o, "%s: closed meanwhile (not changed)", sock);
	}
	for (i = 0; i < res->failed; i++) {
		const struct hb_set_failure *f = &res->fail[i];
		const struct hb_sock *s = by_cookie(l, f->cookie);

		if (s)
			hb_fmt_sock(sock, sizeof(sock), s);
		else
			snprintf(sock, sizeof(sock), "cookie %llu", (unsigned long long)f->cookie);
		if (f->pid)
			hb_err(o, "%s: pid %d: %s", sock, f->pid, fail_reason(f->err, f->pid));
		else
			hb_err(o, "%s: %s", sock, fail_reason(f->err, f->pid));
	}
}

/* What set applies: exactly the values given, parsed once into p (set changes only what it
 * is told: no defaults); keepalive settings without keepalive do nothing, so --idle, --intvl
 * and --cnt imply --on unless --off was given. */
static void set_values(const struct hb_policy *p, struct hb_set_values *v)
{
	*v = (struct hb_set_values){
		.mask = p->set, .keepalive = p->keepalive, .idle_s = p->idle_s,
		.intvl_s = p->intvl_s, .cnt = p->cnt, .user_timeout_ms = p->user_timeout_ms,
	};
	if (v->mask & (HB_BIT(HB_V_IDLE) | HB_BIT(HB_V_INTVL) | HB_BIT(HB_V_CNT)) &&
	    !(v->mask & HB_BIT(HB_V_KEEPALIVE))) {
		v->mask |= HB_BIT(HB_V_KEEPALIVE);
		v->keepalive = 1;
	}
}

/* Drops what set cannot act on: sockets no file holds (time-wait, request, orphaned). */
static size_t keep_settable(struct hb_sock_list *l)
{
	size_t i, k = 0;

	for (i = 0; i < l->n; i++) {
		if (l->v[i].inode) {
			l->v[k++] = l->v[i];
		} else {
			free(l->v[i].more_owners);
		}
	}
	i = l->n - k;
	l->n = k;
	return i;
}

/* What the command line asks for. */
struct set_args {
	struct hb_filter flt;
	struct hb_policy pol;		/* the values as parsed, once (libhb's ranges) */
	bool all, on, off, dry;
};

/* Parses set's arguments into a. Returns HB_EXIT_OK to go on, or the exit code to return at
 * once (HB_EXIT_DONE after --help, HB_EXIT_USAGE after a usage error). */
static int parse_args(int argc, char **argv, struct hb_cli_opts *o, struct set_args *a)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		HB_FILTER_LONGOPTS,
		{ "all", no_argument, NULL, OPT_ALL },
		{ "on", no_argument, NULL, OPT_ON },
		{ "off", no_argument, NULL, OPT_OFF },
		HB_VALUE_LONGOPTS,
		{ "dry-run", no_argument, NULL, OPT_DRY },
		{ 0 }
	};
	char err[HB_ERR_LEN];
	int c, rc;

	hb_filter_init(&a->flt);
	hb_policy_init(&a->pol);
	while ((c = hb_cli_getopt(argc, argv, ":jvn:h", longopts, o)) != -1) {
		rc = hb_filter_opt(&a->flt, c, optarg, err, sizeof(err));
		if (rc < 0)
			return hb_usage_err(o, "%s", err);
		if (rc > 0)
			continue;
		switch (c) {
		HB_VALUE_CASES:
			rc = hb_cli_value_opt(o, c, optarg, &a->pol);
			if (rc)
				return rc;
			break;
		case OPT_ALL: a->all = true; break;
		case OPT_ON:
			a->on = true;
			hb_policy_set(&a->pol, HB_V_KEEPALIVE, "1", err, sizeof(err));
			break;
		case OPT_OFF:
			a->off = true;
			hb_policy_set(&a->pol, HB_V_KEEPALIVE, "0", err, sizeof(err));
			break;
		case OPT_DRY: a->dry = true; break;
		case HB_OPT_HELP:
			set_usage(stdout);
			return HB_EXIT_DONE;
		default:	/* HB_OPT_USAGE: said */
			return HB_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return hb_usage_err(o, "unexpected argument '%.40s' (see hbctl set --help)",
				    argv[optind]);
	if (!a->flt.active && !a->all)
		return hb_usage_err(o, "give a FILTER (--pid, --port, ...) or --all");
	if (a->on && a->off)
		return hb_usage_err(o, "--on and --off exclude each other");
	if (!a->pol.set)
		return hb_usage_err(o, "nothing to set (--on, --off, --idle, --intvl, --cnt, "
				    "--user-timeout)");
	return HB_EXIT_OK;
}

/* The sockets set acts on: listed, filtered, those a process holds. Returns 0, or the exit
 * status after saying why (3 when nothing matched). */
static int fetch_matching(struct hb_cli_opts *o, const struct set_args *a, struct hb_fetch *fx,
			  struct hb_sock_list *l)
{
	size_t skipped;
	int rc;

	rc = hb_fetch_sockets(o, fx, l);
	if (rc)
		return rc;
	hb_filter_apply(&a->flt, l);
	skipped = keep_settable(l);
	if (skipped)
		hb_verbose(o, "skipped %zu matching sockets no process holds (time-wait, request, "
			   "orphaned)", skipped);
	if (l->n)
		return HB_EXIT_OK;
	if (o->json)
		puts(a->dry ? "{\"dry_run\":true,\"matched\":0,\"changes\":[]}"
			    : "{\"matched\":0,\"changed\":0,\"failed\":[]}");
	hb_err(o, "no socket matched");
	return HB_EXIT_NOMATCH;
}

/* --dry-run: what the real set would be refused, found by its own access path without the
 * change: pidfd_open + pidfd_getfd per socket (the bpf back end needs nothing more than the
 * listing had). A socket that closed meanwhile is left out. Returns the exit status. */
static int dry_run(struct hb_cli_opts *o, const struct hb_sock_list *l,
		   const struct hb_set_values *v, bool used_bpf)
{
	struct hb_set_values none = { 0 };
	struct hb_set_result res = { 0 };
	uint64_t *closed = NULL;
	size_t nclosed;
	int rc;

	if (!used_bpf) {
		rc = hb_diag_set(l->v, l->n, &none, &res);
		if (rc) {
			hb_err(o, "pidfd: %s", strerror(-rc));
			hb_set_result_free(&res);
			return HB_EXIT_RUNTIME;
		}
		nclosed = take_closed(&res, l, &closed);
		free(closed);
		if (nclosed)
			hb_verbose(o, "%zu socket%s closed meanwhile", nclosed,
				   nclosed == 1 ? "" : "s");
		qsort(res.fail, res.failed, sizeof(*res.fail), cmp_fail);
	}
	print_dry_run(o, l, v, &res, o->json);
	rc = res.failed ? HB_EXIT_RUNTIME : HB_EXIT_OK;
	hb_set_result_free(&res);
	return rc;
}

/* Applies v through the back end that listed, then reports. Returns the exit status. */
static int apply(struct hb_cli_opts *o, const struct hb_sock_list *l,
		 const struct hb_set_values *v, bool used_bpf)
{
	struct hb_set_result res = { 0 };
	uint64_t *cookies, *closed = NULL;
	size_t i, nclosed;
	int rc;

	if (used_bpf) {
		cookies = calloc(l->n, sizeof(*cookies));
		if (!cookies) {
			hb_err(o, "%s", strerror(ENOMEM));
			return HB_EXIT_RUNTIME;
		}
		for (i = 0; i < l->n; i++)
			cookies[i] = l->v[i].cookie;
		rc = hb_iter_set(cookies, l->n, v, &res);
		free(cookies);
	} else {
		rc = hb_diag_set(l->v, l->n, v, &res);
	}
	if (rc) {
		hb_err(o, "%s: %s", used_bpf ? "bpf iterator" : "pidfd", strerror(-rc));
		hb_set_result_free(&res);
		return HB_EXIT_RUNTIME;
	}
	nclosed = take_closed(&res, l, &closed);
	report(o, l, &res, closed, nclosed, o->json);
	free(closed);
	rc = res.failed ? HB_EXIT_RUNTIME : HB_EXIT_OK;
	hb_set_result_free(&res);
	return rc;
}

int cmd_set(int argc, char **argv, struct hb_cli_opts *o)
{
	static struct set_args a;	/* large (the match list): off the stack */
	struct hb_fetch fx = { .owners = true, .config = true };
	struct hb_sock_list l = { 0 };
	struct hb_set_values v;
	int rc;

	a = (struct set_args){ 0 };
	rc = parse_args(argc, argv, o, &a);
	if (rc)
		return rc;
	set_values(&a.pol, &v);
	rc = hb_cli_enter_netns(o);
	if (rc)
		return rc;
	rc = fetch_matching(o, &a, &fx, &l);
	if (!rc)
		rc = a.dry ? dry_run(o, &l, &v, fx.used_bpf) : apply(o, &l, &v, fx.used_bpf);
	hb_sock_list_free(&l);
	return rc;
}
