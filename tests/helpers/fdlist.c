// SPDX-License-Identifier: BSD-2-Clause
/*
 * fdlist: lists the process's open file descriptors around some socket work, to show that
 * the shim leaves no descriptor of its own behind (or only its log file, close-on-exec).
 *
 *   fdlist [HOST PORT]
 *
 * Prints "begin" lines (at the start of main), creates and closes TCP sockets (connected to
 * numeric HOST PORT when given), a UDP socket and an AF_UNIX socket pair, prints "end" lines,
 * then execs itself without LD_PRELOAD and the new image prints "exec" lines (a descriptor
 * there leaked through exec). One line per descriptor:
 *
 *   end fd=3 cloexec=1 target=/tmp/x.log
 *
 * Targets are readlink(/proc/self/fd/N) with the "[inode]" of pipes, sockets and anonymous
 * inodes removed, so that two runs compare equal.
 */
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void list(const char *stage)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d) {
		perror("fdlist: /proc/self/fd");
		exit(1);
	}
	while ((de = readdir(d))) {
		char p[64], t[512], *b;
		int fd, fl;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd == dirfd(d))
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n = readlink(p, t, sizeof(t) - 1);
		if (n < 0)
			continue;
		t[n] = 0;
		if ((b = strchr(t, '[')) && (!strncmp(t, "pipe:", 5) || !strncmp(t, "socket:", 7) ||
					     !strncmp(t, "anon_inode:", 11)))
			*b = 0;
		fl = fcntl(fd, F_GETFD);
		printf("%s fd=%d cloexec=%d target=%s\n", stage, fd, fl >= 0 && (fl & FD_CLOEXEC), t);
	}
	closedir(d);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int i, fd, sv[2];

	if (argc == 2 && !strcmp(argv[1], "--exec")) {
		list("exec");
		return 0;
	}
	list("begin");
	for (i = 0; i < 3; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("fdlist: socket");
			return 1;
		}
		if (argc == 3) {
			struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
						  .ai_socktype = SOCK_STREAM };
			struct addrinfo *ai;

			if (getaddrinfo(argv[1], argv[2], &hints, &ai) ||
			    connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
				perror("fdlist: connect");
				return 1;
			}
			freeaddrinfo(ai);
		}
		close(fd);
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	close(fd);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
		close(sv[0]);
		close(sv[1]);
	}
	list("end");
	/* without the shim, so that a descriptor seen after exec can only be one that leaked */
	unsetenv("LD_PRELOAD");
	execl("/proc/self/exe", argv[0], "--exec", (char *)NULL);
	perror("fdlist: exec");
	return 1;
}
