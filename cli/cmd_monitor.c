// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl monitor: load the heartbeat monitor (bpf/hbmon.bpf.c through bpf/monitor.c) on a
 * cgroup, then every -i print totals, top connections, the idle-gap histogram and closes
 * (table), or one JSON object per line (-j); optionally serve the same as Prometheus text
 * (--prometheus) and write it to a node_exporter textfile (--textfile). SIGINT/SIGTERM end
 * the loop; the cleanup detaches everything and removes the pins (unless --pin).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "cli.h"
#include "mon.h"
#include "hb/cgroup.h"
#include "hb/policy.h"

enum {
	OPT_CGROUP = 0x3000,
	OPT_CONNS,
	OPT_PROM,
	OPT_TEXTFILE,
	OPT_PIN,
	OPT_UNPIN,
	OPT_TOP,
	OPT_PEERS,
	OPT_LEARN,
};

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static void monitor_usage(FILE *f)
{
	fprintf(f,
		"Usage: hbctl monitor [--cgroup PATH] [-i DUR] [-d DUR] [-j] [--conns] [--peers[=N]]\n"
		"                     [--learn]\n"
		"                     [--prometheus ADDR:PORT] [--textfile FILE] [--pin|--unpin]\n"
		"\n"
		"Count TCP keepalive probes (sent, received, answered, unanswered), zero-window\n"
		"probes and application heartbeats (MQTT PINGREQ/PINGRESP, WebSocket ping/pong,\n"
		"HTTP/2 PING) of the sockets of a cgroup with eBPF; measure idle gaps between data\n"
		"segments; tell how connections end. Needs root (CAP_BPF, CAP_PERFMON,\n"
		"CAP_NET_ADMIN) and a kernel with BTF.\n"
		"\n"
		"  --cgroup PATH           cgroup v2 directory, as policy add takes it (under the\n"
		"                          cgroup2 mount, or as /proc/PID/cgroup shows it); default:\n"
		"                          /, the root, i.e. the whole host\n"
		"  -i, --interval DUR      refresh every DUR (default 1s)\n"
		"  -d, --duration DUR      stop after DUR (default: until SIGINT/SIGTERM)\n"
		"  -j, --json              one JSON object per line and interval\n"
		"  --conns                 per-connection rows (JSON, Prometheus)\n"
		"  --top N                 connections in the table (default 10)\n"
		"  --peers[=N]             client connections per peer:port, top N peers by\n"
		"                          connections opened (default 10): opened per minute,\n"
		"                          median lifetime, bytes per connection, handshakes and\n"
		"                          closes; flags a polled peer (>= 10 opened, >= 10 per\n"
		"                          minute, median lifetime < 5 s) with what one persistent\n"
		"                          connection would cost instead (table, JSON, Prometheus)\n"
		"  --learn                 add passive evidence to the path table (hbctl paths):\n"
		"                          a normal close survived its longest silence; a\n"
		"                          retransmission or keepalive timeout (or a reset right\n"
		"                          after a silence) dropped; manual entries stay\n"
		"  --prometheus ADDR:PORT  serve Prometheus text on ADDR:PORT (/metrics; ADDR\n"
		"                          defaults to 127.0.0.1) from a thread of its own,\n"
		"                          the counters of the last interval\n"
		"  --textfile FILE         write node_exporter's textfile format to FILE each\n"
		"                          interval (atomically: mkstemp beside it + rename,\n"
		"                          mode 0644; never through a symlink)\n"
		"  -q, --quiet             no table or JSON on stdout (exporter only)\n"
		"  --pin                   leave programs and maps pinned at %s\n"
		"                          on exit (counting goes on); a later --pin run reads them\n"
		"  --unpin                 remove what --pin left and exit\n"
		"  --netns NAME|PATH|PID   count only that network namespace's sockets\n"
		"  -v                      libbpf's warnings on stderr (-vv: its debug log)\n"
		"\n"
		"TLS hides application heartbeats: only plaintext MQTT, WebSocket and HTTP/2 (h2c)\n"
		"are recognised. A program the kernel refuses is left out and named once on\n"
		"stderr (hbctl doctor shows what runs here). See hbctl(8).\n",
		hb_pin_monitor_dir());
}

/* PATH -> the absolute directory and the path inside the hierarchy (the label): the
 * resolution of policy add and run (hb/cgroup.h), the root cgroup without --cgroup. */
static int resolve_cgroup(struct hb_cli_opts *o, const char *arg, char *dir, size_t dlen,
			  char *label, size_t llen)
{
	char mnt[PATH_MAX], err[512];
	unsigned int level;
	uint64_t id;

	if (hb_cgroup_resolve(arg ? arg : "/", dir, dlen, &id, &level, err, sizeof(err))) {
		hb_err(o, "%s", err);
		return HB_EXIT_RUNTIME;
	}
	if (hb_cgroup2_mount(mnt, sizeof(mnt)))
		snprintf(mnt, sizeof(mnt), "/");
	hb_cgroup_label(mnt, dir, label, llen);
	return HB_EXIT_OK;
}

struct loop {
	struct hb_monitor *m;
	struct hb_mon_view v;
	struct hb_mon_totals prev;
	unsigned long long prev_ns;
	bool quiet, want_conns;
	const char *textfile;
	bool textfile_failed;	/* a write failed: the exit status is 1 */
	int prom_fd;
	struct hb_prom_srv *srv;	/* the --prometheus endpoint, on its own thread */
};

static void on_close(const struct hb_mon_close *e, void *ctx)
{
	struct hb_mon_view *v = ctx;

	if (v->learn)
		hb_mon_learn_note(v->learn, e);
	v->recent[v->recent_head] = *e;
	v->recent_head = (v->recent_head + 1) % HB_MON_RECENT;
	if (v->n_recent < HB_MON_RECENT)
		v->n_recent++;
	if (!v->conns)
		return;
	if (v->n_tick == v->cap_tick) {
		size_t cap = v->cap_tick ? 2 * v->cap_tick : 16;
		struct hb_mon_close *t = realloc(v->tick, cap * sizeof(*t));

		if (!t)
			return;	/* the totals still count it */
		v->tick = t;
		v->cap_tick = cap;
	}
	v->tick[v->n_tick++] = *e;
}

static void snap_free(struct hb_mon_snap *s)
{
	free(s->peers);
	s->peers = NULL;
	s->n_peers = 0;
	free(s->conns);
	free(s->owner);
	s->conns = NULL;
	s->owner = NULL;
	s->n_conns = 0;
}

/* Totals (and connections when asked) now. Returns 0 or -errno. */
static int take_snap(struct loop *L, struct hb_mon_snap *s, bool conns)
{
	__u64 *t, *p, *d;
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	s->now_ns = hb_monitor_now_ns();
	rc = hb_monitor_totals(L->m, &s->total);
	if (rc)
		return rc;
	t = (__u64 *)&s->total;
	p = (__u64 *)&L->prev;
	d = (__u64 *)&s->delta;
	for (i = 0; i < sizeof(s->total) / sizeof(__u64); i++)
		d[i] = t[i] - p[i];
	s->interval_s = (double)(s->now_ns - L->prev_ns) / 1e9;
	if (conns) {
		rc = hb_monitor_conns(L->m, &s->conns, &s->n_conns);
		if (rc == -EOPNOTSUPP)
			return 0;	/* no iterator on this kernel: said once at the start */
		if (rc)
			return rc;
		s->have_conns = true;
		hb_mon_fill_owners(s);
	}
	if (L->v.peers) {
		rc = hb_mon_peers_snap(L->m, &L->v, s);
		if (rc && rc != -EOPNOTSUPP)	/* missing: said once at the start */
			return rc;
	}
	return 0;
}

static char *render_prom(struct loop *L, const struct hb_mon_snap *s, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	hb_prom_render(f, &L->v, s);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* What scrapes get until the next interval: rendered here, handed over by a pointer swap. */
static void publish(struct loop *L, struct hb_cli_opts *o, const struct hb_mon_snap *s)
{
	char *body;
	size_t len = 0;

	body = render_prom(L, s, &len);
	if (!body || hb_prom_publish(L->srv, body, len))
		hb_err(o, "--prometheus: %s (the endpoint keeps the previous counters)",
		       strerror(ENOMEM));
}

static int tick(struct loop *L, struct hb_cli_opts *o, bool first)
{
	struct hb_mon_snap s;
	char *body;
	size_t len = 0;
	int rc;

	rc = take_snap(L, &s, L->want_conns);
	if (rc) {
		hb_err(o, "reading the counters: %s", strerror(-rc));
		return HB_EXIT_RUNTIME;
	}
	if (L->v.learn)
		hb_mon_learn_flush(o, L->v.learn);	/* a failure is said; counting goes on */
	if (!L->quiet) {
		if (L->v.json)
			hb_mon_print_json(stdout, &L->v, &s);
		else {
			if (L->v.tty)
				fputs("\033[H\033[2J", stdout);
			else if (!first)
				fputc('\n', stdout);
			hb_mon_print_table(stdout, &L->v, &s);
		}
		fflush(stdout);
	}
	if (L->textfile) {
		body = render_prom(L, &s, &len);
		rc = body ? hb_prom_textfile(L->textfile, body, len) : -ENOMEM;
		free(body);
		if (rc) {
			hb_err(o, "--textfile %s: %s", L->textfile, strerror(-rc));
			L->textfile_failed = true;
			/* the first write failing is a wrong path, not a passing condition */
			if (first) {
				snap_free(&s);
				return HB_EXIT_RUNTIME;
			}
		}
	}
	if (L->srv)
		publish(L, o, &s);
	L->prev = s.total;
	L->prev_ns = s.now_ns;
	L->v.n_tick = 0;
	snap_free(&s);
	if (ferror(stdout)) {
		hb_err(o, "writing output: %s", strerror(errno));
		return HB_EXIT_RUNTIME;
	}
	return HB_EXIT_OK;
}

static int run_loop(struct loop *L, struct hb_cli_opts *o, long long duration_ms)
{
	unsigned long long start = hb_monitor_now_ns(), next, now, end = 0;
	struct pollfd pfd[1];
	struct hb_mon_snap s;
	int n, rc = HB_EXIT_OK, timeout;
	bool first = true;

	L->prev_ns = start;
	next = start + (unsigned long long)L->v.interval_ms * 1000000ULL;
	if (duration_ms >= 0)
		end = start + (unsigned long long)duration_ms * 1000000ULL;
	pfd[0].fd = hb_monitor_poll_fd(L->m);
	pfd[0].events = POLLIN;
	/* scrapes before the first interval get the counters as they are at the start */
	if (L->srv && !take_snap(L, &s, true)) {
		publish(L, o, &s);
		snap_free(&s);
	}
	while (!exiting) {
		now = hb_monitor_now_ns();
		if (now >= next || (end && now >= end)) {
			hb_monitor_consume(L->m, on_close, &L->v);
			rc = tick(L, o, first);
			first = false;
			if (rc || (end && now >= end))
				break;
			next += (unsigned long long)L->v.interval_ms * 1000000ULL;
			if (next <= now)
				next = now + (unsigned long long)L->v.interval_ms * 1000000ULL;
			if (end && next > end)
				next = end;
			continue;
		}
		timeout = (int)((next - now + 999999) / 1000000);
		n = poll(pfd, 1, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			hb_err(o, "poll: %s", strerror(errno));
			rc = HB_EXIT_RUNTIME;
			break;
		}
		if (n > 0 && (pfd[0].revents & POLLIN))
			hb_monitor_consume(L->m, on_close, &L->v);
	}
	return rc;
}

/* --textfile names a file in an existing directory: a directory (the collector's, given
 * without the file name) is a usage error, a missing directory a runtime one, both before
 * anything is loaded. Returns 0 or an exit code after a message. */
static int check_textfile(struct hb_cli_opts *o, const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	struct stat st;
	int e;

	if (!stat(path, &st) && S_ISDIR(st.st_mode))
		return hb_usage_err(o, "--textfile %s: is a directory (name the file, e.g. "
				    "%s%shbkeep.prom)", path, path, slash && !slash[1] ? "" : "/");
	if (slash && !slash[1])
		return hb_usage_err(o, "--textfile %s: ends in '/' (name the file)", path);
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + 1 : 1,
		 slash ? path : ".");
	e = stat(dir, &st) ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	if (e) {
		hb_err(o, "--textfile %s: directory %s: %s", path, dir, strerror(e));
		return HB_EXIT_RUNTIME;
	}
	return HB_EXIT_OK;
}

/* Once, on stderr: each feature that runs on a fallback or not at all, and why (the peers
 * only when asked for: their program is the close causes'). */
static void say_degraded(struct hb_cli_opts *o, const struct hb_monitor *m, bool peers)
{
	const struct hb_mon_feat *f = hb_monitor_features(m);
	int i;

	for (i = 0; i < HB_MON_NFEAT; i++) {
		if (i == HB_MON_FEAT_PEERS && !peers)
			continue;
		if (f[i].state == HB_FEAT_MISSING && hb_mon_feat_lost(i))
			hb_err(o, "%s (%s)", f[i].why, hb_mon_feat_lost(i));
		else if (f[i].state != HB_FEAT_OK)
			hb_err(o, "%s", f[i].why);
		else if (f[i].via[0])
			hb_verbose(o, "%s: %s", hb_mon_feat_name[i], f[i].via);
	}
}

static int netns_inode(unsigned int *ino)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	*ino = (unsigned int)st.st_ino;
	return 0;
}

/* What monitor's options collected, besides what goes straight into the loop */
struct mon_args {
	struct hb_monitor_opts mo;
	const char *cgroup_arg, *prom;
	long long duration_ms;	/* -1: until a signal */
	bool unpin, learn;
};

/* A count option's value: 0 with *out, or -EINVAL when arg is not a number min..max. */
static int parse_count(const char *arg, long long min, long long max, unsigned int *out)
{
	long long v;
	char *end;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || *end || end == arg || v < min || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/*
 * One option of monitor's own (not a global one) into *L or *a. Kept out of cmd_monitor so
 * that the steps of a run read apart from the options. Returns HB_EXIT_OK to go on, else the
 * exit code cmd_monitor returns (--help: HB_EXIT_DONE; a bad value: HB_EXIT_USAGE after the
 * message).
 */
static int monitor_opt(struct hb_cli_opts *o, int c, char *arg, struct loop *L,
		       struct mon_args *a)
{
	char err[256];

	switch (c) {
	case OPT_CGROUP:
		a->cgroup_arg = arg;
		return HB_EXIT_OK;
	case 'i':
		if (hb_parse_duration_ms(arg, &L->v.interval_ms, err, sizeof(err)))
			return hb_usage_err(o, "--interval: %s", err);
		if (L->v.interval_ms < 100)
			return hb_usage_err(o, "--interval: at least 100ms");
		return HB_EXIT_OK;
	case 'd':
		if (hb_parse_duration_ms(arg, &a->duration_ms, err, sizeof(err)))
			return hb_usage_err(o, "--duration: %s", err);
		if (a->duration_ms <= 0)
			return hb_usage_err(o, "--duration: must be more than 0");
		return HB_EXIT_OK;
	case OPT_CONNS:
		L->v.conns = true;
		return HB_EXIT_OK;
	case OPT_TOP:
		if (parse_count(arg, 0, 100000, &L->v.top))
			return hb_usage_err(o, "--top: '%.40s' is not a number 0..100000", arg);
		return HB_EXIT_OK;
	case OPT_PEERS:
		L->v.peers = 10;
		if (arg && parse_count(arg, 1, HB_MON_PEERS_MAX, &L->v.peers))
			return hb_usage_err(o, "--peers: '%.40s' is not a number 1..%d", arg,
					    HB_MON_PEERS_MAX);
		return HB_EXIT_OK;
	case OPT_LEARN:
		a->learn = true;
		return HB_EXIT_OK;
	case OPT_PROM:
		a->prom = arg;
		return HB_EXIT_OK;
	case OPT_TEXTFILE:
		if (!*arg)
			return hb_usage_err(o, "--textfile: empty file name");
		L->textfile = arg;
		return HB_EXIT_OK;
	case 'q':
		L->quiet = true;
		return HB_EXIT_OK;
	case OPT_PIN:
		a->mo.pin = true;
		return HB_EXIT_OK;
	case OPT_UNPIN:
		a->unpin = true;
		return HB_EXIT_OK;
	case HB_OPT_HELP:
		monitor_usage(stdout);
		return HB_EXIT_DONE;
	default:	/* HB_OPT_USAGE: said */
		return HB_EXIT_USAGE;
	}
}

/* --unpin: removes what --pin left, and nothing else. Returns the exit status. */
static int unpin_monitor(struct hb_cli_opts *o)
{
	int rc = hb_monitor_unpin();

	if (rc == -ENOENT) {
		hb_err(o, "--unpin: nothing pinned at %s", hb_pin_monitor_dir());
		return HB_EXIT_NOMATCH;
	}
	if (rc) {
		hb_err(o, "--unpin: %s", strerror(-rc));
		return HB_EXIT_RUNTIME;
	}
	return HB_EXIT_OK;
}

/*
 * Everything that can fail before BPF is loaded: the textfile, the cgroup (dir, label),
 * the Prometheus listener (L->prom_fd, so that a port in use fails before the load) and
 * --netns. Returns 0, or the exit status after a message; L->prom_fd is the caller's to
 * close either way.
 */
static int preflight(struct hb_cli_opts *o, struct loop *L, struct mon_args *a, char *dir,
		     size_t dlen, char *label, size_t llen)
{
	char err[256];
	int rc;

	if (L->textfile) {
		rc = check_textfile(o, L->textfile);
		if (rc)
			return rc;
	}
	rc = resolve_cgroup(o, a->cgroup_arg, dir, dlen, label, llen);
	if (rc)
		return rc;
	L->v.cgroup = label;
	L->v.cgroup_dir = dir;
	L->v.json = o->json;
	L->v.tty = !o->json && isatty(STDOUT_FILENO);
	L->v.color = L->v.tty && hb_want_color(stdout);
	/* the table shows top connections; Prometheus their owners' comm */
	L->want_conns = L->v.conns || (!L->v.json && !L->quiet) || L->textfile || a->prom;
	if (a->prom) {
		L->prom_fd = hb_prom_listen(a->prom, err, sizeof(err));
		if (L->prom_fd < 0) {
			hb_err(o, "--prometheus %s: %s", a->prom, err);
			return L->prom_fd == -EINVAL ? HB_EXIT_USAGE : HB_EXIT_RUNTIME;
		}
	}
	/* --netns: enter it (hbctl's global option) and count only its sockets */
	if (o->netns) {
		rc = hb_cli_enter_netns(o);
		if (rc)
			return rc;
		rc = netns_inode(&a->mo.netns);
		if (rc) {
			hb_err(o, "/proc/self/ns/net: %s", strerror(-rc));
			return HB_EXIT_RUNTIME;
		}
	}
	a->mo.cgroup = dir;
	return 0;
}

/*
 * Loads (or reuses the pinned) monitor into L->m, says what is degraded, sets up --learn
 * and starts the Prometheus server on L->prom_fd. Returns 0, or HB_EXIT_RUNTIME after a
 * message with the monitor closed again.
 */
static int open_monitor(struct hb_cli_opts *o, struct loop *L, struct mon_args *a)
{
	struct sigaction sa;
	char err[256];
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	err[0] = '\0';
	rc = hb_monitor_open(&a->mo, &L->m, err, sizeof(err));
	if (rc == -EUCLEAN) {
		hb_err(o, "%s; remove it with hbctl monitor --unpin", err);
		return HB_EXIT_RUNTIME;
	}
	if (rc) {
		hb_err(o, "%s", err[0] ? err : strerror(-rc));
		return HB_EXIT_RUNTIME;
	}
	say_degraded(o, L->m, L->v.peers > 0);
	if (a->learn && L->v.no_closes)
		hb_err(o, "--learn: no close causes on this kernel: nothing is learned");
	else if (a->learn && !(L->v.learn = hb_mon_learn_new()))
		hb_err(o, "--learn: %s", strerror(ENOMEM));
	else if (a->learn)
		hb_verbose(o, "--learn: evidence into %s", hb_mon_learn_file(L->v.learn));
	L->v.no_closes = hb_monitor_features(L->m)[HB_MON_FEAT_CLOSES].state == HB_FEAT_MISSING;
	hb_verbose(o, "attached to cgroup %s%s; pinned at %s", L->v.cgroup_dir,
		   hb_monitor_reused(L->m) ? " (reusing the monitor pinned by --pin)" : "",
		   hb_monitor_pin_dir(L->m));
	L->v.start_ns = hb_monitor_now_ns();
	/* a monitor pinned earlier: its totals so far are the baseline of the first delta */
	if (hb_monitor_reused(L->m))
		hb_monitor_totals(L->m, &L->prev);
	if (L->prom_fd >= 0) {
		L->srv = hb_prom_serve(L->prom_fd, err, sizeof(err));
		if (!L->srv) {
			hb_err(o, "--prometheus %s: %s", a->prom, err);
			hb_monitor_close(L->m);
			return HB_EXIT_RUNTIME;
		}
		L->prom_fd = -1;	/* the server's now */
	}
	return 0;
}

/* Runs the loop, then flushes what --learn gathered and closes what open_monitor opened.
 * Returns the exit status. */
static int run_and_close(struct hb_cli_opts *o, struct loop *L, const struct mon_args *a)
{
	int rc = exiting ? HB_EXIT_OK : run_loop(L, o, a->duration_ms);

	if (L->v.learn) {
		hb_monitor_consume(L->m, on_close, &L->v);	/* the last closes count too */
		hb_mon_learn_flush(o, L->v.learn);
		hb_mon_learn_free(L->v.learn);
	}
	hb_prom_stop(L->srv);
	if (!rc && L->textfile_failed)
		rc = HB_EXIT_RUNTIME;
	hb_monitor_close(L->m);
	free(L->v.tick);
	return rc;
}

int cmd_monitor(int argc, char **argv, struct hb_cli_opts *o)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "interval", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "conns", no_argument, NULL, OPT_CONNS },
		{ "top", required_argument, NULL, OPT_TOP },
		{ "peers", optional_argument, NULL, OPT_PEERS },
		{ "learn", no_argument, NULL, OPT_LEARN },
		{ "prometheus", required_argument, NULL, OPT_PROM },
		{ "textfile", required_argument, NULL, OPT_TEXTFILE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "pin", no_argument, NULL, OPT_PIN },
		{ "unpin", no_argument, NULL, OPT_UNPIN },
		{ 0 }
	};
	struct mon_args a = { .duration_ms = -1 };
	struct loop L;
	char dir[PATH_MAX], label[PATH_MAX];
	int c, rc;

	memset(&L, 0, sizeof(L));
	L.v.interval_ms = 1000;
	L.v.top = 10;
	L.prom_fd = -1;
	while ((c = hb_cli_getopt(argc, argv, ":jvhqn:i:d:", longopts, o)) != -1) {
		rc = monitor_opt(o, c, optarg, &L, &a);
		if (rc)
			return rc;
	}
	if (optind < argc)
		return hb_usage_err(o, "unexpected argument '%.40s' (see hbctl monitor --help)",
				    argv[optind]);
	if (a.unpin)
		return unpin_monitor(o);
	rc = preflight(o, &L, &a, dir, sizeof(dir), label, sizeof(label));
	if (!rc)
		rc = open_monitor(o, &L, &a);
	if (!rc)
		rc = run_and_close(o, &L, &a);
	if (L.prom_fd >= 0)
		close(L.prom_fd);
	return rc;
}
