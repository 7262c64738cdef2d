// SPDX-License-Identifier: BSD-2-Clause
/*
 * connect() and listen(): where a match list (HB_MATCH) decides. connect() matches the
 * remote address, listen() the local one (a wildcard bind is matched as the wildcard).
 * With HB_KEEPIDLE=auto connect() also decides the idle from the remote address's path.
 * Otherwise both only forward.
 */
#include <errno.h>
#include <netinet/tcp.h>

#include "hb/log.h"
#include "shim.h"

/*
 * After the policy was applied with app (the values the program had set itself): the info
 * line naming the first of them the program set differently from the policy. getsockopt()
 * reads the program's value (only at HB_LOG=info, and only when it chose something).
 */
static void told_app(int fd, _Atomic hb_fd_state *slot, unsigned int app)
{
	int i, val;
	socklen_t len;

	if (!app || hb_cfg.pol.force || !hb_log_enabled(HB_LOG_INFO))
		return;
	for (i = 0; i < HB_V__COUNT; i++) {
		enum hb_value v = hb_value_order[i];

		len = sizeof(val);
		if (!(app & HB_BIT(v)) ||
		    getsockopt(fd, hb_value_info[v].level, hb_value_info[v].optname, &val, &len))
			continue;
		if (!hb_shim_overrides(&hb_cfg.want, v, val))
			continue;
		atomic_fetch_or_explicit(slot, HB_FD_TOLD, memory_order_relaxed);
		hb_shim_log_override(fd, v, val);
		return;
	}
}

static __attribute__((noinline)) void connect_match(int fd, const struct sockaddr *addr,
						    socklen_t len)
{
	struct hb_shim_result res;
	_Atomic hb_fd_state *slot;
	hb_fd_state st;
	int saved = errno;

	if (!(slot = hb_fd_slot(fd)))
		return;
	st = atomic_load_explicit(slot, memory_order_relaxed);
	if (hb_shim_connect_wants(&hb_cfg.pol, st, addr, len) &&
	    atomic_compare_exchange_strong_explicit(slot, &st, st | HB_FD_MANAGED,
						    memory_order_relaxed, memory_order_relaxed)) {
		hb_shim_apply(fd, &hb_cfg.pol, &hb_cfg.sys, st & HB_FD_APP, &hb_cfg.ops, &res);
		hb_shim_log_applied(fd, AF_UNSPEC, addr, len, &res);
		told_app(fd, slot, st & HB_FD_APP);
	}
	errno = saved;
}

/*
 * HB_KEEPIDLE=auto: the idle for addr's path (shim.h, hb_shim_auto_decide), once per socket.
 * The socket has HB_IDLE_DEFAULT already; one setsockopt() only when its path differs.
 */
static __attribute__((noinline)) void connect_auto(int fd, const struct sockaddr *addr,
						   socklen_t len)
{
	const struct hb_path *path = NULL;
	enum hb_auto_decision d;
	_Atomic hb_fd_state *slot;
	char line[300];
	int saved = errno, idle = 0, err = 0;

	if (!(slot = hb_fd_slot(fd)))
		return;
	d = hb_shim_auto_decide(&hb_cfg.paths, &hb_cfg.autoidle, hb_cfg.pol.force,
				atomic_load_explicit(slot, memory_order_relaxed), addr, len, &idle,
				&path);
	/* Two threads connecting one fd: the first decides. */
	if (d == HB_AUTO_NONE ||
	    (atomic_fetch_or_explicit(slot, HB_FD_PATHED, memory_order_relaxed) & HB_FD_PATHED)) {
		errno = saved;
		return;
	}
	if (d == HB_AUTO_SET &&
	    real_setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) != 0)
		err = errno;
	if (hb_log_enabled(HB_LOG_INFO)) {
		hb_shim_describe_auto(line, sizeof(line), fd, addr, len, path, idle, err);
		hb_log(HB_LOG_INFO, "%s", line);
	}
	errno = saved;
}

void hb_shim_auto_force_idle(int fd, int *idle)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int saved = errno;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 && len <= sizeof(ss))
		*idle = hb_paths_idle(hb_paths_lookup(&hb_cfg.paths, (struct sockaddr *)&ss, len),
				      hb_cfg.autoidle.idle_default, hb_cfg.autoidle.idle_max);
	errno = saved;
}

HB_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int ret;

	if (!hb_shim_enter())
		return real_connect(fd, addr, len);
	ret = real_connect(fd, addr, len);
	if (hb_cfg.noop)
		return ret;
	/*
	 * Decide after the real call: only once the kernel accepted (addr, len) is it safe to
	 * read; a bad pointer must give the app EFAULT, not crash it in here. Keepalive options
	 * set on a connecting or established socket take effect at once.
	 */
	if (hb_cfg.pol.has_match && (ret == 0 || errno == EINPROGRESS || errno == EINTR))
		connect_match(fd, addr, len);
	/* HB_KEEPIDLE=auto, under the same condition (the kernel accepted addr); after the
	 * match list, which has just made a matching socket managed. */
	if (hb_cfg.per_connect && (ret == 0 || errno == EINPROGRESS || errno == EINTR))
		connect_auto(fd, addr, len);
	return ret;
}

static enum hb_listen_decision listen_step(int fd, _Atomic hb_fd_state *slot, bool after_listen)
{
	struct sockaddr_storage ss;
	struct hb_shim_result res;
	enum hb_listen_decision d;
	socklen_t sslen;
	hb_fd_state st;

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
		told_app(fd, slot, st & HB_FD_APP);
	}
	return d;
}

HB_EXPORT int listen(int fd, int backlog)
{
	enum hb_listen_decision d;
	_Atomic hb_fd_state *slot;
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
