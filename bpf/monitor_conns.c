// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl monitor's per-connection rows (monitor.h): reading the monitor's iterator (a map
 * iterator over the socket storage, or its iter/tcp fallback, which walks the namespace of
 * whoever creates the iterator: once per network namespace of the cgroup's processes), and,
 * for hbctl ls, the iterators every running monitor pins (a plain open + read); and the
 * per-peer map (a key walk: no map iterator needed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "hb/bpf_loader.h"
#include "hb/log.h"
#include "hb/monitor.h"
#include "monitor_int.h"

struct conns_acc {
	struct hb_mon_conn **v;
	size_t *n, *cap;
};

/* One record into the growing array (hb_bpf_rec_fn). */
static int conns_add(const void *rec, void *ctx)
{
	struct conns_acc *a = ctx;
	struct hb_mon_conn *nv;

	if (*a->n == *a->cap) {
		size_t c = *a->cap ? *a->cap * 2 : 64;

		nv = realloc(*a->v, c * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*a->v = nv;
		*a->cap = c;
	}
	memcpy(&(*a->v)[(*a->n)++], rec, sizeof(struct hb_mon_conn));
	return 0;
}

/* Reads the records of one iterator instance (fd) into *v. */
static int read_records(int fd, struct hb_mon_conn **v, size_t *n, size_t *cap)
{
	char buf[64 * sizeof(struct hb_mon_conn)];
	struct conns_acc a = { v, n, cap };

	return hb_bpf_iter_read(fd, buf, sizeof(buf), sizeof(struct hb_mon_conn), conns_add, &a);
}

/* The network namespaces (open fds, up to max) of the processes in cgroup dir and below,
 * except the one whose inode is self_ino; each namespace once. Returns how many. */
static size_t cgroup_netns(const char *dir, int depth, unsigned long self_ino, int *fds,
			   unsigned long *inos, size_t n, size_t max)
{
	char p[4352], line[32];
	struct dirent *d;
	struct stat st;
	size_t i;
	FILE *f;
	DIR *dp;
	int fd;

	snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
	f = fopen(p, "re");
	while (f && n < max && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(p, sizeof(p), "/proc/%s/ns/net", line);
		if (stat(p, &st) || (unsigned long)st.st_ino == self_ino)
			continue;
		for (i = 0; i < n && inos[i] != (unsigned long)st.st_ino; i++)
			;
		if (i < n)
			continue;
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		inos[n] = (unsigned long)st.st_ino;
		fds[n++] = fd;
	}
	if (f)
		fclose(f);
	if (depth >= 16 || !(dp = opendir(dir)))
		return n;
	while (n < max && (d = readdir(dp))) {
		if (d->d_type != DT_DIR || d->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, d->d_name);
		n = cgroup_netns(p, depth + 1, self_ino, fds, inos, n, max);
	}
	closedir(dp);
	return n;
}

/* Reads the iterator once in the current namespace and, when it is an iter/tcp one (which
 * walks the namespace of its creator) on a monitor of every namespace, once in each network
 * namespace of the cgroup's processes. Returns 0 or -errno. */
static int conns_read(struct hb_monitor *m, struct hb_mon_conn **v, size_t *n, size_t *cap)
{
	enum { MAX_NS = 256 };
	unsigned long inos[MAX_NS];
	int fds[MAX_NS], self, fd, e;
	size_t k, nns = 0;
	struct stat st;

	fd = bpf_iter_create(m->iter_fd);
	if (fd < 0)
		return -errno;
	e = read_records(fd, v, n, cap);
	close(fd);
	if (e || !(m->groups & G_ITER_TCP) || !m->all_netns)
		return e;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || fstat(self, &st)) {
		if (self >= 0)
			close(self);
		return 0;	/* the rows of this namespace only */
	}
	nns = cgroup_netns(m->cgroup, 0, (unsigned long)st.st_ino, fds, inos, 0, MAX_NS);
	for (k = 0; k < nns; k++) {
		if (!e && setns(fds[k], CLONE_NEWNET) == 0) {
			fd = bpf_iter_create(m->iter_fd);
			if (setns(self, CLONE_NEWNET))
				e = -errno;	/* cannot happen as root; stop rather than mix */
			if (fd >= 0) {
				if (!e)
					e = read_records(fd, v, n, cap);
				close(fd);
			}
		}
		close(fds[k]);
	}
	close(self);
	return e;
}

int hb_monitor_conns(struct hb_monitor *m, struct hb_mon_conn **v, size_t *n)
{
	size_t cap = 0;
	int e;

	*v = NULL;
	*n = 0;
	if (m->iter_fd < 0)
		return -EOPNOTSUPP;	/* no iterator loaded: the feature says why */
	e = conns_read(m, v, n, &cap);
	if (e) {
		free(*v);
		*v = NULL;
		*n = 0;
	}
	return e;
}

int hb_monitor_peers(struct hb_monitor *m, struct hb_mon_peer_row **v, size_t *n)
{
	struct hb_mon_peer_key k, next;
	struct hb_mon_peer_row *r;
	void *prev = NULL;
	size_t i = 0, steps = 0;

	*v = NULL;
	*n = 0;
	if (m->peers_fd < 0)
		return -EOPNOTSUPP;	/* the feature says why */
	r = calloc(HB_MON_PEERS_MAX, sizeof(*r));
	if (!r)
		return -ENOMEM;
	/* an entry evicted between two calls restarts the walk: the steps are bounded */
	while (i < HB_MON_PEERS_MAX && steps++ < 4 * HB_MON_PEERS_MAX &&
	       !bpf_map_get_next_key(m->peers_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(m->peers_fd, &k, &r[i].v))
			continue;	/* evicted meanwhile */
		r[i++].k = k;
	}
	*v = r;
	*n = i;
	return 0;
}

int hb_monitor_pinned_conns(struct hb_mon_conn **v, size_t *n)
{
	char p[300];
	struct dirent *d;
	size_t cap = 0;
	DIR *dp;
	long pid;
	char *end;
	int fd, e = 0;

	*v = NULL;
	*n = 0;
	dp = opendir(hb_pin_root());
	if (!dp)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	while ((d = readdir(dp))) {
		if (strcmp(d->d_name, "monitor") && strncmp(d->d_name, "monitor_", 8))
			continue;
		if (d->d_name[7] == '_') {
			pid = strtol(d->d_name + 8, &end, 10);
			if (*end || pid <= 0 || (kill((pid_t)pid, 0) && errno == ESRCH))
				continue;	/* a dead monitor's leftovers */
		}
		snprintf(p, sizeof(p), "%s/%s/conns", hb_pin_root(), d->d_name);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			/* a monitor without an iterator (refused by the kernel), or one starting */
			hb_log(HB_LOG_DEBUG, "monitor counters: %s: %s", p, strerror(errno));
			continue;
		}
		e = read_records(fd, v, n, &cap);
		close(fd);
		if (e == -ENOMEM)
			break;
		if (e) {
			/* one unreadable monitor does not hide the others */
			hb_log(HB_LOG_INFO, "monitor counters: reading %s: %s", p, strerror(-e));
			e = 0;
		}
	}
	closedir(dp);
	if (e) {
		free(*v);
		*v = NULL;
		*n = 0;
	}
	return e;
}
