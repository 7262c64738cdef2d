// SPDX-License-Identifier: BSD-2-Clause
/*
 * The iterator back end's records become struct hb_sock (iter_int.h). The kernel side
 * (iter.bpf.c) sends raw values; here jiffies become milliseconds with the HZ libbpf read
 * from the kernel config, 0 ("the sysctl") becomes the namespace's sysctl with source
 * HB_SOCK_SRC_SYSCTL, and owners are joined to sockets by inode through a hash table (linear time,
 * unlike ss -p). Pure code, no libbpf: tests/unit/test_iter_rec.c links it alone.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hb/iter.h"
#include "hb/sock.h"
#include "iter_int.h"

_Static_assert(sizeof(struct hb_iter_sock) == HB_ITER_SOCK_SIZE, "hb_iter_sock layout");
_Static_assert(sizeof(struct hb_iter_file) == HB_ITER_FILE_SIZE, "hb_iter_file layout");
_Static_assert(HB_ITER_TIMER_RETRANS == HB_TIMER_RETRANS &&
	       HB_ITER_TIMER_KEEPALIVE == HB_TIMER_KEEPALIVE &&
	       HB_ITER_TIMER_PROBE == HB_TIMER_PROBE &&
	       HB_ITER_TIMER_TIMEWAIT == HB_TIMER_TIMEWAIT, "timer kinds");

#define TCP_LISTEN_STATE 10

void hb__iter_conv_init(struct hb_iter_conv *c, struct hb_sock_list *out)
{
	memset(c, 0, sizeof(*c));
	c->out = out;
	c->start = out->n;
}

void hb__iter_conv_free(struct hb_iter_conv *c)
{
	free(c->slot);
	c->slot = NULL;
}

/* ---- sockets ------------------------------------------------------------------------------ */

/* When libbpf found no kernel config (CONFIG_HZ 0): jiffies start at 2^32 - 300 * HZ
 * (INITIAL_JIFFIES) and advance HZ per second, so the clock picks the one candidate that
 * fits. */
static unsigned int guess_hz(uint64_t jiffies)
{
	static const unsigned int cand[] = { 100, 250, 300, 1000, 24, 32, 48, 64, 128, 200,
					     256, 500, 512, 1024, 1200 };
	double up, best_err = 0, e;
	struct timespec ts;
	unsigned int best = 250;
	size_t i;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return best;
	up = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	for (i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		e = (double)jiffies - (4294967296.0 + cand[i] * (up - 300.0));
		e = e < 0 ? -e : e;
		if (i == 0 || e < best_err) {
			best_err = e;
			best = cand[i];
		}
	}
	return best;
}

static int64_t jiffies_to_ms(int64_t j, unsigned int hz)
{
	return j * 1000 / (int64_t)hz;
}

static int jiffies_to_s(uint32_t j, unsigned int hz)
{
	return (int)(((uint64_t)j + hz / 2) / hz);
}

/* Age of a 32-bit jiffies stamp (tcp_jiffies32); 0 means "never set". */
static int64_t age_ms(uint64_t now, uint32_t stamp, unsigned int hz)
{
	if (!stamp)
		return HB_UNKNOWN;
	return jiffies_to_ms((uint32_t)((uint32_t)now - stamp), hz);
}

int hb__iter_sock_rec(const void *rec, void *vctx)
{
	const struct hb_iter_sock *r = rec;
	struct hb_iter_conv *c = vctx;
	struct hb_sock *s;
	unsigned int hz;
	uint32_t v;

	if (!c->hz)
		c->hz = r->hz ? r->hz : guess_hz(r->now);
	hz = c->hz;
	s = hb_sock_list_add(c->out);
	if (!s)
		return -ENOMEM;
	s->family = r->family;
	s->state = r->state;
	s->lport = r->lport;
	s->rport = r->rport;
	memcpy(s->laddr, r->laddr, sizeof(s->laddr));
	memcpy(s->raddr, r->raddr, sizeof(s->raddr));
	s->inode = r->inode;
	s->cookie = r->cookie;
	s->uid = r->uid;
	s->ifindex = r->ifindex;
	s->timer = r->timer;
	s->probes = r->probes;
	if (r->timer != HB_ITER_TIMER_NONE)
		s->timer_expires_ms = jiffies_to_ms((int64_t)(r->timer_expires - r->now), hz);
	if (r->kind != HB_ITER_FULL) {
		s->no_options = true;	/* time-wait and request sockets carry no options */
		return 0;
	}

	if (!c->have_sysctl) {
		c->out->sysctl.idle_s = jiffies_to_s(r->sys_ka_time, hz);
		c->out->sysctl.intvl_s = jiffies_to_s(r->sys_ka_intvl, hz);
		c->out->sysctl.cnt = r->sys_ka_probes;
		c->have_sysctl = true;
	}
	s->keepalive = !!(r->flags & HB_ITER_F_KEEPOPEN);
	v = r->ka_time ? r->ka_time : r->sys_ka_time;
	s->keepidle_s = jiffies_to_s(v, hz);
	s->src_idle = r->ka_time ? HB_SOCK_SRC_SOCKET : HB_SOCK_SRC_SYSCTL;
	v = r->ka_intvl ? r->ka_intvl : r->sys_ka_intvl;
	s->keepintvl_s = jiffies_to_s(v, hz);
	s->src_intvl = r->ka_intvl ? HB_SOCK_SRC_SOCKET : HB_SOCK_SRC_SYSCTL;
	s->keepcnt = r->ka_probes ? r->ka_probes : r->sys_ka_probes;
	s->src_cnt = r->ka_probes ? HB_SOCK_SRC_SOCKET : HB_SOCK_SRC_SYSCTL;
	/* 0: no user timeout; the retransmission sysctls decide */
	s->user_timeout_ms = (int)r->user_timeout;
	s->src_uto = r->user_timeout ? HB_SOCK_SRC_SOCKET : HB_SOCK_SRC_SYSCTL;

	if (r->state != TCP_LISTEN_STATE) {
		s->last_send_ms = age_ms(r->now, r->lsndtime, hz);
		s->last_recv_ms = age_ms(r->now, r->lrcvtime, hz);
		s->last_ack_ms = age_ms(r->now, r->rcv_tstamp, hz);
		/* idle since the later of the last data sent and received */
		if (s->last_send_ms == HB_UNKNOWN)
			s->idle_ms = s->last_recv_ms;
		else if (s->last_recv_ms == HB_UNKNOWN || s->last_send_ms < s->last_recv_ms)
			s->idle_ms = s->last_send_ms;
		else
			s->idle_ms = s->last_recv_ms;
	}
	return 0;
}

/* ---- owners ------------------------------------------------------------------------------- */

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 4096;
	void *nv;

	if (n < *cap)
		return 0;
	nv = realloc(*v, c * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = c;
	return 0;
}

int hb__iter_file_rec(const void *rec, void *vctx)
{
	const struct hb_iter_file *r = rec;
	struct hb_iter_fds *j = vctx;
	struct hb_iter_fd *f;

	if (!j->n || j->v[j->n - 1].pid != (int32_t)r->pid) {
		if (grow((void **)&j->comm, &j->capcomm, j->ncomm, sizeof(*j->comm)))
			return -ENOMEM;
		memcpy(j->comm[j->ncomm], r->comm, sizeof(r->comm));
		j->comm[j->ncomm][sizeof(r->comm) - 1] = '\0';
		j->ncomm++;
	}
	if (grow((void **)&j->v, &j->cap, j->n, sizeof(*j->v)))
		return -ENOMEM;
	f = &j->v[j->n++];
	f->inode = r->inode;
	f->pid = (int32_t)r->pid;
	f->fd = (int32_t)r->fd;
	return 0;
}

void hb__iter_fds_free(struct hb_iter_fds *fds)
{
	free(fds->v);
	free(fds->comm);
	memset(fds, 0, sizeof(*fds));
}

static size_t ino_hash(uint64_t ino, size_t mask)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ULL) >> 17) & mask;
}

/* Index of out->v by inode for the records this call added (inode 0: no socket file). */
static int build_index(struct hb_iter_conv *c)
{
	size_t n = c->out->n - c->start, size = 16, i, h;

	while (size < 2 * n)
		size <<= 1;
	if (c->out->n >= UINT32_MAX)
		return -EOVERFLOW;
	c->slot = calloc(size, sizeof(*c->slot));
	if (!c->slot)
		return -ENOMEM;
	c->mask = size - 1;
	for (i = c->start; i < c->out->n; i++) {
		if (!c->out->v[i].inode)
			continue;
		for (h = ino_hash(c->out->v[i].inode, c->mask); c->slot[h]; h = (h + 1) & c->mask)
			;
		c->slot[h] = (uint32_t)(i + 1);
	}
	return 0;
}

static bool has_owner(const struct hb_sock *s, int pid, int fd)
{
	unsigned int i;

	for (i = 0; i < s->n_owners; i++) {
		const struct hb_owner *o = i < HB_SOCK_OWNERS_INLINE ?
			&s->owner[i] : &s->more_owners[i - HB_SOCK_OWNERS_INLINE];

		if (o->pid == pid && o->fd == fd)
			return true;
	}
	return false;
}

/* Adds the owner f to the listed socket with its inode, if any. */
static int join_file(struct hb_iter_conv *c, const struct hb_iter_fd *f, const char *comm)
{
	struct hb_sock *s;
	size_t h;

	for (h = ino_hash(f->inode, c->mask); c->slot[h]; h = (h + 1) & c->mask) {
		s = &c->out->v[c->slot[h] - 1];
		if (s->inode != f->inode)
			continue;
		if (has_owner(s, f->pid, f->fd))
			return 0;
		return hb_sock_add_owner(s, f->pid, f->fd, comm);
	}
	return 0;	/* a socket of another namespace, or one that opened after the walk */
}

int hb__iter_join(struct hb_iter_conv *c, const struct hb_iter_fds *fds)
{
	size_t i, k;
	int err;

	err = build_index(c);
	/* comm[k] belongs to the k-th run of records of one pid (hb__iter_file_rec's order) */
	for (i = 0, k = 0; !err && i < fds->n; i++) {
		if (i && fds->v[i].pid != fds->v[i - 1].pid)
			k++;
		err = join_file(c, &fds->v[i], fds->comm[k]);
	}
	return err;
}
