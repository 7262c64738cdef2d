/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The kernel policy's loader, for hbctl: add, list, remove and probe the per-cgroup policy
 * (bpf/policy.c, bpf/policy_list.c), compile a libhb policy for it (bpf/policy_compile.c)
 * and keep the paths map of --idle auto in step (bpf/policy_paths.c). Free of libbpf types.
 * The ABI the program shares is hb/policy_bpf.h; the cgroup API is hb/cgroup.h.
 */
#ifndef HB_POLICY_LOADER_H
#define HB_POLICY_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hb/cgroup.h"
#include "hb/policy.h"
#include "hb/policy_bpf.h"

#include <stddef.h>
#include <stdint.h>
#include "hb/policy.h"
#include "hb/cgroup.h"
#include "hb/pins.h"

/*
 * Policies are pinned in hb_pin_policy_dir(): /sys/fs/bpf/hbkeep/policy, or
 * $HB_PIN_DIR/policy (hb/pins.h). The override lets a test keep its policies apart from the
 * host's, so that a test's `policy rm --all` can never remove a policy it did not create.
 * Policies a previous version pinned in /sys/fs/bpf/hb (or directly in $HB_PIN_DIR) are
 * listed and removed too. The paths map of --idle auto is pinned at hb_pin_paths().
 */

struct hb_paths;
/* Brings the pinned paths map (if a policy with --idle auto pinned it) in line with table t.
 * Returns the number of entries written, 0 when no map is pinned (no such policy), or -errno
 * with a message in err. */
int hb_paths_map_sync(const struct hb_paths *t, char *err, size_t errlen);

/*
 * Compiles a match list into cfg->pat/n/n_include (the same patterns, word-wise).
 * Returns 0, or -E2BIG for more than HB_POL_MATCH_MAX patterns.
 */
int hb_pol_compile_match(const struct hb_match *m, struct hb_pol_cfg *cfg);

/* Compiles a policy (values the user or hbkeep's defaults give; values left to the sysctl
 * are not set, so each socket keeps its own namespace's) and its match list into cfg.
 * Returns 0 or -errno. */
int hb_pol_compile(const struct hb_policy *p, struct hb_pol_cfg *cfg);

/* Where a policy stands, for `policy ls`. */
enum hb_pol_state {
	HB_POL_ACTIVE,		/* attached to its cgroup */
	HB_POL_ORPHAN_GONE,	/* its cgroup was removed (or replaced by another of that name) */
	HB_POL_ORPHAN_EMPTY,	/* transient, and no process is left in its cgroup */
	HB_POL_ORPHAN_OWNER,	/* transient, and the hbctl that made it is gone */
	HB_POL_BROKEN,		/* pins incomplete (a crash during add?): `policy rm` cleans */
};

struct hb_pol_info {
	uint64_t id;
	struct hb_pol_meta meta;	/* zeroed when unreadable (state BROKEN) */
	struct hb_pol_stats stats;	/* summed over CPUs */
	uint32_t link_id, prog_id;	/* 0: unknown */
	enum hb_pol_state state;
};

/* Flags of hb_pol_add(). */
#define HB_POL_ADD_NO_REPLACE	0x01	/* fail with -EEXIST when the cgroup has a policy */
#define HB_POL_ADD_RETROFIT	0x02	/* also apply it to the cgroup's established sockets */
#define HB_POL_ADD_TRANSIENT	0x04	/* run --kernel: owner is this process; rm removes the cgroup */

struct hb_pol_add_res {
	uint64_t id;
	bool replaced;			/* an existing policy was swapped (link updated) */
	bool no_record;			/* the kernel refused the cgroup setsockopt program: a
					 * program's own choices made before connect() are not
					 * seen (SO_KEEPALIVE=0 is switched on); why in note */
	char note[160];
	uint32_t link_id, prog_id;
	uint64_t retrofit_applied;	/* --retrofit: sockets changed */
	uint64_t retrofit_failed;
};

/*
 * Loads the program with cfg, attaches it to the cgroup (resolved by the caller) with a BPF
 * link and pins link, counters and metadata under hb_pin_policy_dir()/<id>/; or, when the cgroup
 * has a policy already, loads the new program and swaps it in with bpf_link_update(). Mounts
 * bpffs on /sys/fs/bpf when it is not (as root). Checks privileges, BTF and bpffs first.
 * Returns 0 or -errno with a one-line message in err; when only the retrofit failed, the
 * policy is in place and res->id is set.
 */
int hb_pol_add(const struct hb_pol_cfg *cfg, const char *cgroup_abs, uint64_t cgroup_id,
	       unsigned level, const char *match_text, unsigned flags,
	       struct hb_pol_add_res *res, char *err, size_t errlen);

/* Lists the pinned policies, sorted by id (*out malloc'd, free it). Returns 0 or -errno
 * with a message in err (none pinned: 0 and *n = 0). */
int hb_pol_list(struct hb_pol_info **out, size_t *n, char *err, size_t errlen);

/*
 * Detaches and unpins the policy id: nothing of it is left in bpffs. A transient policy's
 * cgroup goes too (processes still in it are moved to its parent first). Returns 0 or
 * -errno (-ENOENT: no such policy) with a message in err.
 */
int hb_pol_remove(uint64_t id, char *err, size_t errlen);

/* Opens the records map (pinned "sk", struct hb_pol_sk values) of each policy in the policy
 * directory, at most max: fds[i] and the map's id ids[i] (what sock_diag's
 * INET_DIAG_REQ_SK_BPF_STORAGES replies name). Policies without one are skipped. Returns how
 * many were opened; the caller closes the fds. */
size_t hb_pol_open_records(int *fds, uint32_t *ids, size_t max);

/* Whether this process may manage policies (CAP_SYS_ADMIN, or CAP_BPF + CAP_NET_ADMIN +
 * CAP_PERFMON). Returns 0 or -EPERM with a message in err. */
int hb_pol_check_caps(char *err, size_t errlen);

/* For hbctl doctor: loads and frees the policy program sockops_policy and the optional
 * programs named in opt (HB_POL_PROBE_*), attaching nothing. Returns 0 or -errno with a
 * message in err that names the refused program. */
#define HB_POL_PROBE_RETROFIT	0x1	/* iter_tcp_retrofit: --retrofit */
#define HB_POL_PROBE_RECORDER	0x2	/* setsockopt_policy: the program's own choices */
int hb_pol_probe(unsigned int opt, char *err, size_t errlen);

/* The state's name in reports: "active", "orphan", "broken". */
const char *hb_pol_state_name(enum hb_pol_state s);
/* Why, for orphans: "cgroup gone", "cgroup empty", "owner gone"; "" otherwise. */
const char *hb_pol_state_reason(enum hb_pol_state s);

#endif /* HB_POLICY_LOADER_H */
