// SPDX-License-Identifier: BSD-2-Clause
/*
 * net.ipv4.tcp_keepalive_time/intvl/probes of the caller's network namespace.
 *
 * This runs inside the shim's constructor, possibly before the host program's own
 * constructors and inside another library's: so only open/read/close (no stdio, whose
 * FILE locking and buffers we don't want there), no malloc, and errno as we found it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hb/policy.h"
#include "internal.h"

/*
 * lib/ is linked into libhbshim.so too, whose exported close() wrapper a plain close() here
 * would go through (the PLT binds to the shim's own symbol). The shim runs this at start-up,
 * so close the descriptor with the system call itself: nothing of libc's close() (no
 * cancellation point is wanted here either) is needed for a procfs file.
 */
static void raw_close(int fd)
{
	syscall(SYS_close, fd);
}

/* Kernel defaults (include/net/tcp.h: TCP_KEEPALIVE_TIME, _INTVL, _PROBES). */
#define KDEF_IDLE	7200
#define KDEF_INTVL	75
#define KDEF_CNT	9

void hb_sysctl_default(struct hb_sysctl *s)
{
	s->idle_s = KDEF_IDLE;
	s->intvl_s = KDEF_INTVL;
	s->cnt = KDEF_CNT;
}

/* "7200\n" -> 7200. Returns 0 or -EINVAL. */
static int parse_sysctl(const char *buf, int *out)
{
	long long v = 0;
	const char *p = buf;

	if (!hb__isdigit((unsigned char)*p))
		return -EINVAL;
	for (; hb__isdigit((unsigned char)*p); p++) {
		v = v * 10 + (*p - '0');
		if (v > INT_MAX)
			return -EINVAL;
	}
	while (hb__isspace((unsigned char)*p))
		p++;
	if (*p)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* Reads procroot/sys/net/ipv4/name into *out. Returns 0 or -errno; *out untouched on error. */
static int read_one(const char *procroot, const char *name, int *out)
{
	static const char dir[] = "/sys/net/ipv4/";
	char path[PATH_MAX], buf[32];
	size_t rl = strlen(procroot), nl = strlen(name), got = 0;
	ssize_t r;
	int fd, rc;

	if (rl + sizeof(dir) - 1 + nl + 1 > sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, procroot, rl);
	memcpy(path + rl, dir, sizeof(dir) - 1);
	memcpy(path + rl + sizeof(dir) - 1, name, nl + 1);

	do
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	/* Loop: a procfs read may be short in principle, and EINTR is possible. */
	while (got < sizeof(buf) - 1) {
		r = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			raw_close(fd);
			return rc;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	raw_close(fd);
	buf[got] = '\0';
	return parse_sysctl(buf, out);
}

int hb_sysctl_read(struct hb_sysctl *s, const char *procroot)
{
	int saved = errno, rc, first = 0;

	hb_sysctl_default(s);
	if (!procroot)
		procroot = "/proc";
	/* Each file on its own: one missing value must not cost the others. */
	rc = read_one(procroot, "tcp_keepalive_time", &s->idle_s);
	if (rc && !first)
		first = rc;
	rc = read_one(procroot, "tcp_keepalive_intvl", &s->intvl_s);
	if (rc && !first)
		first = rc;
	rc = read_one(procroot, "tcp_keepalive_probes", &s->cnt);
	if (rc && !first)
		first = rc;
	errno = saved;
	return first;
}
