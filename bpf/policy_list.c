// SPDX-License-Identifier: BSD-2-Clause
/*
 * Listing and removing the policies the loader (bpf/policy.c) pinned: `policy ls` reads the
 * pins of both the policies' directory and the place an older version used (hb/pins.h)
 * without a lock; `policy rm` detaches and unpins under the lock, and removes the transient
 * cgroup of `run --kernel`.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "hb/bpf_loader.h"
#include "hb/cgroup.h"
#include "hb/pins.h"
#include "hb/policy_loader.h"
#include "policy_int.h"

/* Unpins the paths map when no policy with --idle auto is left (unpin what we pin). Called
 * under the lock. */
void hb__pol_unpin_paths_unused(void)
{
	struct hb_pol_info *v;
	char err[128];
	size_t n, i;
	bool used = false;

	if (hb_pol_list(&v, &n, err, sizeof(err)))
		return;
	for (i = 0; i < n; i++)
		used |= v[i].state != HB_POL_BROKEN && (v[i].meta.cfg.flags & HB_POL_F_IDLE_AUTO);
	free(v);
	if (!used)
		unlink(hb_pin_paths());
}

/* ---- list --------------------------------------------------------------------------------- */

static void info_one(uint64_t id, struct hb_pol_info *pi)
{
	char p[PATH_MAX];
	uint64_t link_cg = UINT64_MAX, cur_id = 0;
	__u32 key = 0;
	int fd;

	memset(pi, 0, sizeof(*pi));
	pi->id = id;
	pi->state = HB_POL_BROKEN;
	hb__pol_pin_path(p, sizeof(p), id, "meta");
	fd = bpf_obj_get(p);
	if (fd < 0)
		return;
	if (bpf_map_lookup_elem(fd, &key, &pi->meta) || pi->meta.version != HB_POL_META_VERSION) {
		memset(&pi->meta, 0, sizeof(pi->meta));
		close(fd);
		return;
	}
	close(fd);
	hb__pol_pin_path(p, sizeof(p), id, "stats");
	fd = bpf_obj_get(p);
	if (fd >= 0) {
		hb__pol_read_stats(fd, &pi->stats);
		close(fd);
	}
	hb__pol_pin_path(p, sizeof(p), id, "link");
	fd = bpf_obj_get(p);
	if (fd < 0)
		return;
	hb__pol_link_ids(fd, &pi->link_id, &pi->prog_id, &link_cg);
	close(fd);

	pi->meta.cgroup[sizeof(pi->meta.cgroup) - 1] = '\0';
	pi->meta.match[sizeof(pi->meta.match) - 1] = '\0';
	/* The kernel detaches a cgroup's links when the cgroup is released (id 0 then); until
	 * then, a missing directory, or one of that name that is another cgroup, tells. */
	if (link_cg == 0 || hb_cgroup_id(pi->meta.cgroup, &cur_id) || cur_id != id) {
		pi->state = HB_POL_ORPHAN_GONE;
		return;
	}
	pi->state = HB_POL_ACTIVE;
	if (pi->meta.flags & HB_POL_M_TRANSIENT) {
		uint64_t st = hb__pol_proc_start((pid_t)pi->meta.owner_pid);

		if (!st || st != pi->meta.owner_start)
			pi->state = hb_cgroup_populated(pi->meta.cgroup) == 1 ? HB_POL_ORPHAN_OWNER :
									     HB_POL_ORPHAN_EMPTY;
	}
}

static int cmp_info(const void *a, const void *b)
{
	const struct hb_pol_info *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Adds the policies pinned in dir to *v (those not there already: a policy is listed once).
 * Returns 0 or -errno with a message. */
static int list_dir(const char *dir, struct hb_pol_info **v, size_t *cnt, size_t *cap,
		    char *err, size_t errlen)
{
	struct hb_pol_info *nv;
	struct dirent *de;
	char *end;
	DIR *d;
	uint64_t id;
	size_t i;

	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;	/* bpffs not mounted, or no policy ever: none */
		if (errno == EACCES || errno == EPERM)
			return hb_bpf_errf(-errno, err, errlen,
					   "%s: %s (policies are root's: run as root)",
				    dir, strerror(errno));
		return hb_bpf_errf(-errno, err, errlen, "%s: %s", dir, strerror(errno));
	}
	while ((de = readdir(d))) {
		errno = 0;
		id = strtoull(de->d_name, &end, 10);
		if (errno || *end || end == de->d_name)
			continue;
		for (i = 0; i < *cnt && (*v)[i].id != id; i++)
			;
		if (i < *cnt)
			continue;
		if (*cnt == *cap) {
			*cap = *cap ? 2 * *cap : 8;
			nv = realloc(*v, *cap * sizeof(**v));
			if (!nv) {
				closedir(d);
				return hb_bpf_errf(-ENOMEM, err, errlen, "out of memory");
			}
			*v = nv;
		}
		info_one(id, &(*v)[(*cnt)++]);
	}
	closedir(d);
	return 0;
}

int hb_pol_list(struct hb_pol_info **out, size_t *n, char *err, size_t errlen)
{
	struct hb_pol_info *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	/* the policies' directory, then where a previous version pinned them */
	rc = list_dir(hb_pin_policy_dir(), &v, &cnt, &cap, err, errlen);
	if (!rc)
		rc = list_dir(hb_pin_policy_legacy_dir(), &v, &cnt, &cap, err, errlen);
	if (rc) {
		free(v);
		return rc;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_info);
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- remove ------------------------------------------------------------------------------- */

int hb_pol_remove(uint64_t id, char *err, size_t errlen)
{
	char dir[PATH_MAX], p[PATH_MAX];
	struct hb_pol_meta *m;
	struct stat st;
	bool have_meta = false;
	__u32 key = 0;
	int lock_fd, fd, rc;

	hb__pol_pin_path(dir, sizeof(dir), id, NULL);
	if (stat(dir, &st)) {
		if (errno == EACCES || errno == EPERM)
			return hb_bpf_errf(-errno, err, errlen,
					   "%s: %s (policies are root's: run as root)",
				    dir, strerror(errno));
		return hb_bpf_errf(-ENOENT, err, errlen, "no policy %llu", (unsigned long long)id);
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return hb_bpf_errf(-ENOMEM, err, errlen, "out of memory");
	lock_fd = hb__pol_lock_dir(err, errlen);
	if (lock_fd < 0) {
		free(m);
		return lock_fd;
	}
	hb__pol_pin_path(p, sizeof(p), id, "meta");
	fd = bpf_obj_get(p);
	if (fd >= 0) {
		have_meta = !bpf_map_lookup_elem(fd, &key, m) && m->version == HB_POL_META_VERSION;
		close(fd);
	}
	hb__pol_pin_path(p, sizeof(p), id, "link");
	fd = bpf_obj_get(p);
	if (fd >= 0) {
		/* Detach now, even if some other process holds the link open: new connections
		 * get nothing from here on. A link whose cgroup is gone is detached already. */
		bpf_link_detach(fd);
		close(fd);
	}
	hb__pol_pin_path(p, sizeof(p), id, "sockopt_link");
	fd = bpf_obj_get(p);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	rc = hb__pol_unpin_all(id);
	if (rc) {
		rc = hb_bpf_errf(rc, err, errlen, "unpinning %s: %s", dir, strerror(-rc));
		goto out;
	}
	hb__pol_unpin_paths_unused();
	if (have_meta && (m->flags & HB_POL_M_TRANSIENT)) {
		m->cgroup[sizeof(m->cgroup) - 1] = '\0';
		rc = hb_cgroup_remove(m->cgroup, m->cgroup_id);
		if (rc)
			rc = hb_bpf_errf(rc, err, errlen,
					 "policy %llu removed, but not its cgroup %.300s: %s",
				  (unsigned long long)id, m->cgroup, strerror(-rc));
	}
out:
	close(lock_fd);
	free(m);
	return rc;
}

const char *hb_pol_state_name(enum hb_pol_state s)
{
	switch (s) {
	case HB_POL_ACTIVE:
		return "active";
	case HB_POL_ORPHAN_GONE:
	case HB_POL_ORPHAN_EMPTY:
	case HB_POL_ORPHAN_OWNER:
		return "orphan";
	case HB_POL_BROKEN:
		return "broken";
	}
	return "?";
}

const char *hb_pol_state_reason(enum hb_pol_state s)
{
	switch (s) {
	case HB_POL_ORPHAN_GONE:
		return "cgroup gone";
	case HB_POL_ORPHAN_EMPTY:
		return "cgroup empty, owner gone";
	case HB_POL_ORPHAN_OWNER:
		return "owner gone";
	case HB_POL_BROKEN:
		return "incomplete pins";
	default:
		return "";
	}
}

size_t hb_pol_open_records(int *fds, uint32_t *ids, size_t max)
{
	char p[PATH_MAX];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	d = opendir(hb_pin_policy_dir());
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		struct bpf_map_info info;
		uint32_t len = sizeof(info);
		int fd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "%s/%s/sk", hb_pin_policy_dir(), de->d_name);
		fd = bpf_obj_get(p);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
		    info.value_size != sizeof(struct hb_pol_sk)) {
			close(fd);
			continue;
		}
		ids[n] = info.id;
		fds[n++] = fd;
	}
	closedir(d);
	return n;
}
