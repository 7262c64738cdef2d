/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hbctl's two back ends behind one interface. hbctl picks BPF iterators when the caller has
 * CAP_BPF (+ CAP_PERFMON/CAP_SYS_ADMIN as the kernel wants) and the kernel has BTF, and
 * falls back to netlink sock_diag + /proc + pidfd_getfd otherwise (or when HB_BACKEND=diag /
 * --backend diag forces it). Both fill the same struct hb_sock records (sock.h).
 *
 * Filtering happens in user space, once, on the listed records; `set` then hands the chosen
 * sockets back by cookie, so the filter code exists in one place only.
 */
#ifndef HB_BACKEND_H
#define HB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "hb/sock.h"

struct hb_list_opts {
	bool owners;		/* -p: fill owner[] (pid, fd, comm) */
	bool config;		/* fill keepalive configuration (always on for ls) */
};

/* Values to apply: only those whose HB_BIT(HB_V_*) is in mask (policy.h enum hb_value). */
struct hb_set_values {
	unsigned int mask;
	int keepalive;
	int idle_s, intvl_s, cnt, user_timeout_ms;
};

struct hb_set_failure {
	uint64_t cookie;
	int err;		/* positive errno */
	int pid;		/* owner tried (diag back end), 0 for BPF */
};

struct hb_set_result {
	size_t changed;		/* sockets on which every requested value was applied */
	size_t failed;
	struct hb_set_failure *fail;	/* malloc'd, failed entries */
};

/* ---- BPF iterator back end (bpf/iter.c) ---- */

/* Whether this process can use the BPF back end (probe, cached). Returns 0 or -errno
 * (-EPERM without CAP_BPF, -EOPNOTSUPP without BTF/iterator support). */
int hb_iter_probe(void);
/* Why hb_iter_probe() failed, one phrase ("the kernel refused iter/task_file (...)", "needs
 * CAP_BPF and CAP_PERFMON, or root"); "" when it did not. */
const char *hb_iter_probe_why(void);
/* Lists the TCP sockets of the caller's network namespace into out (appending).
 * Returns 0 or -errno. */
int hb_iter_list(struct hb_sock_list *out, const struct hb_list_opts *opts);
/* Applies vals to the sockets whose cookies are given (bpf_setsockopt from iter/tcp; any
 * process, none is stopped). Returns 0 or -errno; per-socket outcomes in res. */
int hb_iter_set(const uint64_t *cookies, size_t n, const struct hb_set_values *vals,
		struct hb_set_result *res);

/* ---- netlink sock_diag back end (cli/diag.c, cli/owners.c, cli/pidfd.c) ---- */

/* What a sock_diag listing could not read, and where it stopped. */
struct hb_diag_stats {
	unsigned int procs_denied;	/* processes whose /proc/PID/fd was unreadable */
	unsigned int cfg_denied;	/* sockets whose settings pidfd_getfd could not read */
	enum hb_diag_step {
		HB_DIAG_STEP_DUMP,	/* the netlink dump (or writing raw) */
		HB_DIAG_STEP_OWNERS,	/* the owners from /proc */
		HB_DIAG_STEP_CONFIG,	/* the keepalive settings by pidfd_getfd */
	} failed;			/* on error: the step that failed */
};
/* Lists the TCP sockets of the caller's network namespace into out (appending): the
 * sock_diag dump (raw, if not NULL, receives its bytes: --dump-raw), the owners from /proc
 * (opts->owners or opts->config) and the keepalive settings by pidfd_getfd (opts->config).
 * Returns 0 or -errno, st->failed naming the step. */
int hb_diag_list(struct hb_sock_list *out, const struct hb_list_opts *opts, FILE *raw,
		 struct hb_diag_stats *st);
/* pidfd_getfd + setsockopt in each owning process; socks must carry owners. */
int hb_diag_set(const struct hb_sock *socks, size_t n, const struct hb_set_values *vals,
		struct hb_set_result *res);

void hb_set_result_free(struct hb_set_result *r);

#endif /* HB_BACKEND_H */
