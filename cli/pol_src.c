// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl ls beside kernel policies: who set each keepalive value of a socket, the program
 * itself or the policy. One sock_diag dump per address family hands back, per socket, its
 * cgroup (INET_DIAG_CGROUP_ID) and its records in the policies' SK_STORAGE maps (pinned as
 * hb_pin_policy_dir()/<id>/sk, struct hb_pol_sk, asked for with INET_DIAG_REQ_SK_BPF_STORAGES),
 * joined to the listed sockets by cookie:
 *   - a value the record says the program set: "program";
 *   - one the record says the policy set (a forced policy records every socket): "policy";
 *   - otherwise, on a socket in a policy's cgroup or below (the innermost policy's), a value
 *     equal to that policy's, on a socket its match list selects: "policy" (a non-forced
 *     policy keeps no record of a socket whose program made none of its calls: that would
 *     cost an allocation per connection).
 * Under a policy with --idle auto the idle is its path's, not one value: the policy's idle
 * is "path DEST" when it is what the path table gives for the socket's peer (the entry
 * hb_sock_path_lookup() finds), "policy" when no entry covers the peer and it is
 * --idle-default (hb_auto_idle_src(), cli/path_src.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "cli.h"
#include "hb/paths.h"
#include "hb/policy_loader.h"
#include "hb/policy_match.h"

#define MAX_MAPS	64

struct rec {
	uint64_t cookie;
	struct hb_pol_sk v;
	bool have;		/* v is a record (else only the cgroup tells) */
	int pol;		/* index into recs.pol of the policy of its cgroup, -1: none */
};

/* A cgroup at or below a policy's: which policy decides there (the innermost). */
struct cg {
	uint64_t id;
	unsigned int level;	/* the policy's cgroup's depth */
	int pol;
};

struct recs {
	struct rec *v;
	size_t n, cap;
	uint32_t map_id[MAX_MAPS];
	size_t n_maps;
	struct hb_pol_info *pol;	/* the active policies */
	size_t n_pol;
	struct cg *cg;			/* sorted by id, one per id */
	size_t n_cg, cap_cg;
};

static int by_cg_id(const void *a, const void *b)
{
	const struct cg *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->level > y->level ? -1 : x->level < y->level;	/* the innermost first */
}

/* Adds dir and the cgroups below it (their ids are their inode numbers) for policy pol. */
static void walk_cgroups(struct recs *r, const char *dir, int pol, unsigned int level, int depth)
{
	char sub[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (depth > 64 || r->n_cg >= 1000000 || stat(dir, &st))
		return;
	if (r->n_cg == r->cap_cg) {
		size_t cap = r->cap_cg ? r->cap_cg * 2 : 64;
		struct cg *nv = realloc(r->cg, cap * sizeof(*nv));

		if (!nv)
			return;
		r->cg = nv;
		r->cap_cg = cap;
	}
	r->cg[r->n_cg++] = (struct cg){ (uint64_t)st.st_ino, level, pol };
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= sizeof(sub))
			continue;
		walk_cgroups(r, sub, pol, level, depth + 1);
	}
	closedir(d);
}

/* The policy that decides for cgroup id, -1 when none. */
static int policy_of(const struct recs *r, uint64_t id)
{
	size_t lo = 0, hi = r->n_cg;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->cg[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->n_cg && r->cg[lo].id == id ? r->cg[lo].pol : -1;
}

/* Loads the active policies and the cgroups each decides for. */
static void load_policies(struct recs *r)
{
	char err[256];
	size_t i, j;

	if (hb_pol_list(&r->pol, &r->n_pol, err, sizeof(err)))
		return;
	for (i = 0; i < r->n_pol; i++)
		if (r->pol[i].state == HB_POL_ACTIVE)
			walk_cgroups(r, r->pol[i].meta.cgroup, (int)i, r->pol[i].meta.cfg.cgroup_level,
				     0);
	if (!r->n_cg)
		return;
	qsort(r->cg, r->n_cg, sizeof(*r->cg), by_cg_id);
	for (i = 1, j = 0; i < r->n_cg; i++)	/* one per id: the innermost policy's */
		if (r->cg[i].id != r->cg[j].id)
			r->cg[++j] = r->cg[i];
	r->n_cg = j + 1;
}

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
	int pol = -1;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EBADMSG;
	mnl_attr_for_each(a, nlh, sizeof(*m)) {
		if (mnl_attr_get_type(a) == INET_DIAG_CGROUP_ID &&
		    mnl_attr_get_payload_len(a) >= sizeof(uint64_t)) {
			pol = policy_of(r, mnl_attr_get_u64(a));
			continue;
		}
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
	if (!any && pol < 0)
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
	r->v[r->n].v = merged;
	r->v[r->n].have = any;
	r->v[r->n++].pol = pol;
	return 0;
}

/*
 * The dump asks only for the sockets of the policies' cgroups (INET_DIAG_BC_CGROUP_COND,
 * kernel 5.10+): the kernel still walks every socket, but at 100,000 sockets of which few
 * are under a policy, what it sends is what costs. Per cgroup: a condition whose match
 * goes to an unconditional jump to the end (accept: yes is only 8 bits wide, too short for
 * a long list), and whose miss skips that jump; a miss of the last one jumps past the end
 * (reject), as ss(8) builds its filters.
 */
#define FILTER_MAX	1500	/* cgroups; more, and every socket is dumped */
#define COND_LEN	(sizeof(struct inet_diag_bc_op) + sizeof(uint64_t))
#define STEP_LEN	(COND_LEN + sizeof(struct inet_diag_bc_op))

static void put_filter(struct nlmsghdr *nlh, const struct recs *r)
{
	size_t len = r->n_cg * STEP_LEN, i;
	char *bc = calloc(1, len), *p = bc;

	if (!bc)
		return;		/* every socket is dumped */
	for (i = 0; i < r->n_cg; i++) {
		struct inet_diag_bc_op cond = { INET_DIAG_BC_CGROUP_COND, COND_LEN, STEP_LEN };
		struct inet_diag_bc_op jmp = { INET_DIAG_BC_JMP, sizeof(jmp), 0 };
		size_t left = len - i * STEP_LEN;	/* from this condition to the end */

		if (i == r->n_cg - 1)
			cond.no = (unsigned short)(left + sizeof(cond));	/* past the end */
		jmp.no = (unsigned short)(left - COND_LEN);		/* to the end */
		memcpy(p, &cond, sizeof(cond));
		memcpy(p + sizeof(cond), &r->cg[i].id, sizeof(uint64_t));
		memcpy(p + COND_LEN, &jmp, sizeof(jmp));
		p += STEP_LEN;
	}
	mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, len, bc);
	free(bc);
}

/* One dump of a family's TCP sockets with the values of the maps in fds. Returns 0 or
 * -errno (an interrupted dump gives what it got: the sources are best effort). */
static int dump(struct mnl_socket *nl, int family, const int *fds, size_t n, struct recs *r,
		bool filter)
{
	size_t bufsz = 65536;
	char *buf = malloc(bufsz);
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
	if (filter)
		put_filter(nlh, r);
	if (n) {
		nest = mnl_attr_nest_start(nlh, INET_DIAG_REQ_SK_BPF_STORAGES);
		for (i = 0; i < n; i++)
			mnl_attr_put_u32(nlh, SK_DIAG_BPF_STORAGE_REQ_MAP_FD, (uint32_t)fds[i]);
		mnl_attr_nest_end(nlh, nest);
	}
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

/* Whether the policy's match list selects the socket: the remote address for connect(),
 * the local one for listeners and accepted sockets (either will do here: ls cannot tell an
 * accepted socket from a connected one). */
static bool selects(const struct hb_pol_cfg *cfg, const struct hb_sock *s)
{
	uint32_t a[4];

	if (!(cfg->flags & HB_POL_F_MATCH))
		return true;
	memcpy(a, s->laddr, sizeof(a));
	if (hb_pol_match(cfg, s->family, a, s->lport))
		return true;
	if (s->state == HB_TCP_LISTEN)
		return false;
	memcpy(a, s->raddr, sizeof(a));
	return hb_pol_match(cfg, s->family, a, s->rport);
}

/* A value's source: the record's word, else the policy's when the value is the policy's. */
static uint8_t src_of(const struct rec *h, const struct hb_pol_cfg *cfg, uint32_t bit,
		      bool equal, uint8_t was)
{
	if (h->have && (h->v.app & bit))
		return HB_SOCK_SRC_PROGRAM;
	if (h->have && (h->v.pol & bit))
		return HB_SOCK_SRC_POLICY;
	if (cfg && (cfg->mask & bit) && equal)
		return HB_SOCK_SRC_POLICY;
	return was;
}

/* The idle's source under a policy with --idle auto (pc: the innermost policy of the
 * socket's cgroup; c: the same when its match list selects the socket). */
static uint8_t auto_idle_src(const struct hb_sock *s, const struct rec *h,
			     const struct hb_pol_cfg *pc, const struct hb_pol_cfg *c,
			     const struct hb_paths *t)
{
	bool decided = h->have && (h->v.pol & HB_POL_SET_IDLE);
	enum hb_sock_src src;

	if (h->have && (h->v.app & HB_POL_SET_IDLE))
		return HB_SOCK_SRC_PROGRAM;
	if (!decided && !(c && (c->mask & HB_POL_SET_IDLE)))
		return s->src_idle;
	src = hb_auto_idle_src(pc, hb_sock_path(s, t), s->keepidle_s, decided);
	return src == HB_SOCK_SRC_UNKNOWN ? s->src_idle : (uint8_t)src;
}

static void apply_rec(struct hb_sock *s, const struct rec *h, const struct recs *r,
		      const struct hb_paths *t)
{
	const struct hb_pol_cfg *pc = h->pol >= 0 ? &r->pol[h->pol].meta.cfg : NULL;
	const struct hb_pol_cfg *c = pc;

	if (c && !selects(c, s))
		c = NULL;
	s->src_ka = src_of(h, c, HB_POL_SET_KEEPALIVE, c && s->keepalive == 1, s->src_ka);
	if (pc && (pc->flags & HB_POL_F_IDLE_AUTO)) {
		if (!s->path)		/* not looked up yet (--nat-timeout auto does it for all) */
			hb_sock_path_lookup(s, t);
		s->src_idle = auto_idle_src(s, h, pc, c, t);
	}
	else
		s->src_idle = src_of(h, c, HB_POL_SET_IDLE, c && s->keepidle_s == c->idle_s,
				     s->src_idle);
	s->src_intvl = src_of(h, c, HB_POL_SET_INTVL, c && s->keepintvl_s == c->intvl_s,
			      s->src_intvl);
	s->src_cnt = src_of(h, c, HB_POL_SET_CNT, c && s->keepcnt == c->cnt, s->src_cnt);
	s->src_uto = src_of(h, c, HB_POL_SET_UTO,
			    c && s->user_timeout_ms == c->user_timeout_ms && c->user_timeout_ms,
			    s->src_uto);
}

int hb_pol_src_attach(struct hb_sock_list *l, const struct hb_paths *t)
{
	int fds[MAX_MAPS];
	struct recs r = { 0 };
	struct mnl_socket *nl = NULL;
	size_t n, i, hits = 0;
	bool filter;
	int rc = 0;

	n = hb_pol_open_records(fds, r.map_id, MAX_MAPS);
	r.n_maps = n;
	load_policies(&r);
	if (!n && !r.n_cg)
		goto out;
	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}
	filter = r.n_cg && r.n_cg <= FILTER_MAX;
	rc = dump(nl, AF_INET, fds, n, &r, filter);
	if (rc == -EINVAL && filter) {
		/* a kernel without cgroup conditions: every socket, then */
		filter = false;
		r.n = 0;
		rc = dump(nl, AF_INET, fds, n, &r, filter);
	}
	if (!rc)
		rc = dump(nl, AF_INET6, fds, n, &r, filter);
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
		apply_rec(s, hit, &r, t);
		hits++;
	}
out:
	if (nl)
		mnl_socket_close(nl);
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(r.v);
	free(r.cg);
	free(r.pol);
	if (rc)
		return rc;
	return (int)(hits > 0x7fffffff ? 0x7fffffff : hits);
}
