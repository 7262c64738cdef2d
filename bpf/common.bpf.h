/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What hbctl's BPF programs share (as bcc's libbpf-tools keep maps.bpf.h): the uapi
 * constants vmlinux.h cannot give (they are #defines), and sock_ino(). Included after
 * vmlinux.h, bpf_helpers.h and bpf_core_read.h.
 */
#ifndef HB_COMMON_BPF_H
#define HB_COMMON_BPF_H

/* include/linux/socket.h, include/uapi/linux/tcp.h, asm-generic/socket.h */
#define AF_INET		2
#define AF_INET6	10
#define SOL_SOCKET	1
#define SO_KEEPALIVE	9
#define SOL_TCP		6
#define TCP_KEEPIDLE	4
#define TCP_KEEPINTVL	5
#define TCP_KEEPCNT	6
#define TCP_USER_TIMEOUT 18

/* sock_i_ino(): the inode of the struct socket_alloc around sk->sk_socket. One read of one
 * cache line; going through sk_socket->file->f_inode would touch two more per socket. */
static __always_inline __u64 sock_ino(const struct sock *sk)
{
	struct socket *so = sk->sk_socket;
	unsigned long ino = 0;
	__u64 a;

	if (!so)
		return 0;
	a = (__u64)so - bpf_core_field_offset(struct socket_alloc, socket) +
	    bpf_core_field_offset(struct socket_alloc, vfs_inode) +
	    bpf_core_field_offset(struct inode, i_ino);
	bpf_probe_read_kernel(&ino, sizeof(ino), (const void *)a);
	return ino;
}

#endif /* HB_COMMON_BPF_H */
