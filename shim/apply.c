// SPDX-License-Identifier: BSD-2-Clause
/*
 * The shim's decisions, free of interposition: which socket() calls are ours, which
 * setsockopt() calls a socket gets, when HB_FORCE replaces the application's own call, and
 * the log line. System calls go through struct hb_sys so that the unit tests pass fakes
 * (STYLE.md 7, seam 2). Nothing here touches global state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hb/log.h"
#include "shim.h"

int hb_shim_run(int fd, const struct hb_sockopt *plan, int n, unsigned int app,
		const struct hb_sys *ops, struct hb_shim_result *res)
{
	struct hb_shim_result r = { .err_v = HB_V__COUNT, .app = app };
	int saved = errno;
	int i;

	for (i = 0; i < n; i++) {
		int val = plan[i].val;

		r.calls++;
		if (ops->setsockopt(fd, plan[i].level, plan[i].optname, &val, sizeof(val)) == 0) {
			r.applied |= HB_BIT(plan[i].v);
			continue;
		}
		if (!r.failed++) {
			r.err = errno;
			r.err_v = plan[i].v;
		}
	}
	if (res)
		*res = r;
	errno = saved;
	return r.calls;
}

int hb_shim_apply(int fd, const struct hb_policy *pol, const struct hb_sysctl *sys,
		  unsigned int app, const struct hb_sys *ops, struct hb_shim_result *res)
{
	struct hb_sockopt plan[HB_V__COUNT];
	int n;

	app &= HB_ALL_BITS;
	/* lib decides HB_FORCE: without it the program's choices are skipped, with it they
	 * are set back. */
	n = hb_policy_plan(pol, sys, app, pol->force, plan);
	return hb_shim_run(fd, plan, n, pol->force ? 0 : app, ops, res);
}

bool hb_shim_force_value(const struct hb_policy *pol, const struct hb_sysctl *sys,
			 unsigned int state, int level, int optname, const void *optval,
			 socklen_t optlen, int *val)
{
	int v;

	if (!pol->force || !(state & HB_FD_MANAGED))
		return false;
	v = hb_sockopt_value(level, optname);
	if (v < 0 || v >= HB_V__COUNT)
		return false;
	/* A call the kernel would reject (EFAULT, EINVAL) keeps its error: pass it through. */
	if (!optval || optlen < sizeof(int))
		return false;
	return hb_policy_value(pol, sys, (enum hb_value)v, val);
}

unsigned int hb_shim_record(unsigned int state, int level, int optname)
{
	int v;

	if (!(state & HB_FD_TCP))
		return 0;
	v = hb_sockopt_value(level, optname);
	if (v < 0 || v >= HB_V__COUNT)
		return 0;
	return HB_BIT(v);
}

static bool inet_addr_ok(const struct sockaddr *sa, socklen_t len)
{
	if (!sa || len < sizeof(sa_family_t))
		return false;
	if (sa->sa_family == AF_INET)
		return len >= sizeof(struct sockaddr_in);
	if (sa->sa_family == AF_INET6)
		return len >= sizeof(struct sockaddr_in6);
	return false;
}

bool hb_shim_connect_wants(const struct hb_policy *pol, unsigned int state,
			   const struct sockaddr *addr, socklen_t len)
{
	if (!pol->has_match || (state & (HB_FD_TCP | HB_FD_MANAGED)) != HB_FD_TCP)
		return false;
	/* AF_UNSPEC (dissolve the association) and anything odd: not a destination. */
	if (!inet_addr_ok(addr, len))
		return false;
	return hb_policy_matches(pol, addr, len);
}

static int sockaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

enum hb_listen_decision hb_shim_listen_decide(int fd, const struct hb_policy *pol,
					      unsigned int state, const struct hb_sys *ops,
					      bool after_listen, struct sockaddr_storage *ss,
					      socklen_t *sslen)
{
	const struct sockaddr *sa = (const struct sockaddr *)ss;
	int saved = errno;
	int rc;

	if (!pol->has_match || (state & (HB_FD_TCP | HB_FD_MANAGED | HB_FD_DECIDED)) != HB_FD_TCP)
		return HB_LISTEN_NONE;
	memset(ss, 0, sizeof(*ss));
	*sslen = sizeof(*ss);
	rc = ops->getsockname(fd, (struct sockaddr *)ss, sslen);
	errno = saved;
	if (rc != 0 || *sslen > sizeof(*ss) || !inet_addr_ok(sa, *sslen))
		return HB_LISTEN_NONE;
	/* listen() binds an unbound socket to an ephemeral port: match that, not port 0. */
	if (!after_listen && sockaddr_port(sa) == 0)
		return HB_LISTEN_LATER;
	return hb_policy_matches(pol, sa, *sslen) ? HB_LISTEN_APPLY : HB_LISTEN_SKIP;
}

int hb_shim_describe_override(char *buf, size_t len, int fd, enum hb_value v, int val)
{
	return snprintf(buf, len, "fd %d: program set %s %d; HB_FORCE=1 overrides", fd,
			(unsigned int)v < HB_V__COUNT ? hb_value_info[v].optname_str : "?", val);
}

bool hb_shim_overrides(const struct hb_want *w, enum hb_value v, int val)
{
	return (unsigned int)v < HB_V__COUNT && (w->mask & HB_BIT(v)) &&
	       (v == HB_V_KEEPALIVE ? !val != !w->val[v] : val != w->val[v]);
}

/* Appends to buf[*off] like snprintf, keeping *off the would-be length. */
__attribute__((format(printf, 4, 5)))
static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*off < len ? buf + *off : NULL, *off < len ? len - *off : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n;
}

static void append_addr(char *buf, size_t len, size_t *off, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if (!inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host)))
			return;
		append(buf, len, off, " %s:%u", host, ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (!inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)))
			return;
		append(buf, len, off, " [%s]:%u", host, ntohs(in6->sin6_port));
	}
}

static void append_value(char *buf, size_t len, size_t *off, const char *name,
			 unsigned int app, enum hb_value v, int val, const char *unit)
{
	if (app & HB_BIT(v))
		append(buf, len, off, " %s (app)", name);
	else
		append(buf, len, off, " %s %d%s", name, val, unit);
}

int hb_shim_describe(char *buf, size_t len, int fd, int family, const struct sockaddr *addr,
		     socklen_t addrlen, const struct hb_policy *pol, const struct hb_sysctl *sys,
		     const struct hb_shim_result *res)
{
	struct hb_effective eff;
	size_t off = 0, mark;
	char ebuf[128];

	if (len)
		buf[0] = '\0';
	if (inet_addr_ok(addr, addrlen))
		family = addr->sa_family;
	else
		addr = NULL;
	append(buf, len, &off, "fd %d %s", fd,
	       family == AF_INET ? "inet" : family == AF_INET6 ? "inet6" : "?");
	if (addr)
		append_addr(buf, len, &off, addr);
	append(buf, len, &off, ":");
	mark = off;

	hb_policy_effective(pol, sys, &eff);
	if (eff.keepalive) {
		if (res->app & HB_BIT(HB_V_KEEPALIVE))
			append(buf, len, &off, " keepalive (app)");
		else
			append(buf, len, &off, " keepalive on");
		append_value(buf, len, &off, "idle", res->app, HB_V_IDLE, eff.idle_s, "");
		append_value(buf, len, &off, "intvl", res->app, HB_V_INTVL, eff.intvl_s, "");
		append_value(buf, len, &off, "cnt", res->app, HB_V_CNT, eff.cnt, "");
	}
	if (eff.user_timeout_ms > 0)
		append_value(buf, len, &off, "user_timeout", res->app, HB_V_USER_TIMEOUT,
			     eff.user_timeout_ms, "ms");
	if (off == mark)
		append(buf, len, &off, " nothing to change");
	append(buf, len, &off, " (%d setsockopt", res->calls);
	if (res->failed) {
		/* GNU strerror_r: thread-safe, may return a static string instead of ebuf. */
		const char *e = strerror_r(res->err, ebuf, sizeof(ebuf));

		append(buf, len, &off, ", %d failed: %s: %s", res->failed,
		       res->err_v < HB_V__COUNT ? hb_value_name(res->err_v) : "?", e);
	}
	append(buf, len, &off, ")");
	return off > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)off;
}

/* ---- HB_KEEPIDLE=auto ---------------------------------------------------------------------- */

static const char *env_value(hb_getenv_fn env, const char *name)
{
	const char *s = env(name);

	return s && *s ? s : NULL;	/* set but empty: unset, as for every HB_ variable */
}

int hb_shim_auto_env(hb_getenv_fn env, struct hb_shim_auto *a)
{
	static const char *const names[2] = { "HB_IDLE_DEFAULT", "HB_IDLE_MAX" };
	char err[HB_ERR_LEN];
	const char *s;
	int i, v, bad = 0;

	a->idle_default = HB_PATHS_IDLE_DEFAULT;
	a->idle_max = HB_PATHS_IDLE_MAX;
	s = env_value(env, "HB_KEEPIDLE");
	a->on = s && !strcasecmp(s, "auto");
	for (i = 0; i < 2; i++) {
		if (!(s = env_value(env, names[i])))
			continue;
		if (!a->on) {
			hb_log(HB_LOG_ERROR, "%s: goes with HB_KEEPIDLE=auto: ignored", names[i]);
			bad++;
		} else if (hb_parse_secs(s, HB_IDLE_MIN, HB_IDLE_MAX, &v, err, sizeof(err))) {
			hb_log(HB_LOG_ERROR, "%s: %s", names[i], err);
			bad++;
		} else {
			*(i ? &a->idle_max : &a->idle_default) = v;
		}
	}
	return bad;
}

enum hb_auto_decision hb_shim_auto_decide(const struct hb_paths *t, const struct hb_shim_auto *a,
					  bool force, unsigned int state,
					  const struct sockaddr *addr, socklen_t len, int *idle,
					  const struct hb_path **path)
{
	if ((state & (HB_FD_TCP | HB_FD_MANAGED | HB_FD_PATHED)) != (HB_FD_TCP | HB_FD_MANAGED))
		return HB_AUTO_NONE;
	/* The program's own TCP_KEEPIDLE wins unless HB_FORCE (DESIGN.md "The policy"). */
	if ((state & HB_BIT(HB_V_IDLE)) && !force)
		return HB_AUTO_NONE;
	if (!inet_addr_ok(addr, len))
		return HB_AUTO_NONE;
	*path = hb_paths_lookup(t, addr, len);
	*idle = hb_paths_idle(*path, a->idle_default, a->idle_max);
	return *idle == a->idle_default ? HB_AUTO_KEEP : HB_AUTO_SET;
}

/* "24 s", "24.500 s" */
static void append_secs(char *buf, size_t len, size_t *off, long long ms)
{
	if (ms % 1000)
		append(buf, len, off, "%lld.%03lld s", ms / 1000, ms % 1000);
	else
		append(buf, len, off, "%lld s", ms / 1000);
}

int hb_shim_describe_auto(char *buf, size_t len, int fd, const struct sockaddr *addr,
			  socklen_t addrlen, const struct hb_path *path, int idle, int err)
{
	char dest[80], ebuf[128];
	size_t off = 0;

	if (len)
		buf[0] = '\0';
	append(buf, len, &off, "fd %d", fd);
	if (inet_addr_ok(addr, addrlen))
		append_addr(buf, len, &off, addr);
	append(buf, len, &off, ": idle %d s", idle);
	if (!path) {
		append(buf, len, &off, ", no path entry (HB_IDLE_DEFAULT)");
	} else {
		hb_pattern_format(&path->dest, dest, sizeof(dest));
		append(buf, len, &off, " from path %s (", dest);
		if (path->dropped_ms >= 0) {
			append(buf, len, &off, "dropped ");
			append_secs(buf, len, &off, path->dropped_ms);
		} else {
			append(buf, len, &off, "survived ");
			append_secs(buf, len, &off, path->survived_ms);
			append(buf, len, &off, ", no drop: HB_IDLE_MAX");
		}
		append(buf, len, &off, ")");
	}
	if (err)
		append(buf, len, &off, ": setsockopt TCP_KEEPIDLE failed: %s",
		       strerror_r(err, ebuf, sizeof(ebuf)));
	return off > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)off;
}
