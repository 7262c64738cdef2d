/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Files hbctl writes, often as root into a directory someone else can write (a textfile
 * collector directory, the caller's working directory): created without following a symlink
 * planted at the name (DESIGN.md "Files, sockets and privileges").
 */
#ifndef HB_CLI_FILE_H
#define HB_CLI_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Replaces path with len bytes of buf, atomically: a temporary file made by mkstemp() in
 * path's directory (O_EXCL: a planted name is never followed or reused), fchmod'ed to mode,
 * written, fsync'ed, then rename()d over path (a symlink at path is replaced, never
 * followed). Returns 0 or -errno; path is unchanged on an error. */
int hb_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode);

/* Creates path for writing with O_CREAT|O_EXCL|O_NOFOLLOW (never through a symlink, never
 * into an existing file). With replace, an existing entry that is not a directory is
 * unlinked first (the name is replaced, the file it named is never written). Returns the
 * descriptor or -errno (-EEXIST: path exists and replace is false). */
int hb_create_file(const char *path, bool replace, mode_t mode);

#endif /* HB_CLI_FILE_H */
