// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl monitor's loader (monitor.h), the only file that includes hbmon.skel.h. The sequence
 * of libbpf-bootstrap's bootstrap.c: __open, set rodata (the namespace and cgroup to watch),
 * __load, then attach each program (cgroup_skb to the cgroup's fd, tp_btf as they are, the
 * iterator with the SK_STORAGE map), pin the map and the iterator, and a cleanup: that always
 * __destroy()s.
 *
 * Only the cgroup_skb pair is essential. The programs come in groups, chosen at run time by
 * load attempts (libbpf-tools' set_autoload(false) fallbacks, bpftool feature probe's real
 * loads): tp_btf, else raw_tp twins (close causes); iter/bpf_sk_storage_map, else iter/tcp
 * (per-connection rows). Each feature ends ok, degraded or missing with the reason
 * (hb_monitor_features); HB_BPF_DENY refuses programs as a kernel would.
 *
 * Pins (bpffs, mounted here when it is not):
 *   /sys/fs/bpf/hbkeep/monitor_PID/{sk_stats,conns}   while the monitor runs; removed on exit,
 *                                                     and by the next monitor if PID died
 *   /sys/fs/bpf/hbkeep/monitor/...                    --pin: maps and every link, so the
 *                                                     programs keep counting after hbctl exits;
 *                                                     `hbctl monitor --unpin` removes them
 * `hbctl ls` reads .../conns (a pinned iterator: open + read; bpf/monitor_conns.c) to show
 * per-socket counters.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "hb/bpf_loader.h"
#include "hb/cgroup.h"
#include "hb/monitor.h"
#include "hbmon.skel.h"
#include "monitor_int.h"

_Static_assert(sizeof(struct hb_mon_sk) == HB_MON_SK_SIZE, "hb_mon_sk layout");
_Static_assert(sizeof(struct hb_mon_totals) == HB_MON_TOTALS_SIZE, "hb_mon_totals layout");
_Static_assert(sizeof(struct hb_mon_close) == HB_MON_CLOSE_SIZE, "hb_mon_close layout");
_Static_assert(sizeof(struct hb_mon_conn) == HB_MON_CONN_SIZE, "hb_mon_conn layout");
_Static_assert(sizeof(struct hb_mon_peer_key) == HB_MON_PEER_KEY_SIZE, "hb_mon_peer_key layout");
_Static_assert(sizeof(struct hb_mon_peer) == HB_MON_PEER_SIZE, "hb_mon_peer layout");

#define BPFFS		"/sys/fs/bpf"

/* The links, in this order (monitor_int.h), as pin names under --pin. */
static const char *const link_name[NLINKS] = {
	"link_egress", "link_ingress", "link_set_state", "link_set_state2", "link_send_reset",
	"link_send_reset2", "link_destroy", "link_destroy2", "conns",
};

const char *const hb_mon_feat_name[HB_MON_NFEAT] = {
	[HB_MON_FEAT_COUNT] = "counters",
	[HB_MON_FEAT_CLOSES] = "close causes",
	[HB_MON_FEAT_CONNS] = "per-connection rows",
	[HB_MON_FEAT_PEERS] = "per-peer connections",
};


unsigned long long hb_monitor_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

/* Removes the files of a pin directory and the directory. Unlinking a pinned link detaches
 * its program once no fd holds it. */
static void remove_dir(const char *dir)
{
	char p[300];
	struct dirent *d;
	DIR *dp = opendir(dir);

	if (!dp)
		return;
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, d->d_name);
		unlink(p);
	}
	closedir(dp);
	rmdir(dir);
}

/* monitor_PID directories whose PID is gone (killed with SIGKILL). */
static void remove_stale(void)
{
	char p[300];
	struct dirent *d;
	DIR *dp = opendir(hb_pin_root());
	long pid;
	char *end;

	if (!dp)
		return;
	while ((d = readdir(dp))) {
		if (strncmp(d->d_name, "monitor_", 8))
			continue;
		pid = strtol(d->d_name + 8, &end, 10);
		if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(p, sizeof(p), "%s/%s", hb_pin_root(), d->d_name);
		remove_dir(p);
	}
	closedir(dp);
}

static int pin_path(char *buf, size_t len, const struct hb_monitor *m, const char *name)
{
	if ((size_t)snprintf(buf, len, "%s/%s", m->dir, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct hb_monitor *m = ctx;

	if (size >= sizeof(struct hb_mon_close) && m->fn)
		m->fn(data, m->fn_ctx);
	return 0;
}

static void feat_set(struct hb_mon_feat *f, int state, const char *via, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Reads a monitor left pinned by --pin. */
static int open_pinned(struct hb_monitor *m, char *err, size_t errlen)
{
	static const char *const names[4] = { "totals", "events", "conns", "peers" };
	char p[300];
	int i;

	/* set first: a failure below must leave that monitor's pins alone */
	m->reused = true;
	for (i = 0; i < 4; i++) {
		pin_path(p, sizeof(p), m, names[i]);
		m->own_fds[i] = bpf_obj_get(p);
		if (m->own_fds[i] < 0 && i == 3 && errno == ENOENT) {
			/* pinned by a monitor that ran without the set_state program */
			feat_set(&m->feat[HB_MON_FEAT_PEERS], HB_FEAT_MISSING, NULL,
				 "the monitor pinned at %s counts no peers", m->dir);
			continue;
		}
		if (m->own_fds[i] < 0 && i == 2 && errno == ENOENT) {
			/* pinned by a monitor that ran without an iterator */
			m->feat[HB_MON_FEAT_CONNS].state = HB_FEAT_MISSING;
			snprintf(m->feat[HB_MON_FEAT_CONNS].why, sizeof(m->feat[0].why),
				 "the monitor pinned at %s has no per-connection iterator", m->dir);
			continue;
		}
		if (m->own_fds[i] < 0)
			return hb_bpf_errf(-EUCLEAN, err, errlen, "%s: %s (the monitor pinned there "
					   "is incomplete)", p, strerror(errno));
	}
	m->totals_fd = m->own_fds[0];
	m->events_fd = m->own_fds[1];
	m->iter_fd = m->own_fds[2];
	m->peers_fd = m->own_fds[3];
	return 0;
}

/* ---- choosing the programs: a load attempt per group, as bpftool feature probe does ---- */

/* The close causes' six programs (each tracepoint twice: see the twins in hbmon.bpf.c), the
 * tp_btf ones or, with raw, their raw_tp fallbacks. */
static void close_progs(struct hbmon_bpf *s, bool raw, struct bpf_program *p[6])
{
	struct bpf_program *tp[6] = { s->progs.tp_set_state, s->progs.tp_set_state2,
				      s->progs.tp_send_reset, s->progs.tp_send_reset2,
				      s->progs.tp_destroy_sock, s->progs.tp_destroy_sock2 };
	struct bpf_program *rt[6] = { s->progs.rt_set_state, s->progs.rt_set_state2,
				      s->progs.rt_send_reset, s->progs.rt_send_reset2,
				      s->progs.rt_destroy_sock, s->progs.rt_destroy_sock2 };

	memcpy(p, raw ? rt : tp, sizeof(tp));
}

static void set_plan(struct hbmon_bpf *s, unsigned int g)
{
	struct bpf_program *tp[6], *rt[6];
	int i;

	close_progs(s, false, tp);
	close_progs(s, true, rt);
	bpf_program__set_autoload(s->progs.cgskb_egress, g & G_CGSKB);
	bpf_program__set_autoload(s->progs.cgskb_ingress, g & G_CGSKB);
	for (i = 0; i < 6; i++) {
		bpf_program__set_autoload(tp[i], g & G_TP);
		bpf_program__set_autoload(rt[i], g & G_RAWTP);
	}
	bpf_program__set_autoload(s->progs.iter_conns, g & G_ITER_MAP);
	bpf_program__set_autoload(s->progs.iter_conns_tcp, g & G_ITER_TCP);
}

/* What the programs are told to watch (rodata). */
struct scope {
	unsigned int netns;		/* 0: every network namespace */
	uint64_t cgroup_id;		/* for the raw_tp twins; 0: any cgroup */
	unsigned int cgroup_level;
};

/* Opens and loads the programs of groups g into *out. Returns 0 or -errno. */
static int load_groups(const struct scope *sc, unsigned int g, struct hbmon_bpf **out)
{
	struct hbmon_bpf *s;
	int e;

	*out = NULL;
	s = hbmon_bpf__open();
	if (!s)
		return -errno;
	s->rodata->targ_netns = sc->netns;
	s->rodata->targ_cgroup_id = sc->cgroup_id;
	s->rodata->targ_cgroup_level = sc->cgroup_level;
	set_plan(s, g);
	e = hb_bpf_deny_check(s->obj, NULL, 0);
	if (!e)
		e = hbmon_bpf__load(s);
	if (e) {
		hbmon_bpf__destroy(s);
		return e;
	}
	*out = s;
	return 0;
}

/* Whether group g loads on its own: 0 or -errno. */
static int probe_group(const struct scope *sc, unsigned int g)
{
	struct hbmon_bpf *s;
	int e = load_groups(sc, g, &s);

	hbmon_bpf__destroy(s);
	return e;
}

static void feat_set(struct hb_mon_feat *f, int state, const char *via, const char *fmt, ...)
{
	va_list ap;

	f->state = state;
	snprintf(f->via, sizeof(f->via), "%s", via ? via : "");
	f->why[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(f->why, sizeof(f->why), fmt, ap);
		va_end(ap);
	}
}

/* A group of programs and its fallback, and what the feature they give becomes with each. */
struct fallback {
	unsigned int g, g2;			/* the group, its fallback */
	const char *prog, *kind, *prog2, *kind2;	/* named in the reasons */
	int feat, feat2;	/* the feature, and one riding on the same programs (-1: none) */
	const char *degraded;			/* with the fallback */
	const char *missing, *missing2;		/* with neither (feat, feat2) */
};

static const struct fallback fb_closes = {
	G_TP, G_RAWTP, "tp_set_state", "tp_btf", "rt_set_state", "raw_tp",
	HB_MON_FEAT_CLOSES, HB_MON_FEAT_PEERS,
	"close causes come from raw_tp instead (close events without per-connection counters)",
	"close causes are not counted", "no per-peer connection counts",
};
static const struct fallback fb_conns = {
	G_ITER_MAP, G_ITER_TCP, "iter_conns", "iter/bpf_sk_storage_map", "iter_conns_tcp",
	"iter/tcp", HB_MON_FEAT_CONNS, -1,
	"per-connection rows come from iter/tcp instead",
	"no per-connection rows", NULL,
};

/* Where the essential group loads and the whole set did not: b's group, else its fallback
 * (b->g, b->g2, or 0 with both refused), the features set in f. */
static unsigned int choose_group(const struct scope *sc, struct hb_mon_feat f[HB_MON_NFEAT],
				 const struct fallback *b)
{
	const unsigned int tr = HB_BPF_NEED_PERFMON;
	char w1[200], w2[200];
	int e;

	e = probe_group(sc, b->g);
	if (!e)
		return b->g;
	hb_bpf_load_err(e, b->prog, b->kind, tr, w1, sizeof(w1));
	e = probe_group(sc, b->g2);
	if (!e) {
		feat_set(&f[b->feat], HB_FEAT_DEGRADED, b->kind2, "%s; %s", w1, b->degraded);
		/* the same counts: the peer program reads the socket only */
		if (b->feat2 >= 0)
			feat_set(&f[b->feat2], HB_FEAT_OK, b->kind2, NULL);
		return b->g2;
	}
	hb_bpf_load_err(e, b->prog2, b->kind2, tr, w2, sizeof(w2));
	feat_set(&f[b->feat], HB_FEAT_MISSING, NULL, "%s; %s: %s", w1, w2, b->missing);
	if (b->feat2 >= 0)
		feat_set(&f[b->feat2], HB_FEAT_MISSING, NULL, "%s; %s: %s", w1, w2, b->missing2);
	return 0;
}

/*
 * The groups to load, and the features they give: everything in one load when the kernel
 * allows it (one BTF parse); otherwise each group alone to learn which one the kernel refuses,
 * and the fallbacks of those. *skel (if skel) gets the loaded object. Returns 0, or -errno
 * with a message when the essential group cannot load.
 */
static int choose(const struct scope *sc, struct hbmon_bpf **skel, unsigned int *groups,
		  struct hb_mon_feat f[HB_MON_NFEAT], char *err, size_t errlen)
{
	const unsigned int tr = HB_BPF_NEED_PERFMON;
	struct hbmon_bpf *s = NULL;
	char w1[200];
	unsigned int g = G_CGSKB | G_TP | G_ITER_MAP;
	int e, e2;

	feat_set(&f[HB_MON_FEAT_COUNT], HB_FEAT_OK, "cgroup_skb", NULL);
	feat_set(&f[HB_MON_FEAT_CLOSES], HB_FEAT_OK, "tp_btf", NULL);
	feat_set(&f[HB_MON_FEAT_CONNS], HB_FEAT_OK, "iter/bpf_sk_storage_map", NULL);
	feat_set(&f[HB_MON_FEAT_PEERS], HB_FEAT_OK, "tp_btf", NULL);
	e = load_groups(sc, g, &s);
	if (e) {
		/* The commonest refusal first (map iterators): the same load with iter/tcp
		 * instead; when it works, only the map iterator differed. */
		e2 = load_groups(sc, G_CGSKB | G_TP | G_ITER_TCP, &s);
		if (!e2) {
			g = G_CGSKB | G_TP | G_ITER_TCP;
			hb_bpf_load_err(e, "iter_conns", "iter/bpf_sk_storage_map", tr, w1, sizeof(w1));
			feat_set(&f[HB_MON_FEAT_CONNS], HB_FEAT_DEGRADED, "iter/tcp", "%s; %s", w1,
				 fb_conns.degraded);
			goto done;
		}
		e = probe_group(sc, G_CGSKB);
		if (e) {
			hb_bpf_load_err(e, "cgskb_egress", "cgroup_skb", tr | HB_BPF_NEED_NET_ADMIN,
					w1, sizeof(w1));
			feat_set(&f[HB_MON_FEAT_COUNT], HB_FEAT_MISSING, NULL, "%s", w1);
			return hb_bpf_errf(e, err, errlen, "%s: the monitor cannot count", w1);
		}
		g = G_CGSKB | choose_group(sc, f, &fb_closes);
		g |= choose_group(sc, f, &fb_conns);
		e = load_groups(sc, g, &s);
		if (e)
			return hb_bpf_load_err(e, NULL, "the monitor's programs", tr |
					       HB_BPF_NEED_NET_ADMIN, err, errlen);
	}
done:
	*groups = g;
	if (skel)
		*skel = s;
	else
		hbmon_bpf__destroy(s);
	return 0;
}

int hb_monitor_probe(unsigned int netns, struct hb_mon_feat f[HB_MON_NFEAT], char *err,
		     size_t errlen)
{
	struct scope sc = { .netns = netns };
	unsigned int g;

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		feat_set(&f[HB_MON_FEAT_COUNT], HB_FEAT_MISSING, NULL, "no BTF");
		return hb_bpf_errf(-EOPNOTSUPP, err, errlen, "this kernel has no BTF "
				   "(/sys/kernel/btf/vmlinux): the monitor needs CONFIG_DEBUG_INFO_BTF");
	}
	return choose(&sc, NULL, &g, f, err, errlen);
}

const struct hb_mon_feat *hb_monitor_features(const struct hb_monitor *m)
{
	return m->feat;
}

/* Attaches what was loaded: the cgroup_skb pair or nothing; a tracepoint or the iterator that
 * fails to attach only takes its own feature away. */
static int attach_all(struct hb_monitor *m, const char *cgroup, char *err, size_t errlen)
{
	struct hbmon_bpf *s = m->skel;
	union bpf_iter_link_info linfo = { 0 };
	LIBBPF_OPTS(bpf_iter_attach_opts, iopts);
	struct bpf_program *tp[6];
	int cg, i, e;

	close_progs(s, m->groups & G_RAWTP, tp);

	cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		e = -errno;
		return hb_bpf_errf(e, err, errlen, "cgroup %s: %s", cgroup, strerror(-e));
	}
	m->link[L_EGRESS] = bpf_program__attach_cgroup(s->progs.cgskb_egress, cg);
	e = m->link[L_EGRESS] ? 0 : -errno;
	if (!e) {
		m->link[L_INGRESS] = bpf_program__attach_cgroup(s->progs.cgskb_ingress, cg);
		e = m->link[L_INGRESS] ? 0 : -errno;
	}
	close(cg);
	if (e)
		return hb_bpf_errf(e, err, errlen, "attaching to cgroup %s: %s", cgroup,
				   strerror(-e));
	for (i = 0; i < 6 && (m->groups & (G_TP | G_RAWTP)); i++) {
		m->link[L_TP + i] = bpf_program__attach(tp[i]);
		if (!m->link[L_TP + i]) {
			e = -errno;
			feat_set(&m->feat[HB_MON_FEAT_CLOSES], HB_FEAT_MISSING, NULL,
				 "attaching %s: %s; close causes are not counted",
				 bpf_program__section_name(tp[i]), strerror(-e));
			feat_set(&m->feat[HB_MON_FEAT_PEERS], HB_FEAT_MISSING, NULL,
				 "attaching %s: %s; no per-peer connection counts",
				 bpf_program__section_name(tp[i]), strerror(-e));
			while (i >= 0) {
				bpf_link__destroy(m->link[L_TP + i]);
				m->link[L_TP + i--] = NULL;
			}
			break;
		}
	}
	if (m->groups & G_ITER_MAP) {
		linfo.map.map_fd = bpf_map__fd(s->maps.sk_stats);
		iopts.link_info = &linfo;
		iopts.link_info_len = sizeof(linfo);
		m->link[L_ITER] = bpf_program__attach_iter(s->progs.iter_conns, &iopts);
	} else if (m->groups & G_ITER_TCP) {
		m->link[L_ITER] = bpf_program__attach_iter(s->progs.iter_conns_tcp, NULL);
	}
	if ((m->groups & (G_ITER_MAP | G_ITER_TCP)) && !m->link[L_ITER]) {
		e = -errno;
		feat_set(&m->feat[HB_MON_FEAT_CONNS], HB_FEAT_MISSING, NULL,
			 "attaching the per-connection iterator: %s; no per-connection rows",
			 strerror(-e));
	}
	m->totals_fd = bpf_map__fd(s->maps.totals);
	m->events_fd = bpf_map__fd(s->maps.events);
	m->iter_fd = m->link[L_ITER] ? bpf_link__fd(m->link[L_ITER]) : -1;
	m->peers_fd = m->link[L_TP] ? bpf_map__fd(s->maps.peers) : -1;
	return 0;
}

static int pin_all(struct hb_monitor *m, char *err, size_t errlen)
{
	struct hbmon_bpf *s = m->skel;
	char p[300];
	int i, e;

	if (mkdir(hb_pin_root(), 0700) && errno != EEXIST)
		goto fail;
	if (mkdir(m->dir, 0700))
		goto fail;
	pin_path(p, sizeof(p), m, "sk_stats");
	if (bpf_map__pin(s->maps.sk_stats, p))
		goto fail;
	pin_path(p, sizeof(p), m, "conns");
	if (m->link[L_ITER] && bpf_link__pin(m->link[L_ITER], p))
		goto fail;
	if (!m->pin)
		return 0;
	pin_path(p, sizeof(p), m, "totals");
	if (bpf_map__pin(s->maps.totals, p))
		goto fail;
	pin_path(p, sizeof(p), m, "events");
	if (bpf_map__pin(s->maps.events, p))
		goto fail;
	pin_path(p, sizeof(p), m, "peers");
	if (m->peers_fd >= 0 && bpf_map__pin(s->maps.peers, p))
		goto fail;
	for (i = 0; i < L_ITER; i++) {
		pin_path(p, sizeof(p), m, link_name[i]);
		if (m->link[i] && bpf_link__pin(m->link[i], p))
			goto fail;
	}
	return 0;
fail:
	e = -errno;
	return hb_bpf_errf(e, err, errlen, "pinning under %s: %s", m->dir, strerror(-e));
}

/* The scope of the programs: the namespace, and the cgroup's id and depth (for raw_tp). */
static int monitor_scope(const struct hb_monitor_opts *o, struct scope *sc, char *err,
			 size_t errlen)
{
	char mnt[4096];
	const char *p;
	size_t ml;
	int e;

	memset(sc, 0, sizeof(*sc));
	sc->netns = o->netns;
	e = hb_cgroup_id(o->cgroup, &sc->cgroup_id);
	if (e)
		return hb_bpf_errf(e, err, errlen, "cgroup %s: %s", o->cgroup, strerror(-e));
	if (hb_cgroup2_mount(mnt, sizeof(mnt)))
		return 0;	/* not below a mount we know: any cgroup (id 0) */
	ml = strlen(mnt);
	if (strncmp(o->cgroup, mnt, ml) || (o->cgroup[ml] && o->cgroup[ml] != '/')) {
		sc->cgroup_id = 0;
		return 0;
	}
	for (p = o->cgroup + ml; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			sc->cgroup_level++;
	if (!sc->cgroup_level)
		sc->cgroup_id = 0;	/* the root: every socket */
	return 0;
}

int hb_monitor_open(const struct hb_monitor_opts *o, struct hb_monitor **out, char *err,
		    size_t errlen)
{
	struct scope sc;
	struct hb_monitor *m;
	struct stat st;
	int e, i;

	*out = NULL;
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return hb_bpf_errf(-EOPNOTSUPP, err, errlen, "this kernel has no BTF "
				   "(/sys/kernel/btf/vmlinux): the monitor needs CONFIG_DEBUG_INFO_BTF");
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (i = 0; i < 4; i++)
		m->own_fds[i] = -1;
	m->totals_fd = m->events_fd = m->iter_fd = m->peers_fd = -1;
	m->pin = o->pin;
	m->all_netns = !o->netns;
	snprintf(m->cgroup, sizeof(m->cgroup), "%s", o->cgroup ? o->cgroup : "");
	m->ncpu = libbpf_num_possible_cpus();
	if (m->ncpu <= 0) {
		e = m->ncpu ? m->ncpu : -EINVAL;
		goto cleanup;
	}
	e = hb_bpf_fs(BPFFS, true);
	if (e) {
		hb_bpf_errf(0, err, errlen, "mounting bpffs at " BPFFS ": %s", strerror(-e));
		goto cleanup;
	}
	remove_stale();
	if (o->pin)
		snprintf(m->dir, sizeof(m->dir), "%s", hb_pin_monitor_dir());
	else
		snprintf(m->dir, sizeof(m->dir), "%s/monitor_%d", hb_pin_root(), (int)getpid());

	if (o->pin && stat(m->dir, &st) == 0) {
		e = open_pinned(m, err, errlen);
		if (e)
			goto cleanup;
	} else {
		e = monitor_scope(o, &sc, err, errlen);
		if (e)
			goto cleanup;
		e = choose(&sc, &m->skel, &m->groups, m->feat, err, errlen);
		if (e)
			goto cleanup;
		e = attach_all(m, o->cgroup, err, errlen);
		if (e)
			goto cleanup;
		e = pin_all(m, err, errlen);
		if (e)
			goto cleanup;
	}
	m->rb = ring_buffer__new(m->events_fd, on_event, m, NULL);
	if (!m->rb) {
		e = -errno;
		hb_bpf_errf(0, err, errlen, "ring buffer: %s", strerror(-e));
		goto cleanup;
	}
	*out = m;
	return 0;

cleanup:
	/* an incomplete --pin must not stay behind */
	m->pin = m->pin && m->reused;
	hb_monitor_close(m);
	return e;
}

void hb_monitor_close(struct hb_monitor *m)
{
	int i;

	if (!m)
		return;
	ring_buffer__free(m->rb);
	if (!m->pin && !m->reused && m->dir[0])
		remove_dir(m->dir);	/* unpins; the links go with their fds below */
	for (i = 0; i < NLINKS; i++)
		bpf_link__destroy(m->link[i]);
	for (i = 0; i < 4; i++)
		if (m->own_fds[i] >= 0)
			close(m->own_fds[i]);
	hbmon_bpf__destroy(m->skel);
	if (!m->pin && !m->reused)
		rmdir(hb_pin_root());	/* only if empty */
	free(m);
}

bool hb_monitor_reused(const struct hb_monitor *m)
{
	return m->reused;
}

const char *hb_monitor_pin_dir(const struct hb_monitor *m)
{
	return m->dir;
}

int hb_monitor_totals(struct hb_monitor *m, struct hb_mon_totals *t)
{
	struct hb_mon_totals *v;
	__u64 *dst = (__u64 *)t, *src;
	__u32 key = 0;
	size_t i, k, nw = sizeof(*t) / sizeof(__u64);
	int e = 0;

	v = calloc((size_t)m->ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	if (bpf_map_lookup_elem(m->totals_fd, &key, v)) {
		e = -errno;
		goto out;
	}
	for (i = 0; i < (size_t)m->ncpu; i++) {
		src = (__u64 *)&v[i];
		for (k = 0; k < nw; k++)
			dst[k] += src[k];
	}
out:
	free(v);
	return e;
}

int hb_monitor_poll_fd(struct hb_monitor *m)
{
	return ring_buffer__epoll_fd(m->rb);
}

int hb_monitor_consume(struct hb_monitor *m,
		       void (*fn)(const struct hb_mon_close *e, void *ctx), void *ctx)
{
	m->fn = fn;
	m->fn_ctx = ctx;
	return ring_buffer__consume(m->rb);
}

int hb_monitor_unpin(void)
{
	struct stat st;

	if (stat(hb_pin_monitor_dir(), &st))
		return -errno;
	remove_dir(hb_pin_monitor_dir());
	if (stat(hb_pin_monitor_dir(), &st) == 0)
		return -EBUSY;
	rmdir(hb_pin_root());
	return 0;
}
