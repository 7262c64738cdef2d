/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libhbshim internals. Two halves:
 *
 *  - apply.c: the pure decisions ("is this socket() one of ours", "which setsockopt() calls
 *    does this socket need", "does HB_FORCE replace this call", the log line). Every system
 *    call goes through a struct hb_sys of function pointers, so the unit tests
 *    (tests/unit/test_shim_apply.c) link apply.o alone and pass fakes.
 *  - init.c + wrap_*.c: the interposition layer (real-symbol table, once-init, per-fd table,
 *    log sink, the exported wrappers). Nothing here is exported except the wrappers.
 */
#ifndef HB_SHIM_H
#define HB_SHIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "hb/paths.h"
#include "hb/policy.h"

#define HB_EXPORT	__attribute__((visibility("default")))
#define HB_HIDDEN	__attribute__((visibility("hidden")))

/*
 * Per-fd state, 16 bits per file descriptor. Bits 0..4 are HB_BIT(v) of the values the
 * application set itself with setsockopt() (recorded so that, in match-list mode, the
 * application's explicit choice wins at connect()/listen()).
 */
typedef uint16_t hb_fd_state;
#define HB_FD_APP	HB_ALL_BITS	/* the app's own keepalive options */
#define HB_FD_TCP	0x20u		/* created by our socket() as an inet TCP stream socket */
#define HB_FD_MANAGED	0x40u		/* policy applied (or accepted from a managed listener) */
#define HB_FD_DECIDED	0x80u		/* listen(): match decision taken, don't ask again */
#define HB_FD_TOLD	0x100u		/* the "program set ...; HB_FORCE=1 overrides" line is out */
#define HB_FD_PATHED	0x200u		/* HB_KEEPIDLE=auto: the path's idle was decided at connect() */
_Static_assert(HB_ALL_BITS < HB_FD_TCP, "value bits overlap the fd state flags");

/* The system calls apply.c makes: the dlsym'd real_* in production, fakes in unit tests. */
struct hb_sys {
	int (*setsockopt)(int fd, int level, int optname, const void *val, socklen_t len);
	int (*getsockname)(int fd, struct sockaddr *sa, socklen_t *len);
};

/* What one hb_shim_apply() did, for the log line. */
struct hb_shim_result {
	int calls;		/* setsockopt() calls made */
	int failed;		/* of which failed */
	int err;		/* errno of the first failure */
	enum hb_value err_v;	/* the value of the first failure */
	unsigned int applied;	/* HB_BIT()s set successfully */
	unsigned int app;	/* HB_BIT()s left to the application (its explicit choice) */
};

/* ---- apply.c: pure decisions, unit-tested ---- */

/*
 * Whether a socket(domain, type, protocol) call creates a socket the shim manages:
 * AF_INET/AF_INET6, type SOCK_STREAM once SOCK_NONBLOCK/SOCK_CLOEXEC are masked off,
 * protocol 0 or IPPROTO_TCP (so not SCTP, not MPTCP). Inline: it is the hot path.
 */
static inline bool hb_shim_is_tcp(int domain, int type, int protocol)
{
	/* IPPROTO_MPTCP and IPPROTO_SCTP are SOCK_STREAM too, but not ours. */
	return (domain == AF_INET || domain == AF_INET6) &&
	       (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
	       (protocol == 0 || protocol == IPPROTO_TCP);
}

/*
 * Makes the setsockopt() calls of plan[0..n) on fd through ops->setsockopt; res (may be
 * NULL) records what happened, with app as the values left to the application. errno is
 * preserved. Returns the number of calls made.
 */
int hb_shim_run(int fd, const struct hb_sockopt *plan, int n, unsigned int app,
		const struct hb_sys *ops, struct hb_shim_result *res);

/*
 * Carries the policy onto TCP socket fd: the setsockopt() calls of hb_policy_plan(), made
 * through ops->setsockopt. app is the HB_BIT()s the application set itself: they are
 * skipped, or with pol->force set again to the policy's value. errno is preserved whatever
 * happens; failures are only reported in res (may be NULL). Returns the number of
 * setsockopt() calls made.
 */
int hb_shim_apply(int fd, const struct hb_policy *pol, const struct hb_sysctl *sys,
		  unsigned int app, const struct hb_sys *ops, struct hb_shim_result *res);

/*
 * HB_FORCE: whether the application's setsockopt(fd, level, optname, optval, optlen) on a
 * socket in the given fd state is to be replaced by setsockopt(fd, level, optname, val,
 * sizeof(int)). Returns true (and *val) only for a managed socket, one of our options, a
 * call the kernel would accept the size of, and a policy that has a value for it.
 */
bool hb_shim_force_value(const struct hb_policy *pol, const struct hb_sysctl *sys,
			 unsigned int state, int level, int optname, const void *optval,
			 socklen_t optlen, int *val);

/* The state bits to record after the application's successful setsockopt() (0: none). */
unsigned int hb_shim_record(unsigned int state, int level, int optname);

/*
 * Match-list mode, after connect() accepted (addr, len): whether the policy is to be
 * applied now (a TCP socket of ours, not yet managed, remote address matching).
 */
bool hb_shim_connect_wants(const struct hb_policy *pol, unsigned int state,
			   const struct sockaddr *addr, socklen_t len);

enum hb_listen_decision {
	HB_LISTEN_NONE,		/* not ours, already decided, or local address unknown */
	HB_LISTEN_SKIP,		/* local address does not match: decided, leave alone */
	HB_LISTEN_APPLY,	/* local address matches: apply */
	HB_LISTEN_LATER,	/* not bound yet (port 0): ask again after the real listen() */
};

/*
 * Match-list mode, listen(): reads fd's local address through ops->getsockname into ss and
 * matches it (a wildcard address is matched as that address). With after_listen false an
 * unbound socket (port 0) gives HB_LISTEN_LATER, since listen() binds it to a port first.
 * errno is preserved.
 */
enum hb_listen_decision hb_shim_listen_decide(int fd, const struct hb_policy *pol,
					      unsigned int state, const struct hb_sys *ops,
					      bool after_listen, struct sockaddr_storage *ss,
					      socklen_t *sslen);

/*
 * The HB_LOG=info line for a managed socket, without the "libhbshim: " prefix:
 *   fd 5 inet 10.0.0.2:80: keepalive on idle 60 intvl 10 cnt 6 (4 setsockopt)
 * family is used when addr is NULL. Returns snprintf's result.
 */
int hb_shim_describe(char *buf, size_t len, int fd, int family, const struct sockaddr *addr,
		     socklen_t addrlen, const struct hb_policy *pol, const struct hb_sysctl *sys,
		     const struct hb_shim_result *res);

/* The info line when the program's own setsockopt(v, val) replaced the policy's value:
 *   fd 5: program set TCP_KEEPIDLE 15; HB_FORCE=1 overrides */
int hb_shim_describe_override(char *buf, size_t len, int fd, enum hb_value v, int val);
/* Whether the program's value val for v differs from what the policy wants (w). */
bool hb_shim_overrides(const struct hb_want *w, enum hb_value v, int val);

/* ---- HB_KEEPIDLE=auto (DESIGN.md "Paths"): the idle time from the path table ---- */

struct hb_shim_auto {
	bool on;		/* HB_KEEPIDLE=auto */
	int idle_default;	/* HB_IDLE_DEFAULT (s): no entry for the path; default 60 */
	int idle_max;		/* HB_IDLE_MAX (s): a path that survived with no drop; 600 */
};

/*
 * Reads HB_KEEPIDLE (only whether it is "auto"), HB_IDLE_DEFAULT and HB_IDLE_MAX (whole
 * seconds, 1s..32767s, duration syntax) through env. Each bad value is reported once through
 * hb_log(HB_LOG_ERROR, "NAME: ...") and ignored (its default stays); HB_IDLE_DEFAULT or
 * HB_IDLE_MAX without HB_KEEPIDLE=auto is reported and ignored too. Returns the number of
 * values reported.
 */
int hb_shim_auto_env(hb_getenv_fn env, struct hb_shim_auto *a);

enum hb_auto_decision {
	HB_AUTO_NONE,	/* not ours: not a managed TCP socket, decided already, the program set
			 * TCP_KEEPIDLE itself (without HB_FORCE), or no inet address */
	HB_AUTO_KEEP,	/* the path's idle is the one the socket has (idle_default): no call */
	HB_AUTO_SET,	/* setsockopt(TCP_KEEPIDLE, *idle) */
};

/*
 * HB_KEEPIDLE=auto, after connect() accepted (addr, len) on a socket in the given fd state:
 * the idle for its path (hb_paths_lookup(), then hb_paths_idle(): floor(0.8 x dropped) at
 * least 1 s, a.idle_max when the path survived with no drop known, a.idle_default with no
 * entry), in *idle, with the entry in *path (NULL: none). The socket carries a.idle_default
 * already (the plan made at socket() or by the match list). force: HB_FORCE, under which the
 * program's own TCP_KEEPIDLE does not count.
 */
enum hb_auto_decision hb_shim_auto_decide(const struct hb_paths *t, const struct hb_shim_auto *a,
					  bool force, unsigned int state,
					  const struct sockaddr *addr, socklen_t len, int *idle,
					  const struct hb_path **path);

/*
 * The HB_LOG=info line for an auto decision, without the "libhbshim: " prefix:
 *   fd 5 198.51.100.2:7000: idle 19 s from path 198.51.100.2:7000 (dropped 24 s)
 *   fd 5 198.51.100.9:80: idle 600 s from path 198.51.100.0/24 (survived 40 s, no drop: HB_IDLE_MAX)
 *   fd 5 192.0.2.1:80: idle 60 s, no path entry (HB_IDLE_DEFAULT)
 * err: errno of a failed setsockopt() (0: none). Returns snprintf's result.
 */
int hb_shim_describe_auto(char *buf, size_t len, int fd, const struct sockaddr *addr,
			  socklen_t addrlen, const struct hb_path *path, int idle, int err);

/* ---- init.c: configuration, real symbols, per-fd table, log sink ---- */

/*
 * Immutable after hb_shim_init() (which runs once, under hb_shim_once). The decision for a
 * fresh TCP socket is computed there once (the environment and the namespace sysctls are
 * read once, so nothing can change it later): socket() is "is it TCP?", then plan[].
 */
struct hb_shim_cfg {
	struct hb_policy pol;
	struct hb_sysctl sys;
	struct hb_sys ops;	/* real_setsockopt, real_getsockname */
	bool noop;		/* hb_policy_is_noop(): wrappers only forward */
	bool track;		/* per-fd state needed: HB_MATCH, HB_FORCE or the info log */
	bool fast;		/* socket() runs plan[] and nothing else (no track, no match) */
	/*
	 * A per-destination idle time (HB_KEEPIDLE=auto, DESIGN.md "Paths"): when set,
	 * connect() looks the destination up in paths and replaces TCP_KEEPIDLE on that
	 * socket when its path's idle differs from auto.idle_default, which plan[] (or the
	 * match list's plan at connect()) set. Implies track: every TCP socket is marked.
	 */
	bool per_connect;
	struct hb_shim_auto autoidle;
	struct hb_paths paths;	/* read once at init (malloc'd once, never freed) */
	int n;			/* setsockopt() calls for a fresh TCP socket ... */
	struct hb_sockopt plan[HB_V__COUNT];	/* ... in hb_value_order */
	struct hb_want want;	/* what the policy wants, for HB_FORCE and the override line */
};

extern HB_HIDDEN struct hb_shim_cfg hb_cfg;
extern HB_HIDDEN pthread_once_t hb_shim_once;
/* 1 once hb_shim_init() has finished (release): the wrappers' fast path tests only this. */
extern HB_HIDDEN atomic_int hb_ready;
/*
 * Set only while this thread runs hb_shim_init(), with every signal blocked: a wrapper that
 * init itself reaches (through dlsym, say) only forwards. There is no other per-thread flag:
 * once initialised, every wrapper is reentrant (stack, immutable configuration, atomics), so
 * a socket() made in a signal handler that interrupted another wrapper is managed like any
 * other, and a siglongjmp out of such a handler leaves nothing behind.
 */
extern HB_HIDDEN __thread int hb_in_init __attribute__((tls_model("initial-exec")));

/* Until hb_shim_init() these point at syscall() fallbacks, never at our own wrappers. */
extern HB_HIDDEN int (*real_socket)(int, int, int);
extern HB_HIDDEN int (*real_connect)(int, const struct sockaddr *, socklen_t);
extern HB_HIDDEN int (*real_listen)(int, int);
extern HB_HIDDEN int (*real_setsockopt)(int, int, int, const void *, socklen_t);
extern HB_HIDDEN int (*real_getsockname)(int, struct sockaddr *, socklen_t *);
extern HB_HIDDEN int (*real_accept)(int, struct sockaddr *, socklen_t *);
extern HB_HIDDEN int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
extern HB_HIDDEN int (*real_close)(int);

/* Resolves the real symbols and reads the configuration. Run through hb_shim_enter(). */
HB_HIDDEN void hb_shim_init(void);

/*
 * Every wrapper's entry: true when the shim is ready to act, false when the call is to be
 * forwarded untouched (this thread is inside hb_shim_init()). Runs the init on first use.
 */
static inline bool hb_shim_enter(void)
{
	if (__builtin_expect(atomic_load_explicit(&hb_ready, memory_order_acquire), 1))
		return true;
	if (hb_in_init)
		return false;
	pthread_once(&hb_shim_once, hb_shim_init);
	return true;
}

/* The state byte of fd, or NULL when fd is outside the table or its page was never made
 * (all its entries are then 0). Makes no system call. */
HB_HIDDEN _Atomic hb_fd_state *hb_fd_slot(int fd);
/* The same, mapping the page if needed (one mmap per 4096 fds above fd 4095, ever). NULL
 * beyond the table (~1M fds) or when mmap fails: the fd is then simply unmanaged. May change
 * errno. */
HB_HIDDEN _Atomic hb_fd_state *hb_fd_slot_make(int fd);

/* Logs the info line for a managed socket (see hb_shim_describe). */
HB_HIDDEN void hb_shim_log_applied(int fd, int family, const struct sockaddr *addr,
				   socklen_t addrlen, const struct hb_shim_result *res);
/* HB_KEEPIDLE=auto and HB_FORCE: the idle that fd's path gives, for a program's own
 * TCP_KEEPIDLE on a socket decided at connect() (getpeername; *idle unchanged when it
 * cannot be read). */
HB_HIDDEN void hb_shim_auto_force_idle(int fd, int *idle);
/* The info line for the program's own choice on a managed socket (once per socket). */
HB_HIDDEN void hb_shim_log_override(int fd, enum hb_value v, int val);

/* Where log lines go: 2, the HB_LOG_FILE descriptor, or -1 (init.c). */
extern HB_HIDDEN _Atomic int hb_log_fd;
/* close() saw fd: stop logging to it if it is the log file (or stderr). */
HB_HIDDEN void hb_shim_log_fd_closed(int fd);

#endif /* HB_SHIM_H */
