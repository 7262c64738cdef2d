/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cgroup v2 for hbctl (bpf/policy_cgroup.c): the mount, PATH resolution as DESIGN.md defines
 * it (the one resolution policy, run and monitor share), ids, levels, and the transient
 * cgroup of `run --kernel`. No libbpf, no printing: errors come back as -errno and a message.
 */
#ifndef HB_CGROUP_H
#define HB_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* Undoes mountinfo's octal escapes (\040 for a space, \134 for a backslash) in place; a
 * backslash not followed by three octal digits (the first at most 3) stays as it is. */
void hb_mountinfo_unescape(char *s);

/* The cgroup v2 mount point, from /proc/self/mountinfo. Returns 0, -ENOENT when none is
 * mounted, or -errno. */
int hb_cgroup2_mount(char *buf, size_t len);

/*
 * Where PATH points, given the cgroup v2 mount MNT (no file system access): PATH as it is when
 * it is MNT or below it, otherwise PATH taken as /proc/PID/cgroup writes it, relative to MNT
 * ("/" and "" are the root cgroup, "/a/b" and "a/b" are MNT/a/b). Returns 0, or
 * -ENAMETOOLONG.
 */
int hb_cgroup_candidate(const char *mnt, const char *spec, char *out, size_t len);

/*
 * Resolves PATH as DESIGN.md defines it (a cgroup v2 directory: absolute under the cgroup v2
 * mount, or as /proc/PID/cgroup writes it, `/` being the root) into an absolute directory, its
 * cgroup id and its depth below the root. Every subcommand that takes a cgroup PATH uses it.
 * Returns 0 or -errno with a message in err: -ENOENT (no cgroup v2 / no such cgroup),
 * -ENOTDIR / -EMEDIUMTYPE (not a cgroup v2 directory).
 */
int hb_cgroup_resolve(const char *spec, char *abs, size_t abslen, uint64_t *id, unsigned *level,
		      char *err, size_t errlen);

/* The path of absolute cgroup directory abs inside the hierarchy, as /proc/PID/cgroup writes
 * it ("/" for the root), given the mount mnt; abs itself when it is not below mnt. */
void hb_cgroup_label(const char *mnt, const char *abs, char *out, size_t len);

/* The cgroup v2 directory this process is in (absolute). Returns 0 or -errno. */
int hb_cgroup_self(char *abs, size_t len, char *err, size_t errlen);

/* The cgroup id of a cgroup v2 directory (what bpftool and BPF helpers report). Returns 0 or
 * -errno. */
int hb_cgroup_id(const char *path, uint64_t *id);

/* 1 when processes are in the cgroup or below, 0 when none, -errno when it is unreadable. */
int hb_cgroup_populated(const char *abs);

/* Removes cgroup abs (if it still is the one with that id) and its descendants, after moving
 * the processes in them to its parent. Returns 0 or -errno (-EBUSY if processes kept
 * coming). */
int hb_cgroup_remove(const char *abs, uint64_t id);

#endif /* HB_CGROUP_H */
