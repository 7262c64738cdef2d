// SPDX-License-Identifier: BSD-2-Clause
/*
 * The loader of the per-cgroup policy (policy_bpf.h): the only file that includes
 * policy.skel.h. libbpf-bootstrap's sequence (open, set rodata, load, attach) with a cleanup:
 * that always destroys the skeleton; what outlives hbctl is pinned under /sys/fs/bpf/hbkeep/policy/<id>/
 * (hb_pin_policy_dir(); policies an older version pinned in /sys/fs/bpf/hb/<id>/ are still found).
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
#include "hb/policy_loader.h"
#include "policy_int.h"
#include "policy.skel.h"


/* The root and the policies' directory in it (0700: policies are root's). */
static int make_pin_dirs(char *err, size_t errlen)
{
	if (mkdir(hb_pin_root(), 0700) && errno != EEXIST)
		return hb_bpf_errf(-errno, err, errlen, "%s: %s", hb_pin_root(), strerror(errno));
	if (mkdir(hb_pin_policy_dir(), 0700) && errno != EEXIST)
		return hb_bpf_errf(-errno, err, errlen,
				   "%s: %s", hb_pin_policy_dir(), strerror(errno));
	return 0;
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

	if (statfs(HB_PIN_BPFFS, &sfs) || (unsigned long)sfs.f_type != BPF_FS_MAGIC) {
		if (geteuid() != 0)
			return hb_bpf_errf(-ENOENT, err, errlen,
				    "bpffs is not mounted on %s (as root: mount -t bpf bpf %s)",
				    HB_PIN_BPFFS, HB_PIN_BPFFS);
		if (mount("bpf", HB_PIN_BPFFS, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "mode=0700"))
			return hb_bpf_errf(-errno, err, errlen,
				    "bpffs is not mounted on %s, and mounting it failed: %s",
				    HB_PIN_BPFFS, strerror(errno));
	}
	return make_pin_dirs(err, errlen);
}

/* Takes the policies' lock. Returns the fd to close, or -errno. */
int hb__pol_lock_dir(char *err, size_t errlen)
{
	int fd, rc = make_pin_dirs(err, errlen);

	if (rc)
		return rc;
	fd = open(hb_pin_policy_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hb_bpf_errf(-errno, err, errlen,
				   "%s: %s", hb_pin_policy_dir(), strerror(errno));
	while (flock(fd, LOCK_EX)) {
		if (errno != EINTR) {
			int rc = -errno;

			close(fd);
			return hb_bpf_errf(rc, err, errlen,
					   "flock %s: %s", hb_pin_policy_dir(), strerror(-rc));
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

	snprintf(p, sizeof(p), "%s/%llu", hb_pin_policy_dir(), (unsigned long long)id);
	if (stat(p, &st) == 0)
		return hb_pin_policy_dir();
	snprintf(p, sizeof(p), "%s/%llu", hb_pin_policy_legacy_dir(), (unsigned long long)id);
	if (stat(p, &st) == 0)
		return hb_pin_policy_legacy_dir();
	return hb_pin_policy_dir();
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

	if (pin_dir_of(id) == hb_pin_policy_dir())
		return 0;
	snprintf(from, sizeof(from), "%s/%llu", hb_pin_policy_legacy_dir(), (unsigned long long)id);
	snprintf(to, sizeof(to), "%s/%llu", hb_pin_policy_dir(), (unsigned long long)id);
	if (rename(from, to))
		return hb_bpf_errf(-errno, err, errlen,
				   "moving %s to %s: %s", from, to, strerror(errno));
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
		return hb_bpf_errf(rc, err, errlen,
				   "the kernel's verifier rejected the program (%s; "
			    "HB_DEBUG=1 shows its log)", strerror(-rc));
	return hb_bpf_errf(rc, err, errlen,
			   "loading the BPF program: %s (HB_DEBUG=1 shows libbpf's "
		    "log)", strerror(-rc));
}

/* Runs the retrofit iterator once over this network namespace's sockets (it writes no
 * output: the outcomes are in the counters). Returns 0 or -errno with a message in err. */
static int retrofit(struct policy_bpf *skel, char *err, size_t errlen)
{
	struct bpf_link *link;
	char buf[64];
	int fd, rc;

	link = bpf_program__attach_iter(skel->progs.iter_tcp_retrofit, NULL);
	if (!link)
		return hb_bpf_errf(-errno, err, errlen, "retrofit: iter/tcp: %s",
				   strerror(errno));
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		rc = hb_bpf_errf(-errno, err, errlen, "retrofit: iterator: %s", strerror(errno));
		goto cleanup;
	}
	rc = hb_bpf_iter_read(fd, buf, sizeof(buf), 1, NULL, NULL);
	if (rc)
		rc = hb_bpf_errf(rc, err, errlen, "retrofit: reading the iterator: %s",
				 strerror(-rc));
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

/* What hb_pol_add() holds while it builds or replaces a policy: its steps below fill it, and
 * add_cleanup() releases it. */
struct pol_add {
	const char *cgroup_abs;
	uint64_t id;
	unsigned int flags;
	struct hb_pol_cfg c;
	struct hb_pol_meta *meta;
	struct hb_pol_add_res *res;
	char dir[PATH_MAX], p_link[PATH_MAX], p_stats[PATH_MAX], p_meta[PATH_MAX];
	char p_sk[PATH_MAX], p_solink[PATH_MAX];
	int cg_fd, link_fd, stats_fd, meta_fd, sk_fd, solink_fd, paths_fd;
	struct policy_bpf *skel;
	struct bpf_link *link, *solink;
	bool replace, made_dir;
};

/* Before the lock: privileges, BTF, bpffs and our directories in it. */
static int add_preflight(char *err, size_t errlen)
{
	int rc = hb_pol_check_caps(err, errlen);

	if (rc)
		return rc;
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return hb_bpf_errf(-EOPNOTSUPP, err, errlen,
				   "the kernel has no BTF (/sys/kernel/btf/vmlinux): the policy's "
				   "program needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
	return bpffs_ready(err, errlen);
}

/* The pins of the cgroup's policy, if it has one: a replacement reuses its maps (and the
 * recorder's link); a half-made one or one of another version goes. The shared paths map
 * for --idle auto. Under the lock. */
static int add_open_pins(struct pol_add *a, char *err, size_t errlen)
{
	__u32 key = 0;
	int rc;

	rc = migrate_legacy(a->id, err, errlen);
	if (rc)
		return rc;
	hb__pol_pin_path(a->dir, sizeof(a->dir), a->id, NULL);
	hb__pol_pin_path(a->p_link, sizeof(a->p_link), a->id, "link");
	hb__pol_pin_path(a->p_stats, sizeof(a->p_stats), a->id, "stats");
	hb__pol_pin_path(a->p_meta, sizeof(a->p_meta), a->id, "meta");
	hb__pol_pin_path(a->p_sk, sizeof(a->p_sk), a->id, "sk");
	hb__pol_pin_path(a->p_solink, sizeof(a->p_solink), a->id, "sockopt_link");

	a->link_fd = bpf_obj_get(a->p_link);
	if (a->link_fd >= 0) {
		a->stats_fd = bpf_obj_get(a->p_stats);
		a->meta_fd = bpf_obj_get(a->p_meta);
		if (a->stats_fd < 0 || a->meta_fd < 0 ||
		    map_value_size(a->stats_fd) != sizeof(struct hb_pol_stats) ||
		    map_value_size(a->meta_fd) != sizeof(*a->meta) ||
		    bpf_map_lookup_elem(a->meta_fd, &key, a->meta) ||
		    a->meta->version != HB_POL_META_VERSION) {
			/* half made or of another version: start afresh (the old link goes) */
			bpf_link_detach(a->link_fd);
			close(a->link_fd);
			a->link_fd = -1;
			if (a->stats_fd >= 0)
				close(a->stats_fd);
			if (a->meta_fd >= 0)
				close(a->meta_fd);
			a->stats_fd = a->meta_fd = -1;
			memset(a->meta, 0, sizeof(*a->meta));
		}
	}
	a->replace = a->link_fd >= 0;
	if (a->replace && (a->flags & HB_POL_ADD_NO_REPLACE))
		return hb_bpf_errf(-EEXIST, err, errlen,
				   "%.300s has a policy already (id %llu)", a->cgroup_abs,
				   (unsigned long long)a->id);
	if (!a->replace) {
		rc = hb__pol_unpin_all(a->id);	/* leftovers of a crash, if any */
		if (rc)
			return hb_bpf_errf(rc, err, errlen, "%s: %s", a->dir, strerror(-rc));
	}

	if (a->replace) {
		/* the records of who set what carry over too (a policy of an older version
		 * has none: a new map is pinned) */
		a->sk_fd = bpf_obj_get(a->p_sk);
		if (a->sk_fd >= 0 && map_value_size(a->sk_fd) != sizeof(struct hb_pol_sk)) {
			close(a->sk_fd);
			a->sk_fd = -1;
			unlink(a->p_sk);
		}
		a->solink_fd = bpf_obj_get(a->p_solink);
	}
	if (getenv("HB_TEST_NO_SOCKOPT")) {
		/* the tests' way to see the fallback on a kernel that has no need of it */
		a->res->no_record = true;
		snprintf(a->res->note, sizeof(a->res->note), "refused (HB_TEST_NO_SOCKOPT)");
	}

	if (a->c.flags & HB_POL_F_IDLE_AUTO) {
		/* --idle auto: the one paths map every such policy shares (paths add/rm/learn
		 * keep it in step with the table); made and pinned by the first */
		a->paths_fd = bpf_obj_get(hb_pin_paths());
		if (a->paths_fd >= 0 && !hb__pol_path_map_ok(a->paths_fd)) {
			close(a->paths_fd);
			a->paths_fd = -1;
			unlink(hb_pin_paths());	/* of another version: made afresh */
		}
	}
	return 0;
}

/* Opens the skeleton with the policy as rodata, reusing the pinned maps of a replaced policy
 * and the paths map. Returns 0, or -errno with a message. */
static int add_open_skel(struct pol_add *a, char *err, size_t errlen)
{
	struct policy_bpf *skel;
	int rc = 0;

	a->skel = skel = policy_bpf__open();
	if (!skel)
		return load_err(-errno, err, errlen);
	memcpy((void *)&skel->rodata->targ_cfg, &a->c, sizeof(a->c));
	bpf_program__set_autoload(skel->progs.iter_tcp_retrofit,
				  !!(a->flags & HB_POL_ADD_RETROFIT));
	bpf_program__set_autoload(skel->progs.setsockopt_policy, !a->res->no_record);
	if (a->replace) {
		/* the counters and the metadata carry over; only the program changes */
		rc = bpf_map__reuse_fd(skel->maps.stats, a->stats_fd);
		if (!rc)
			rc = bpf_map__reuse_fd(skel->maps.meta, a->meta_fd);
		if (!rc && a->sk_fd >= 0)
			rc = bpf_map__reuse_fd(skel->maps.sk_rec, a->sk_fd);
		if (rc)
			return hb_bpf_errf(rc, err, errlen,
					   "reusing the pinned maps of policy %llu: "
					   "%s (policy rm it first)", (unsigned long long)a->id,
					   strerror(-rc));
	}
	if (a->paths_fd >= 0 && (rc = bpf_map__reuse_fd(skel->maps.paths, a->paths_fd)))
		return hb_bpf_errf(rc, err, errlen, "reusing %s: %s", hb_pin_paths(),
				   strerror(-rc));
	return 0;
}

/* Loads the program: without the recorder when the kernel refuses it (a note in res says
 * so). Then the paths map of --idle auto, pinned and filled before the program runs. */
static int add_load(struct pol_add *a, char *err, size_t errlen)
{
	int rc, denied;

	for (;;) {
		rc = add_open_skel(a, err, errlen);
		if (rc)
			return rc;
		/* HB_BPF_DENY refuses a program as the kernel would (bpf_loader.h) */
		denied = hb_bpf_deny_check(a->skel->obj, err, errlen);
		rc = denied ? denied : policy_bpf__load(a->skel);
		if (!rc)
			break;
		if (a->res->no_record) {
			if (!denied)
				rc = load_err(rc, err, errlen);
			return rc;
		}
		/* Without the cgroup setsockopt program (older kernels refuse it, or its
		 * SK_STORAGE use), the policy still works as it did before it existed. */
		a->res->no_record = true;
		if (denied)
			snprintf(a->res->note, sizeof(a->res->note), "not loaded: %s", err);
		else
			snprintf(a->res->note, sizeof(a->res->note), "not loaded: %s",
				 strerror(-rc));
		policy_bpf__destroy(a->skel);
		a->skel = NULL;
	}
	if ((a->c.flags & HB_POL_F_IDLE_AUTO) && a->paths_fd < 0 &&
	    (rc = bpf_map__pin(a->skel->maps.paths, hb_pin_paths())))
		return hb_bpf_errf(rc, err, errlen, "pinning %s: %s", hb_pin_paths(),
				   strerror(-rc));
	if (a->c.flags & HB_POL_F_IDLE_AUTO) {
		/* the table in the map before the program runs (and before a retrofit): a line
		 * that cannot be read is left out here; the caller says so */
		struct hb_paths t;
		char e2[HB_ERR_LEN];

		hb_paths_init(&t);
		hb_paths_load(hb_paths_file(NULL), &t, e2, sizeof(e2));
		rc = hb__pol_map_fill(bpf_map__fd(a->skel->maps.paths), &t, err, errlen);
		hb_paths_free(&t);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The metadata, first, so that the policy is complete when its link appears. */
static int add_write_meta(struct pol_add *a, const char *match_text, char *err, size_t errlen)
{
	struct hb_pol_meta *meta = a->meta;
	__u32 key = 0;

	if (!a->replace) {
		meta->version = HB_POL_META_VERSION;
		meta->cgroup_id = a->id;
		meta->created_ns = now_ns();
		if (a->flags & HB_POL_ADD_TRANSIENT) {
			meta->flags |= HB_POL_M_TRANSIENT;
			meta->owner_pid = (__u32)getpid();
			meta->owner_start = hb__pol_proc_start(getpid());
		}
	}
	meta->updated_ns = now_ns();
	meta->cfg = a->c;
	snprintf(meta->cgroup, sizeof(meta->cgroup), "%s", a->cgroup_abs);
	snprintf(meta->match, sizeof(meta->match), "%s", match_text ? match_text : "");
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.meta), &key, meta, BPF_ANY))
		return hb_bpf_errf(-errno, err, errlen, "writing the policy's metadata: %s",
				   strerror(errno));
	return 0;
}

/* Swaps the new program into the pinned links: atomic for every socket of the cgroup. */
static int add_replace(struct pol_add *a, char *err, size_t errlen)
{
	struct hb_pol_add_res *res = a->res;
	int rc;

	if (bpf_link_update(a->link_fd, bpf_program__fd(a->skel->progs.sockops_policy), NULL))
		return hb_bpf_errf(-errno, err, errlen, "replacing the program of policy %llu: %s",
				   (unsigned long long)a->id, strerror(errno));
	res->replaced = true;
	hb__pol_link_ids(a->link_fd, &res->link_id, &res->prog_id, NULL);
	if (a->sk_fd < 0) {
		rc = bpf_map__pin(a->skel->maps.sk_rec, a->p_sk);
		if (rc)
			return hb_bpf_errf(rc, err, errlen, "pinning %s: %s", a->p_sk,
					   strerror(-rc));
	}
	if (a->solink_fd >= 0 && !res->no_record &&
	    bpf_link_update(a->solink_fd, bpf_program__fd(a->skel->progs.setsockopt_policy),
			    NULL)) {
		res->no_record = true;
		snprintf(res->note, sizeof(res->note), "not replaced: %s", strerror(errno));
	}
	if (a->solink_fd >= 0 && res->no_record) {
		/* the old recorder would apply the old policy's --force: it goes */
		bpf_link_detach(a->solink_fd);
		unlink(a->p_solink);
	}
	return 0;
}

/* A new policy: its directory, the maps pinned, the sock_ops program attached to the
 * cgroup and its link pinned (the pin keeps it attached after hbctl). */
static int add_attach(struct pol_add *a, char *err, size_t errlen)
{
	int rc;

	a->cg_fd = open(a->cgroup_abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->cg_fd < 0)
		return hb_bpf_errf(-errno, err, errlen, "%.300s: %s", a->cgroup_abs,
				   strerror(errno));
	if (mkdir(a->dir, 0700))
		return hb_bpf_errf(-errno, err, errlen, "%s: %s", a->dir, strerror(errno));
	a->made_dir = true;
	rc = bpf_map__pin(a->skel->maps.stats, a->p_stats);
	if (!rc)
		rc = bpf_map__pin(a->skel->maps.meta, a->p_meta);
	if (!rc)
		rc = bpf_map__pin(a->skel->maps.sk_rec, a->p_sk);
	if (rc)
		return hb_bpf_errf(rc, err, errlen, "pinning under %s: %s", a->dir, strerror(-rc));
	a->link = bpf_program__attach_cgroup(a->skel->progs.sockops_policy, a->cg_fd);
	if (!a->link) {
		rc = -errno;
		return hb_bpf_errf(rc, err, errlen, "attaching to %.300s: %s%s", a->cgroup_abs,
				   strerror(-rc), rc == -EPERM ?
				   " (an ancestor cgroup has a sock_ops program without "
				   "BPF_F_ALLOW_MULTI?)" : "");
	}
	rc = bpf_link__pin(a->link, a->p_link);
	if (rc)
		return hb_bpf_errf(rc, err, errlen, "pinning %s: %s", a->p_link, strerror(-rc));
	hb__pol_link_ids(bpf_link__fd(a->link), &a->res->link_id, &a->res->prog_id, NULL);
	return 0;
}

/* The recorder, beside the sock_ops link; the policy works without it (a note says why). */
static void add_recorder(struct pol_add *a)
{
	struct hb_pol_add_res *res = a->res;

	if (res->no_record || a->solink_fd >= 0)
		return;
	if (a->cg_fd < 0)
		a->cg_fd = open(a->cgroup_abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	a->solink = a->cg_fd >= 0 ?
		    bpf_program__attach_cgroup(a->skel->progs.setsockopt_policy, a->cg_fd) : NULL;
	if (!a->solink || bpf_link__pin(a->solink, a->p_solink)) {
		res->no_record = true;
		snprintf(res->note, sizeof(res->note), "not attached: %s", strerror(errno));
		if (a->solink) {
			bpf_link__destroy(a->solink);
			a->solink = NULL;
		}
	}
}

/* --retrofit: the sockets already there, counted. The policy stays whatever happens here:
 * an error is the retrofit's (res->id tells the caller that the policy is in place). */
static int add_retrofit(struct pol_add *a, char *err, size_t errlen)
{
	struct hb_pol_stats before, after;
	int sfd = bpf_map__fd(a->skel->maps.stats), rc;
	bool counted = !hb__pol_read_stats(sfd, &before);

	rc = retrofit(a->skel, err, errlen);
	if (counted && !hb__pol_read_stats(sfd, &after)) {
		a->res->retrofit_applied = after.retrofitted - before.retrofitted;
		a->res->retrofit_failed = after.failed - before.failed;
	}
	return rc;
}

/* Undoes what a failed (rc) add made and closes what it opened. */
static void add_cleanup(struct pol_add *a, int rc)
{
	if (rc && !a->replace && a->made_dir) {
		if (a->link)
			bpf_link__unpin(a->link);
		hb__pol_unpin_all(a->id);
	}
	if (a->link)
		bpf_link__destroy(a->link);	/* closes our fd; the pin keeps it attached */
	if (a->solink)
		bpf_link__destroy(a->solink);
	if (a->sk_fd >= 0)
		close(a->sk_fd);
	if (a->solink_fd >= 0)
		close(a->solink_fd);
	policy_bpf__destroy(a->skel);
	if (a->cg_fd >= 0)
		close(a->cg_fd);
	if (a->link_fd >= 0)
		close(a->link_fd);
	if (a->stats_fd >= 0)
		close(a->stats_fd);
	if (a->meta_fd >= 0)
		close(a->meta_fd);
	if (a->paths_fd >= 0)
		close(a->paths_fd);
	if (rc && (a->c.flags & HB_POL_F_IDLE_AUTO))
		hb__pol_unpin_paths_unused();
}

int hb_pol_add(const struct hb_pol_cfg *cfg, const char *cgroup_abs, uint64_t cgroup_id,
	       unsigned level, const char *match_text, unsigned flags,
	       struct hb_pol_add_res *res, char *err, size_t errlen)
{
	struct pol_add *a;
	int lock_fd, rc, retro_rc = 0;

	memset(res, 0, sizeof(*res));
	a = calloc(1, sizeof(*a));
	if (a)
		a->meta = calloc(1, sizeof(*a->meta));
	if (!a || !a->meta) {
		free(a);
		return hb_bpf_errf(-ENOMEM, err, errlen, "out of memory");
	}
	a->cgroup_abs = cgroup_abs;
	a->id = cgroup_id;
	a->flags = flags;
	a->res = res;
	a->c = *cfg;
	a->c.cgroup_id = cgroup_id;
	a->c.cgroup_level = level;
	a->cg_fd = a->link_fd = a->stats_fd = a->meta_fd = -1;
	a->sk_fd = a->solink_fd = a->paths_fd = -1;

	rc = add_preflight(err, errlen);
	if (rc)
		goto out_free;
	lock_fd = hb__pol_lock_dir(err, errlen);
	if (lock_fd < 0) {
		rc = lock_fd;
		goto out_free;
	}
	rc = add_open_pins(a, err, errlen);
	if (!rc)
		rc = add_load(a, err, errlen);
	if (!rc)
		rc = add_write_meta(a, match_text, err, errlen);
	if (!rc)
		rc = a->replace ? add_replace(a, err, errlen) : add_attach(a, err, errlen);
	if (!rc) {
		add_recorder(a);
		res->id = cgroup_id;
		if (flags & HB_POL_ADD_RETROFIT)
			retro_rc = add_retrofit(a, err, errlen);
	}
	add_cleanup(a, rc);
	close(lock_fd);
out_free:
	free(a->meta);
	free(a);
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
