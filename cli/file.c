// SPDX-License-Identifier: BSD-2-Clause
/* Symlink-safe file creation for what hbctl writes (see file.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "file.h"

static int write_all(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len) {
		w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int hb_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t dl = slash ? (size_t)(slash - path + 1) : 0;
	int fd, e = 0;

	if (!path[dl])
		return -EISDIR;
	/* hidden and without the file's suffix, so that a collector reading *.prom never sees
	 * it half-written; the XXXXXX part is random and created with O_EXCL by mkstemp */
	if (snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", (int)dl, path, path + dl) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* mkstemp makes it 0600 (and the umask may be 0077): the reader is often another user */
	if (fchmod(fd, mode))
		e = -errno;
	if (!e)
		e = write_all(fd, buf, len);
	if (!e && fsync(fd))
		e = -errno;
	if (close(fd) && !e)
		e = -errno;
	if (!e && rename(tmp, path))
		e = -errno;
	if (e)
		unlink(tmp);
	return e;
}

int hb_create_file(const char *path, bool replace, mode_t mode)
{
	struct stat st;
	int fd, tries;

	for (tries = 0; tries < 2; tries++) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST || !replace || tries)
			return -errno;
		/* unlink the name (a symlink itself, not its target); a race that puts a new
		 * entry there makes the second O_EXCL open fail, never follow it */
		if (lstat(path, &st))
			return errno == ENOENT ? -EEXIST : -errno;
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		if (unlink(path) && errno != ENOENT)
			return -errno;
	}
	return -EEXIST;
}
