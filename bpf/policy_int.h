/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Inside the policy loader: what bpf/policy.c (add, probe) and bpf/policy_list.c (ls, rm) and
 * bpf/policy_paths.c share. Not for callers outside bpf/policy*.c.
 */
#ifndef HB_BPF_POLICY_INT_H
#define HB_BPF_POLICY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hb_pol_stats;
struct hb_paths;

/* Whether fd is hbkeep's paths map (an LPM trie of this version's key and value). */
bool hb__pol_path_map_ok(int fd);
/* Makes the paths map fd hold exactly table t. Returns t->n or -errno with err set. */
int hb__pol_map_fill(int fd, const struct hb_paths *t, char *err, size_t errlen);

/* Takes the policies' lock (flock on their directory). Returns the fd to close, or -errno
 * with a message in err. */
int hb__pol_lock_dir(char *err, size_t errlen);
/* The pin directory of policy id (name NULL) or a pin in it, where it is: the policies'
 * directory, or where a previous version pinned it. */
void hb__pol_pin_path(char *buf, size_t len, uint64_t id, const char *name);
/* Removes the policy's directory and whatever is in it. Returns 0 or -errno. */
int hb__pol_unpin_all(uint64_t id);
/* Start time of a process (/proc/PID/stat field 22), 0 when it is gone. */
uint64_t hb__pol_proc_start(pid_t pid);
/* Sums the per-CPU counters of the stats map fd. Returns 0 or -errno. */
int hb__pol_read_stats(int fd, struct hb_pol_stats *out);
/* The ids of a link (each pointer may be NULL; the cgroup's only for a cgroup link). */
void hb__pol_link_ids(int link_fd, uint32_t *link_id, uint32_t *prog_id, uint64_t *cg_id);
/* Unpins the paths map when no policy with --idle auto is left. Under the lock. */
void hb__pol_unpin_paths_unused(void);

#endif /* HB_BPF_POLICY_INT_H */
