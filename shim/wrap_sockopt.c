// SPDX-License-Identifier: BSD-2-Clause
/*
 * setsockopt(): the application's own SO_KEEPALIVE/TCP_KEEP* and TCP_USER_TIMEOUT choices.
 * By default they win: in match-list mode they are recorded so that connect()/listen() skip
 * them (in socket() mode our calls came first anyway), and at HB_LOG=info the first one on
 * a managed socket that differs from the policy is reported, once per socket:
 *   fd 5: program set TCP_KEEPIDLE 15; HB_FORCE=1 overrides
 * With HB_FORCE=1 a successful call on a managed socket is followed by one that puts the
 * policy's value back; the application gets its own call's result.
 */
#include <errno.h>
#include <string.h>

#include "hb/log.h"
#include "shim.h"

HB_EXPORT int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
{
	_Atomic hb_fd_state *slot;
	unsigned int st, bits;
	int ret, rc, val, saved, v;

	if (!hb_shim_enter())
		return real_setsockopt(fd, level, optname, optval, optlen);
	if (!hb_cfg.track || (v = hb_sockopt_value(level, optname)) < 0 ||
	    !(slot = hb_fd_slot(fd)))
		return real_setsockopt(fd, level, optname, optval, optlen);

	st = atomic_load_explicit(slot, memory_order_relaxed);
	if (hb_shim_force_value(&hb_cfg.pol, &hb_cfg.sys, st, level, optname, optval, optlen,
				&val)) {
		/*
		 * The application's own call runs first, so that it sees exactly what libc gives
		 * it (an invalid value still fails with EINVAL); only when it succeeded is the
		 * policy's value put back. One extra syscall, and only with HB_FORCE.
		 */
		ret = real_setsockopt(fd, level, optname, optval, optlen);
		if (ret != 0)
			return ret;
		saved = errno;
		/* HB_KEEPIDLE=auto: the policy's idle for this socket is its path's. */
		if (v == HB_V_IDLE && (st & HB_FD_PATHED))
			hb_shim_auto_force_idle(fd, &val);
		rc = real_setsockopt(fd, level, optname, &val, sizeof(val));
		hb_log(HB_LOG_DEBUG, "fd %d: HB_FORCE: %s %d instead of the application's value (%s)",
		       fd, hb_value_name((enum hb_value)v), val, rc == 0 ? "ok" : "failed");
		errno = saved;
		return ret;
	}
	ret = real_setsockopt(fd, level, optname, optval, optlen);
	if (ret != 0 || !(bits = hb_shim_record(st, level, optname)))
		return ret;
	st = atomic_fetch_or_explicit(slot, (hb_fd_state)bits, memory_order_relaxed);
	/* The program's choice wins over the policy on a socket we manage: say so, once. */
	if ((st & (HB_FD_MANAGED | HB_FD_TOLD)) == HB_FD_MANAGED && !hb_cfg.pol.force &&
	    optval && optlen >= sizeof(int)) {
		memcpy(&val, optval, sizeof(val));
		if (hb_shim_overrides(&hb_cfg.want, (enum hb_value)v, val) &&
		    !(atomic_fetch_or_explicit(slot, HB_FD_TOLD, memory_order_relaxed) &
		      HB_FD_TOLD)) {
			saved = errno;
			hb_shim_log_override(fd, (enum hb_value)v, val);
			errno = saved;
		}
	}
	return ret;
}
