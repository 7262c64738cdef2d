// SPDX-License-Identifier: BSD-2-Clause
/*
 * netlink sock_diag through libmnl: dump the TCP sockets of the current network namespace
 * (AF_INET and AF_INET6, every state, with INET_DIAG_INFO) and parse the replies into struct
 * hb_sock records. The parser takes plain bytes so that a recorded dump (--dump-raw, replayed
 * with HB_DIAG_FILE) goes through exactly the code a live one does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "cli.h"

#ifndef MNL_SOCKET_DUMP_SIZE
#define MNL_SOCKET_DUMP_SIZE 32768	/* libmnl >= 1.0.5 defines it */
#endif
#define DUMP_RETRIES 16		/* NLM_F_DUMP_INTR restarts before giving up */

enum hb_timer_kind hb_diag_timer_kind(unsigned int idiag_timer)
{
	/* net/ipv4/inet_diag.c: inet_sk_diag_fill() and inet_twsk_diag_fill() */
	switch (idiag_timer) {
	case 0: return HB_TIMER_NONE;
	case 1: return HB_TIMER_RETRANS;	/* retransmit, reorder, loss probe, SYN-ACK */
	case 2: return HB_TIMER_KEEPALIVE;	/* sk_timer */
	case 3: return HB_TIMER_TIMEWAIT;
	case 4: return HB_TIMER_PROBE;		/* zero-window probe */
	default: return HB_TIMER_OTHER;
	}
}

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	unsigned int type = mnl_attr_get_type(attr);

	if (type <= INET_DIAG_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

/* Whether tcp_info's ages mean something: the kernel sets lsndtime and lrcvtime when the
 * handshake completes; before that (and for listeners) they are since boot. */
static bool ages_valid(unsigned int state)
{
	return state != HB_TCP_LISTEN && state != HB_TCP_SYN_SENT && state != HB_TCP_SYN_RECV &&
	       state != HB_TCP_CLOSE && state != HB_TCP_NEW_SYN_RECV;
}

static int parse_sock(const struct nlmsghdr *nlh, struct hb_sock_list *out)
{
	const struct nlattr *tb[INET_DIAG_MAX + 1] = { 0 };
	const struct inet_diag_msg *m;
	struct hb_sock *s;
	size_t alen;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EBADMSG;
	m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*m), attr_cb, tb) < 0)
		return -EBADMSG;
	s = hb_sock_list_add(out);
	if (!s)
		return -ENOMEM;
	s->family = m->idiag_family;
	s->state = m->idiag_state == HB_TCP_NEW_SYN_RECV ? HB_TCP_SYN_RECV : m->idiag_state;
	s->lport = ntohs(m->id.idiag_sport);
	s->rport = ntohs(m->id.idiag_dport);
	alen = s->family == AF_INET6 ? 16 : 4;
	memcpy(s->laddr, m->id.idiag_src, alen);
	memcpy(s->raddr, m->id.idiag_dst, alen);
	s->inode = m->idiag_inode;
	s->uid = m->idiag_uid;
	s->ifindex = m->id.idiag_if;
	s->cookie = (uint64_t)m->id.idiag_cookie[1] << 32 | m->id.idiag_cookie[0];

	/* time-wait sockets (idiag_timer 3 is theirs only) and request sockets (SYN-RECV
	 * without tcp_info: inet_req_diag_fill() adds none) have no options to read */
	s->no_options = m->idiag_timer == 3 ||
			(s->state == HB_TCP_SYN_RECV && !tb[INET_DIAG_INFO] && !s->inode);
	s->timer = hb_diag_timer_kind(m->idiag_timer);
	if (s->timer == HB_TIMER_KEEPALIVE && s->inode == 0)
		s->timer = HB_TIMER_OTHER;	/* orphaned FIN-WAIT-2 timeout reuses sk_timer */
	if (s->timer != HB_TIMER_NONE) {
		s->timer_expires_ms = m->idiag_expires;
		s->probes = m->idiag_retrans;
	}
	/* A pending keepalive timer on a socket a process holds means SO_KEEPALIVE is on;
	 * its absence proves nothing (a retransmit timer takes precedence in the report). */
	if (s->timer == HB_TIMER_KEEPALIVE)
		s->keepalive = 1;

	if (tb[INET_DIAG_INFO] && ages_valid(s->state)) {
		struct tcp_info ti;

		alen = mnl_attr_get_payload_len(tb[INET_DIAG_INFO]);
		if (alen >= offsetof(struct tcp_info, tcpi_last_ack_recv) + sizeof(ti.tcpi_last_ack_recv)) {
			memset(&ti, 0, sizeof(ti));
			memcpy(&ti, mnl_attr_get_payload(tb[INET_DIAG_INFO]),
			       alen < sizeof(ti) ? alen : sizeof(ti));
			s->last_send_ms = ti.tcpi_last_data_sent;
			s->last_recv_ms = ti.tcpi_last_data_recv;
			s->last_ack_ms = ti.tcpi_last_ack_recv;
			/* DESIGN.md: real idle is now - max(lsndtime, lrcvtime) */
			s->idle_ms = s->last_send_ms < s->last_recv_ms ? s->last_send_ms
								       : s->last_recv_ms;
		}
	}
	return 0;
}

/* mnl_nlmsg_ok() of libmnl 1.0.4 compares (int)nlmsg_len, which lets a length over 2 GiB
 * through: recorded files are untrusted input, so check without the cast. */
static bool msg_ok(const struct nlmsghdr *nlh, int len)
{
	return len >= (int)sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) &&
	       nlh->nlmsg_len <= (unsigned int)len;
}

/*
 * Walks the messages in buf. Returns 0 when it ran out of bytes without NLMSG_DONE, 1 on
 * NLMSG_DONE (*used = bytes consumed through it), or -errno. seq/portid 0: not checked.
 */
static int parse_stream(const void *buf, size_t len, struct hb_sock_list *out, uint32_t seq,
			uint32_t portid, size_t *used)
{
	const struct nlmsghdr *nlh = buf;
	int n = (int)len, rc;

	if (len > (size_t)INT32_MAX)
		return -E2BIG;
	while (msg_ok(nlh, n)) {
		if (!mnl_nlmsg_portid_ok(nlh, portid) || !mnl_nlmsg_seq_ok(nlh, seq))
			return -ESRCH;
		/* the socket tables changed under the dump: the caller restarts it */
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
			return -EINTR;
		switch (nlh->nlmsg_type) {
		case NLMSG_DONE:
			/* iproute2's mnlu_cb_stop: a dump can end with an error */
			if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
				int err = *(const int *)mnl_nlmsg_get_payload(nlh);

				if (err < 0)
					return err;
			}
			nlh = mnl_nlmsg_next(nlh, &n);
			if (used)	/* n < 0: the last message's padding was missing */
				*used = n > 0 ? len - (size_t)n : len;
			return 1;
		case NLMSG_ERROR: {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			if (e->error < 0)
				return e->error;
			break;
		}
		case NLMSG_NOOP:
			break;
		case SOCK_DIAG_BY_FAMILY:
			rc = parse_sock(nlh, out);
			if (rc)
				return rc;
			break;
		default:
			return -EBADMSG;
		}
		nlh = mnl_nlmsg_next(nlh, &n);
	}
	if (n > 0)
		return -EBADMSG;	/* a truncated message at the end */
	return 0;
}

int hb_diag_parse(const void *buf, size_t len, struct hb_sock_list *out)
{
	size_t off = 0, used;
	int rc;

	/* one dump per address family, each ending in NLMSG_DONE */
	while (off < len) {
		used = 0;
		rc = parse_stream((const char *)buf + off, len - off, out, 0, 0, &used);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return -EBADMSG;	/* no NLMSG_DONE: cut short */
		off += used;
	}
	return 0;
}

/* Whether a received chunk holds the end of its dump (NLMSG_DONE or NLMSG_ERROR). */
static bool chunk_ends_dump(const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int n = (int)len;

	for (; msg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n))
		if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR)
			return true;
	return false;
}

static void drop_from(struct hb_sock_list *out, size_t n0)
{
	size_t i;

	for (i = n0; i < out->n; i++)
		free(out->v[i].more_owners);
	out->n = n0;
}

/* Sends the dump request for family's TCP sockets (every state, with tcp_info). Returns 0 or
 * -errno. */
static int dump_request(struct mnl_socket *nl, char *buf, int family, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = ~0u;
	req->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	return mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

/* Reads the reply into out (and rawmem) until it ends. Returns parse_stream()'s verdict: 1 at
 * NLMSG_DONE, -EINTR for an interrupted dump (*n: the last chunk's length, to drain from), or
 * -errno (of recvfrom() too, which a signal does not stop). */
static int dump_read(struct mnl_socket *nl, char *buf, struct hb_sock_list *out, uint32_t seq,
		     uint32_t portid, FILE *rawmem, ssize_t *n)
{
	int rc;

	for (;;) {
		*n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_DUMP_SIZE);
		if (*n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (rawmem)
			fwrite(buf, 1, (size_t)*n, rawmem);
		rc = parse_stream(buf, (size_t)*n, out, seq, portid, NULL);
		if (rc != 0)
			return rc;
	}
}

static int dump_family(struct mnl_socket *nl, int family, struct hb_sock_list *out, FILE *raw)
{
	char *buf;
	uint32_t portid = mnl_socket_get_portid(nl), seq;
	size_t n0 = out->n;
	char *rawbuf = NULL;
	size_t rawlen = 0;
	FILE *rawmem = NULL;
	int tries, rc = 0;
	ssize_t n;

	buf = malloc(MNL_SOCKET_DUMP_SIZE);
	if (!buf)
		return -ENOMEM;
	for (tries = 0; tries < DUMP_RETRIES; tries++) {
		drop_from(out, n0);
		if (rawmem) {
			fclose(rawmem);
			free(rawbuf);
			rawbuf = NULL;
			rawmem = NULL;
		}
		if (raw) {
			rawmem = open_memstream(&rawbuf, &rawlen);
			if (!rawmem) {
				rc = -errno;
				goto out;
			}
		}
		seq = (uint32_t)time(NULL) + (uint32_t)tries;
		rc = dump_request(nl, buf, family, seq);
		if (rc)
			goto out;
		rc = dump_read(nl, buf, out, seq, portid, rawmem, &n);
		if (rc == -EINTR) {
			/* drain what is left of the interrupted dump before asking again */
			while (!chunk_ends_dump(buf, (size_t)n)) {
				n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_DUMP_SIZE);
				if (n <= 0)
					break;
			}
			continue;
		}
		break;
	}
	if (rc == 1) {
		rc = 0;
		if (rawmem) {
			fclose(rawmem);
			rawmem = NULL;
			if (fwrite(rawbuf, 1, rawlen, raw) != rawlen)
				rc = -EIO;
		}
	}
out:
	if (rc)
		drop_from(out, n0);
	if (rawmem)
		fclose(rawmem);
	free(rawbuf);
	free(buf);
	return rc;
}

int hb_diag_dump(struct hb_sock_list *out, FILE *raw)
{
	struct mnl_socket *nl;
	int rc;

	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto err_close;
	}
	rc = dump_family(nl, AF_INET, out, raw);
	if (!rc)
		rc = dump_family(nl, AF_INET6, out, raw);
	if (!rc && raw && fflush(raw))
		rc = -errno;
err_close:
	mnl_socket_close(nl);
	return rc;
}

int hb_diag_replay(const char *path, struct hb_sock_list *out)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, r;
	int rc = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		r = fread(buf + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
	}
	if (ferror(f))
		rc = -EIO;
	else
		rc = hb_diag_parse(buf, len, out);
out:
	free(buf);
	fclose(f);
	return rc;
}
