// SPDX-License-Identifier: BSD-2-Clause
/*
 * socket(): where a TCP socket becomes ours. Without a match list the policy is applied
 * right here, before the application can make its own setsockopt() calls (which therefore
 * win). With a match list it is only marked, and connect()/listen() decide.
 *
 * The fast path (no match list, no HB_FORCE, no info log) is "is it TCP?" and then the
 * setsockopt() list computed once at init (hb_cfg.plan): nothing is decided per socket.
 *
 * accept(), accept4() and close() only keep the per-fd table right (an fd number is reused
 * as soon as it is closed); they make no system call of their own.
 */
#include <errno.h>

#include "shim.h"

/* Everything but the fast path: per-fd state, match lists, the info line. */
static __attribute__((noinline)) void socket_slow(int fd, int domain)
{
	struct hb_shim_result res;
	_Atomic hb_fd_state *slot;

	if (hb_cfg.pol.has_match) {
		if ((slot = hb_fd_slot_make(fd)))
			atomic_store_explicit(slot, HB_FD_TCP, memory_order_relaxed);
		return;
	}
	if ((slot = hb_fd_slot_make(fd)))
		atomic_store_explicit(slot, HB_FD_TCP | HB_FD_MANAGED, memory_order_relaxed);
	hb_shim_run(fd, hb_cfg.plan, hb_cfg.n, 0, &hb_cfg.ops, &res);
	hb_shim_log_applied(fd, domain, NULL, 0, &res);
}

/* Not ours: forget what an fd closed behind our back (fclose, dup2) left. */
static __attribute__((noinline)) void socket_forget(int fd)
{
	_Atomic hb_fd_state *slot = hb_fd_slot(fd);

	if (slot)
		atomic_store_explicit(slot, 0, memory_order_relaxed);
}

HB_EXPORT int socket(int domain, int type, int protocol)
{
	int fd, i, *ep, saved;

	if (!hb_shim_enter())
		return real_socket(domain, type, protocol);
	fd = real_socket(domain, type, protocol);
	if (fd < 0 || hb_cfg.noop)
		return fd;
	if (!hb_shim_is_tcp(domain, type, protocol)) {
		if (hb_cfg.track)
			socket_forget(fd);
		return fd;
	}
	if (__builtin_expect(!hb_cfg.fast, 0)) {
		socket_slow(fd, domain);
		return fd;
	}
	/* The precomputed list; a failure (rare: EPERM from a seccomp filter) must not leak
	 * errno into the application. */
	ep = &errno;
	saved = *ep;
	for (i = 0; i < hb_cfg.n; i++)
		real_setsockopt(fd, hb_cfg.plan[i].level, hb_cfg.plan[i].optname,
				&hb_cfg.plan[i].val, sizeof(int));
	*ep = saved;
	return fd;
}

/* An accepted socket inherits the listener's keepalive options in the kernel; it is managed
 * (for HB_FORCE) when the listener is. */
static void accepted(int lfd, int fd)
{
	_Atomic hb_fd_state *lslot, *slot;
	unsigned int st;
	int saved;

	lslot = hb_fd_slot(lfd);
	st = lslot ? atomic_load_explicit(lslot, memory_order_relaxed) : 0;
	if (st & HB_FD_MANAGED) {
		saved = errno;
		slot = hb_fd_slot_make(fd);
		errno = saved;
		if (slot)
			atomic_store_explicit(slot, HB_FD_TCP | HB_FD_MANAGED, memory_order_relaxed);
	} else if ((slot = hb_fd_slot(fd))) {
		atomic_store_explicit(slot, 0, memory_order_relaxed);
	}
}

HB_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	int nfd;

	if (!hb_shim_enter())
		return real_accept(fd, addr, len);
	nfd = real_accept(fd, addr, len);
	if (nfd >= 0 && hb_cfg.track && !hb_cfg.noop)
		accepted(fd, nfd);
	return nfd;
}

HB_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int nfd;

	if (!hb_shim_enter())
		return real_accept4(fd, addr, len, flags);
	nfd = real_accept4(fd, addr, len, flags);
	if (nfd >= 0 && hb_cfg.track && !hb_cfg.noop)
		accepted(fd, nfd);
	return nfd;
}

HB_EXPORT int close(int fd)
{
	if (!hb_shim_enter())
		return real_close(fd);
	/* Before the real close: once closed, the number may be another thread's. */
	if (hb_cfg.track)
		socket_forget(fd);
	if (__builtin_expect(fd == atomic_load_explicit(&hb_log_fd, memory_order_relaxed), 0))
		hb_shim_log_fd_closed(fd);
	return real_close(fd);
}
