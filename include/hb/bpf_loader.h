/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What hbctl's BPF loaders (bpf/iter.c, bpf/monitor.c, bpf/policy.c) share (bpf/loader.c):
 * libbpf's print hook routed through libhb's log hook, one capability check, one bpffs check,
 * one error formatter, the message for a refused load, and HB_BPF_DENY.
 *
 * HB_BPF_DENY=NAME[,NAME...] (a test and troubleshooting aid) makes the loaders refuse the
 * named programs exactly as a kernel that does not allow them would: the load fails with
 * EPERM, and whatever falls back on a real refusal falls back the same way. A NAME is a
 * program name (iter_conns), a section kind (tp_btf, raw_tp, iter, cgroup_skb, sockops), a section
 * (iter/tcp, iter/task_file, iter/bpf_sk_storage_map) or map_iter (every map iterator).
 */
#ifndef HB_BPF_LOADER_H
#define HB_BPF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/capability.h>
#include "hb/log.h"

/* For headers older than the kernel (Debian 12's have them; older ones do not) */
#ifndef CAP_PERFMON
#define CAP_PERFMON	38
#endif
#ifndef CAP_BPF
#define CAP_BPF		39
#endif
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC	0xcafe4a11
#endif

struct bpf_object;
struct bpf_program;

/* The capabilities a program kind needs besides CAP_BPF (CAP_SYS_ADMIN replaces all). */
#define HB_BPF_NEED_PERFMON	1u	/* tracing programs, iterators, pointer reads */
#define HB_BPF_NEED_NET_ADMIN	2u	/* cgroup_skb, sock_ops */

/* Points libbpf's messages at libhb's log hook (hbctl -v: warnings; HB_DEBUG=2: its debug
 * log too; without a hook, HB_DEBUG=1 prints warnings on stderr). Called once, by main. */
void hb_bpf_set_print(void);

/* Whether the effective set holds CAP_BPF and what need asks for (or CAP_SYS_ADMIN). True
 * when capget() fails: the load decides then. */
bool hb_bpf_have_caps(unsigned int need);

/* Whether path is on a bpf filesystem. With mount_it, mounts one there (mode 0700, creating
 * the directory) when it is not, as bpftool does. Returns 0 or -errno. */
int hb_bpf_fs(const char *path, bool mount_it);

/* Formats into err (if any) and returns rc: lib's hb_errf (hb/log.h). */
#define hb_bpf_errf hb_errf

/* Whether HB_BPF_DENY names this program (by name, section or kind). */
bool hb_bpf_denied(const struct bpf_program *prog);
/* Whether HB_BPF_DENY names NAME/SEC (for probes that load without an object). */
bool hb_bpf_denied_name(const char *name, const char *sec);
/* Before bpf_object__load(): -EPERM (with the program in err) when HB_BPF_DENY names one of
 * the programs the object would load, as the kernel's refusal of it would fail the load. */
int hb_bpf_deny_check(struct bpf_object *obj, char *err, size_t errlen);

/* The message for a failed load of program prog (NULL: any) of kind `what` (a section, e.g.
 * "iter/bpf_sk_storage_map"): the missing capabilities for a caller who lacks them;
 * "HB_BPF_DENY refused WHAT" when the switch did it; "the kernel refused WHAT (a security
 * policy or kernel configuration)" for EPERM with every capability; the error otherwise.
 * Writes into err and returns rc. */
int hb_bpf_load_err(int rc, const char *prog, const char *what, unsigned int need, char *err,
		    size_t errlen);

/* A record of an iterator: 0 to go on, or -errno, which stops the read. */
typedef int (*hb_bpf_rec_fn)(const void *rec, void *ctx);
/* Reads an iterator fd (bpf_iter_create(), or a pinned iterator opened) to its end through
 * buf and passes each record of rec_size bytes to fn (NULL: discard the output). Plain
 * system calls (bpf/iter_read.c, which links without libbpf): safe on another thread.
 * Returns 0, -EPROTO for a trailing partial record, or -errno (fn's first error stops the
 * read). */
int hb_bpf_iter_read(int fd, char *buf, size_t buf_size, size_t rec_size, hb_bpf_rec_fn fn,
		     void *ctx);

#endif /* HB_BPF_LOADER_H */
