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
#include <sys/syscall.h>

#include "hb/log.h"
#include "shim.h"

/*
 * The precomputed setsockopt() list on a fresh TCP socket. On x86-64 the calls are made as
 * raw system calls: no errno to save and restore (the kernel's return value never touches
 * it), no libc wrapper; that is most of what keeps socket() under 100 instructions beyond
 * libc's own (make bench). Elsewhere through real_setsockopt, errno preserved.
 */
static inline void apply_plan(int fd)
{
	const struct hb_sockopt *o = hb_cfg.plan, *end = hb_cfg.plan + hb_cfg.n;
#if defined(__x86_64__)
	for (; o < end; o++) {
		long ret;
		register long r10 __asm__("r10") = (long)&o->val;
		register long r8 __asm__("r8") = (long)sizeof(int);

		__asm__ volatile("syscall"
				 : "=a"(ret)
				 : "0"((long)SYS_setsockopt), "D"((long)fd), "S"((long)o->level),
				   "d"((long)o->optname), "r"(r10), "r"(r8)
				 : "rcx", "r11", "memory");
		(void)ret;	/* a failure (seccomp's EPERM, say) only costs the value */
	}
#else
	int saved = errno;

	for (; o < end; o++)
		real_setsockopt(fd, o->level, o->optname, &o->val, sizeof(int));
	errno = saved;
#endif
}

/* Everything but the fast path: first call (init), per-fd state, match lists, info line. */
static __attribute__((noinline)) int socket_slow(int domain, int type, int protocol)
{
	struct hb_shim_result res;
	_Atomic hb_fd_state *slot;
	int fd;

	if (!hb_shim_enter())
		return real_socket(domain, type, protocol);
	fd = real_socket(domain, type, protocol);
	if (fd < 0 || hb_cfg.noop)
		return fd;
	if (!hb_shim_is_tcp(domain, type, protocol)) {
		/* Not ours: forget what an fd closed behind our back (fclose, dup2) left. */
		if (hb_cfg.track && (slot = hb_fd_slot(fd)))
			atomic_store_explicit(slot, 0, memory_order_relaxed);
		return fd;
	}
	if (hb_cfg.fast) {
		apply_plan(fd);
		return fd;
	}
	if (hb_cfg.pol.has_match) {
		if ((slot = hb_fd_slot_make(fd)))
			atomic_store_explicit(slot, HB_FD_TCP, memory_order_relaxed);
		return fd;
	}
	if ((slot = hb_fd_slot_make(fd)))
		atomic_store_explicit(slot, HB_FD_TCP | HB_FD_MANAGED, memory_order_relaxed);
	if (!hb_log_enabled(HB_LOG_INFO)) {
		/* tracked only for HB_FORCE or HB_KEEPIDLE=auto: no line, no result needed */
		int saved = errno;

		apply_plan(fd);
		errno = saved;	/* hb_fd_slot_make() may have changed it */
		return fd;
	}
	hb_shim_run(fd, hb_cfg.plan, hb_cfg.n, 0, &hb_cfg.ops, &res);
	hb_shim_log_applied(fd, domain, NULL, 0, &res);
	return fd;
}

/*
 * The fast path: "is it TCP?", then the list computed at init. Anything else (not yet
 * initialised, per-fd tracking, a match list, the info log) goes to socket_slow(). Not TCP
 * and nothing tracked: a tail call to libc, a handful of instructions.
 */
HB_EXPORT int socket(int domain, int type, int protocol)
{
	int fd;

	if (__builtin_expect(!atomic_load_explicit(&hb_ready, memory_order_acquire), 0))
		return socket_slow(domain, type, protocol);
	if (!hb_shim_is_tcp(domain, type, protocol))
		return hb_cfg.track ? socket_slow(domain, type, protocol) :
				      real_socket(domain, type, protocol);
	if (!hb_cfg.fast)
		return socket_slow(domain, type, protocol);
	fd = real_socket(domain, type, protocol);
	if (fd >= 0)
		apply_plan(fd);
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

static __attribute__((noinline)) int close_slow(int fd)
{
	_Atomic hb_fd_state *slot;

	if (!hb_shim_enter())
		return real_close(fd);
	/* Before the real close: once closed, the number may be another thread's. */
	if (hb_cfg.track && (slot = hb_fd_slot(fd)))
		atomic_store_explicit(slot, 0, memory_order_relaxed);
	hb_shim_log_fd_closed(fd);
	return real_close(fd);
}

HB_EXPORT int close(int fd)
{
	if (__builtin_expect(atomic_load_explicit(&hb_ready, memory_order_acquire), 1) &&
	    !hb_cfg.track && fd != atomic_load_explicit(&hb_log_fd, memory_order_relaxed))
		return real_close(fd);
	return close_slow(fd);
}
