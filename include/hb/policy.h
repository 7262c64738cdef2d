/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The keepalive policy shared by every part of hbkeep: parsing of durations,
 * counts and match lists exactly as ../shared/DESIGN.md defines them, the
 * effective values against the namespace sysctls, and the decision "is this
 * socket managed, and which setsockopt() calls does it need".
 *
 * Pure C: nothing here performs I/O except hb_sysctl_read(); nothing prints
 * except through hb_log() (log.h); nothing allocates.
 */
#ifndef HB_POLICY_H
#define HB_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Kernel ranges (include/net/tcp.h: MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT). */
#define HB_IDLE_MIN	1
#define HB_IDLE_MAX	32767
#define HB_INTVL_MIN	1
#define HB_INTVL_MAX	32767
#define HB_CNT_MIN	1
#define HB_CNT_MAX	127
#define HB_UTO_MAX	2147483647LL	/* TCP_USER_TIMEOUT, ms (INT_MAX) */

/* hbkeep's defaults (DESIGN.md): each value the user gives replaces one of them. */
#define HB_DEFAULT_IDLE		60
#define HB_DEFAULT_INTVL	10
#define HB_DEFAULT_CNT		6

/* msantos/libkeepalive's defaults, for a user of its TCP_KEEP* names (15/15/9; its user
 * timeout, when not given, is derived as (idle + intvl * cnt) * 1000 ms). */
#define HB_MSANTOS_IDLE		15
#define HB_MSANTOS_INTVL	15
#define HB_MSANTOS_CNT		9

#define HB_MATCH_MAX	32	/* patterns in one match list */
#define HB_ERR_LEN	160	/* enough for any message the parsers write */

enum hb_value {
	HB_V_KEEPALIVE,		/* SO_KEEPALIVE */
	HB_V_IDLE,		/* TCP_KEEPIDLE, seconds */
	HB_V_INTVL,		/* TCP_KEEPINTVL, seconds */
	HB_V_CNT,		/* TCP_KEEPCNT */
	HB_V_USER_TIMEOUT,	/* TCP_USER_TIMEOUT, milliseconds */
	HB_V__COUNT,
};
#define HB_BIT(v)	(1u << (v))
#define HB_ALL_BITS	((1u << HB_V__COUNT) - 1)

/*
 * The one table of the five values (lib/policy.c owns it; the shim, hbctl set, the pidfd
 * back end and the compiled kernel policy all take level, option and order from here).
 */
struct hb_value_info {
	const char *name;	/* "keepalive", "idle", "intvl", "cnt", "user_timeout" */
	const char *optname_str;	/* "SO_KEEPALIVE", "TCP_KEEPIDLE", ... */
	int level;		/* SOL_SOCKET or IPPROTO_TCP */
	int optname;
	long long min, max;	/* the kernel's range (user timeout in ms) */
	/* Environment names in precedence order: hbkeep's, libkeepalive's, msantos's
	 * libkeepalive's, libdontdie's; NULL where that library has none. */
	const char *env[4];
};
extern const struct hb_value_info hb_value_info[HB_V__COUNT];

/*
 * The order of setsockopt() calls, everywhere (shim, hbctl set, iterator, kernel policy):
 * TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT, then SO_KEEPALIVE last.
 * Why last: on a live socket, switching keepalive on arms the timer once, with the final
 * idle time; nobody (hbctl ls, the monitor) ever sees keepalive on with the old timing; and
 * a timing value the kernel refuses is reported before keepalive is on. On a fresh socket
 * the order makes no difference to the kernel.
 */
extern const enum hb_value hb_value_order[HB_V__COUNT];

/* Where an effective value came from. */
enum hb_source {
	HB_SRC_SYSCTL,		/* the namespace's net.ipv4.tcp_keepalive_* (or kernel default) */
	HB_SRC_DEFAULT,		/* a default: hbkeep's 60/10/6, or msantos/libkeepalive's */
	HB_SRC_USER,		/* set by the user (environment, option) */
	HB_SRC_NONE,		/* user timeout not set: there is no sysctl for it */
};

/* What values the user did not give fall back to (per-value, DESIGN.md "The policy"). */
enum hb_defaults {
	HB_DEFAULTS_HBKEEP,	/* hbkeep's 60/10/6: HB_ names, options, policy files */
	HB_DEFAULTS_SYSCTL,	/* the namespace sysctl: libkeepalive's and libdontdie's names */
	HB_DEFAULTS_MSANTOS,	/* 15/15/9 and a derived user timeout: msantos/libkeepalive */
};

/* One match pattern: 10.0.0.0/8, 192.168.1.5, [2001:db8::]/32, :5432, 10.1.2.3:6379, [::1]:443 */
struct hb_pattern {
	uint8_t family;		/* AF_INET, AF_INET6, or 0: any address (port-only pattern) */
	uint8_t prefix;		/* prefix length in bits (32/128 for a host) */
	uint8_t exclude;	/* 1 for a "!" pattern */
	uint8_t pad;
	uint16_t port;		/* host byte order; 0 = any port */
	uint8_t addr[16];	/* network byte order, bits beyond prefix zeroed */
};

struct hb_match {
	unsigned int n;		/* patterns in pat[] */
	unsigned int n_include;	/* of which not excluded */
	struct hb_pattern pat[HB_MATCH_MAX];
};

struct hb_policy {
	unsigned int set;	/* HB_BIT()s of the values the user set */
	unsigned int sysctl_set;	/* HB_BIT()s set to "the system default" (msantos's 0) */
	enum hb_defaults defaults;	/* what the values not set fall back to */
	int keepalive;		/* 1 on (default), 0 off */
	int idle_s;
	int intvl_s;
	int cnt;
	int user_timeout_ms;
	bool force;		/* HB_FORCE: policy overrides the app's own setsockopt */
	bool has_match;		/* a match list was given (decide at connect/listen) */
	bool match_invalid;	/* HB_MATCH was set but unreadable: no socket matches */
	struct hb_match match;
};

/* net.ipv4.tcp_keepalive_time/intvl/probes of one network namespace. */
struct hb_sysctl {
	int idle_s;
	int intvl_s;
	int cnt;
};

struct hb_effective {
	int keepalive;
	int idle_s;
	int intvl_s;
	int cnt;
	int user_timeout_ms;	/* 0: unset (kernel default) */
	enum hb_source src[HB_V__COUNT];
};

/* What the policy wants a socket to carry, and what that costs on a fresh socket. */
struct hb_want {
	unsigned int mask;	/* HB_BIT()s of the values the policy sets (else the app's) */
	unsigned int differs;	/* of which differ from what a fresh socket has already */
	int val[HB_V__COUNT];	/* the values, for the bits in mask */
};

/* One setsockopt() the policy asks for. */
struct hb_sockopt {
	int level;
	int optname;
	int val;
	enum hb_value v;
};

/* ---- parsers: each returns 0, or -EINVAL / -ERANGE with a message in err ---- */

/* Duration: bare integer = seconds; suffixes ms, s, m, h. No sign, no spaces. */
int hb_parse_duration_ms(const char *s, long long *ms, char *err, size_t errlen);
/* Duration that must be a whole number of seconds within [min, max]. */
int hb_parse_secs(const char *s, int min, int max, int *out, char *err, size_t errlen);
/* Duration in milliseconds within [min, max]. */
int hb_parse_msecs(const char *s, long long min, long long max, int *out, char *err,
		   size_t errlen);
/* Plain decimal integer within [min, max]. */
int hb_parse_int(const char *s, int min, int max, int *out, char *err, size_t errlen);
/* 1/on/yes/true and 0/off/no/false, case-insensitive. */
int hb_parse_bool(const char *s, bool *out, char *err, size_t errlen);
/* Comma-separated match list; -E2BIG when over HB_MATCH_MAX patterns. */
int hb_match_parse(const char *s, struct hb_match *m, char *err, size_t errlen);

/* ---- policy ---- */

/* Nothing set, keepalive on, no match list. */
void hb_policy_init(struct hb_policy *p);
/* Parse and set one value (v is the value, s its text). Returns 0 or -errno, p unchanged on error. */
int hb_policy_set(struct hb_policy *p, enum hb_value v, const char *s, char *err, size_t errlen);
/* Parse and set the match list. Returns 0 or -errno, p unchanged on error. */
int hb_policy_set_match(struct hb_policy *p, const char *s, char *err, size_t errlen);

typedef const char *(*hb_getenv_fn)(const char *name);
/*
 * Fill p from the environment: per value, the first of HB_*, libkeepalive's, msantos's
 * libkeepalive's and libdontdie's names that is set (hb_value_info[].env). The defaults for
 * the values left unset are those of the highest-precedence compatibility library whose
 * names were used (each keeps its library's meaning), else hbkeep's. Each bad value is
 * reported through hb_log(HB_LOG_ERROR, "NAME: message") and ignored. Returns the number
 * of bad values.
 */
int hb_policy_from_env(struct hb_policy *p, hb_getenv_fn getenv_fn);

/*
 * Effective values: each value the user gave; for the others p->defaults decides
 * (hbkeep's 60/10/6, the sysctl for libkeepalive's and libdontdie's names, 15/15/9 and a
 * derived user timeout for msantos/libkeepalive's). sys NULL means the kernel defaults.
 */
void hb_policy_effective(const struct hb_policy *p, const struct hb_sysctl *sys,
			 struct hb_effective *out);

/*
 * What the policy wants on a socket: the values it sets (with keepalive off it leaves
 * SO_KEEPALIVE and TCP_KEEP* to the program; no user timeout unless one is wanted), and of
 * those the ones a fresh socket does not have already (a value equal to the sysctl; the
 * user timeout 0). sys NULL: every wanted value "differs" (the kernel policy, which does
 * not know each socket's namespace, sets them all).
 */
void hb_policy_want(const struct hb_policy *p, const struct hb_sysctl *sys, struct hb_want *w);

/*
 * The setsockopt() calls a fresh TCP socket needs, in hb_value_order. app is the HB_BIT()s
 * the program set itself: without force they are left alone (the program's choice wins);
 * with force they are set back to the policy's value, even one equal to the sysctl (the
 * program changed it). Values the socket has anyway are skipped. Returns the number
 * written to out.
 */
int hb_policy_plan(const struct hb_policy *p, const struct hb_sysctl *sys, unsigned int app,
		   bool force, struct hb_sockopt out[HB_V__COUNT]);

/* True when the policy has nothing to do (HB_KEEPALIVE=off and no user timeout, or a match
 * list that could not be read: it must never widen to every socket). */
bool hb_policy_is_noop(const struct hb_policy *p);

/* Which value a (level, optname) pair is, or -1 when it is none of ours. */
int hb_sockopt_value(int level, int optname);

/* The value the policy wants for v (hb_policy_want()). Returns true if it sets v. */
bool hb_policy_value(const struct hb_policy *p, const struct hb_sysctl *sys, enum hb_value v,
		     int *val);

/* Match list decision for an address (remote for connect, local for listen). True when
 * there is no match list, or the address matches an include (or there are none) and no
 * exclude. IPv4-mapped IPv6 addresses are matched as IPv4. */
bool hb_policy_matches(const struct hb_policy *p, const struct sockaddr *sa, socklen_t len);
bool hb_match_sockaddr(const struct hb_match *m, const struct sockaddr *sa, socklen_t len);

/* Formats a pattern back to text (for logs and reports). Returns snprintf's result. */
int hb_pattern_format(const struct hb_pattern *pat, char *buf, size_t len);

/* Reads net.ipv4.tcp_keepalive_* from procroot ("/proc" normally); missing files leave the
 * kernel defaults 7200/75/9. Returns 0 or -errno. The only function here that does I/O. */
int hb_sysctl_read(struct hb_sysctl *s, const char *procroot);
/* Kernel defaults 7200/75/9. */
void hb_sysctl_default(struct hb_sysctl *s);

const char *hb_value_name(enum hb_value v);	/* "keepalive", "idle", ... */
const char *hb_source_name(enum hb_source s);	/* "sysctl", "default", "user", "none" */

#endif /* HB_POLICY_H */
