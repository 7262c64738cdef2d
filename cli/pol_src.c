// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl ls beside kernel policies: who set each keepalive value of a socket, the program
 * itself or the policy. Each policy keeps that in its SK_STORAGE map (pinned as
 * HB_POL_PIN_DIR/<id>/sk, struct hb_pol_sk, written by bpf/policy.bpf.c); one sock_diag dump
 * per address family with INET_DIAG_REQ_SK_BPF_STORAGES hands back every socket's values of
 * those maps, joined to the listed sockets by cookie. Either back end listed the sockets:
 * this only adds the sources. Without a policy it costs one failed opendir().
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "cli.h"
#include "hb/policy_bpf.h"

#define MAX_MAPS	64

struct rec {
	uint64_t cookie;
	struct hb_pol_sk v;
};

struct recs {
	struct rec *v;
	size_t n, cap;
	uint32_t map_id[MAX_MAPS];
	size_t n_maps;
};

static bool our_map(const struct recs *r, uint32_t id)
{
	size_t i;

	for (i = 0; i < r->n_maps; i++)
		if (r->map_id[i] == id)
			return true;
	return false;
}

/* One socket's reply: its records in our maps, merged (the policy that decided wins; the
 * program's choices seen by any of the nested policies' recorders count). */
static int parse_msg(const struct nlmsghdr *nlh, struct recs *r)
{
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *st, *f;
	struct hb_pol_sk merged = { 0 };
	bool any = false;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EBADMSG;
	mnl_attr_for_each(a, nlh, sizeof(*m)) {
		if (mnl_attr_get_type(a) != INET_DIAG_SK_BPF_STORAGES)
			continue;
		mnl_attr_for_each_nested(st, a) {
			struct hb_pol_sk v;
			uint32_t id = 0;
			bool have = false;

			if (mnl_attr_get_type(st) != SK_DIAG_BPF_STORAGE)
				continue;
			mnl_attr_for_each_nested(f, st) {
				if (mnl_attr_get_type(f) == SK_DIAG_BPF_STORAGE_MAP_ID &&
				    mnl_attr_get_payload_len(f) >= sizeof(uint32_t)) {
					id = mnl_attr_get_u32(f);
				} else if (mnl_attr_get_type(f) == SK_DIAG_BPF_STORAGE_MAP_VALUE &&
					   mnl_attr_get_payload_len(f) >= sizeof(v)) {
					memcpy(&v, mnl_attr_get_payload(f), sizeof(v));
					have = true;
				}
			}
			if (!have || !our_map(r, id))
				continue;
			if (v.flags & HB_POL_SK_DECIDED) {
				merged.pol = v.pol;
				merged.flags |= HB_POL_SK_DECIDED;
			}
			merged.app |= v.app;
			any = true;
		}
	}
	if (!any)
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct rec *nv = realloc(r->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		r->v = nv;
		r->cap = cap;
	}
	r->v[r->n].cookie = (uint64_t)m->id.idiag_cookie[1] << 32 | m->id.idiag_cookie[0];
	merged.pol &= ~merged.app;
	r->v[r->n++].v = merged;
	return 0;
}

/* One dump of a family's TCP sockets with the values of the maps in fds. Returns 0 or
 * -errno (an interrupted dump gives what it got: the sources are best effort). */
static int dump(struct mnl_socket *nl, int family, const int *fds, size_t n, struct recs *r)
{
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE > 32768 ? MNL_SOCKET_BUFFER_SIZE : 32768);
	size_t bufsz = MNL_SOCKET_BUFFER_SIZE > 32768 ? MNL_SOCKET_BUFFER_SIZE : 32768;
	uint32_t portid = mnl_socket_get_portid(nl), seq = (uint32_t)time(NULL);
	struct inet_diag_req_v2 *req;
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	int rc = 0, done = 0;
	ssize_t got;
	size_t i;

	if (!buf)
		return -ENOMEM;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = ~0u;
	nest = mnl_attr_nest_start(nlh, INET_DIAG_REQ_SK_BPF_STORAGES);
	for (i = 0; i < n; i++)
		mnl_attr_put_u32(nlh, SK_DIAG_BPF_STORAGE_REQ_MAP_FD, (uint32_t)fds[i]);
	mnl_attr_nest_end(nlh, nest);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	while (!done) {
		int len;

		got = mnl_socket_recvfrom(nl, buf, bufsz);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		len = (int)got;
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != portid)
				continue;
			if (nlh->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				rc = e->error ? e->error : -EPROTO;
				done = 1;
				break;
			}
			if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
				continue;
			rc = parse_msg(nlh, r);
			if (rc) {
				done = 1;
				break;
			}
		}
		if (got == 0)
			break;
	}
out:
	free(buf);
	return rc;
}

static int by_cookie(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

static uint8_t src_of(const struct hb_pol_sk *v, uint32_t bit, uint8_t was)
{
	if (v->app & bit)
		return HB_CFG_PROGRAM;
	if (v->pol & bit)
		return HB_CFG_POLICY;
	return was;
}

int hb_pol_src_attach(struct hb_sock_list *l)
{
	int fds[MAX_MAPS];
	struct recs r = { 0 };
	struct mnl_socket *nl = NULL;
	struct dirent *de;
	char p[PATH_MAX];
	size_t n = 0, i, hits = 0;
	DIR *d;
	int rc = 0;

	d = opendir(HB_POL_PIN_DIR);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < MAX_MAPS) {
		struct bpf_map_info info;
		uint32_t len = sizeof(info);
		int fd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "%s/%s/sk", HB_POL_PIN_DIR, de->d_name);
		fd = bpf_obj_get(p);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.value_size != sizeof(struct hb_pol_sk)) {
			close(fd);
			continue;
		}
		r.map_id[n] = info.id;
		fds[n++] = fd;
	}
	closedir(d);
	r.n_maps = n;
	if (!n)
		return 0;
	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}
	rc = dump(nl, AF_INET, fds, n, &r);
	if (!rc)
		rc = dump(nl, AF_INET6, fds, n, &r);
	if (rc || !r.n)
		goto out;
	qsort(r.v, r.n, sizeof(*r.v), by_cookie);
	for (i = 0; i < l->n; i++) {
		struct hb_sock *s = &l->v[i];
		struct rec key = { .cookie = s->cookie }, *hit;

		if (!s->cookie || s->no_options)
			continue;
		hit = bsearch(&key, r.v, r.n, sizeof(*r.v), by_cookie);
		if (!hit)
			continue;
		s->src_ka = src_of(&hit->v, HB_POL_SET_KEEPALIVE, s->src_ka);
		s->src_idle = src_of(&hit->v, HB_POL_SET_IDLE, s->src_idle);
		s->src_intvl = src_of(&hit->v, HB_POL_SET_INTVL, s->src_intvl);
		s->src_cnt = src_of(&hit->v, HB_POL_SET_CNT, s->src_cnt);
		s->src_uto = src_of(&hit->v, HB_POL_SET_UTO, s->src_uto);
		hits++;
	}
out:
	if (nl)
		mnl_socket_close(nl);
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(r.v);
	if (rc)
		return rc;
	return (int)(hits > 0x7fffffff ? 0x7fffffff : hits);
}
