// SPDX-License-Identifier: BSD-2-Clause
/*
 * Choosing and calling a back end (BPF iterators or sock_diag), entering --netns, and the
 * notes about missing privileges. The commands call hb_fetch_sockets() and never see which
 * back end did the work except through -v.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "file.h"
#include "hb/policy.h"

int hb_netns_enter(const char *spec, char *path, size_t pathlen)
{
	const char *p;
	int fd, rc = 0;

	for (p = spec; *p >= '0' && *p <= '9'; p++)
		;
	if (!*spec)
		return -EINVAL;
	if (!*p)
		snprintf(path, pathlen, "/proc/%s/ns/net", spec);
	else if (strchr(spec, '/'))
		snprintf(path, pathlen, "%s", spec);
	else
		snprintf(path, pathlen, "/run/netns/%s", spec);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

bool hb_want_color(FILE *f)
{
	const char *term = getenv("TERM"), *no = getenv("NO_COLOR");

	/* no-color.org: NO_COLOR present and not empty, whatever its value */
	if (no && *no)
		return false;
	if (term && strcmp(term, "dumb") == 0)
		return false;
	return isatty(fileno(f));
}

/* Why the BPF iterator back end cannot run, for an error (--backend bpf) or a -v line (auto):
 * the program the kernel refused, or the capabilities the caller lacks (bpf/iter.c's probe
 * tells which), and what to do about it. Kept apart from the choice itself. */
static void iter_unavailable(int err, bool hint, char *buf, size_t len)
{
	const char *why = hb_iter_probe_why();

	if (!*why)
		why = strerror(-err);
	switch (hint ? err : 0) {
	case -EPERM:
	case -EACCES:
		snprintf(buf, len, "%s (sock_diag still works: --backend diag)", why);
		break;
	case -EOPNOTSUPP:
	case -ENOSYS:
	case -ENOENT:
		snprintf(buf, len, "%s (kernel or build without BPF iterator support; use "
			 "--backend diag)", why);
		break;
	default:
		snprintf(buf, len, "%s", why);
	}
}

/* ---- auto for a listing: the back end that is cheaper for this many sockets ---------------
 *
 * The BPF iterators pay a fixed price before they read a single socket (opening the
 * skeleton, parsing the kernel's BTF, loading and verifying the programs: ~60 ms), and then
 * far less per socket than sock_diag + /proc + pidfd_getfd, whose price is per socket. On a
 * small host the fixed price is most of the run, so auto lists with sock_diag up to
 * HB_DIAG_CHEAPER_MAX TCP sockets (where the two cost about the same on the project's
 * machine, scripts/bench-hbctl.sh) and with the iterators above. The count costs two small
 * reads: /proc/net/sockstat and sockstat6 of the caller's network namespace.
 */
#define HB_DIAG_CHEAPER_MAX	2500

/* The "inuse" and "tw" figures of the TCP line of a sockstat file (prefix "TCP:" or
 * "TCP6:"). Returns their sum, 0 when the file has no such line, -1 when unreadable. */
static long sockstat_tcp(const char *path, const char *prefix)
{
	char line[256], *p;
	long n = 0, v;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, prefix, strlen(prefix)) || line[strlen(prefix)] != ' ')
			continue;
		p = strstr(line, " inuse ");
		if (p && sscanf(p, " inuse %ld", &v) == 1 && v > 0)
			n += v;
		p = strstr(line, " tw ");
		if (p && sscanf(p, " tw %ld", &v) == 1 && v > 0)
			n += v;
		break;
	}
	fclose(f);
	return n;
}

/*
 * Whether auto should list with sock_diag because this namespace has few TCP sockets;
 * says why under -v. Only for ls (fx->owners/config filled the same either way); set keeps
 * the iterators, which need no ptrace access to the owners.
 */
static bool diag_cheaper(struct hb_cli_opts *o)
{
	long v4, v6;

	if (!o->cmd || strcmp(o->cmd, "ls"))
		return false;
	v4 = sockstat_tcp("/proc/net/sockstat", "TCP:");
	v6 = sockstat_tcp("/proc/net/sockstat6", "TCP6:");
	if (v4 < 0)
		return false;	/* unknown: the iterators, as before */
	if (v6 > 0)
		v4 += v6;
	if (v4 > HB_DIAG_CHEAPER_MAX)
		return false;
	hb_verbose(o, "back end: sock_diag (auto: %ld TCP sockets, up to %d lists faster than "
		   "loading the BPF iterators)", v4, HB_DIAG_CHEAPER_MAX);
	return true;
}

int hb_backend_resolve(struct hb_cli_opts *o, bool need_diag, enum hb_backend_choice *out)
{
	enum hb_backend_choice c = HB_BACKEND_AUTO;
	const char *env = getenv("HB_BACKEND");
	const char *why = "--backend";
	char why_buf[400];
	int rc;

	if (o->backend_given) {
		c = o->backend;
	} else if (env && *env) {
		if (hb_backend_parse(env, &c)) {
			hb_usage_err(o, "HB_BACKEND: unknown back end '%.40s' (bpf, diag, auto)", env);
			return HB_EXIT_USAGE;
		}
		why = "HB_BACKEND";
	}
	if (need_diag) {
		if (c == HB_BACKEND_BPF) {
			hb_usage_err(o, "--dump-raw and HB_DIAG_FILE need the sock_diag back end, "
				     "not bpf");
			return HB_EXIT_USAGE;
		}
		hb_verbose(o, "back end: sock_diag (recording or replaying a netlink dump)");
		*out = HB_BACKEND_DIAG;
		return HB_EXIT_OK;
	}
	switch (c) {
	case HB_BACKEND_DIAG:
		hb_verbose(o, "back end: sock_diag (chosen by %s)", why);
		*out = HB_BACKEND_DIAG;
		return HB_EXIT_OK;
	case HB_BACKEND_BPF:
		rc = hb_iter_probe();
		if (rc) {
			iter_unavailable(rc, true, why_buf, sizeof(why_buf));
			hb_err(o, "bpf back end: %s", why_buf);
			return HB_EXIT_RUNTIME;
		}
		hb_verbose(o, "back end: bpf-iter (chosen by %s)", why);
		*out = HB_BACKEND_BPF;
		return HB_EXIT_OK;
	default:
		*out = HB_BACKEND_DIAG;
		if (diag_cheaper(o))
			return HB_EXIT_OK;
		rc = hb_iter_probe();
		if (!rc) {
			hb_verbose(o, "back end: bpf-iter (auto: BPF iterators available)");
			*out = HB_BACKEND_BPF;
			return HB_EXIT_OK;
		}
		iter_unavailable(rc, false, why_buf, sizeof(why_buf));
		hb_verbose(o, "back end: sock_diag (auto: BPF iterators unavailable: %s)", why_buf);
		return HB_EXIT_OK;
	}
}

static void privilege_notes(struct hb_cli_opts *o, const struct hb_sock_list *l,
			    const struct hb_diag_stats *ds, bool owners)
{
	size_t i, no_owner = 0;

	for (i = 0; i < l->n; i++)
		if (l->v[i].inode && !l->v[i].n_owners)
			no_owner++;
	if (owners && ds->procs_denied && no_owner)
		hb_err(o, "note: the fds of %u process%s are unreadable (needs CAP_SYS_PTRACE or "
		       "root): %zu socket%s no owner and '?' settings; states, addresses, "
		       "timers and ages are complete", ds->procs_denied,
		       ds->procs_denied == 1 ? "" : "es", no_owner,
		       no_owner == 1 ? " shows" : "s show");
	if (ds->cfg_denied)
		hb_err(o, "note: keepalive settings of %u socket(s) are unreadable (pidfd_getfd "
		       "needs ptrace access: the same user or CAP_SYS_PTRACE): shown as ? / null",
		       ds->cfg_denied);
}

/* The one-line error of a failed hb_diag_list(). Returns HB_EXIT_RUNTIME. */
static int diag_list_err(struct hb_cli_opts *o, int rc, const struct hb_diag_stats *ds)
{
	if (ds->failed == HB_DIAG_STEP_OWNERS)
		hb_err(o, "reading /proc: %s", strerror(-rc));
	else if (ds->failed == HB_DIAG_STEP_CONFIG)
		hb_err(o, "reading keepalive settings: %s", strerror(-rc));
	else if (rc == -EINTR)
		hb_err(o, "sock_diag dump: the socket tables kept changing (dump interrupted "
		       "repeatedly)");
	else
		hb_err(o, "sock_diag dump: %s", strerror(-rc));
	return HB_EXIT_RUNTIME;
}

int hb_fetch_sockets(struct hb_cli_opts *o, struct hb_fetch *fx, struct hb_sock_list *l)
{
	const char *replay = getenv("HB_DIAG_FILE");
	struct hb_list_opts dlo = { .owners = fx->owners, .config = fx->config };
	struct hb_diag_stats ds;
	struct hb_sysctl sys;
	FILE *raw = NULL;
	enum hb_backend_choice b;
	int rc;

	if (replay && !*replay)
		replay = NULL;
	rc = hb_backend_resolve(o, replay || fx->dump_raw, &b);
	if (rc)
		return rc;
	fx->used_bpf = false;
	if (replay) {
		hb_sysctl_default(&sys);
		l->sysctl = sys;
		l->backend = "sock_diag (replay)";
		rc = hb_diag_replay(replay, l);
		if (rc) {
			hb_err(o, "HB_DIAG_FILE %s: %s", replay,
			       rc == -EBADMSG ? "not a netlink sock_diag dump" : strerror(-rc));
			return HB_EXIT_RUNTIME;
		}
		hb_verbose(o, "replayed %zu sockets from %s (owners and settings unknown)", l->n,
			   replay);
		return HB_EXIT_OK;
	}
	if (hb_sysctl_read(&sys, "/proc"))
		hb_sysctl_default(&sys);
	l->sysctl = sys;
	if (b == HB_BACKEND_BPF) {
		struct hb_list_opts lo = { .owners = fx->owners, .config = fx->config };

		l->backend = "bpf-iter";
		rc = hb_iter_list(l, &lo);
		if (!rc) {
			fx->used_bpf = true;
			hb_verbose(o, "%zu socket%s (iter/tcp%s); sysctl keepalive %d/%d/%d",
				   l->n, l->n == 1 ? "" : "s",
				   lo.owners ? ", owners by iter/task_file" : "", l->sysctl.idle_s,
				   l->sysctl.intvl_s, l->sysctl.cnt);
			return HB_EXIT_OK;
		}
		hb_sock_list_free(l);
		if (o->backend_given || getenv("HB_BACKEND")) {
			hb_err(o, "bpf iterator: %s", strerror(-rc));
			return HB_EXIT_RUNTIME;
		}
		hb_verbose(o, "bpf iterator failed (%s): falling back to sock_diag", strerror(-rc));
	}
	l->backend = "sock_diag";
	if (fx->dump_raw) {
		/* never through a symlink, never into an existing file without --force */
		rc = hb_create_file(fx->dump_raw, fx->dump_force, 0644);
		raw = rc >= 0 ? fdopen(rc, "wb") : NULL;
		if (!raw) {
			if (rc >= 0)
				close(rc);
			hb_err(o, "--dump-raw %s: %s%s", fx->dump_raw,
			       strerror(rc < 0 ? -rc : errno),
			       rc == -EEXIST ? " (not replaced without --force)" : "");
			return HB_EXIT_RUNTIME;
		}
	}
	rc = hb_diag_list(l, &dlo, raw, &ds);
	if (raw && fclose(raw) && !rc) {
		rc = -errno;
		ds.failed = HB_DIAG_STEP_DUMP;
	}
	if (rc)
		return diag_list_err(o, rc, &ds);
	if (!fx->quiet)
		privilege_notes(o, l, &ds, fx->owners || fx->config);
	fx->quiet = true;
	hb_verbose(o, "%zu socket%s (sock_diag); sysctl keepalive %d/%d/%d", l->n,
		   l->n == 1 ? "" : "s", sys.idle_s, sys.intvl_s, sys.cnt);
	return HB_EXIT_OK;
}

int hb_cli_enter_netns(struct hb_cli_opts *o)
{
	char path[512];
	int rc;

	if (!o->netns)
		return HB_EXIT_OK;
	rc = hb_netns_enter(o->netns, path, sizeof(path));
	if (rc == -EPERM || rc == -EACCES)
		hb_err(o, "--netns %s: %s: %s (needs CAP_SYS_ADMIN; without it, run hbctl inside "
		       "the namespace, e.g. with nsenter --net=%s)", o->netns, path, strerror(-rc),
		       path);
	else if (rc)
		hb_err(o, "--netns %s: %s: %s", o->netns, path, strerror(-rc));
	else
		hb_verbose(o, "entered network namespace %s", path);
	return rc ? HB_EXIT_RUNTIME : HB_EXIT_OK;
}

void hb_set_result_free(struct hb_set_result *r)
{
	if (!r)
		return;
	free(r->fail);
	r->fail = NULL;
	r->changed = r->failed = 0;
}
