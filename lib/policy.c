// SPDX-License-Identifier: BSD-2-Clause
/*
 * The policy: values from the user (environment or options), effective values against the
 * namespace sysctls, and the setsockopt() plan for a fresh socket.
 *
 * Environment decisions (DESIGN.md, "Shim contract"):
 * - For each value the first non-empty variable in precedence order decides: HB_*, then
 *   libkeepalive's, then libdontdie's. An empty variable counts as unset. A set but bad
 *   variable is reported and ignored; it does not fall through to a lower-precedence name
 *   (the user clearly meant the one they set; a silent fallback would hide the typo).
 * - The compat names take the forms their libraries took: plain seconds and counts
 *   (libkeepalive and libdontdie use atoi, so no units), and a boolean for KEEPALIVE and
 *   DD_USE_KEEPALIVE (libkeepalive's KEEPALIVE=off and libdontdie's 0/1 both parse).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hb/log.h"
#include "hb/policy.h"
#include "internal.h"

void hb_policy_init(struct hb_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->keepalive = 1;
}

/* Stores a parsed, valid value and marks it as the user's. */
static void store(struct hb_policy *p, enum hb_value v, int val)
{
	switch (v) {
	case HB_V_KEEPALIVE:
		p->keepalive = val;
		break;
	case HB_V_IDLE:
		p->idle_s = val;
		break;
	case HB_V_INTVL:
		p->intvl_s = val;
		break;
	case HB_V_CNT:
		p->cnt = val;
		break;
	default:
		p->user_timeout_ms = val;
		break;
	}
	p->set |= HB_BIT(v);
}

int hb_policy_set(struct hb_policy *p, enum hb_value v, const char *s, char *err, size_t errlen)
{
	bool b = false;
	int rc, val;

	switch (v) {
	case HB_V_KEEPALIVE:
		rc = hb_parse_bool(s, &b, err, errlen);
		val = b;
		break;
	case HB_V_IDLE:
		rc = hb_parse_secs(s, HB_IDLE_MIN, HB_IDLE_MAX, &val, err, errlen);
		break;
	case HB_V_INTVL:
		rc = hb_parse_secs(s, HB_INTVL_MIN, HB_INTVL_MAX, &val, err, errlen);
		break;
	case HB_V_CNT:
		rc = hb_parse_int(s, HB_CNT_MIN, HB_CNT_MAX, &val, err, errlen);
		break;
	case HB_V_USER_TIMEOUT:
		rc = hb_parse_msecs(s, 0, HB_UTO_MAX, &val, err, errlen);
		break;
	default:
		return hb__err(-EINVAL, err, errlen, "unknown value %d", (int)v);
	}
	if (rc)
		return rc;
	store(p, v, val);
	return 0;
}

int hb_policy_set_match(struct hb_policy *p, const char *s, char *err, size_t errlen)
{
	struct hb_match m;
	int rc;

	/* Parse aside so that a bad list leaves the old one in place. */
	rc = hb_match_parse(s, &m, err, errlen);
	if (rc)
		return rc;
	p->match = m;
	p->has_match = true;
	p->match_invalid = false;
	return 0;
}

/* Compat names: the plain forms their libraries accepted (see the top of this file). */
static int set_plain(struct hb_policy *p, enum hb_value v, const char *s, char *err,
		     size_t errlen)
{
	int rc, val;

	/* Booleans and counts have one form; only the durations lose their units here. */
	if (v != HB_V_IDLE && v != HB_V_INTVL)
		return hb_policy_set(p, v, s, err, errlen);
	if (v == HB_V_IDLE)
		rc = hb_parse_int(s, HB_IDLE_MIN, HB_IDLE_MAX, &val, err, errlen);
	else
		rc = hb_parse_int(s, HB_INTVL_MIN, HB_INTVL_MAX, &val, err, errlen);
	if (rc)
		return rc;
	store(p, v, val);
	return 0;
}

/* Per value, the variables in precedence order: HB_, libkeepalive, libdontdie. */
static const struct {
	enum hb_value v;
	const char *name[3];
} env_names[] = {
	{ HB_V_KEEPALIVE, { "HB_KEEPALIVE", "KEEPALIVE", "DD_USE_KEEPALIVE" } },
	{ HB_V_IDLE, { "HB_KEEPIDLE", "KEEPIDLE", "DD_TCP_KEEPALIVE_TIME" } },
	{ HB_V_INTVL, { "HB_KEEPINTVL", "KEEPINTVL", "DD_TCP_KEEPALIVE_INTVL" } },
	{ HB_V_CNT, { "HB_KEEPCNT", "KEEPCNT", "DD_TCP_KEEPALIVE_PROBES" } },
	{ HB_V_USER_TIMEOUT, { "HB_USER_TIMEOUT", NULL, NULL } },
};

static const char *default_getenv(const char *name)
{
	return secure_getenv(name);
}

/* NULL for unset and for empty: both mean "not given". */
static const char *env_get(hb_getenv_fn getenv_fn, const char *name)
{
	const char *s = getenv_fn(name);

	return s && *s ? s : NULL;
}

/*
 * Starts from hb_policy_init(): the result depends on the environment only. A NULL
 * getenv_fn means secure_getenv() (DESIGN.md: setuid programs must not be steerable).
 */
int hb_policy_from_env(struct hb_policy *p, hb_getenv_fn getenv_fn)
{
	char err[HB_ERR_LEN];
	const char *s;
	size_t i, j;
	int bad = 0;
	bool b = false;

	if (!getenv_fn)
		getenv_fn = default_getenv;
	hb_policy_init(p);
	for (i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++) {
		for (j = 0; j < 3 && env_names[i].name[j]; j++) {
			int rc;

			s = env_get(getenv_fn, env_names[i].name[j]);
			if (!s)
				continue;
			rc = j == 0 ? hb_policy_set(p, env_names[i].v, s, err, sizeof(err)) :
				      set_plain(p, env_names[i].v, s, err, sizeof(err));
			if (rc) {
				hb_log(HB_LOG_ERROR, "%s: %s", env_names[i].name[j], err);
				bad++;
			}
			break;	/* the first one set decides, good or bad */
		}
	}
	s = env_get(getenv_fn, "HB_MATCH");
	if (s && hb_policy_set_match(p, s, err, sizeof(err))) {
		/* An exclude list with one typo must not widen to every socket. */
		hb_log(HB_LOG_ERROR, "%s: %s: no socket is managed", "HB_MATCH", err);
		p->has_match = true;
		p->match_invalid = true;
		bad++;
	}
	s = env_get(getenv_fn, "HB_FORCE");
	if (s) {
		if (hb_parse_bool(s, &b, err, sizeof(err))) {
			hb_log(HB_LOG_ERROR, "%s: %s", "HB_FORCE", err);
			bad++;
		} else {
			p->force = b;
		}
	}
	return bad;
}

void hb_policy_effective(const struct hb_policy *p, const struct hb_sysctl *sys,
			 struct hb_effective *out)
{
	const unsigned int timing = HB_BIT(HB_V_IDLE) | HB_BIT(HB_V_INTVL) | HB_BIT(HB_V_CNT);
	/* With none of the timing values given, hbkeep's defaults apply (a dead peer noticed
	 * in ~2 min); once the user gives one, the rest come from the namespace, so that
	 * "HB_KEEPIDLE=30" changes only what it says. */
	enum hb_source fallback = p->set & timing ? HB_SRC_SYSCTL : HB_SRC_DEFAULT;
	struct hb_sysctl kdef;

	if (!sys) {
		hb_sysctl_default(&kdef);
		sys = &kdef;
	}
	memset(out, 0, sizeof(*out));

	if (p->set & HB_BIT(HB_V_KEEPALIVE)) {
		out->keepalive = p->keepalive;
		out->src[HB_V_KEEPALIVE] = HB_SRC_USER;
	} else {
		out->keepalive = 1;
		out->src[HB_V_KEEPALIVE] = HB_SRC_DEFAULT;
	}

#define EFFECTIVE(V, field, deflt)						\
	do {									\
		if (p->set & HB_BIT(V)) {					\
			out->field = p->field;					\
			out->src[V] = HB_SRC_USER;				\
		} else if (fallback == HB_SRC_DEFAULT) {			\
			out->field = (deflt);					\
			out->src[V] = HB_SRC_DEFAULT;				\
		} else {							\
			out->field = sys->field;				\
			out->src[V] = HB_SRC_SYSCTL;				\
		}								\
	} while (0)
	EFFECTIVE(HB_V_IDLE, idle_s, HB_DEFAULT_IDLE);
	EFFECTIVE(HB_V_INTVL, intvl_s, HB_DEFAULT_INTVL);
	EFFECTIVE(HB_V_CNT, cnt, HB_DEFAULT_CNT);
#undef EFFECTIVE

	if (p->set & HB_BIT(HB_V_USER_TIMEOUT)) {
		out->user_timeout_ms = p->user_timeout_ms;
		out->src[HB_V_USER_TIMEOUT] = HB_SRC_USER;
	} else {
		out->user_timeout_ms = 0;	/* the kernel's own behaviour */
		out->src[HB_V_USER_TIMEOUT] = HB_SRC_SYSCTL;
	}
}

static void add(struct hb_sockopt *out, int *n, enum hb_value v, int level, int optname, int val)
{
	out[*n].level = level;
	out[*n].optname = optname;
	out[*n].val = val;
	out[*n].v = v;
	(*n)++;
}

int hb_policy_plan(const struct hb_policy *p, const struct hb_sysctl *sys, unsigned int skip,
		   struct hb_sockopt out[HB_V__COUNT])
{
	struct hb_effective e;
	struct hb_sysctl kdef;
	int n = 0;

	if (!sys) {
		hb_sysctl_default(&kdef);
		sys = &kdef;
	}
	hb_policy_effective(p, sys, &e);
	if (e.keepalive) {
		/* A fresh socket has SO_KEEPALIVE off, so it is always needed. The timing
		 * values start as "the sysctl": a value equal to it costs a syscall for nothing. */
		if (!(skip & HB_BIT(HB_V_KEEPALIVE)))
			add(out, &n, HB_V_KEEPALIVE, SOL_SOCKET, SO_KEEPALIVE, 1);
		if (e.idle_s != sys->idle_s && !(skip & HB_BIT(HB_V_IDLE)))
			add(out, &n, HB_V_IDLE, IPPROTO_TCP, TCP_KEEPIDLE, e.idle_s);
		if (e.intvl_s != sys->intvl_s && !(skip & HB_BIT(HB_V_INTVL)))
			add(out, &n, HB_V_INTVL, IPPROTO_TCP, TCP_KEEPINTVL, e.intvl_s);
		if (e.cnt != sys->cnt && !(skip & HB_BIT(HB_V_CNT)))
			add(out, &n, HB_V_CNT, IPPROTO_TCP, TCP_KEEPCNT, e.cnt);
	}
	if (e.user_timeout_ms && !(skip & HB_BIT(HB_V_USER_TIMEOUT)))
		add(out, &n, HB_V_USER_TIMEOUT, IPPROTO_TCP, TCP_USER_TIMEOUT, e.user_timeout_ms);
	return n;
}

bool hb_policy_is_noop(const struct hb_policy *p)
{
	bool ka_off = (p->set & HB_BIT(HB_V_KEEPALIVE)) && !p->keepalive;
	bool uto = (p->set & HB_BIT(HB_V_USER_TIMEOUT)) && p->user_timeout_ms;

	return (ka_off && !uto) || p->match_invalid;
}

int hb_sockopt_value(int level, int optname)
{
	if (level == SOL_SOCKET)
		return optname == SO_KEEPALIVE ? (int)HB_V_KEEPALIVE : -1;
	if (level != IPPROTO_TCP)
		return -1;
	switch (optname) {
	case TCP_KEEPIDLE:
		return HB_V_IDLE;
	case TCP_KEEPINTVL:
		return HB_V_INTVL;
	case TCP_KEEPCNT:
		return HB_V_CNT;
	case TCP_USER_TIMEOUT:
		return HB_V_USER_TIMEOUT;
	}
	return -1;
}

bool hb_policy_value(const struct hb_policy *p, const struct hb_sysctl *sys, enum hb_value v,
		     int *val)
{
	struct hb_effective e;

	hb_policy_effective(p, sys, &e);
	switch (v) {
	case HB_V_KEEPALIVE:
		*val = e.keepalive;
		return true;
	case HB_V_IDLE:
	case HB_V_INTVL:
	case HB_V_CNT:
		/* With keepalive off the policy leaves the timing to the app. */
		if (!e.keepalive)
			return false;
		*val = v == HB_V_IDLE ? e.idle_s : v == HB_V_INTVL ? e.intvl_s : e.cnt;
		return true;
	case HB_V_USER_TIMEOUT:
		if (!(p->set & HB_BIT(HB_V_USER_TIMEOUT)))
			return false;
		*val = p->user_timeout_ms;
		return true;
	default:
		return false;
	}
}

bool hb_policy_matches(const struct hb_policy *p, const struct sockaddr *sa, socklen_t len)
{
	if (!p->has_match)
		return true;
	if (p->match_invalid)
		return false;
	return hb_match_sockaddr(&p->match, sa, len);
}

const char *hb_value_name(enum hb_value v)
{
	static const char *const names[HB_V__COUNT] = {
		[HB_V_KEEPALIVE] = "keepalive",
		[HB_V_IDLE] = "idle",
		[HB_V_INTVL] = "intvl",
		[HB_V_CNT] = "cnt",
		[HB_V_USER_TIMEOUT] = "user_timeout",
	};

	return (unsigned int)v < HB_V__COUNT ? names[v] : "?";
}

const char *hb_source_name(enum hb_source s)
{
	switch (s) {
	case HB_SRC_SYSCTL:
		return "sysctl";
	case HB_SRC_DEFAULT:
		return "default";
	case HB_SRC_USER:
		return "user";
	}
	return "?";
}
