// SPDX-License-Identifier: BSD-2-Clause
/*
 * libhbshim's state: the real-symbol table, the once-init that reads the configuration, the
 * per-fd table and the log sink. The wrappers live in wrap_*.c, the decisions in apply.c.
 *
 * Rules this file keeps (STYLE.md 4): init runs once under pthread_once, from our constructor
 * or from whichever wrapper runs first (another library's constructor may call socket()
 * before ours ran); while it runs hb_in_init is set and signals are blocked, so that anything
 * it calls that we wrap (nothing, today) only forwards. Configuration is immutable afterwards:
 * the hot path takes no lock. No malloc of our own (except, with HB_KEEPIDLE=auto, the path
 * table read once at init), no stdio streams, never exit, never print to stdout.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hb/log.h"
#include "../lib/internal.h"
#include "shim.h"

/* ---- real symbols ------------------------------------------------------------------------ */

/*
 * Fallbacks for a failed (or circular) dlsym(): the raw system calls, so that the host
 * program keeps working. syscall() returns -1 and sets errno as libc would.
 */
static int sys_socket(int domain, int type, int protocol)
{
	return (int)syscall(SYS_socket, domain, type, protocol);
}

static int sys_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return (int)syscall(SYS_connect, fd, sa, len);
}

static int sys_listen(int fd, int backlog)
{
	return (int)syscall(SYS_listen, fd, backlog);
}

static int sys_setsockopt(int fd, int level, int optname, const void *val, socklen_t len)
{
	return (int)syscall(SYS_setsockopt, fd, level, optname, val, len);
}

static int sys_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	return (int)syscall(SYS_getsockname, fd, sa, len);
}

static int sys_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	return (int)syscall(SYS_accept4, fd, sa, len, flags);
}

static int sys_accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	return sys_accept4(fd, sa, len, 0);
}

static int sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

int (*real_socket)(int, int, int) = sys_socket;
int (*real_connect)(int, const struct sockaddr *, socklen_t) = sys_connect;
int (*real_listen)(int, int) = sys_listen;
int (*real_setsockopt)(int, int, int, const void *, socklen_t) = sys_setsockopt;
int (*real_getsockname)(int, struct sockaddr *, socklen_t *) = sys_getsockname;
int (*real_accept)(int, struct sockaddr *, socklen_t *) = sys_accept;
int (*real_accept4)(int, struct sockaddr *, socklen_t *, int) = sys_accept4;
int (*real_close)(int) = sys_close;

/*
 * dlsym(RTLD_NEXT, name), rejecting a result inside our own object: that would be our own
 * wrapper, and calling it would recurse forever (proxychains' "circular reference" check).
 */
static void *next_sym(const char *name)
{
	Dl_info self, found;
	void *p;

	p = dlsym(RTLD_NEXT, name);
	if (!p) {
		(void)dlerror();	/* don't leave our failure for the app's dlerror() */
		return NULL;
	}
	if (dladdr((void *)hb_shim_init, &self) && dladdr(p, &found) &&
	    self.dli_fbase == found.dli_fbase)
		return NULL;
	return p;
}

/* Returns the names that fell back to syscall(), as a bit mask over the table below. */
static unsigned int resolve(const char **names, unsigned int max)
{
	struct {
		const char *name;
		void **slot;
	} tab[] = {
		{ "socket", (void **)&real_socket },
		{ "connect", (void **)&real_connect },
		{ "listen", (void **)&real_listen },
		{ "setsockopt", (void **)&real_setsockopt },
		{ "getsockname", (void **)&real_getsockname },
		{ "accept", (void **)&real_accept },
		{ "accept4", (void **)&real_accept4 },
		{ "close", (void **)&real_close },
	};
	unsigned int i, n = 0;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		void *p = next_sym(tab[i].name);

		if (p)
			*tab[i].slot = p;
		else if (n < max)
			names[n++] = tab[i].name;
	}
	return n;
}

/* ---- per-fd table -------------------------------------------------------------------------- */

/*
 * Two levels, no malloc, no lock: a directory of FD_PAGES pointers to pages of FD_PAGE
 * one-byte atomics. Page 0 (fds 0..4095, what nearly every process uses) is static, in .bss;
 * the others are mmap'd on first use and installed with a compare-and-swap (the loser unmaps
 * its copy). Pages are never freed. fds beyond FD_PAGES * FD_PAGE are simply unmanaged.
 */
#define FD_PAGE_SHIFT	12
#define FD_PAGE		(1u << FD_PAGE_SHIFT)
#define FD_PAGES	256u			/* 1M fds, the kernel's default fs.nr_open */

static _Atomic hb_fd_state fd_page0[FD_PAGE];
static _Atomic(_Atomic hb_fd_state *) fd_dir[FD_PAGES] = { fd_page0 };

_Atomic hb_fd_state *hb_fd_slot(int fd)
{
	_Atomic hb_fd_state *page;

	if (fd < 0 || (unsigned int)fd >= FD_PAGES * FD_PAGE)
		return NULL;
	page = atomic_load_explicit(&fd_dir[(unsigned int)fd >> FD_PAGE_SHIFT],
				    memory_order_acquire);
	return page ? &page[(unsigned int)fd & (FD_PAGE - 1)] : NULL;
}

_Atomic hb_fd_state *hb_fd_slot_make(int fd)
{
	_Atomic hb_fd_state *page, *expected = NULL;
	_Atomic(_Atomic hb_fd_state *) *dir;
	void *p;

	if (fd < 0 || (unsigned int)fd >= FD_PAGES * FD_PAGE)
		return NULL;
	dir = &fd_dir[(unsigned int)fd >> FD_PAGE_SHIFT];
	page = atomic_load_explicit(dir, memory_order_acquire);
	if (!page) {
		p = mmap(NULL, FD_PAGE * sizeof(hb_fd_state), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		if (atomic_compare_exchange_strong_explicit(dir, &expected, (_Atomic hb_fd_state *)p,
							    memory_order_acq_rel,
							    memory_order_acquire)) {
			page = p;
		} else {
			munmap(p, FD_PAGE * sizeof(hb_fd_state));	/* another thread won: use its page */
			page = expected;
		}
	}
	return &page[(unsigned int)fd & (FD_PAGE - 1)];
}

/* ---- logging ------------------------------------------------------------------------------- */

/*
 * The log sink. Rules (DESIGN.md "Files, sockets and privileges"): never block the host in a
 * write, and never write into a file that is no longer the one we started with. The
 * descriptor, its device and inode and how to write to it are set once at init; afterwards
 * only hb_log_fd changes, to -1, when we stop logging for good.
 */
enum log_kind {
	LOG_PLAIN,	/* regular file (O_APPEND), terminal, /dev/null: write(2) */
	LOG_NOWAIT,	/* pipe: pwritev2(RWF_NOWAIT), a full pipe costs a line, not a hang */
	LOG_SOCKET,	/* socket: send(MSG_DONTWAIT | MSG_NOSIGNAL) */
};

_Atomic int hb_log_fd = STDERR_FILENO;	/* -1: not logging (any more) */
static dev_t log_dev;
static ino_t log_ino;
static enum log_kind log_kind;

/* Moved up here so that our log file does not take the low fd number the app expects next. */
#define LOG_FD_MIN	1000

static void log_stop(int fd)
{
	int cur = fd;

	atomic_compare_exchange_strong_explicit(&hb_log_fd, &cur, -1, memory_order_relaxed,
						memory_order_relaxed);
}

/* Records what fd is, so that each write can check it still is. Returns 0 or -errno. */
static int log_bind(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	log_dev = st.st_dev;
	log_ino = st.st_ino;
	log_kind = S_ISFIFO(st.st_mode) ? LOG_NOWAIT : S_ISSOCK(st.st_mode) ? LOG_SOCKET :
		   LOG_PLAIN;
	atomic_store_explicit(&hb_log_fd, fd, memory_order_release);
	return 0;
}

static ssize_t log_write(int fd, const char *buf, size_t n)
{
	struct iovec iov = { (void *)buf, n };
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t r;

	switch (log_kind) {
	case LOG_SOCKET:
		return send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	case LOG_NOWAIT:
		r = pwritev2(fd, &iov, 1, -1, RWF_NOWAIT);
		if (r >= 0 || (errno != EOPNOTSUPP && errno != EINVAL))
			return r;
		/* A kernel without RWF_NOWAIT for pipes: write only what fits now (a line is
		 * less than PIPE_BUF, and POLLOUT means at least that much room). */
		if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT))
			return -1;
		return write(fd, buf, n);
	default:
		return write(fd, buf, n);
	}
}

/* One line, "libhbshim: " + msg + "\n", in one write(2): O_APPEND keeps lines whole. */
static void log_sink(enum hb_log_level level, const char *msg)
{
	static const char prefix[] = "libhbshim: ";
	char line[1024];
	size_t n = sizeof(prefix) - 1, i;
	int fd = atomic_load_explicit(&hb_log_fd, memory_order_acquire);
	int saved = errno;
	struct stat st;

	(void)level;
	if (fd < 0)
		return;
	/* The program may have closed our descriptor behind our back (fclose(stderr),
	 * close_range, dup2 onto it) and reopened the number for its own data: a line in
	 * there would be data loss. Same device and inode, or we stop logging. */
	if (fstat(fd, &st) < 0 || st.st_dev != log_dev || st.st_ino != log_ino) {
		log_stop(fd);
		errno = saved;
		return;
	}
	memcpy(line, prefix, n);
	for (i = 0; msg[i] && n < sizeof(line) - 1; i++)
		line[n++] = msg[i] == '\n' || msg[i] == '\r' ? ' ' : msg[i];
	line[n++] = '\n';
	while (log_write(fd, line, n) < 0 && errno == EINTR)
		;
	errno = saved;
}

void hb_shim_log_fd_closed(int fd)
{
	/* The app closed our log descriptor (or stderr): the number may be reused for one of
	 * its own files next, so never write to it again. */
	if (fd >= 0 && atomic_load_explicit(&hb_log_fd, memory_order_relaxed) == fd)
		log_stop(fd);
}

void hb_shim_log_override(int fd, enum hb_value v, int val)
{
	char line[160];

	if (!hb_log_enabled(HB_LOG_INFO))
		return;
	hb_shim_describe_override(line, sizeof(line), fd, v, val);
	hb_log(HB_LOG_INFO, "%s", line);
}

void hb_shim_log_applied(int fd, int family, const struct sockaddr *addr, socklen_t addrlen,
			 const struct hb_shim_result *res)
{
	char line[400];

	if (!hb_log_enabled(HB_LOG_INFO))
		return;
	hb_shim_describe(line, sizeof(line), fd, family, addr, addrlen, &hb_cfg.pol, &hb_cfg.sys,
			 res);
	hb_log(HB_LOG_INFO, "%s", line);
}

/* ---- configuration ------------------------------------------------------------------------- */

struct hb_shim_cfg hb_cfg;
pthread_once_t hb_shim_once = PTHREAD_ONCE_INIT;
atomic_int hb_ready;
__thread int hb_in_init __attribute__((tls_model("initial-exec")));

/* torsocks' rule: in secure-execution mode (setuid, capabilities) the environment is not
 * trusted, and secure_getenv() returns NULL for everything. */
static const char *env(const char *name)
{
	return secure_getenv(name);
}

/* HB_KEEPIDLE=auto: the policy sees HB_KEEPIDLE as HB_IDLE_DEFAULT, so that every TCP socket
 * gets that idle at socket() (or at a matching connect()/listen()) and connect() changes it
 * only for a destination whose path says otherwise (as the kernel policy's --idle auto). */
static char auto_idle[16];

static const char *env_auto(const char *name)
{
	if (!strcmp(name, "HB_KEEPIDLE"))
		return auto_idle;
	return secure_getenv(name);
}

/*
 * HB_KEEPIDLE=auto: reads the path table once (hb_paths_load: O_NONBLOCK, a FIFO, a device or
 * anything not a regular file is refused). Whatever goes wrong costs one line and leaves
 * every connection HB_IDLE_DEFAULT; a bad line costs that line only (as for the kernel
 * policy). The one allocation the shim makes, once, only with HB_KEEPIDLE=auto.
 */
static void load_paths(void)
{
	const char *file = hb_paths_file(env);
	char err[HB_ERR_LEN], q[HB_QUOTE_LEN];
	int rc;

	hb_paths_init(&hb_cfg.paths);
	rc = hb_paths_load(file, &hb_cfg.paths, err, sizeof(err));
	if (rc == -EINVAL && hb_cfg.paths.n) {
		hb_log(HB_LOG_ERROR, "HB_KEEPIDLE=auto: path table %s (that line is ignored)", err);
	} else if (rc) {
		hb_paths_free(&hb_cfg.paths);
		hb_log(HB_LOG_ERROR, "HB_KEEPIDLE=auto: path table %s: every connection gets idle "
		       "%d s (HB_IDLE_DEFAULT)", err, hb_cfg.autoidle.idle_default);
	} else if (!hb_cfg.paths.n && access(file, F_OK) < 0 && errno == ENOENT) {
		hb__quote(q, sizeof(q), file);
		hb_log(HB_LOG_ERROR, "HB_KEEPIDLE=auto: no path table at %s (hbctl paths add, "
		       "HB_PATHS_FILE): every connection gets idle %d s (HB_IDLE_DEFAULT)", q,
		       hb_cfg.autoidle.idle_default);
	}
	hb__quote(q, sizeof(q), file);
	hb_log(HB_LOG_DEBUG, "HB_KEEPIDLE=auto: %u path%s from %s; HB_IDLE_DEFAULT %d s, "
	       "HB_IDLE_MAX %d s", hb_cfg.paths.n, hb_cfg.paths.n == 1 ? "" : "s", q,
	       hb_cfg.autoidle.idle_default, hb_cfg.autoidle.idle_max);
}

/*
 * HB_LOG_FILE: a regular file, opened without blocking (a FIFO nobody reads would hang the
 * constructor of every program) and without following a symlink at the last component.
 * Returns the descriptor (moved to LOG_FD_MIN or above) or -errno; -EFTYPE-like cases are
 * reported as -ENOTSUP with *what naming the file type.
 */
static int open_log_file(const char *path, const char **what)
{
	struct stat st = { 0 };
	int fd, hi;

	*what = NULL;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
		  O_NOFOLLOW, 0644);
	if (fd < 0) {
		int e = errno;

		/* O_NONBLOCK: a FIFO without a reader gives ENXIO; O_NOFOLLOW: a link ELOOP. */
		if (e == ENXIO)
			*what = "a FIFO without a reader, not a regular file";
		else if (e == ELOOP)
			*what = "a symbolic link (not followed)";
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*what = S_ISFIFO(st.st_mode) ? "a FIFO, not a regular file" :
			S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device, not a regular file" :
			"not a regular file";
		real_close(fd);
		return -ENOTSUP;
	}
	if (fd < LOG_FD_MIN) {
		hi = fcntl(fd, F_DUPFD_CLOEXEC, LOG_FD_MIN);
		if (hi >= 0) {
			real_close(fd);
			fd = hi;
		}
	}
	return fd;
}

static void log_policy(void)
{
	struct hb_effective eff;
	const struct hb_policy *p = &hb_cfg.pol;
	char pat[64];
	unsigned int i;

	if (!hb_log_enabled(HB_LOG_DEBUG))
		return;
	hb_policy_effective(p, &hb_cfg.sys, &eff);
	hb_log(HB_LOG_DEBUG, "policy: keepalive %s (%s) idle %d (%s) intvl %d (%s) cnt %d (%s) "
	       "user_timeout %dms (%s) force %s; sysctl %d/%d/%d",
	       eff.keepalive ? "on" : "off", hb_source_name(eff.src[HB_V_KEEPALIVE]),
	       eff.idle_s, hb_source_name(eff.src[HB_V_IDLE]),
	       eff.intvl_s, hb_source_name(eff.src[HB_V_INTVL]),
	       eff.cnt, hb_source_name(eff.src[HB_V_CNT]),
	       eff.user_timeout_ms, hb_source_name(eff.src[HB_V_USER_TIMEOUT]),
	       p->force ? "yes" : "no", hb_cfg.sys.idle_s, hb_cfg.sys.intvl_s, hb_cfg.sys.cnt);
	if (!p->has_match) {
		hb_log(HB_LOG_DEBUG, "no match list: every inet TCP socket is managed at socket()");
		return;
	}
	for (i = 0; i < p->match.n && i < HB_MATCH_MAX; i++) {
		hb_pattern_format(&p->match.pat[i], pat, sizeof(pat));
		hb_log(HB_LOG_DEBUG, "match %s%s", p->match.pat[i].exclude ? "exclude " : "", pat);
	}
}

static void configure(const char **fallback, unsigned int nfallback)
{
	enum hb_log_level level = HB_LOG_ERROR;
	const char *s, *bad_level = NULL, *log_path = NULL, *what = NULL;
	char q[HB_QUOTE_LEN];
	int fd = -1;
	unsigned int i;

	s = env("HB_LOG");
	if (s && hb_log_parse_level(s, &level) < 0) {
		bad_level = s;
		level = HB_LOG_ERROR;
	}
	s = env("HB_LOG_FILE");
	if (s && *s && level != HB_LOG_OFF) {
		log_path = s;
		fd = open_log_file(s, &what);
		if (fd >= 0 && log_bind(fd) < 0) {
			real_close(fd);
			fd = -EBADF;
		}
	}
	/* Stderr: started closed, the number may become one of the app's files. */
	if (fd < 0 && level != HB_LOG_OFF && log_bind(STDERR_FILENO) < 0)
		atomic_store_explicit(&hb_log_fd, -1, memory_order_relaxed);
	hb_set_log_fn(log_sink, level);
	if (bad_level) {
		hb__quote(q, sizeof(q), bad_level);
		hb_log(HB_LOG_ERROR, "HB_LOG: invalid level '%s' (off, error, info, debug)", q);
	}
	if (log_path && fd < 0) {
		char e[96];

		hb__quote(q, sizeof(q), log_path);
		hb_log(HB_LOG_ERROR, "HB_LOG_FILE: %s: %s: logging to stderr", q,
		       what ? what : strerror_r(-fd, e, sizeof(e)));
	}
	for (i = 0; i < nfallback; i++)
		hb_log(HB_LOG_DEBUG, "dlsym(RTLD_NEXT, \"%s\") failed: using syscall()", fallback[i]);

	/* Each bad value is reported once through hb_log() and ignored (policy.h). */
	hb_shim_auto_env(env, &hb_cfg.autoidle);
	snprintf(auto_idle, sizeof(auto_idle), "%d", hb_cfg.autoidle.idle_default);
	hb_policy_init(&hb_cfg.pol);
	hb_policy_from_env(&hb_cfg.pol, hb_cfg.autoidle.on ? env_auto : env);
	hb_cfg.noop = hb_policy_is_noop(&hb_cfg.pol);
	/* The info log needs the per-fd state too: one override line per socket. */
	hb_cfg.track = hb_cfg.pol.has_match || hb_cfg.pol.force || hb_log_enabled(HB_LOG_INFO);
	hb_cfg.ops.setsockopt = real_setsockopt;
	hb_cfg.ops.getsockname = real_getsockname;

	if (hb_cfg.noop) {
		hb_cfg.track = false;	/* wrappers only forward */
		hb_cfg.fast = true;	/* with an empty plan: hb_cfg.n is 0 */
		hb_log(HB_LOG_INFO, "%s: pass-through", hb_cfg.pol.match_invalid ?
		       "HB_MATCH unreadable, no socket managed" :
		       "nothing to do (HB_KEEPALIVE=off, no HB_USER_TIMEOUT)");
		hb_set_log_fn(NULL, HB_LOG_OFF);
		fd = atomic_exchange_explicit(&hb_log_fd, -1, memory_order_relaxed);
		if (fd > STDERR_FILENO)
			real_close(fd);
		return;
	}
	/* Read once: the values a socket has anyway, which hb_policy_plan() skips. */
	if (hb_sysctl_read(&hb_cfg.sys, "/proc") < 0)	/* what it could not read is 7200/75/9 */
		hb_log(HB_LOG_DEBUG, "cannot read all of net.ipv4.tcp_keepalive_*: kernel defaults");
	/* The decision for every fresh TCP socket, once (shim.h struct hb_shim_cfg). */
	hb_policy_want(&hb_cfg.pol, &hb_cfg.sys, &hb_cfg.want);
	hb_cfg.n = hb_policy_plan(&hb_cfg.pol, &hb_cfg.sys, 0, false, hb_cfg.plan);
	/* HB_KEEPIDLE=auto: connect() needs to know the socket is ours (no fast mode). With
	 * keepalive off there is no idle to decide. */
	if (hb_cfg.autoidle.on && (hb_cfg.want.mask & HB_BIT(HB_V_IDLE))) {
		load_paths();
		hb_cfg.per_connect = true;
		hb_cfg.track = true;
	}
	hb_cfg.fast = !hb_cfg.track && !hb_cfg.pol.has_match;
	log_policy();
}

void hb_shim_init(void)
{
	const char *fallback[8];
	sigset_t all, old;
	unsigned int n;
	int saved = errno;

	/* No signal handler runs in this thread meanwhile: none can re-enter the init (a
	 * deadlock in pthread_once) or siglongjmp out of it and leave hb_in_init set. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	hb_in_init = 1;
	n = resolve(fallback, sizeof(fallback) / sizeof(fallback[0]));
	configure(fallback, n);
	hb_in_init = 0;
	atomic_store_explicit(&hb_ready, 1, memory_order_release);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
}

/* Our constructor; a wrapper called before it (from another library's constructor) has
 * already run the init, and this is then a no-op. */
__attribute__((constructor)) static void hb_shim_ctor(void)
{
	hb_shim_enter();
}
