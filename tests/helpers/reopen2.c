// SPDX-License-Identifier: BSD-2-Clause
/*
 * reopen2: a program that closes its stderr behind the shim's back and reopens fd 2 for its
 * own data, then makes TCP sockets (which the shim logs at HB_LOG=info). The data file must
 * hold only the program's own lines: a "libhbshim:" line in there is data loss.
 *
 *   reopen2 fclose|close_range|dup2 DATAFILE
 *
 * Writes "data 1", then makes three TCP sockets, then "data 2" into DATAFILE through fd 2.
 * Exit status 0, or 1 when a step fails (on stdout, the only stream left).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int sockets(int n)
{
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc != 3) {
		printf("usage: reopen2 fclose|close_range|dup2 DATAFILE\n");
		return 2;
	}
	/* One socket while stderr is still stderr: the shim has logged there once. */
	if (sockets(1) < 0)
		return 1;
	if (!strcmp(argv[1], "fclose")) {
		fclose(stderr);		/* glibc closes fd 2 internally, no close() call */
	} else if (!strcmp(argv[1], "close_range")) {
		if (syscall(SYS_close_range, 2, 2, 0) < 0) {
			printf("close_range: %s\n", strerror(errno));
			return 1;
		}
	} else if (strcmp(argv[1], "dup2")) {
		printf("unknown mode %s\n", argv[1]);
		return 2;
	}
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		printf("open %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (fd != 2 && (dup2(fd, 2) < 0 || close(fd) < 0)) {
		printf("dup2: %s\n", strerror(errno));
		return 1;
	}
	if (write(2, "data 1\n", 7) != 7 || sockets(3) < 0 || write(2, "data 2\n", 7) != 7) {
		printf("step failed: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
