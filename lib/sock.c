// SPDX-License-Identifier: BSD-2-Clause
/* The struct hb_sock_list helpers both back ends (bpf/iter_rec.c, cli/diag.c) fill it with. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "hb/sock.h"

struct hb_sock *hb_sock_list_add(struct hb_sock_list *l)
{
	struct hb_sock *s;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct hb_sock *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			errno = ENOMEM;
			return NULL;
		}
		l->v = v;
		l->cap = cap;
	}
	s = &l->v[l->n++];
	memset(s, 0, sizeof(*s));
	s->keepalive = HB_UNKNOWN;
	s->keepidle_s = s->keepintvl_s = s->keepcnt = s->user_timeout_ms = HB_UNKNOWN;
	s->src_idle = s->src_intvl = s->src_cnt = s->src_uto = HB_SOCK_SRC_UNKNOWN;
	s->timer = HB_TIMER_NONE;
	s->timer_expires_ms = HB_UNKNOWN;
	s->last_send_ms = s->last_recv_ms = s->last_ack_ms = s->idle_ms = HB_UNKNOWN;
	return s;
}

void hb_sock_list_free(struct hb_sock_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i].more_owners);
	free(l->v);
	l->v = NULL;
	free(l->mon_buf);
	l->mon_buf = NULL;
	l->n = l->cap = 0;
}

int hb_sock_add_owner(struct hb_sock *s, int pid, int fd, const char *comm)
{
	struct hb_owner *o;
	unsigned int extra;

	if (s->n_owners < HB_SOCK_OWNERS_INLINE) {
		o = &s->owner[s->n_owners];
	} else {
		extra = s->n_owners - HB_SOCK_OWNERS_INLINE;
		/* Capacity 4, 8, 16, ...: shared listeners (prefork servers) have hundreds. */
		if (extra == 0 || (extra >= 4 && (extra & (extra - 1)) == 0)) {
			unsigned int cap = extra ? extra * 2 : 4;
			struct hb_owner *m = realloc(s->more_owners, cap * sizeof(*m));

			if (!m)
				return -ENOMEM;
			s->more_owners = m;
		}
		o = &s->more_owners[extra];
	}
	memset(o, 0, sizeof(*o));
	o->pid = pid;
	o->fd = fd;
	if (comm)
		strncpy(o->comm, comm, sizeof(o->comm) - 1);
	s->n_owners++;
	return 0;
}
