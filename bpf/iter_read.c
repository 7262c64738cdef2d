// SPDX-License-Identifier: BSD-2-Clause
/*
 * The read loop of every iterator fd (bpf_loader.h): whole records of one size, handed to a
 * callback. Plain system calls, no libbpf, so that the unit tests (tests/unit/test_iter_rec.c)
 * feed it records through a pipe without loading anything.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "hb/bpf_loader.h"

int hb_bpf_iter_read(int fd, char *buf, size_t buf_size, size_t rec_size, hb_bpf_rec_fn fn,
		     void *ctx)
{
	size_t have = 0, off;
	ssize_t got;
	int err = 0;

	for (;;) {
		got = read(fd, buf + have, buf_size - have);
		if (got < 0) {
			/* EAGAIN: a million sockets went by without output (the set program) */
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (got == 0)
			break;
		have += (size_t)got;
		if (!fn) {
			have = 0;
			continue;
		}
		for (off = 0; off + rec_size <= have; off += rec_size) {
			err = fn(buf + off, ctx);
			if (err)
				return err;
		}
		/* The kernel writes whole records, but do not rely on it. */
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	return have ? -EPROTO : 0;
}
