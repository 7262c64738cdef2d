// SPDX-License-Identifier: BSD-2-Clause
/*
 * cgroup v2 for every subcommand (hb/cgroup.h): finding the cgroup v2 mount, resolving a
 * PATH the way DESIGN.md defines it (policy, run and monitor share it), cgroup ids and levels,
 * and removing the transient cgroup of `run --kernel`. No libbpf here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "hb/bpf_loader.h"
#include "hb/cgroup.h"
#include "hb/policy_bpf.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC	0x27e0eb
#endif

void hb_mountinfo_unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

int hb_cgroup2_mount(char *buf, size_t len)
{
	char line[4096], *save, *mnt, *sep, *fstype;
	FILE *f;
	int i, rc = -ENOENT;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
		sep = strstr(line, " - ");
		if (!sep)
			continue;
		fstype = strtok_r(sep + 3, " ", &save);
		if (!fstype || strcmp(fstype, "cgroup2"))
			continue;
		mnt = strtok_r(line, " ", &save);
		for (i = 0; i < 4 && mnt; i++)
			mnt = strtok_r(NULL, " ", &save);
		if (!mnt)
			continue;
		hb_mountinfo_unescape(mnt);
		if (strlen(mnt) >= len) {
			rc = -ENAMETOOLONG;
			continue;
		}
		strcpy(buf, mnt);
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

/* The cgroup id: the kernfs id a file handle carries (what bpf_get_current_cgroup_id() and
 * bpftool report), else the inode number, which equals it on 64-bit kernels. */
int hb_cgroup_id(const char *path, uint64_t *id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h;
	struct stat st;
	int mount_id;

	h.fh.handle_bytes = sizeof(h.id);
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) == 0 &&
	    h.fh.handle_bytes == sizeof(h.id)) {
		memcpy(id, h.fh.f_handle, sizeof(*id));
		return 0;
	}
	if (stat(path, &st))
		return -errno;
	*id = st.st_ino;
	return 0;
}

/* Depth below the hierarchy's root: parents up to the mount's root share its device. */
static unsigned int cgroup_level(const char *abs)
{
	char p[PATH_MAX], *slash;
	struct stat st, up;
	unsigned int level = 0;

	if (snprintf(p, sizeof(p), "%s", abs) >= (int)sizeof(p) || stat(p, &st))
		return 0;
	for (;;) {
		slash = strrchr(p, '/');
		if (!slash || slash == p)
			break;
		*slash = '\0';
		if (stat(p, &up) || up.st_dev != st.st_dev)
			break;
		level++;
	}
	return level;
}

int hb_cgroup_candidate(const char *mnt, const char *spec, char *out, size_t len)
{
	size_t ml = strlen(mnt);
	int n;

	while (ml > 0 && mnt[ml - 1] == '/')
		ml--;	/* a mount on "/" is the empty prefix */
	if (spec[0] == '/' && !strncmp(spec, mnt, ml) && (spec[ml] == '/' || !spec[ml]))
		n = snprintf(out, len, "%s", spec);
	else {
		while (*spec == '/')
			spec++;
		n = snprintf(out, len, "%.*s%s%s", (int)ml, mnt, *spec ? "/" : "", spec);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void hb_cgroup_label(const char *mnt, const char *abs, char *out, size_t len)
{
	size_t ml = strlen(mnt);

	while (ml > 0 && mnt[ml - 1] == '/')
		ml--;	/* a mount on "/" is the empty prefix */
	if (!strncmp(abs, mnt, ml) && (abs[ml] == '/' || !abs[ml]))
		snprintf(out, len, "%s", abs[ml] ? abs + ml : "/");
	else
		snprintf(out, len, "%s", abs);
}

int hb_cgroup_resolve(const char *spec, char *abs, size_t abslen, uint64_t *id, unsigned *level,
		      char *err, size_t errlen)
{
	char mnt[PATH_MAX], cand[PATH_MAX * 2], real[PATH_MAX];
	struct statfs sfs;
	struct stat st;
	int rc;

	if (!spec || !*spec)
		return hb_bpf_errf(-EINVAL, err, errlen, "empty cgroup path");
	rc = hb_cgroup2_mount(mnt, sizeof(mnt));
	if (rc == -ENOENT)
		return hb_bpf_errf(-ENOENT, err, errlen,
			    "no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)");
	if (rc)
		return hb_bpf_errf(rc, err, errlen, "/proc/self/mountinfo: %s", strerror(-rc));
	/* Under the mount: as it is; otherwise as /proc/PID/cgroup writes it ("/" the root).
	 * An absolute path elsewhere that exists (a cgroup v1 directory, say) is taken as it
	 * is when the mount has no such cgroup, so that the error says what it is. */
	if (hb_cgroup_candidate(mnt, spec, cand, sizeof(cand)))
		return hb_bpf_errf(-ENAMETOOLONG, err, errlen,
				   "cgroup '%.200s': path too long", spec);
	if (spec[0] == '/' && strcmp(cand, spec) && stat(cand, &st) && stat(spec, &st) == 0)
		snprintf(cand, sizeof(cand), "%s", spec);
	if (!realpath(cand, real)) {
		rc = -errno;
		if (rc == -ENOENT)
			return hb_bpf_errf(rc, err, errlen,
					   "cgroup '%.200s' does not exist (looked for %.300s)",
				    spec, cand);
		return hb_bpf_errf(rc, err, errlen, "%.300s: %s", cand, strerror(-rc));
	}
	if (stat(real, &st))
		return hb_bpf_errf(-errno, err, errlen, "%.300s: %s", real, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return hb_bpf_errf(-ENOTDIR, err, errlen, "%.300s is not a cgroup directory", real);
	if (statfs(real, &sfs))
		return hb_bpf_errf(-errno, err, errlen, "%.300s: %s", real, strerror(errno));
	if ((unsigned long)sfs.f_type == CGROUP_SUPER_MAGIC)
		return hb_bpf_errf(-EMEDIUMTYPE, err, errlen,
			    "%.300s is a cgroup v1 directory; the policy needs cgroup v2 (mounted "
			    "at %.300s)", real, mnt);
	if ((unsigned long)sfs.f_type != CGROUP2_SUPER_MAGIC)
		return hb_bpf_errf(-EMEDIUMTYPE, err, errlen,
			    "%.300s is not a cgroup v2 directory (cgroup v2 is mounted at %.300s)",
			    real, mnt);
	if (strlen(real) >= abslen || strlen(real) >= HB_POL_CGROUP_LEN)
		return hb_bpf_errf(-ENAMETOOLONG, err, errlen, "%.300s: path too long", real);
	strcpy(abs, real);
	rc = hb_cgroup_id(real, id);
	if (rc)
		return hb_bpf_errf(rc, err, errlen, "%.300s: cgroup id: %s", real, strerror(-rc));
	*level = cgroup_level(real);
	return 0;
}

int hb_cgroup_self(char *abs, size_t len, char *err, size_t errlen)
{
	char mnt[PATH_MAX], line[PATH_MAX + 16], *nl;
	FILE *f;
	int rc;

	rc = hb_cgroup2_mount(mnt, sizeof(mnt));
	if (rc == -ENOENT)
		return hb_bpf_errf(rc, err, errlen,
				   "no cgroup v2 hierarchy is mounted (mount -t cgroup2 none "
				   "/sys/fs/cgroup)");
	if (rc)
		return hb_bpf_errf(rc, err, errlen, "/proc/self/mountinfo: %s", strerror(-rc));
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return hb_bpf_errf(-errno, err, errlen, "/proc/self/cgroup: %s", strerror(errno));
	rc = -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		/* "0::/" is the root: no double slash */
		if ((size_t)snprintf(abs, len, "%s%s", mnt, strcmp(line + 3, "/") ? line + 3 : "") >=
		    len)
			rc = -ENAMETOOLONG;
		else
			rc = 0;
		break;
	}
	fclose(f);
	if (rc)
		return hb_bpf_errf(rc, err, errlen, "/proc/self/cgroup: no cgroup v2 entry");
	return 0;
}

/* 1: populated, 0: empty, -errno: unreadable (gone). */
int hb_cgroup_populated(const char *abs)
{
	char p[PATH_MAX + 32], line[128];
	FILE *f;
	int v = -ENOENT;

	snprintf(p, sizeof(p), "%s/cgroup.events", abs);
	f = fopen(p, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "populated %d", &v) == 1)
			break;
	fclose(f);
	return v < 0 ? v : v != 0;
}

/* Moves every process of dir (and of its descendants, which go) to dest. Returns 0 or -errno. */
static int evacuate(const char *dir, const char *dest_procs, int depth)
{
	char p[PATH_MAX + 300], line[32];
	struct dirent *de;
	DIR *d;
	FILE *f;
	int fd, rc = 0;

	if (depth > 32)
		return -ELOOP;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		rc = evacuate(p, dest_procs, depth + 1);
		if (!rc && rmdir(p) && errno != ENOENT)
			rc = -errno;
		if (rc)
			break;
	}
	closedir(d);
	if (rc)
		return rc;
	snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
	f = fopen(p, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	fd = open(dest_procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		fclose(f);
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);

		/* a process that exited in the meantime gives ESRCH: fine */
		if (write(fd, line, len) < 0 && errno != ESRCH && !rc)
			rc = -errno;
	}
	close(fd);
	fclose(f);
	return rc;
}

int hb_cgroup_remove(const char *abs, uint64_t id)
{
	char parent[PATH_MAX + 32], *slash;
	uint64_t cur = 0;
	int rc, i;

	if (hb_cgroup_id(abs, &cur) || cur != id)
		return 0;	/* gone already, or someone else's by now */
	snprintf(parent, sizeof(parent), "%s", abs);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -EINVAL;
	strcpy(slash, "/cgroup.procs");
	for (i = 0; i < 50; i++) {
		rc = evacuate(abs, parent, 0);
		if (rc)
			return rc;
		if (!rmdir(abs) || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		/* a process forked while we moved the others, or an exit still being reaped */
		usleep(20000);
	}
	return -EBUSY;
}
