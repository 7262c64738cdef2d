// SPDX-License-Identifier: BSD-2-Clause
/*
 * The loader of the per-cgroup policy (policy_bpf.h): the only file that includes
 * policy.skel.h. libbpf-bootstrap's sequence (open, set rodata, load, attach) with a cleanup:
 * that always destroys the skeleton; what outlives hbctl is pinned under /sys/fs/bpf/hbkeep/policy/<id>/
 * (hb_pin_dir(); policies an older version pinned in /sys/fs/bpf/hb/<id>/ are still found).
 *
 * Every add and remove holds an exclusive flock() on the policy pin directory, so that two hbctl
 * never build or tear down the same policy at once; listing takes no lock (a policy being
 * built shows as "broken" for that instant at worst).
 *
 * The cgroup helpers (mount, PATH, ids, the transient cgroup of `run --kernel`) are in
 * bpf/policy_cgroup.c, the compiling of a policy in bpf/policy_compile.c, listing and removal
 * in bpf/policy_list.c.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "hb/bpf_loader.h"
#include "hb/log.h"
#include "hb/paths.h"
#include "hb/policy.h"
#include "hb/pins.h"
#include "hb/policy_bpf.h"
#include "policy_int.h"
#include "policy.skel.h"

const char *hb_pol_pin_dir(void)
{
	return hb_pin_policy_dir();
}

/* The root and the policies' directory in it (0700: policies are root's). */
static int make_pin_dirs(char *err, size_t errlen)
{
	if (mkdir(hb_pin_root(), 0700) && errno != EEXIST)
		return hb_bpf_errf(-errno, err, errlen, "%s: %s", hb_pin_root(), strerror(errno));
	if (mkdir(HB_POL_PIN_DIR, 0700) && errno != EEXIST)
		return hb_bpf_errf(-errno, err, errlen, "%s: %s", HB_POL_PIN_DIR, strerror(errno));
	return 0;
}

const char *hb_paths_pin_path(void)
{
	return hb_pin_paths();
}

/* The map key of a path table entry (policy_bpf.h: port, then the address as IPv6). */
static void path_key(const struct hb_pattern *d, struct hb_path_key *k)
{
	memset(k, 0, sizeof(*k));
	k->data[0] = (__u8)(d->port >> 8);
	k->data[1] = (__u8)d->port;
	if (d->family == AF_INET) {
		k->data[12] = 0xff;
		k->data[13] = 0xff;
		memcpy(&k->data[14], d->addr, 4);
		k->prefixlen = 16 + 96 + d->prefix;
	} else {
		memcpy(&k->data[2], d->addr, 16);
		k->prefixlen = 16 + d->prefix;
	}
}

static bool path_map_ok(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_MAP_TYPE_LPM_TRIE &&
	       info.key_size == sizeof(struct hb_path_key) &&
	       info.value_size == sizeof(struct hb_path_val);
}

/* Makes the paths map fd hold exactly table t. Returns t->n or -errno with err set. */
static int map_fill(int fd, const struct hb_paths *t, char *err, size_t errlen)
{
	struct hb_path_key k, next, *stale = NULL;
	struct hb_path_val v;
	size_t nstale = 0;
	unsigned int i;
	int rc = 0;
	void *prev = NULL;

	for (i = 0; i < t->n; i++) {
		const struct hb_path *e = &t->e[i];

		path_key(&e->dest, &k);
		memset(&v, 0, sizeof(v));
		v.idle_s = e->dropped_ms < 0 ? 0 : (__u32)hb_paths_idle(e, 0, HB_IDLE_MAX);
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			rc = hb_bpf_errf(-errno, err, errlen, "%s: %s", hb_paths_pin_path(), strerror(errno));
			goto out;
		}
	}
	/* then the keys the table no longer has (collected first: deleting while walking an
	 * LPM trie restarts the walk) */
	stale = calloc(HB_PATHS_MAX + 1, sizeof(*stale));
	if (!stale) {
		rc = hb_bpf_errf(-ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	while (nstale <= HB_PATHS_MAX && !bpf_map_get_next_key(fd, prev, &next)) {
		bool keep = false;

		for (i = 0; i < t->n && !keep; i++) {
			path_key(&t->e[i].dest, &k);
			keep = !memcmp(&k, &next, sizeof(k));
		}
		if (!keep)
			stale[nstale++] = next;
		k = next;
		prev = &k;
	}
	for (i = 0; i < nstale; i++)
		bpf_map_delete_elem(fd, &stale[i]);
	rc = (int)t->n;
out:
	free(stale);
	return rc;
}

int hb_paths_map_sync(const struct hb_paths *t, char *err, size_t errlen)
{
	int fd, rc;

	fd = bpf_obj_get(hb_paths_pin_path());
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;	/* no policy with --idle auto */
		return hb_bpf_errf(-errno, err, errlen, "%s: %s", hb_paths_pin_path(), strerror(errno));
	}
	if (!path_map_ok(fd)) {
		close(fd);
		return hb_bpf_errf(-EINVAL, err, errlen, "%s: not hbkeep's paths map (of another version?)",
			    hb_paths_pin_path());
	}
	rc = map_fill(fd, t, err, errlen);
	close(fd);
	return rc;
}


/* ---- privileges, BTF, bpffs --------------------------------------------------------------- */

int hb_pol_check_caps(char *err, size_t errlen)
{
	if (hb_bpf_have_caps(HB_BPF_NEED_PERFMON | HB_BPF_NEED_NET_ADMIN))
		return 0;
	return hb_bpf_errf(-EPERM, err, errlen,
		    "not permitted: a cgroup policy needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON "
		    "(or CAP_SYS_ADMIN): run as root");
}

/* bpffs on /sys/fs/bpf (mounted here when root and it is not) and our directory in it. */
static int bpffs_ready(char *err, size_t errlen)
{
	struct statfs sfs;

	if (statfs(HB_POL_PIN_ROOT, &sfs) || (unsigned long)sfs.f_type != BPF_FS_MAGIC) {
		if (geteuid() != 0)
			return hb_bpf_errf(-ENOENT, err, errlen,
				    "bpffs is not mounted on %s (as root: mount -t bpf bpf %s)",
				    HB_POL_PIN_ROOT, HB_POL_PIN_ROOT);
		if (mount("bpf", HB_POL_PIN_ROOT, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "mode=0700"))
			return hb_bpf_errf(-errno, err, errlen,
				    "bpffs is not mounted on %s, and mounting it failed: %s",
				    HB_POL_PIN_ROOT, strerror(errno));
	}
	return make_pin_dirs(err, errlen);
}

/* Takes the policies' lock. Returns the fd to close, or -errno. */
int hb__pol_lock_dir(char *err, size_t errlen)
{
	int fd, rc = make_pin_dirs(err, errlen);

	if (rc)
		return rc;
	fd = open(HB_POL_PIN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hb_bpf_errf(-errno, err, errlen, "%s: %s", HB_POL_PIN_DIR, strerror(errno));
	while (flock(fd, LOCK_EX)) {
		if (errno != EINTR) {
			int rc = -errno;

			close(fd);
			return hb_bpf_errf(rc, err, errlen, "flock %s: %s", HB_POL_PIN_DIR, strerror(-rc));
		}
	}
	return fd;
}

/* The directory of policy id: in the policies' directory, or where a previous version pinned
 * it (hb/pins.h) when only that one exists. */
static const char *pin_dir_of(uint64_t id)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%llu", HB_POL_PIN_DIR, (unsigned long long)id);
	if (stat(p, &st) == 0)
		return HB_POL_PIN_DIR;
	snprintf(p, sizeof(p), "%s/%llu", hb_pin_policy_legacy_dir(), (unsigned long long)id);
	if (stat(p, &st) == 0)
		return hb_pin_policy_legacy_dir();
	return HB_POL_PIN_DIR;
}

void hb__pol_pin_path(char *buf, size_t len, uint64_t id, const char *name)
{
	if (name)
		snprintf(buf, len, "%s/%llu/%s", pin_dir_of(id), (unsigned long long)id, name);
	else
		snprintf(buf, len, "%s/%llu", pin_dir_of(id), (unsigned long long)id);
}

/* A policy a previous version pinned moves into the policies' directory (a rename in bpffs:
 * the link, its attachment and the counters stay as they are). Under the lock. */
static int migrate_legacy(uint64_t id, char *err, size_t errlen)
{
	char from[PATH_MAX], to[PATH_MAX];

	if (pin_dir_of(id) == HB_POL_PIN_DIR)
		return 0;
	snprintf(from, sizeof(from), "%s/%llu", hb_pin_policy_legacy_dir(), (unsigned long long)id);
	snprintf(to, sizeof(to), "%s/%llu", HB_POL_PIN_DIR, (unsigned long long)id);
	if (rename(from, to))
		return hb_bpf_errf(-errno, err, errlen, "moving %s to %s: %s", from, to, strerror(errno));
	return 0;
}


/* Removes the policy's directory and whatever is in it. */
int hb__pol_unpin_all(uint64_t id)
{
	char dir[PATH_MAX], p[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	hb__pol_pin_path(dir, sizeof(dir), id, NULL);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p) && errno != ENOENT && !rc)
			rc = -errno;
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT && !rc)
		rc = -errno;
	return rc;
}

/* Start time of a process (/proc/PID/stat field 22), 0 when it is gone. */
uint64_t hb__pol_proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* comm may hold spaces and parentheses */
	if (!p)
		return 0;
	/* after ") ": field 3 (state) ... field 22 (starttime) */
	for (i = 3, p++; i <= 22 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
		if (i == 22 && p)
			v = strtoull(p, NULL, 10);
	}
	return v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- add ---------------------------------------------------------------------------------- */

static int load_err(int rc, char *err, size_t errlen)
{
	if (rc == -EPERM)	/* lacking capabilities, HB_BPF_DENY, or the kernel refuses */
		return hb_bpf_load_err(rc, "sockops_policy", "sockops",
				       HB_BPF_NEED_PERFMON | HB_BPF_NEED_NET_ADMIN, err, errlen);
	if (rc == -EACCES || rc == -EINVAL)
		return hb_bpf_errf(rc, err, errlen, "the kernel's verifier rejected the program (%s; "
			    "HB_DEBUG=1 shows its log)", strerror(-rc));
	return hb_bpf_errf(rc, err, errlen, "loading the BPF program: %s (HB_DEBUG=1 shows libbpf's "
		    "log)", strerror(-rc));
}

/* Runs the retrofit iterator once over this network namespace's sockets (it writes no
 * output: the outcomes are in the counters). Returns 0 or -errno with a message in err. */
static int retrofit(struct policy_bpf *skel, char *err, size_t errlen)
{
	struct bpf_link *link;
	char buf[64];
	ssize_t got;
	int fd, rc = 0;

	link = bpf_program__attach_iter(skel->progs.iter_tcp_retrofit, NULL);
	if (!link)
		return hb_bpf_errf(-errno, err, errlen, "--retrofit: iter/tcp: %s", strerror(errno));
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		rc = hb_bpf_errf(-errno, err, errlen, "--retrofit: iterator: %s", strerror(errno));
		goto cleanup;
	}
	for (;;) {
		got = read(fd, buf, sizeof(buf));
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			rc = hb_bpf_errf(-errno, err, errlen, "--retrofit: reading the iterator: %s",
				  strerror(errno));
		if (got <= 0)
			break;
	}
	close(fd);
cleanup:
	bpf_link__destroy(link);
	return rc;
}

/* Sums the per-CPU counters of the stats map fd. Returns 0 or -errno. */
int hb__pol_read_stats(int fd, struct hb_pol_stats *out)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct hb_pol_stats *v;
	__u32 key = 0;

	memset(out, 0, sizeof(*out));
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, v)) {
		int rc = -errno;

		free(v);
		return rc;
	}
	for (i = 0; i < ncpu; i++) {
		out->seen += v[i].seen;
		out->matched += v[i].matched;
		out->applied += v[i].applied;
		out->kept += v[i].kept;
		out->failed += v[i].failed;
		out->retrofitted += v[i].retrofitted;
		out->skipped_inner += v[i].skipped_inner;
		out->listeners += v[i].listeners;
		if (v[i].last_err)
			out->last_err = v[i].last_err;
	}
	free(v);
	return 0;
}

/* The value size of a map, 0 when unknown. */
static __u32 map_value_size(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.value_size;
}

void hb__pol_link_ids(int link_fd, uint32_t *link_id, uint32_t *prog_id, uint64_t *cg_id)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(link_fd, &info, &len))
		return;
	if (link_id)
		*link_id = info.id;
	if (prog_id)
		*prog_id = info.prog_id;
	if (cg_id && info.type == BPF_LINK_TYPE_CGROUP)
		*cg_id = info.cgroup.cgroup_id;
}

int hb_pol_add(const struct hb_pol_cfg *cfg, const char *cgroup_abs, uint64_t cgroup_id,
	       unsigned level, const char *match_text, unsigned flags,
	       struct hb_pol_add_res *res, char *err, size_t errlen)
{
	char dir[PATH_MAX], p_link[PATH_MAX], p_stats[PATH_MAX], p_meta[PATH_MAX];
	char p_sk[PATH_MAX], p_solink[PATH_MAX];
	int lock_fd, cg_fd = -1, link_fd = -1, stats_fd = -1, meta_fd = -1, sk_fd = -1, rc;
	int solink_fd = -1, paths_fd = -1, denied;
	struct policy_bpf *skel = NULL;
	struct bpf_link *link = NULL, *solink = NULL;
	struct hb_pol_meta *meta;
	struct hb_pol_cfg c = *cfg;
	bool replace = false, made_dir = false;
	struct hb_pol_stats before, after;
	int retro_rc = 0;
	__u32 key = 0;

	memset(res, 0, sizeof(*res));
	meta = calloc(1, sizeof(*meta));
	if (!meta)
		return hb_bpf_errf(-ENOMEM, err, errlen, "out of memory");
	rc = hb_pol_check_caps(err, errlen);
	if (rc)
		goto out_free;
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		rc = hb_bpf_errf(-EOPNOTSUPP, err, errlen,
			  "the kernel has no BTF (/sys/kernel/btf/vmlinux): the policy's program "
			  "needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		goto out_free;
	}
	rc = bpffs_ready(err, errlen);
	if (rc)
		goto out_free;
	lock_fd = hb__pol_lock_dir(err, errlen);
	if (lock_fd < 0) {
		rc = lock_fd;
		goto out_free;
	}

	c.cgroup_id = cgroup_id;
	c.cgroup_level = level;
	rc = migrate_legacy(cgroup_id, err, errlen);
	if (rc)
		goto cleanup;
	hb__pol_pin_path(dir, sizeof(dir), cgroup_id, NULL);
	hb__pol_pin_path(p_link, sizeof(p_link), cgroup_id, "link");
	hb__pol_pin_path(p_stats, sizeof(p_stats), cgroup_id, "stats");
	hb__pol_pin_path(p_meta, sizeof(p_meta), cgroup_id, "meta");
	hb__pol_pin_path(p_sk, sizeof(p_sk), cgroup_id, "sk");
	hb__pol_pin_path(p_solink, sizeof(p_solink), cgroup_id, "sockopt_link");

	link_fd = bpf_obj_get(p_link);
	if (link_fd >= 0) {
		stats_fd = bpf_obj_get(p_stats);
		meta_fd = bpf_obj_get(p_meta);
		if (stats_fd < 0 || meta_fd < 0 ||
		    map_value_size(stats_fd) != sizeof(struct hb_pol_stats) ||
		    map_value_size(meta_fd) != sizeof(*meta) ||
		    bpf_map_lookup_elem(meta_fd, &key, meta) || meta->version != HB_POL_META_VERSION) {
			/* half made or of another version: start afresh (the old link goes) */
			bpf_link_detach(link_fd);
			close(link_fd);
			link_fd = -1;
			if (stats_fd >= 0)
				close(stats_fd);
			if (meta_fd >= 0)
				close(meta_fd);
			stats_fd = meta_fd = -1;
			memset(meta, 0, sizeof(*meta));
		}
	}
	replace = link_fd >= 0;
	if (replace && (flags & HB_POL_ADD_NO_REPLACE)) {
		rc = hb_bpf_errf(-EEXIST, err, errlen,
			  "%.300s has a policy already (id %llu); without --no-replace it is "
			  "replaced", cgroup_abs, (unsigned long long)cgroup_id);
		goto cleanup;
	}
	if (!replace) {
		rc = hb__pol_unpin_all(cgroup_id);	/* leftovers of a crash, if any */
		if (rc) {
			rc = hb_bpf_errf(rc, err, errlen, "%s: %s", dir, strerror(-rc));
			goto cleanup;
		}
	}

	if (replace) {
		/* the records of who set what carry over too (a policy of an older version
		 * has none: a new map is pinned) */
		sk_fd = bpf_obj_get(p_sk);
		if (sk_fd >= 0 && map_value_size(sk_fd) != sizeof(struct hb_pol_sk)) {
			close(sk_fd);
			sk_fd = -1;
			unlink(p_sk);
		}
		solink_fd = bpf_obj_get(p_solink);
	}
	if (getenv("HB_TEST_NO_SOCKOPT")) {
		/* the tests' way to see the fallback on a kernel that has no need of it */
		res->no_record = true;
		snprintf(res->note, sizeof(res->note), "refused (HB_TEST_NO_SOCKOPT)");
	}

	if (c.flags & HB_POL_F_IDLE_AUTO) {
		/* --idle auto: the one paths map every such policy shares (paths add/rm/learn
		 * keep it in step with the table); made and pinned by the first */
		paths_fd = bpf_obj_get(hb_paths_pin_path());
		if (paths_fd >= 0 && !path_map_ok(paths_fd)) {
			close(paths_fd);
			paths_fd = -1;
			unlink(hb_paths_pin_path());	/* of another version: made afresh */
		}
	}

	for (;;) {
		skel = policy_bpf__open();
		if (!skel) {
			rc = load_err(-errno, err, errlen);
			goto cleanup;
		}
		memcpy((void *)&skel->rodata->targ_cfg, &c, sizeof(c));
		bpf_program__set_autoload(skel->progs.iter_tcp_retrofit,
					  !!(flags & HB_POL_ADD_RETROFIT));
		bpf_program__set_autoload(skel->progs.setsockopt_policy, !res->no_record);
		rc = 0;
		if (replace) {
			/* the counters and the metadata carry over; only the program changes */
			rc = bpf_map__reuse_fd(skel->maps.stats, stats_fd);
			if (!rc)
				rc = bpf_map__reuse_fd(skel->maps.meta, meta_fd);
			if (!rc && sk_fd >= 0)
				rc = bpf_map__reuse_fd(skel->maps.sk_rec, sk_fd);
			if (rc) {
				rc = hb_bpf_errf(rc, err, errlen, "reusing the pinned maps of policy %llu: "
					  "%s (policy rm it first)", (unsigned long long)cgroup_id,
					  strerror(-rc));
				goto cleanup;
			}
		}
		if (paths_fd >= 0 && (rc = bpf_map__reuse_fd(skel->maps.paths, paths_fd))) {
			rc = hb_bpf_errf(rc, err, errlen, "reusing %s: %s", hb_paths_pin_path(),
				  strerror(-rc));
			goto cleanup;
		}
		/* HB_BPF_DENY refuses a program as the kernel would (bpf_loader.h) */
		denied = hb_bpf_deny_check(skel->obj, err, errlen);
		rc = denied ? denied : policy_bpf__load(skel);
		if (!rc)
			break;
		if (res->no_record) {
			if (!denied)
				rc = load_err(rc, err, errlen);
			goto cleanup;
		}
		/* Without the cgroup setsockopt program (older kernels refuse it, or its
		 * SK_STORAGE use), the policy still works as it did before it existed. */
		res->no_record = true;
		if (denied)
			snprintf(res->note, sizeof(res->note), "not loaded: %s", err);
		else
			snprintf(res->note, sizeof(res->note), "not loaded: %s", strerror(-rc));
		policy_bpf__destroy(skel);
		skel = NULL;
	}
	if ((c.flags & HB_POL_F_IDLE_AUTO) && paths_fd < 0 &&
	    (rc = bpf_map__pin(skel->maps.paths, hb_paths_pin_path()))) {
		rc = hb_bpf_errf(rc, err, errlen, "pinning %s: %s", hb_paths_pin_path(), strerror(-rc));
		goto cleanup;
	}
	if (c.flags & HB_POL_F_IDLE_AUTO) {
		/* the table in the map before the program runs (and before a retrofit): a line
		 * that cannot be read is left out here; the caller says so */
		struct hb_paths t;
		char e2[HB_ERR_LEN];

		hb_paths_init(&t);
		hb_paths_load(hb_paths_file(NULL), &t, e2, sizeof(e2));
		rc = map_fill(bpf_map__fd(skel->maps.paths), &t, err, errlen);
		hb_paths_free(&t);
		if (rc < 0)
			goto cleanup;
		rc = 0;
	}

	/* metadata first, so that the policy is complete when its link appears */
	if (!replace) {
		meta->version = HB_POL_META_VERSION;
		meta->cgroup_id = cgroup_id;
		meta->created_ns = now_ns();
		if (flags & HB_POL_ADD_TRANSIENT) {
			meta->flags |= HB_POL_M_TRANSIENT;
			meta->owner_pid = (__u32)getpid();
			meta->owner_start = hb__pol_proc_start(getpid());
		}
	}
	meta->updated_ns = now_ns();
	meta->cfg = c;
	snprintf(meta->cgroup, sizeof(meta->cgroup), "%s", cgroup_abs);
	snprintf(meta->match, sizeof(meta->match), "%s", match_text ? match_text : "");
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.meta), &key, meta, BPF_ANY)) {
		rc = hb_bpf_errf(-errno, err, errlen, "writing the policy's metadata: %s", strerror(errno));
		goto cleanup;
	}

	if (replace) {
		if (bpf_link_update(link_fd, bpf_program__fd(skel->progs.sockops_policy), NULL)) {
			rc = hb_bpf_errf(-errno, err, errlen, "replacing the program of policy %llu: %s",
				  (unsigned long long)cgroup_id, strerror(errno));
			goto cleanup;
		}
		res->replaced = true;
		hb__pol_link_ids(link_fd, &res->link_id, &res->prog_id, NULL);
		if (sk_fd < 0) {
			rc = bpf_map__pin(skel->maps.sk_rec, p_sk);
			if (rc) {
				rc = hb_bpf_errf(rc, err, errlen, "pinning %s: %s", p_sk, strerror(-rc));
				goto cleanup;
			}
		}
		if (solink_fd >= 0 && !res->no_record &&
		    bpf_link_update(solink_fd, bpf_program__fd(skel->progs.setsockopt_policy),
				    NULL)) {
			res->no_record = true;
			snprintf(res->note, sizeof(res->note), "not replaced: %s", strerror(errno));
		}
		if (solink_fd >= 0 && res->no_record) {
			/* the old recorder would apply the old policy's --force: it goes */
			bpf_link_detach(solink_fd);
			unlink(p_solink);
		}
	} else {
		cg_fd = open(cgroup_abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg_fd < 0) {
			rc = hb_bpf_errf(-errno, err, errlen, "%.300s: %s", cgroup_abs, strerror(errno));
			goto cleanup;
		}
		if (mkdir(dir, 0700)) {
			rc = hb_bpf_errf(-errno, err, errlen, "%s: %s", dir, strerror(errno));
			goto cleanup;
		}
		made_dir = true;
		rc = bpf_map__pin(skel->maps.stats, p_stats);
		if (!rc)
			rc = bpf_map__pin(skel->maps.meta, p_meta);
		if (!rc)
			rc = bpf_map__pin(skel->maps.sk_rec, p_sk);
		if (rc) {
			rc = hb_bpf_errf(rc, err, errlen, "pinning under %s: %s", dir, strerror(-rc));
			goto cleanup;
		}
		link = bpf_program__attach_cgroup(skel->progs.sockops_policy, cg_fd);
		if (!link) {
			rc = -errno;
			rc = hb_bpf_errf(rc, err, errlen, "attaching to %.300s: %s%s", cgroup_abs,
				  strerror(-rc), rc == -EPERM ?
				  " (an ancestor cgroup has a sock_ops program without "
				  "BPF_F_ALLOW_MULTI?)" : "");
			goto cleanup;
		}
		rc = bpf_link__pin(link, p_link);
		if (rc) {
			rc = hb_bpf_errf(rc, err, errlen, "pinning %s: %s", p_link, strerror(-rc));
			goto cleanup;
		}
		hb__pol_link_ids(bpf_link__fd(link), &res->link_id, &res->prog_id, NULL);
	}
	if (!res->no_record && solink_fd < 0) {
		/* the recorder, beside the sock_ops link; the policy works without it */
		if (cg_fd < 0)
			cg_fd = open(cgroup_abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		solink = cg_fd >= 0 ? bpf_program__attach_cgroup(skel->progs.setsockopt_policy,
								 cg_fd) : NULL;
		if (!solink || bpf_link__pin(solink, p_solink)) {
			res->no_record = true;
			snprintf(res->note, sizeof(res->note), "not attached: %s", strerror(errno));
			if (solink) {
				bpf_link__destroy(solink);
				solink = NULL;
			}
		}
	}
	res->id = cgroup_id;

	if (flags & HB_POL_ADD_RETROFIT) {
		int sfd = bpf_map__fd(skel->maps.stats);
		bool counted = !hb__pol_read_stats(sfd, &before);

		/* the policy stays whatever happens here: an error is the retrofit's (res->id
		 * tells the caller that the policy is in place) */
		retro_rc = retrofit(skel, err, errlen);
		if (counted && !hb__pol_read_stats(sfd, &after)) {
			res->retrofit_applied = after.retrofitted - before.retrofitted;
			res->retrofit_failed = after.failed - before.failed;
		}
	}

cleanup:
	if (rc && !replace && made_dir) {
		if (link)
			bpf_link__unpin(link);
		hb__pol_unpin_all(cgroup_id);
	}
	if (link)
		bpf_link__destroy(link);	/* closes our fd; the pin keeps it attached */
	if (solink)
		bpf_link__destroy(solink);
	if (sk_fd >= 0)
		close(sk_fd);
	if (solink_fd >= 0)
		close(solink_fd);
	policy_bpf__destroy(skel);
	if (cg_fd >= 0)
		close(cg_fd);
	if (link_fd >= 0)
		close(link_fd);
	if (stats_fd >= 0)
		close(stats_fd);
	if (meta_fd >= 0)
		close(meta_fd);
	if (paths_fd >= 0)
		close(paths_fd);
	if (rc && (c.flags & HB_POL_F_IDLE_AUTO))
		hb__pol_unpin_paths_unused();
	close(lock_fd);
out_free:
	free(meta);
	return rc ? rc : retro_rc;
}

/* For hbctl doctor: loads (and frees) the policy program, as hb_pol_add() would, attaching
 * nothing. Returns 0 or -errno with a message in err. */
int hb_pol_probe(unsigned int opt, char *err, size_t errlen)
{
	struct policy_bpf *skel;
	int rc;

	skel = policy_bpf__open();
	if (!skel)
		return load_err(-errno, err, errlen);
	bpf_program__set_autoload(skel->progs.iter_tcp_retrofit, !!(opt & HB_POL_PROBE_RETROFIT));
	bpf_program__set_autoload(skel->progs.setsockopt_policy, !!(opt & HB_POL_PROBE_RECORDER));
	rc = hb_bpf_deny_check(skel->obj, err, errlen);
	if (!rc) {
		rc = policy_bpf__load(skel);
		if (rc && opt == HB_POL_PROBE_RECORDER)
			rc = hb_bpf_load_err(rc, "setsockopt_policy", "cgroup/setsockopt",
					     HB_BPF_NEED_PERFMON | HB_BPF_NEED_NET_ADMIN, err, errlen);
		else if (rc && opt == HB_POL_PROBE_RETROFIT)
			rc = hb_bpf_load_err(rc, "iter_tcp_retrofit", "iter/tcp",
					     HB_BPF_NEED_PERFMON | HB_BPF_NEED_NET_ADMIN, err, errlen);
		else if (rc)
			rc = load_err(rc, err, errlen);
	}
	policy_bpf__destroy(skel);
	return rc;
}
