// SPDX-License-Identifier: BSD-2-Clause
/*
 * The policy: the one table of the five values, values from the user (environment or
 * options), effective values against the namespace sysctls, and the setsockopt() plan.
 *
 * Environment decisions (DESIGN.md, "Shim contract"):
 * - For each value the first non-empty variable in precedence order decides: HB_*, then
 *   libkeepalive's, then msantos/libkeepalive's, then libdontdie's. An empty variable counts
 *   as unset. A set but bad variable is reported and ignored; it does not fall through to a
 *   lower-precedence name (the user clearly meant the one they set; a silent fallback would
 *   hide the typo).
 * - The compat names take the forms their libraries took: plain seconds and counts (they use
 *   atoi, so no units), and a boolean for KEEPALIVE and DD_USE_KEEPALIVE (libkeepalive's
 *   KEEPALIVE=off and libdontdie's 0/1 both parse). msantos's 0 means "the system default"
 *   (the sysctl; for TCP_USER_TIMEOUT: none) and its TCP_USER_TIMEOUT=-1 "derive it".
 * - Values nobody set: hbkeep's defaults 60/10/6, one by one (HB_KEEPIDLE=30 gives 30/10/6).
 *   Once a compatibility library's names are used, that library's meaning applies to the
 *   values not set, as it did for its users: the sysctl for libkeepalive and libdontdie,
 *   15/15/9 and a user timeout of (idle + intvl * cnt) s for msantos/libkeepalive. Several
 *   libraries at once: the one first in precedence order.
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

/* Columns of hb_value_info[].env */
enum { ENV_HB, ENV_LIBKEEPALIVE, ENV_MSANTOS, ENV_LIBDONTDIE, ENV__COUNT };

const struct hb_value_info hb_value_info[HB_V__COUNT] = {
	[HB_V_KEEPALIVE] = { "keepalive", "SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, 0, 1,
			     { "HB_KEEPALIVE", "KEEPALIVE", NULL, "DD_USE_KEEPALIVE" } },
	[HB_V_IDLE] = { "idle", "TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE,
			HB_IDLE_MIN, HB_IDLE_MAX,
			{ "HB_KEEPIDLE", "KEEPIDLE", "TCP_KEEPIDLE", "DD_TCP_KEEPALIVE_TIME" } },
	[HB_V_INTVL] = { "intvl", "TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL,
			 HB_INTVL_MIN, HB_INTVL_MAX,
			 { "HB_KEEPINTVL", "KEEPINTVL", "TCP_KEEPINTVL", "DD_TCP_KEEPALIVE_INTVL" } },
	[HB_V_CNT] = { "cnt", "TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT, HB_CNT_MIN, HB_CNT_MAX,
		       { "HB_KEEPCNT", "KEEPCNT", "TCP_KEEPCNT", "DD_TCP_KEEPALIVE_PROBES" } },
	[HB_V_USER_TIMEOUT] = { "user_timeout", "TCP_USER_TIMEOUT", IPPROTO_TCP, TCP_USER_TIMEOUT,
				0, HB_UTO_MAX,
				{ "HB_USER_TIMEOUT", NULL, "TCP_USER_TIMEOUT", NULL } },
};

/* policy.h explains the order: SO_KEEPALIVE last. */
const enum hb_value hb_value_order[HB_V__COUNT] = {
	HB_V_IDLE, HB_V_INTVL, HB_V_CNT, HB_V_USER_TIMEOUT, HB_V_KEEPALIVE,
};

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
	const struct hb_value_info *vi;
	bool b = false;
	int rc, val;

	if ((unsigned int)v >= HB_V__COUNT)
		return hb__err(-EINVAL, err, errlen, "unknown value %d", (int)v);
	vi = &hb_value_info[v];
	switch (v) {
	case HB_V_KEEPALIVE:
		rc = hb_parse_bool(s, &b, err, errlen);
		val = b;
		break;
	case HB_V_CNT:
		rc = hb_parse_int(s, (int)vi->min, (int)vi->max, &val, err, errlen);
		break;
	case HB_V_USER_TIMEOUT:
		rc = hb_parse_msecs(s, vi->min, vi->max, &val, err, errlen);
		break;
	default:	/* idle, intvl: durations in whole seconds */
		rc = hb_parse_secs(s, (int)vi->min, (int)vi->max, &val, err, errlen);
		break;
	}
	if (rc)
		return rc;
	store(p, v, val);
	p->sysctl_set &= ~HB_BIT(v);
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

/*
 * Compat names: the plain forms their libraries accepted (see the top of this file).
 * Returns 0, 1 when the value means "leave it to the system" (msantos's 0, and its
 * TCP_USER_TIMEOUT=-1, "derive it"), or -errno.
 */
static int set_plain(struct hb_policy *p, enum hb_value v, int lib, const char *s, char *err,
		     size_t errlen)
{
	const struct hb_value_info *vi = &hb_value_info[v];
	int rc, val;

	/* Booleans have one form. */
	if (v == HB_V_KEEPALIVE)
		return hb_policy_set(p, v, s, err, errlen);
	if (lib == ENV_MSANTOS) {
		if (!strcmp(s, "0")) {
			p->sysctl_set |= HB_BIT(v);	/* "0: use the system default" */
			return 1;
		}
		if (v == HB_V_USER_TIMEOUT && !strcmp(s, "-1"))
			return 1;			/* "-1: derive from the others" */
	}
	rc = hb_parse_int(s, (int)(vi->min > 0 ? vi->min : 1), (int)vi->max, &val, err, errlen);
	if (rc)
		return rc;
	store(p, v, val);
	return 0;
}

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
	unsigned int used = 0;	/* bit per compat library whose names were used */
	const char *s, *name;
	int bad = 0, v, j;
	bool b = false;

	if (!getenv_fn)
		getenv_fn = default_getenv;
	hb_policy_init(p);
	for (v = 0; v < HB_V__COUNT; v++) {
		for (j = 0; j < ENV__COUNT; j++) {
			int rc;

			name = hb_value_info[v].env[j];
			if (!name || !(s = env_get(getenv_fn, name)))
				continue;
			rc = j == ENV_HB ? hb_policy_set(p, (enum hb_value)v, s, err, sizeof(err)) :
					   set_plain(p, (enum hb_value)v, j, s, err, sizeof(err));
			if (rc < 0) {
				hb_log(HB_LOG_ERROR, "%s: %s", name, err);
				bad++;
			} else if (j != ENV_HB) {
				used |= 1u << j;
			}
			break;	/* the first one set decides, good or bad */
		}
	}
	/* Values nobody set keep the meaning of the first library whose names were used. */
	if (used & (1u << ENV_LIBKEEPALIVE))
		p->defaults = HB_DEFAULTS_SYSCTL;
	else if (used & (1u << ENV_MSANTOS))
		p->defaults = HB_DEFAULTS_MSANTOS;
	else if (used & (1u << ENV_LIBDONTDIE))
		p->defaults = HB_DEFAULTS_SYSCTL;
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

/* The value of field v in an effective-values struct. */
static int *eff_field(struct hb_effective *e, enum hb_value v)
{
	switch (v) {
	case HB_V_KEEPALIVE:
		return &e->keepalive;
	case HB_V_IDLE:
		return &e->idle_s;
	case HB_V_INTVL:
		return &e->intvl_s;
	case HB_V_CNT:
		return &e->cnt;
	default:
		return &e->user_timeout_ms;
	}
}

static int policy_field(const struct hb_policy *p, enum hb_value v)
{
	switch (v) {
	case HB_V_KEEPALIVE:
		return p->keepalive;
	case HB_V_IDLE:
		return p->idle_s;
	case HB_V_INTVL:
		return p->intvl_s;
	case HB_V_CNT:
		return p->cnt;
	default:
		return p->user_timeout_ms;
	}
}

static int sysctl_field(const struct hb_sysctl *sys, enum hb_value v)
{
	return v == HB_V_IDLE ? sys->idle_s : v == HB_V_INTVL ? sys->intvl_s : sys->cnt;
}

void hb_policy_effective(const struct hb_policy *p, const struct hb_sysctl *sys,
			 struct hb_effective *out)
{
	static const int hbkeep[HB_V__COUNT] = {
		[HB_V_IDLE] = HB_DEFAULT_IDLE, [HB_V_INTVL] = HB_DEFAULT_INTVL,
		[HB_V_CNT] = HB_DEFAULT_CNT,
	};
	static const int msantos[HB_V__COUNT] = {
		[HB_V_IDLE] = HB_MSANTOS_IDLE, [HB_V_INTVL] = HB_MSANTOS_INTVL,
		[HB_V_CNT] = HB_MSANTOS_CNT,
	};
	struct hb_sysctl kdef;
	int v;

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
	/* Per value: the user's, else the sysctl (compat meaning), else a default. */
	for (v = HB_V_IDLE; v <= HB_V_CNT; v++) {
		int *f = eff_field(out, (enum hb_value)v);

		if (p->set & HB_BIT(v)) {
			*f = policy_field(p, (enum hb_value)v);
			out->src[v] = HB_SRC_USER;
		} else if ((p->sysctl_set & HB_BIT(v)) || p->defaults == HB_DEFAULTS_SYSCTL) {
			*f = sysctl_field(sys, (enum hb_value)v);
			out->src[v] = HB_SRC_SYSCTL;
		} else {
			*f = p->defaults == HB_DEFAULTS_MSANTOS ? msantos[v] : hbkeep[v];
			out->src[v] = HB_SRC_DEFAULT;
		}
	}

	if (p->set & HB_BIT(HB_V_USER_TIMEOUT)) {
		out->user_timeout_ms = p->user_timeout_ms;
		out->src[HB_V_USER_TIMEOUT] = HB_SRC_USER;
	} else if (p->defaults == HB_DEFAULTS_MSANTOS &&
		   !(p->sysctl_set & HB_BIT(HB_V_USER_TIMEOUT))) {
		/* msantos/libkeepalive: (idle + intvl * cnt) seconds, in ms */
		long long ms = ((long long)out->idle_s + (long long)out->intvl_s * out->cnt) * 1000;

		out->user_timeout_ms = ms > HB_UTO_MAX ? (int)HB_UTO_MAX : (int)ms;
		out->src[HB_V_USER_TIMEOUT] = HB_SRC_DEFAULT;
	} else {
		out->user_timeout_ms = 0;	/* the kernel's own behaviour */
		out->src[HB_V_USER_TIMEOUT] = HB_SRC_NONE;
	}
}

void hb_policy_want(const struct hb_policy *p, const struct hb_sysctl *sys, struct hb_want *w)
{
	struct hb_effective e;
	int v;

	hb_policy_effective(p, sys, &e);
	memset(w, 0, sizeof(*w));
	for (v = 0; v < HB_V__COUNT; v++)
		w->val[v] = *eff_field(&e, (enum hb_value)v);
	if (e.keepalive) {
		/* A fresh socket has SO_KEEPALIVE off, so it always differs. The timing values
		 * start as "the sysctl": a value equal to it costs a syscall for nothing. */
		w->mask |= HB_BIT(HB_V_KEEPALIVE) | HB_BIT(HB_V_IDLE) | HB_BIT(HB_V_INTVL) |
			   HB_BIT(HB_V_CNT);
		w->differs |= HB_BIT(HB_V_KEEPALIVE);
		for (v = HB_V_IDLE; v <= HB_V_CNT; v++)
			if (!sys || w->val[v] != sysctl_field(sys, (enum hb_value)v))
				w->differs |= HB_BIT(v);
	}
	/* With keepalive off the policy leaves SO_KEEPALIVE and TCP_KEEP* to the program
	 * (HB_KEEPALIVE=0); the user timeout is its own option. 0 is the kernel's default:
	 * wanted only when the user asked for it (HB_FORCE then puts 0 back). */
	if (e.user_timeout_ms || e.src[HB_V_USER_TIMEOUT] == HB_SRC_USER) {
		w->mask |= HB_BIT(HB_V_USER_TIMEOUT);
		if (e.user_timeout_ms)
			w->differs |= HB_BIT(HB_V_USER_TIMEOUT);
	}
}

int hb_policy_plan(const struct hb_policy *p, const struct hb_sysctl *sys, unsigned int app,
		   bool force, struct hb_sockopt out[HB_V__COUNT])
{
	struct hb_want w;
	unsigned int need;
	int i, n = 0;

	hb_policy_want(p, sys, &w);
	app &= HB_ALL_BITS;
	/* Without force the program's own choices win: leave them alone. With force they are
	 * set back, even a value equal to the sysctl: the program changed it. */
	need = force ? (w.differs | app) & w.mask : w.differs & ~app;
	for (i = 0; i < HB_V__COUNT; i++) {
		enum hb_value v = hb_value_order[i];

		if (!(need & HB_BIT(v)))
			continue;
		out[n].level = hb_value_info[v].level;
		out[n].optname = hb_value_info[v].optname;
		out[n].val = w.val[v];
		out[n].v = v;
		n++;
	}
	return n;
}

bool hb_policy_is_noop(const struct hb_policy *p)
{
	struct hb_want w;

	if (p->match_invalid)
		return true;
	hb_policy_want(p, NULL, &w);
	return !w.differs;
}

int hb_sockopt_value(int level, int optname)
{
	int v;

	for (v = 0; v < HB_V__COUNT; v++)
		if (hb_value_info[v].optname == optname && hb_value_info[v].level == level)
			return v;
	/* SOL_TCP is IPPROTO_TCP, so one comparison covers both spellings. */
	return -1;
}

bool hb_policy_value(const struct hb_policy *p, const struct hb_sysctl *sys, enum hb_value v,
		     int *val)
{
	struct hb_want w;

	if ((unsigned int)v >= HB_V__COUNT)
		return false;
	hb_policy_want(p, sys, &w);
	if (!(w.mask & HB_BIT(v)))
		return false;
	*val = w.val[v];
	return true;
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
	return (unsigned int)v < HB_V__COUNT ? hb_value_info[v].name : "?";
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
	case HB_SRC_NONE:
		return "none";
	}
	return "?";
}
