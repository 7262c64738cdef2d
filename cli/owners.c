// SPDX-License-Identifier: BSD-2-Clause
/*
 * Socket owners: which processes hold an fd to each socket. One pass over /proc/PID/fd,
 * each link looked up in an inode hash table built from the listed sockets, so that the cost
 * stays linear in sockets + fds (`ss -p` is quadratic: a 256-bucket hash, DESIGN.md).
 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

struct ino_map {
	uint64_t *key;		/* 0: empty slot (inode 0 is never looked up) */
	size_t *idx;
	size_t mask;
};

static inline size_t ino_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

static int map_init(struct ino_map *m, const struct hb_sock_list *l)
{
	size_t cap = 16, i, h;

	while (cap < 2 * l->n)
		cap *= 2;
	m->key = calloc(cap, sizeof(*m->key));
	m->idx = calloc(cap, sizeof(*m->idx));
	if (!m->key || !m->idx) {
		free(m->key);
		free(m->idx);
		return -ENOMEM;
	}
	m->mask = cap - 1;
	for (i = 0; i < l->n; i++) {
		uint64_t k = l->v[i].inode;

		if (!k)
			continue;
		for (h = ino_hash(k) & m->mask; m->key[h] && m->key[h] != k; h = (h + 1) & m->mask)
			;
		m->key[h] = k;
		m->idx[h] = i;
	}
	return 0;
}

static long map_get(const struct ino_map *m, uint64_t k)
{
	size_t h;

	for (h = ino_hash(k) & m->mask; m->key[h]; h = (h + 1) & m->mask)
		if (m->key[h] == k)
			return (long)m->idx[h];
	return -1;
}

static void read_comm(const char *procroot, const char *pid, char comm[16])
{
	char path[128];
	ssize_t n;
	int fd;

	comm[0] = 0;
	snprintf(path, sizeof(path), "%s/%s/comm", procroot, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, 15);
	close(fd);
	if (n <= 0) {
		comm[0] = 0;
		return;
	}
	comm[n] = 0;
	if (n > 0 && comm[n - 1] == '\n')
		comm[n - 1] = 0;
}

/* "socket:[12345]" -> 12345, 0 for anything else */
static uint64_t socket_inode(const char *link)
{
	uint64_t v = 0;
	const char *p;

	if (strncmp(link, "socket:[", 8) != 0)
		return 0;
	for (p = link + 8; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	return *p == ']' ? v : 0;
}

/* Joins the socket links of one fd directory to l's sockets. Returns the number of fds
 * listed (sockets or not), or -errno; the directory may be gone (the process exited). */
static long scan_fd_dir(struct hb_sock_list *l, const struct ino_map *m, const char *procroot,
			const char *pid_s, const char *path, bool *have_comm, char comm[16])
{
	char link[64];
	struct dirent *de;
	long nfd = 0, i;
	DIR *d;
	int pid = atoi(pid_s);

	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		ssize_t n;
		uint64_t ino;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		nfd++;
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		ino = socket_inode(link);
		if (!ino || (i = map_get(m, ino)) < 0)
			continue;
		if (!*have_comm) {
			read_comm(procroot, pid_s, comm);
			*have_comm = true;
		}
		if (hb_sock_add_owner(&l->v[i], pid, atoi(de->d_name), comm)) {
			nfd = -ENOMEM;
			break;
		}
	}
	closedir(d);
	return nfd;
}

/*
 * /proc/PID/fd shows the thread group leader's table. When the leader has exited and other
 * threads run on (pthread_exit() in main, a zombie leader), that directory is empty and the
 * live threads' /proc/PID/task/TID/fd hold the fds: the first such table is used (threads
 * share it unless one was created without CLONE_FILES).
 */
static int scan_pid(struct hb_sock_list *l, const struct ino_map *m, const char *procroot,
		    const char *pid_s, struct hb_owner_stats *st)
{
	char path[1024], comm[16];
	bool have_comm = false;
	struct dirent *de;
	long n;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s/fd", procroot, pid_s);
	n = scan_fd_dir(l, m, procroot, pid_s, path, &have_comm, comm);
	if (n == -EACCES || n == -EPERM) {
		if (st)
			st->procs_denied++;
		return 0;
	}
	if (n == -ENOMEM)
		return -ENOMEM;
	if (n != 0)
		return 0;	/* fds seen, or gone (ENOENT: the process exited meanwhile) */
	/* no fd at all: a kernel thread, or a zombie leader with live threads */
	snprintf(path, sizeof(path), "%s/%s/task", procroot, pid_s);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || strcmp(de->d_name, pid_s) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/task/%s/fd", procroot, pid_s, de->d_name);
		n = scan_fd_dir(l, m, procroot, pid_s, path, &have_comm, comm);
		if (n != 0 && n != -ENOENT)
			break;
	}
	closedir(d);
	return n == -ENOMEM ? -ENOMEM : 0;
}

int hb_owners_fill(struct hb_sock_list *l, const char *procroot, struct hb_owner_stats *st)
{
	struct ino_map m;
	struct dirent *de;
	DIR *d;
	int rc;

	if (st)
		memset(st, 0, sizeof(*st));
	if (!l->n)
		return 0;
	rc = map_init(&m, l);
	if (rc)
		return rc;
	d = opendir(procroot);
	if (!d) {
		rc = -errno;
		goto err_free;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		rc = scan_pid(l, &m, procroot, de->d_name, st);
		if (rc)
			break;
	}
	closedir(d);
err_free:
	free(m.key);
	free(m.idx);
	return rc;
}
