// SPDX-License-Identifier: BSD-2-Clause
/*
 * The keepalive configuration of other processes' sockets, read and written through
 * pidfd_open(2) + pidfd_getfd(2): we get our own fd to the very socket and call getsockopt /
 * setsockopt on it. The owner is never stopped. It needs PTRACE_MODE_ATTACH_REALCREDS over
 * the owner (same user, or CAP_SYS_PTRACE); values we cannot read stay HB_UNKNOWN.
 *
 * Source of a value: getsockopt(TCP_KEEPIDLE) returns tp->keepalive_time or, when that is 0,
 * the namespace sysctl; the raw field is not visible from user space. So a value equal to
 * the sysctl is reported as "sysctl": a socket explicitly set to the sysctl's value looks
 * the same, and behaves the same until someone changes the sysctl. (The BPF back end reads
 * the raw field and has no such ambiguity.)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "cli.h"
#include "hb/policy.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

#define MAX_OWNER_TRIES 4

static int sys_pidfd_open(int pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_getfd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

enum hb_sock_src hb_sock_src_guess(int value, int sysctl_value)
{
	if (value < 0 || sysctl_value < 0)
		return HB_SOCK_SRC_UNKNOWN;
	return value == sysctl_value ? HB_SOCK_SRC_SYSCTL : HB_SOCK_SRC_SOCKET;
}

static const struct hb_owner *owner_at(const struct hb_sock *s, unsigned int i)
{
	return i < HB_SOCK_OWNERS_INLINE ? &s->owner[i] : &s->more_owners[i - HB_SOCK_OWNERS_INLINE];
}

/* Our own fd to the socket owner o holds, checked to be the same socket (the owner may have
 * closed the fd and reused the number since /proc was read). Returns the fd or -errno. */
static int grab(int pidfd, const struct hb_owner *o, uint64_t inode)
{
	struct stat st;
	int fd = sys_pidfd_getfd(pidfd, o->fd);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode) || (uint64_t)st.st_ino != inode) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

static int getint(int fd, int level, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &len) < 0)
		return HB_UNKNOWN;
	return v;
}

static void read_config(struct hb_sock *s, int fd, const struct hb_sysctl *sys)
{
	s->keepalive = getint(fd, SOL_SOCKET, SO_KEEPALIVE);
	if (s->keepalive > 0)
		s->keepalive = 1;
	s->keepidle_s = getint(fd, IPPROTO_TCP, TCP_KEEPIDLE);
	s->keepintvl_s = getint(fd, IPPROTO_TCP, TCP_KEEPINTVL);
	s->keepcnt = getint(fd, IPPROTO_TCP, TCP_KEEPCNT);
	s->user_timeout_ms = getint(fd, IPPROTO_TCP, TCP_USER_TIMEOUT);
	s->src_idle = hb_sock_src_guess(s->keepidle_s, sys->idle_s);
	s->src_intvl = hb_sock_src_guess(s->keepintvl_s, sys->intvl_s);
	s->src_cnt = hb_sock_src_guess(s->keepcnt, sys->cnt);
	/* There is no sysctl for the user timeout (DESIGN.md): "socket" when set, else none. */
	s->src_uto = s->user_timeout_ms > 0 ? HB_SOCK_SRC_SOCKET : HB_SOCK_SRC_UNKNOWN;
}

struct item {
	int pid;
	size_t idx;
};

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int hb_pidfd_fill_config(struct hb_sock_list *l, struct hb_pidfd_stats *st)
{
	struct item *it;
	bool *done;
	size_t i, n;
	unsigned int round;
	int rc = 0;

	if (st)
		memset(st, 0, sizeof(*st));
	if (!l->n)
		return 0;
	it = calloc(l->n, sizeof(*it));
	done = calloc(l->n, sizeof(*done));
	if (!it || !done) {
		rc = -ENOMEM;
		goto out;
	}
	/* Round r tries each unread socket's r-th owner. Sorting by pid opens one pidfd per
	 * process and round, and keeps at most one open at a time. */
	for (round = 0; round < MAX_OWNER_TRIES; round++) {
		int pidfd = -1, cur = 0, perr = 0;

		for (i = 0, n = 0; i < l->n; i++)
			if (!done[i] && l->v[i].inode && l->v[i].n_owners > round)
				it[n++] = (struct item){ owner_at(&l->v[i], round)->pid, i };
		if (!n)
			break;
		qsort(it, n, sizeof(*it), item_cmp);
		for (i = 0; i < n; i++) {
			struct hb_sock *s = &l->v[it[i].idx];
			int fd;

			if (it[i].pid != cur) {
				if (pidfd >= 0)
					close(pidfd);
				cur = it[i].pid;
				pidfd = sys_pidfd_open(cur);
				perr = pidfd < 0 ? errno : 0;
			}
			if (pidfd < 0) {
				fd = -perr;
			} else {
				fd = grab(pidfd, owner_at(s, round), s->inode);
			}
			if (fd >= 0) {
				read_config(s, fd, &l->sysctl);
				close(fd);
				done[it[i].idx] = true;
			} else if ((fd == -EPERM || fd == -EACCES) && round == 0 && st) {
				st->denied++;
			}
		}
		if (pidfd >= 0)
			close(pidfd);
	}
out:
	free(it);
	free(done);
	return rc;
}

static int set_value_of(const struct hb_set_values *v, enum hb_value which)
{
	switch (which) {
	case HB_V_KEEPALIVE:
		return v->keepalive;
	case HB_V_IDLE:
		return v->idle_s;
	case HB_V_INTVL:
		return v->intvl_s;
	case HB_V_CNT:
		return v->cnt;
	default:
		return v->user_timeout_ms;
	}
}

/* Applies vals on our fd to the socket, in lib's one order (policy.h hb_value_order:
 * SO_KEEPALIVE last, so that switching it on arms the timer once, with the new idle time).
 * Returns 0 or -errno of the first failure. */
static int apply(int fd, const struct hb_set_values *v)
{
	unsigned int i;

	for (i = 0; i < HB_V__COUNT; i++) {
		enum hb_value which = hb_value_order[i];
		const struct hb_value_info *vi = &hb_value_info[which];
		int val;

		if (!(v->mask & HB_BIT(which)))
			continue;
		val = set_value_of(v, which);
		if (setsockopt(fd, vi->level, vi->optname, &val, sizeof(val)) < 0)
			return -errno;
	}
	return 0;
}

int hb_diag_set(const struct hb_sock *socks, size_t n, const struct hb_set_values *vals,
		struct hb_set_result *res)
{
	size_t i;
	unsigned int j;

	memset(res, 0, sizeof(*res));
	if (!n)
		return 0;
	res->fail = calloc(n, sizeof(*res->fail));
	if (!res->fail)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct hb_sock *s = &socks[i];
		int err = ESRCH, pid = 0;

		for (j = 0; j < s->n_owners && j < MAX_OWNER_TRIES; j++) {
			const struct hb_owner *o = owner_at(s, j);
			int pidfd, fd;

			pid = o->pid;
			pidfd = sys_pidfd_open(o->pid);
			if (pidfd < 0) {
				err = errno;
				continue;
			}
			fd = grab(pidfd, o, s->inode);
			close(pidfd);
			if (fd < 0) {
				err = -fd;
				continue;
			}
			err = -apply(fd, vals);
			close(fd);
			if (!err)
				break;
		}
		if (err) {
			res->fail[res->failed++] = (struct hb_set_failure){ s->cookie, err, pid };
		} else {
			res->changed++;
		}
	}
	return 0;
}
