/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Persistent policies: the policies file (/etc/hbkeep/policies.conf) and the plan that
 * `hbctl policy apply` follows to make the kernel's policies exactly the file's.
 *
 * The file is line-oriented: one policy per line as KEY=VALUE words separated by blanks,
 * `#` (at the start of a word) starts a comment, a value may be double-quoted (a match list
 * with spaces). Keys: cgroup (required), match, idle (a duration or auto), idle-default,
 * idle-max (with idle=auto), intvl, cnt, user-timeout, keepalive, force, retrofit. Values are parsed by libhb exactly as `hbctl policy add` parses its
 * options. Errors read "FILE:LINE: message".
 *
 * Pure: parsing and planning do no I/O (the caller reads the file, resolves the cgroups and
 * lists the current policies), so that both are unit-tested and fuzzed.
 */
#ifndef HB_POLICY_CONF_H
#define HB_POLICY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hb/policy.h"
#include "hb/policy_loader.h"

#define HB_CONF_PATH		"/etc/hbkeep/policies.conf"
#define HB_CONF_MAX_ERRORS	20	/* messages collected before "...and more" */

struct hb_conf_entry {
	unsigned int line;		/* 1-based line of the file */
	char cgroup[HB_POL_CGROUP_LEN];	/* as written, '//' and a trailing '/' removed */
	struct hb_policy pol;		/* values, match list, force */
	bool retrofit;			/* retrofit=yes */
	bool idle_auto;			/* idle=auto: the idle from the path table */
	int idle_default_s, idle_max_s;	/* idle-default=, idle-max= (0: not given) */
};

/* After hb_pol_compile() of an entry: idle=auto into cfg (the program's paths lookup, its
 * fallback and cap; hbkeep's 60 s and 600 s where not given). */
void hb_conf_idle_auto(const struct hb_conf_entry *e, struct hb_pol_cfg *cfg);

struct hb_conf {
	struct hb_conf_entry *v;	/* malloc'd */
	size_t n;
};

/*
 * Parses len bytes of text (a policies file named file in messages) into out, which must be
 * zeroed (or freed) first. Every bad line is reported: errs gets "FILE:LINE: message\n" lines
 * (at most HB_CONF_MAX_ERRORS, then "FILE: ... more errors"), NUL-terminated.
 * Returns 0, -EINVAL when there was an error (out holds the good lines), or -ENOMEM.
 */
int hb_conf_parse(const char *text, size_t len, const char *file, struct hb_conf *out,
		  char *errs, size_t errlen);
void hb_conf_free(struct hb_conf *c);

/* The match list as hb_pattern_format() writes it, comma-separated ("" for none), as policy
 * add stores it. Returns the length written (truncated at len - 1). */
size_t hb_conf_match_text(const struct hb_match *m, char *buf, size_t len);

/* ---- the plan ---- */

/* One entry of the file, resolved by the caller: its cgroup and compiled policy. */
struct hb_conf_want {
	uint64_t id;			/* the cgroup's id: the policy's id */
	const char *cgroup;		/* absolute directory */
	struct hb_pol_cfg cfg;		/* hb_pol_compile()d, cgroup_id and cgroup_level set */
	const char *match;		/* normalised match list, NULL for none */
	unsigned int line;		/* for messages */
};

enum hb_plan_op {
	HB_PLAN_KEEP,			/* the policy in place is the file's */
	HB_PLAN_ADD,			/* no policy on the cgroup (or a broken one) */
	HB_PLAN_REPLACE,		/* another policy on the cgroup: swapped atomically */
	HB_PLAN_REMOVE,			/* a policy the file does not have (or a dead one) */
	HB_PLAN_CONFLICT,		/* cannot be done: why says why */
};

struct hb_plan_step {
	enum hb_plan_op op;
	uint64_t id;
	size_t want;			/* index into the wants; (size_t)-1 for a remove */
	size_t cur;			/* index into the current policies; (size_t)-1 for an add */
	const char *why;		/* static text: for remove, replace and conflict */
};

/*
 * Plans the steps from cur (what hb_pol_list() gives) to exactly want: the file's entries in
 * its order (keep, add, replace or conflict), then the removals in id order. Policies of
 * `hbctl run --kernel` (transient) are never touched; with scope (an absolute cgroup
 * directory, NULL for the whole host) only the policies on scope and below are removed, and
 * broken ones (cgroup unknown) only without scope. Returns 0 or -ENOMEM; *out is malloc'd.
 */
int hb_conf_plan(const struct hb_conf_want *want, size_t nwant, const struct hb_pol_info *cur,
		 size_t ncur, const char *scope, struct hb_plan_step **out, size_t *nout);

/* "keep", "add", "replace", "remove", "conflict" */
const char *hb_plan_op_name(enum hb_plan_op op);

/* Whether path is dir or below it (both absolute, without a trailing '/'). */
bool hb_conf_path_under(const char *path, const char *dir);

#endif /* HB_POLICY_CONF_H */
