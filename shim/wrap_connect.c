// SPDX-License-Identifier: BSD-2-Clause
/*
 * connect() and listen(): where a match list (HB_MATCH) decides. connect() matches the
 * remote address, listen() the local one (a wildcard bind is matched as the wildcard).
 * Without a match list both only forward.
 */
#include <errno.h>

#include "shim.h"

HB_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct hb_shim_result res;
	_Atomic uint8_t *slot;
	uint8_t st;
	int ret, saved;

	if (!hb_shim_enter())
		return real_connect(fd, addr, len);
	ret = real_connect(fd, addr, len);
	if (hb_cfg.noop || !hb_cfg.pol.has_match || !(slot = hb_fd_slot(fd)))
		return ret;
	saved = errno;
	/*
	 * Decide after the real call: only once the kernel accepted (addr, len) is it safe to
	 * read; a bad pointer must give the app EFAULT, not crash it in here. Keepalive options
	 * set on a connecting or established socket take effect at once.
	 */
	if (ret == 0 || saved == EINPROGRESS || saved == EINTR) {
		st = atomic_load_explicit(slot, memory_order_relaxed);
		if (hb_shim_connect_wants(&hb_cfg.pol, st, addr, len) &&
		    atomic_compare_exchange_strong_explicit(slot, &st, st | HB_FD_MANAGED,
							    memory_order_relaxed,
							    memory_order_relaxed)) {
			hb_shim_apply(fd, &hb_cfg.pol, &hb_cfg.sys, st & HB_FD_APP, &hb_cfg.ops,
				      &res);
			hb_shim_log_applied(fd, AF_UNSPEC, addr, len, &res);
		}
	}
	errno = saved;
	return ret;
}

static enum hb_listen_decision listen_step(int fd, _Atomic uint8_t *slot, bool after_listen)
{
	struct sockaddr_storage ss;
	struct hb_shim_result res;
	enum hb_listen_decision d;
	socklen_t sslen;
	uint8_t st;

	st = atomic_load_explicit(slot, memory_order_relaxed);
	d = hb_shim_listen_decide(fd, &hb_cfg.pol, st, &hb_cfg.ops, after_listen, &ss, &sslen);
	if (d == HB_LISTEN_SKIP) {
		atomic_compare_exchange_strong_explicit(slot, &st, st | HB_FD_DECIDED,
							memory_order_relaxed, memory_order_relaxed);
	} else if (d == HB_LISTEN_APPLY &&
		   atomic_compare_exchange_strong_explicit(slot, &st,
							   st | HB_FD_DECIDED | HB_FD_MANAGED,
							   memory_order_relaxed,
							   memory_order_relaxed)) {
		hb_shim_apply(fd, &hb_cfg.pol, &hb_cfg.sys, st & HB_FD_APP, &hb_cfg.ops, &res);
		hb_shim_log_applied(fd, AF_UNSPEC, (struct sockaddr *)&ss, sslen, &res);
	}
	return d;
}

HB_EXPORT int listen(int fd, int backlog)
{
	enum hb_listen_decision d;
	_Atomic uint8_t *slot;
	int ret, saved;

	if (!hb_shim_enter())
		return real_listen(fd, backlog);
	if (hb_cfg.noop || !hb_cfg.pol.has_match || !(slot = hb_fd_slot(fd)))
		return real_listen(fd, backlog);
	/* Before the real listen(), so that no connection is accepted without the options
	 * (accepted sockets inherit them from the listener). */
	saved = errno;
	d = listen_step(fd, slot, false);
	errno = saved;
	ret = real_listen(fd, backlog);
	if (d == HB_LISTEN_LATER && ret == 0) {
		/* It was unbound; listen() just gave it a port: decide on that address. */
		saved = errno;
		listen_step(fd, slot, true);
		errno = saved;
	}
	return ret;
}
