// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl doctor: what this host (and this network namespace) gives hbctl, what is missing and
 * how to get it, and advice on the keepalive sysctls against the idle timeouts that drop
 * connections (this namespace's conntrack, common NATs and load balancers).
 *
 * Each check ends as ok, info (a fact), warn (works, but risky), degraded (runs on a
 * fallback: which, and why) or missing (a part of hbctl cannot work until it is fixed). The
 * BPF parts are probed by loading their programs, as bpftool feature probe does, so the
 * verdict is what runs, not what should. Exit 0 when nothing is missing, 1 otherwise. Doctor
 * mounts, attaches and pins nothing: each probe frees what it loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include "cli.h"
#include "hb/policy.h"
#include "hb/policy_loader.h"
#include "hb/bpf_loader.h"
#include "hb/monitor.h"
#include "mon.h"
#include "hb_paths.h"	/* HB_LIBDIR: where `hbctl run` looks for the installed shim */

#ifndef HB_VERSION
#define HB_VERSION "0.0.0"
#endif

/* degraded: the feature runs on a fallback (which, and why, in the value) */
enum dstat { D_OK, D_INFO, D_WARN, D_DEGRADED, D_MISSING };
static const char *const dstat_name[] = { "ok", "info", "warn", "degraded", "missing" };

#define MAX_CHECKS	24
#define MAX_ADVICE	8

struct check {
	const char *name;
	enum dstat st;
	char value[320];	/* what was found */
	char fix[400];		/* how to get what is missing ("" when nothing is) */
};

/* Everything doctor learnt; printed as a table or as one JSON object. */
struct report {
	struct check c[MAX_CHECKS];
	size_t n;
	char advice[MAX_ADVICE][512];
	size_t n_adv;
	char kernel[128];
	uint64_t caps;			/* effective set */
	bool caps_known;
	struct hb_sysctl sys;
	int retries2;			/* net.ipv4.tcp_retries2, -1 unreadable */
	long long ct_est;		/* nf_conntrack_tcp_timeout_established, -1 not visible */
	long long ct_loose;		/* nf_conntrack_tcp_loose, -1 not visible */
	unsigned long netns;		/* inode of our network namespace, 0 unknown */
	const char *be_ls;		/* "bpf-iter" or "sock_diag" */
	bool policy_ok, monitor_ok, run_ok;
	char monitor_via[128];		/* the monitor's program kinds, '+'-joined */
	char shim[PATH_MAX];
};

static const struct {
	int cap;
	const char *name, *why;
} caps_table[] = {
	{ CAP_BPF, "CAP_BPF", "load BPF programs (policy, monitor, bpf-iter back end)" },
	{ CAP_PERFMON, "CAP_PERFMON", "BPF tracing programs and pointer reads (monitor, iterators)" },
	{ CAP_NET_ADMIN, "CAP_NET_ADMIN", "sock_ops and cgroup_skb programs (policy, monitor)" },
	{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN", "replaces the three above; bpffs mounts" },
	{ CAP_SYS_PTRACE, "CAP_SYS_PTRACE",
	  "read other users' sockets through pidfd_getfd (sock_diag back end: ls -p, set)" },
};

static struct check *add(struct report *r, const char *name, enum dstat st, const char *fix,
			 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static struct check *add(struct report *r, const char *name, enum dstat st, const char *fix,
			 const char *fmt, ...)
{
	struct check *c;
	va_list ap;

	if (r->n >= MAX_CHECKS)
		return &r->c[MAX_CHECKS - 1];
	c = &r->c[r->n++];
	c->name = name;
	c->st = st;
	va_start(ap, fmt);
	vsnprintf(c->value, sizeof(c->value), fmt, ap);
	va_end(ap);
	snprintf(c->fix, sizeof(c->fix), "%s", fix ? fix : "");
	return c;
}

static void advise(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void advise(struct report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->n_adv >= MAX_ADVICE)
		return;
	va_start(ap, fmt);
	vsnprintf(r->advice[r->n_adv++], sizeof(r->advice[0]), fmt, ap);
	va_end(ap);
}

/* One integer from a /proc/sys file; -1 when it is not there (not visible in this namespace,
 * module not loaded) or unreadable. */
static long long read_ll(const char *path)
{
	char buf[64], *end;
	long long v;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || end == buf || v < 0)
		return -1;
	return v;
}

static bool have(const struct report *r, int cap)
{
	return r->caps_known && (r->caps & (1ULL << cap));
}

/* ---- the checks --------------------------------------------------------------------------- */

static void check_kernel(struct report *r)
{
	struct utsname u;
	bool kconfig;

	if (uname(&u)) {
		add(r, "kernel", D_WARN, NULL, "uname: %s", strerror(errno));
		return;
	}
	snprintf(r->kernel, sizeof(r->kernel), "%s", u.release);
	add(r, "kernel", D_OK, NULL, "Linux %s (%s)", u.release, u.machine);
	/* libbpf fills in __kconfig externs (CONFIG_HZ for socket ages) from one of these */
	kconfig = access("/proc/config.gz", R_OK) == 0;
	if (kconfig) {
		add(r, "kconfig", D_OK, NULL, "/proc/config.gz");
	} else {
		char boot[PATH_MAX];

		snprintf(boot, sizeof(boot), "/boot/config-%s", u.release);
		if (access(boot, R_OK) == 0)
			add(r, "kconfig", D_OK, NULL, "%s", boot);
		else
			add(r, "kconfig", D_WARN,
			    "a kernel with CONFIG_IKCONFIG_PROC=y, or its config installed as "
			    "/boot/config-$(uname -r)",
			    "no /proc/config.gz or %s: BPF programs assume HZ=250 for socket ages",
			    boot);
	}
}

static void check_btf(struct report *r)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		add(r, "btf", D_OK, NULL, "/sys/kernel/btf/vmlinux");
	else
		add(r, "btf", D_MISSING,
		    "a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian's, Ubuntu's, RHEL's are); "
		    "without it policy, monitor and the bpf-iter back end cannot load",
		    "/sys/kernel/btf/vmlinux: %s", strerror(errno));
}

static void check_cgroup2(struct report *r)
{
	char mnt[PATH_MAX], self[PATH_MAX], err[256];
	int rc;

	rc = hb_cgroup2_mount(mnt, sizeof(mnt));
	if (rc) {
		add(r, "cgroup2", D_MISSING,
		    "mount it: mount -t cgroup2 none /sys/fs/cgroup/unified (systemd: boot with "
		    "systemd.unified_cgroup_hierarchy=1); policies and the monitor attach to cgroup v2",
		    "no cgroup v2 hierarchy in /proc/self/mountinfo");
		return;
	}
	if (hb_cgroup_self(self, sizeof(self), err, sizeof(err)))
		snprintf(self, sizeof(self), "? (%s)", err);
	add(r, "cgroup2", D_OK, NULL, "%s%s; hbctl runs in %s", mnt,
	    strcmp(mnt, "/sys/fs/cgroup") ? " (hybrid hierarchy: v1 controllers beside it)" : "",
	    self);
}

static bool bpffs_mounted(void)
{
	return hb_bpf_fs(HB_PIN_BPFFS, false) == 0;
}

static void check_bpffs(struct report *r)
{
	if (bpffs_mounted()) {
		add(r, "bpffs", D_OK, NULL, "%s", HB_PIN_BPFFS);
		return;
	}
	add(r, "bpffs", D_MISSING,
	    "mount it: mount -t bpf bpf " HB_PIN_BPFFS " (or in /etc/fstab: bpf " HB_PIN_BPFFS
	    " bpf defaults 0 0); hbctl policy add mounts it itself when run as root",
	    "%s is not a bpf filesystem: policies cannot be pinned", HB_PIN_BPFFS);
}

static void check_caps(struct report *r)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	char has[256] = "", miss[256] = "", fix[400], exe[PATH_MAX] = "hbctl";
	bool sa, bpf_ok;
	size_t i;
	ssize_t n;

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data)) {
		add(r, "capabilities", D_WARN, NULL, "capget: %s", strerror(errno));
		return;
	}
	r->caps = data[0].effective | (uint64_t)data[1].effective << 32;
	r->caps_known = true;
	sa = have(r, CAP_SYS_ADMIN);
	for (i = 0; i < sizeof(caps_table) / sizeof(caps_table[0]); i++) {
		bool got = have(r, caps_table[i].cap);
		char *dst = got ? has : miss;

		/* CAP_SYS_ADMIN is an alternative, never itself missing */
		if (!got && caps_table[i].cap == CAP_SYS_ADMIN)
			continue;
		if (!got && sa && caps_table[i].cap != CAP_SYS_PTRACE)
			continue;
		snprintf(dst + strlen(dst), sizeof(has) - strlen(dst), "%s%s", *dst ? " " : "",
			 caps_table[i].name);
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 5] = '\0';
	/* CAP_SYS_ADMIN stands in for CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN in the kernel */
	bpf_ok = sa || (have(r, CAP_BPF) && have(r, CAP_PERFMON) && have(r, CAP_NET_ADMIN));
	snprintf(fix, sizeof(fix),
		 "run hbctl as root; or, as Wireshark installs dumpcap, for a dedicated group "
		 "only (never on a binary every user can run: any user could then change root's "
		 "sockets): groupadd -r hbkeep; f=%s; chgrp hbkeep $f; chmod 0750 $f; setcap "
		 "cap_bpf,cap_perfmon,cap_net_admin,cap_sys_ptrace+ep $f (systemd: "
		 "AmbientCapabilities=; Kubernetes: capabilities.add)", exe);
	if (!bpf_ok)
		add(r, "capabilities", D_MISSING, fix,
		    "missing %s (CAP_SYS_ADMIN would replace CAP_BPF, CAP_PERFMON and "
		    "CAP_NET_ADMIN); has %s", miss, *has ? has : "none");
	else if (!have(r, CAP_SYS_PTRACE))
		add(r, "capabilities", D_WARN, fix,
		    "%s; missing CAP_SYS_PTRACE: the sock_diag back end cannot read other users' "
		    "sockets (the bpf-iter back end can)", has);
	else
		add(r, "capabilities", D_OK, NULL, "%s", has);
}

static void check_sysctls(struct report *r)
{
	struct stat st;

	hb_sysctl_read(&r->sys, "/proc");
	r->retries2 = (int)read_ll("/proc/sys/net/ipv4/tcp_retries2");
	r->netns = stat("/proc/self/ns/net", &st) ? 0 : (unsigned long)st.st_ino;
	add(r, "sysctl", D_INFO, NULL,
	    "net.ipv4.tcp_keepalive_time %d s, tcp_keepalive_intvl %d s, tcp_keepalive_probes %d "
	    "(network namespace %lu): a socket with SO_KEEPALIVE and nothing else notices a dead "
	    "peer after %d s", r->sys.idle_s, r->sys.intvl_s, r->sys.cnt, r->netns,
	    r->sys.idle_s + r->sys.intvl_s * r->sys.cnt);

	r->ct_est = read_ll("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established");
	r->ct_loose = read_ll("/proc/sys/net/netfilter/nf_conntrack_tcp_loose");
	if (r->ct_est < 0)
		add(r, "conntrack", D_INFO, NULL,
		    "not visible in this network namespace (nf_conntrack not loaded here)");
	else
		add(r, "conntrack", D_INFO, NULL,
		    "net.netfilter.nf_conntrack_tcp_timeout_established %lld s, "
		    "nf_conntrack_tcp_loose %lld", r->ct_est, r->ct_loose);
}

/* Concrete advice from the sysctls against the timeouts that forget idle flows. */
static void sysctl_advice(struct report *r)
{
	int idle = r->sys.idle_s;
	long long t = r->ct_est, want;

	if (t > 0 && idle >= t) {
		/* half the timeout: a lost first probe is retried before the entry expires */
		want = t / 2 > 0 ? t / 2 : 1;
		advise(r, "tcp_keepalive_time %d s exceeds conntrack's established timeout %lld s "
		       "(net.netfilter.nf_conntrack_tcp_timeout_established) in this namespace: a "
		       "connection through it (NAT, stateful firewall) that stays idle longer is "
		       "forgotten before its first keepalive probe. Keep idle below it, e.g. %lld s: "
		       "hbctl run --idle %lld, idle=%lld in /etc/hbkeep/policies.conf, or "
		       "sysctl -w net.ipv4.tcp_keepalive_time=%lld",
		       idle, t, want, want, want, want);
	}
	if (t > 0 && t <= HB_DEFAULT_IDLE)
		advise(r, "conntrack's established timeout %lld s is not above hbkeep's default idle "
		       "%d s: give an explicit idle below it (--idle %lld, idle=%lld)",
		       t, HB_DEFAULT_IDLE, t / 2 > 0 ? t / 2 : 1, t / 2 > 0 ? t / 2 : 1);
	if (idle > 240)
		advise(r, "tcp_keepalive_time %d s is longer than common NAT and load balancer idle "
		       "timeouts (Azure LB 240 s, AWS NLB 350 s, GCP 600 s, home routers often less): "
		       "connections that leave through one die silently. Run programs with hbctl run "
		       "(shim), put a policy on their cgroup (hbctl policy add, "
		       "/etc/hbkeep/policies.conf), and measure a path with hbctl probe-nat HOST:PORT",
		       idle);
	if (r->retries2 >= 8)
		advise(r, "tcp_retries2 %d: a write to a peer that vanished waits about %s for "
		       "retransmissions to give up; a user timeout bounds it (hbctl run "
		       "--user-timeout 30s, user-timeout=30s in a policy)",
		       r->retries2, r->retries2 >= 15 ? "15 minutes" : "several minutes");
}

/* The shim `hbctl run` would preload: the lookup of cmd_run.c ($HB_SHIM, installed, beside
 * this binary). */
static void check_shim(struct report *r)
{
	const char *env = getenv("HB_SHIM");
	char exe[PATH_MAX - 32], *slash;
	ssize_t n;

	if (env && *env) {
		snprintf(r->shim, sizeof(r->shim), "%s", env);
	} else {
		snprintf(r->shim, sizeof(r->shim), "%s/hb/libhbshim.so", HB_LIBDIR);
		if (access(r->shim, R_OK)) {
			n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
			if (n > 0) {
				exe[n] = '\0';
				slash = strrchr(exe, '/');
				if (slash) {
					*slash = '\0';
					snprintf(r->shim, sizeof(r->shim), "%s/libhbshim.so", exe);
				}
			}
		}
	}
	r->run_ok = access(r->shim, R_OK) == 0;
	if (r->run_ok)
		add(r, "run", D_OK, NULL, "LD_PRELOAD shim %s", r->shim);
	else if (env && *env)
		add(r, "run", D_MISSING, "set HB_SHIM to the shim's path, or unset it",
		    "HB_SHIM=%s: no such file", r->shim);
	else
		add(r, "run", D_MISSING,
		    "install the package (libhbshim.so goes to " HB_LIBDIR "/hb), make install, or "
		    "set HB_SHIM=PATH",
		    "libhbshim.so not found (tried " HB_LIBDIR "/hb/libhbshim.so and %s)", r->shim);
}

static bool pidfd_getfd_works(void)
{
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
	int pfd, fd;

	pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pfd < 0)
		return false;
	fd = (int)syscall(SYS_pidfd_getfd, pfd, pfd, 0);
	close(pfd);
	if (fd < 0)
		return false;
	close(fd);
	return true;
#else
	return false;
#endif
}

/* What to do about a program the kernel refuses although hbctl has every capability. */
#define FIX_REFUSED "the kernel refuses it although hbctl has the capabilities: check the " \
	"security policy (BPF LSM, SELinux/AppArmor bpf rules, lockdown) and kernel configuration"

/* The fix for a refused load: HB_BPF_DENY's doing, or the kernel's. */
static const char *fix_refused(const char *why)
{
	return strncmp(why, "HB_BPF_DENY", 11) ? FIX_REFUSED :
	       "unset HB_BPF_DENY (it refuses programs on purpose)";
}

static bool denying(void)
{
	const char *d = getenv("HB_BPF_DENY");

	return d && *d;
}

static void check_deny(struct report *r)
{
	if (denying())
		add(r, "HB_BPF_DENY", D_INFO, NULL, "refusing %s as a kernel that does not allow "
		    "them would (a test and troubleshooting aid): the checks below show the fallbacks",
		    getenv("HB_BPF_DENY"));
}

/* ls and set: what hb_backend_resolve() decides, from the same real load. */
static void check_ls(struct report *r, bool bpf_ok)
{
	const char *env = getenv("HB_BACKEND");
	int rc;

	rc = hb_iter_probe();
	if (env && !strcmp(env, "diag")) {
		r->be_ls = "sock_diag";
		add(r, "ls/set", D_OK, NULL, "sock_diag + /proc + pidfd_getfd (chosen by "
		    "HB_BACKEND=diag; BPF iterators %savailable)", rc ? "un" : "");
	} else if (!rc) {
		r->be_ls = "bpf-iter";
		add(r, "ls/set", D_OK, NULL,
		    "bpf-iter (iter/tcp, iter/task_file loaded: any process's sockets, nothing "
		    "stopped)");
	} else {
		r->be_ls = "sock_diag";
		add(r, "ls/set", D_DEGRADED,
		    !bpf_ok ? "the capabilities above" :
		    rc == -EPERM ? fix_refused(hb_iter_probe_why()) :
		    "a kernel with BTF and BPF iterators (iter/tcp, bpf_setsockopt from iterators; "
		    "5.15 or later)",
		    "sock_diag + /proc + pidfd_getfd (fallback; BPF iterators unavailable: %s)",
		    *hb_iter_probe_why() ? hb_iter_probe_why() : strerror(-rc));
	}
	if (!pidfd_getfd_works())
		add(r, "pidfd_getfd", D_WARN, "a kernel with pidfd_getfd(2) (5.6 or later)",
		    "pidfd_getfd(2) unavailable: hbctl set with the sock_diag back end cannot work");
}

/* policy: the sock_ops program and the --retrofit iterator, loaded and freed. */
static void check_policy(struct report *r, bool bpf_ok, bool cg2)
{
	char err[320], err2[320];
	int rc;

	if (!bpf_ok || !cg2) {
		add(r, "policy", D_MISSING, "fix what is missing above",
		    "unavailable: needs BTF, cgroup v2 and the capabilities above");
		return;
	}
	rc = hb_pol_probe(HB_POL_PROBE_RETROFIT | HB_POL_PROBE_RECORDER, err, sizeof(err));
	if (!rc) {
		r->policy_ok = true;
		add(r, "policy", D_OK, NULL, "sockops, cgroup/setsockopt (the program's own choices) "
		    "and iter/tcp (--retrofit) loaded; cgroup v2, pinned in %s (policy add/ls/rm/"
		    "apply, run --kernel)", hb_pin_policy_dir());
		return;
	}
	rc = hb_pol_probe(0, err2, sizeof(err2));
	if (!rc) {
		char e_rec[320] = "", e_ret[320] = "", msg[800];
		bool rec = !hb_pol_probe(HB_POL_PROBE_RECORDER, e_rec, sizeof(e_rec));
		bool ret = !hb_pol_probe(HB_POL_PROBE_RETROFIT, e_ret, sizeof(e_ret));
		int n = snprintf(msg, sizeof(msg), "sockops loaded");

		if (!rec && n > 0 && (size_t)n < sizeof(msg))
			n += snprintf(msg + n, sizeof(msg) - (size_t)n, "; the program's own choices "
				      "are not recorded, so a value a program set before connect() "
				      "can be overridden (%s)", e_rec);
		if (!ret && n > 0 && (size_t)n < sizeof(msg))
			snprintf(msg + n, sizeof(msg) - (size_t)n, "; --retrofit unavailable: "
				 "policies reach new connections only (%s)", e_ret);
		r->policy_ok = true;
		add(r, "policy", D_DEGRADED, fix_refused(rec ? e_ret : e_rec), "%s", msg);
		return;
	}
	add(r, "policy", D_MISSING, rc == -EPERM ? fix_refused(err2) : NULL, "%s", err2);
}

/* monitor: each feature from a real load of its programs (hb_monitor_probe). */
static void check_monitor(struct report *r, bool bpf_ok, bool cg2)
{
	static const char *const row[HB_MON_NFEAT] = {
		[HB_MON_FEAT_COUNT] = "monitor",
		[HB_MON_FEAT_CLOSES] = "monitor/closes",
		[HB_MON_FEAT_CONNS] = "monitor/conns",
		[HB_MON_FEAT_PEERS] = "monitor/peers",
	};
	static const char *const what[HB_MON_NFEAT] = {
		[HB_MON_FEAT_COUNT] = "probes, heartbeats, idle gaps",
		[HB_MON_FEAT_CLOSES] = "how connections end",
		[HB_MON_FEAT_CONNS] = "per-connection rows: --conns, hbctl ls columns",
		[HB_MON_FEAT_PEERS] = "client connections per peer: --peers",
	};
	struct hb_mon_feat f[HB_MON_NFEAT];
	char err[320];
	int i, rc;

	if (!bpf_ok || !cg2) {
		add(r, "monitor", D_MISSING, "fix what is missing above",
		    "unavailable: needs BTF, cgroup v2 and the capabilities above");
		return;
	}
	memset(f, 0, sizeof(f));
	rc = hb_monitor_probe(0, f, err, sizeof(err));
	if (rc) {
		add(r, "monitor", D_MISSING, rc == -EPERM ? fix_refused(err) : NULL, "%s", err);
		return;
	}
	r->monitor_ok = true;
	for (i = 0; i < HB_MON_NFEAT; i++) {
		if (f[i].state == HB_FEAT_OK)
			add(r, row[i], D_OK, NULL, "%s (%s)", f[i].via, what[i]);
		else if (f[i].state == HB_FEAT_DEGRADED)
			add(r, row[i], D_DEGRADED, fix_refused(f[i].why), "%s (fallback): %s",
			    f[i].via, f[i].why);
		else if (hb_mon_feat_lost(i))
			add(r, row[i], D_MISSING, fix_refused(f[i].why), "%s (%s)", f[i].why,
			    hb_mon_feat_lost(i));
		else
			add(r, row[i], D_MISSING, fix_refused(f[i].why), "%s", f[i].why);
		/* the peers ride on the close causes' program kind: named once */
		if (f[i].via[0] && i != HB_MON_FEAT_PEERS)
			snprintf(r->monitor_via + strlen(r->monitor_via),
				 sizeof(r->monitor_via) - strlen(r->monitor_via), "%s%s",
				 r->monitor_via[0] ? "+" : "", f[i].via);
	}
}

/* Each part hbctl loads BPF for, probed by loading (and freeing) its programs, as bpftool
 * feature probe does: what runs, on which fallback, and what cannot. */
static void check_backends(struct report *r)
{
	char mnt[PATH_MAX];
	bool bpf_ok, cg2;

	bpf_ok = access("/sys/kernel/btf/vmlinux", R_OK) == 0 &&
		 (!r->caps_known || have(r, CAP_SYS_ADMIN) ||
		  (have(r, CAP_BPF) && have(r, CAP_NET_ADMIN) && have(r, CAP_PERFMON)));
	cg2 = hb_cgroup2_mount(mnt, sizeof(mnt)) == 0;
	check_deny(r);
	check_ls(r, bpf_ok);
	check_policy(r, bpf_ok, cg2);
	check_monitor(r, bpf_ok, cg2);
}

/* ---- output ------------------------------------------------------------------------------- */

static bool report_ok(const struct report *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->c[i].st == D_MISSING)
			return false;
	return true;
}

static void print_text(const struct report *r, bool color)
{
	static const char *const col[] = { "\033[32m", "", "\033[33m", "\033[33m", "\033[31m" };
	size_t i;

	printf("hbctl %s doctor\n", HB_VERSION);
	for (i = 0; i < r->n; i++) {
		const struct check *c = &r->c[i];

		printf("%s%-8s%s %-14s %s\n", color ? col[c->st] : "", dstat_name[c->st],
		       color && *col[c->st] ? "\033[0m" : "", c->name, c->value);
		if (c->fix[0] && c->st >= D_WARN)
			printf("%-8s %-14s fix: %s\n", "", "", c->fix);
	}
	if (r->n_adv) {
		printf("\nadvice:\n");
		for (i = 0; i < r->n_adv; i++)
			printf("- %s\n", r->advice[i]);
	}
	printf("\n");
	if (report_ok(r)) {
		printf("everything hbctl needs is present\n");
		for (i = 0; i < r->n; i++)
			if (r->c[i].st == D_DEGRADED)
				printf("degraded: %s runs on a fallback (see above)\n", r->c[i].name);
	} else {
		printf("missing:");
		for (i = 0; i < r->n; i++)
			if (r->c[i].st == D_MISSING)
				printf(" %s", r->c[i].name);
		printf(" (see fix: above)\n");
	}
}

static void json_num(const char *name, long long v, bool comma)
{
	if (v < 0)
		printf("%s\"%s\":null", comma ? "," : "", name);
	else
		printf("%s\"%s\":%lld", comma ? "," : "", name, v);
}

static void print_json(const struct report *r)
{
	size_t i;

	printf("{\"version\":\"%s\",\"ok\":%s,\"kernel\":", HB_VERSION,
	       report_ok(r) ? "true" : "false");
	hb_json_str(stdout, r->kernel, sizeof(r->kernel));
	printf(",\"checks\":[");
	for (i = 0; i < r->n; i++) {
		const struct check *c = &r->c[i];

		printf("%s{\"name\":", i ? "," : "");
		hb_json_str(stdout, c->name, 64);
		printf(",\"status\":\"%s\",\"value\":", dstat_name[c->st]);
		hb_json_str(stdout, c->value, sizeof(c->value));
		printf(",\"fix\":");
		if (c->fix[0] && c->st >= D_WARN)
			hb_json_str(stdout, c->fix, sizeof(c->fix));
		else
			printf("null");
		printf("}");
	}
	printf("],\"capabilities\":");
	if (!r->caps_known) {
		printf("null");
	} else {
		for (i = 0; i < sizeof(caps_table) / sizeof(caps_table[0]); i++)
			printf("%s\"%s\":%s", i ? "," : "{", caps_table[i].name,
			       have(r, caps_table[i].cap) ? "true" : "false");
		printf("}");
	}
	printf(",\"sysctl\":{");
	json_num("tcp_keepalive_time", r->sys.idle_s, false);
	json_num("tcp_keepalive_intvl", r->sys.intvl_s, true);
	json_num("tcp_keepalive_probes", r->sys.cnt, true);
	json_num("tcp_retries2", r->retries2, true);
	printf("},\"netns\":%lu,\"conntrack\":", r->netns);
	if (r->ct_est < 0) {
		printf("null");
	} else {
		printf("{");
		json_num("tcp_timeout_established", r->ct_est, false);
		json_num("tcp_loose", r->ct_loose, true);
		printf("}");
	}
	printf(",\"backends\":{\"ls\":\"%s\",\"set\":\"%s\",\"run\":", r->be_ls, r->be_ls);
	if (r->run_ok)
		hb_json_str(stdout, r->shim, sizeof(r->shim));
	else
		printf("null");
	printf(",\"policy\":%s,\"monitor\":", r->policy_ok ? "\"sock_ops\"" : "null");
	if (r->monitor_ok)
		hb_json_str(stdout, r->monitor_via, sizeof(r->monitor_via));
	else
		printf("null");
	printf("}");
	printf(",\"advice\":[");
	for (i = 0; i < r->n_adv; i++) {
		printf("%s", i ? "," : "");
		hb_json_str(stdout, r->advice[i], sizeof(r->advice[i]));
	}
	printf("]}\n");
}

static void doctor_usage(FILE *f)
{
	fprintf(f,
		"Usage: hbctl doctor [-j] [--netns NAME|PATH|PID]\n"
		"\n"
		"Checks what hbctl needs on this host and says how to get what is missing: kernel,\n"
		"BTF, the cgroup v2 mount, bpffs, capabilities; loads (and unloads) each BPF\n"
		"program hbctl uses and reports each feature ok, degraded (on a fallback: which,\n"
		"and why) or missing (why, and the fix); shows the network namespace's keepalive\n"
		"sysctls and conntrack timeouts, and advice (e.g. a keepalive idle time longer\n"
		"than conntrack's established timeout). HB_BPF_DENY=PROG,... refuses programs as\n"
		"a kernel would, to see the fallbacks.\n"
		"\n"
		"  -j, --json              one JSON object\n"
		"  -n, --netns NAME|PATH|PID  the sysctls and conntrack of that network namespace\n"
		"\n"
		"Exit status: 0 when every feature runs (in full or degraded), 1 when one is missing\n"
		"(each named, with how to get it), 2 usage error.\n");
}

int cmd_doctor(int argc, char **argv, struct hb_cli_opts *o)
{
	static struct report r;		/* large: off the stack */
	int rc;

	rc = hb_cli_parse_globals_only(argc, argv, o, doctor_usage);
	if (rc)
		return rc;
	/* mountinfo and capabilities are read before --netns (they do not depend on it) */
	memset(&r, 0, sizeof(r));
	check_kernel(&r);
	check_btf(&r);
	check_cgroup2(&r);
	check_bpffs(&r);
	check_caps(&r);
	rc = hb_cli_enter_netns(o);
	if (rc)
		return rc;
	check_sysctls(&r);
	check_backends(&r);
	check_shim(&r);
	sysctl_advice(&r);
	if (o->json)
		print_json(&r);
	else
		print_text(&r, hb_want_color(stdout));
	return report_ok(&r) ? HB_EXIT_OK : HB_EXIT_RUNTIME;
}
