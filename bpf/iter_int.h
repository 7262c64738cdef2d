/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Inside the iterator back end: the conversion of iter.bpf.c's raw records (hb/iter.h) into
 * hbctl's socket list (hb/sock.h), bpf/iter_rec.c. Pure code, no libbpf: bpf/iter.c runs the
 * iterators and feeds the records in, tests/unit/test_iter_rec.c feeds hand-built ones. Not
 * for callers outside bpf/iter*.c.
 */
#ifndef HB_BPF_ITER_INT_H
#define HB_BPF_ITER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hb_sock_list;

/* One listing's conversion of iter/tcp records (hb__iter_sock_rec) and the owner join. */
struct hb_iter_conv {
	struct hb_sock_list *out;
	unsigned int hz;		/* from the records; 0 until one says */
	bool have_sysctl;		/* out->sysctl was read from a full socket's record */
	/* inode -> index in out->v: open addressing, size a power of two, 0 = empty slot */
	uint32_t *slot;
	size_t mask;
	size_t start;			/* first record this conversion added */
};

/* One socket descriptor as the owner walk keeps it until the join. */
struct hb_iter_fd {
	uint64_t inode;
	int32_t pid, fd;
};

/* What iter/task_file reported (hb__iter_file_rec): the socket descriptors in the walk's
 * order, and one comm per run of records of one process, in the same order. */
struct hb_iter_fds {
	struct hb_iter_fd *v;
	size_t n, cap;
	char (*comm)[16];
	size_t ncomm, capcomm;
};

/* Starts a conversion that appends to out (the records already in out are not joined). */
void hb__iter_conv_init(struct hb_iter_conv *c, struct hb_sock_list *out);
/* Frees what the conversion allocated (not out). */
void hb__iter_conv_free(struct hb_iter_conv *c);

/* An hb_bpf_rec_fn: one struct hb_iter_sock (rec) appended to conv's list as a struct
 * hb_sock: jiffies become ms and s with the record's HZ (guessed from its clock when it is
 * 0), a 0 option becomes the namespace's sysctl with source HB_SOCK_SRC_SYSCTL, and the first full
 * socket's sysctls fill out->sysctl. Returns 0 or -ENOMEM. */
int hb__iter_sock_rec(const void *rec, void *conv);

/* An hb_bpf_rec_fn: one struct hb_iter_file (rec) added to fds. Returns 0 or -ENOMEM. */
int hb__iter_file_rec(const void *rec, void *fds);
/* Frees fds' arrays; fds is empty after. */
void hb__iter_fds_free(struct hb_iter_fds *fds);

/* Joins fds to the sockets this conversion added, by inode: each descriptor becomes an owner
 * of its socket (once per pid and fd); one whose inode was not listed (another namespace's
 * socket, or one opened after the walk) is left out. Returns 0, -ENOMEM or -EOVERFLOW. */
int hb__iter_join(struct hb_iter_conv *c, const struct hb_iter_fds *fds);

#endif /* HB_BPF_ITER_INT_H */
