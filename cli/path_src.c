// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl ls beside the path table (../shared/DESIGN.md, "Paths"): the entry covering each
 * socket's peer, for `--nat-timeout auto` (each connection judged by its own path's timeout)
 * and for the source of an idle value a kernel policy with --idle auto set from the table
 * ("path 10.0.0.0/8"). Pure: the caller loads the table (hb_paths_load()).
 *
 * The shim's HB_KEEPIDLE=auto leaves no record the kernel can show: its sockets keep the
 * source "socket" (a value equal to the path's might as well be the program's own).
 */
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "cli.h"
#include "hb/paths.h"
#include "hb/policy_bpf.h"

static bool has_peer(const struct hb_sock *s)
{
	return s->state != HB_TCP_LISTEN && s->rport;
}

void hb_sock_path_lookup(struct hb_sock *s, const struct hb_paths *t)
{
	const struct hb_path *e = NULL;

	s->path = 0;
	if (!t || !t->n || !has_peer(s))
		return;
	if (s->family == AF_INET) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(s->rport) };

		memcpy(&a.sin_addr, s->raddr, 4);
		e = hb_paths_lookup(t, (const struct sockaddr *)&a, sizeof(a));
	} else if (s->family == AF_INET6) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(s->rport) };

		memcpy(&a.sin6_addr, s->raddr, 16);
		e = hb_paths_lookup(t, (const struct sockaddr *)&a, sizeof(a));
	}
	if (e && e >= t->e && e - t->e < HB_PATHS_MAX)
		s->path = (uint16_t)(e - t->e + 1);
}

void hb_paths_attach(struct hb_sock_list *l, const struct hb_paths *t)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		hb_sock_path_lookup(&l->v[i], t);
}

const struct hb_path *hb_sock_path(const struct hb_sock *s, const struct hb_paths *t)
{
	if (!t || !s->path || s->path > t->n)
		return NULL;
	return &t->e[s->path - 1];
}

enum hb_sock_src hb_auto_idle_src(const struct hb_pol_cfg *cfg, const struct hb_path *e,
				    int keepidle_s, bool decided)
{
	/* as the kernel's path_idle(): --idle-max 0 (a policy from before it) is the maximum */
	int max = cfg->idle_max_s ? (int)cfg->idle_max_s : HB_IDLE_MAX;

	if (!(cfg->flags & HB_POL_F_IDLE_AUTO) || keepidle_s < 0)
		return decided ? HB_SOCK_SRC_POLICY : HB_SOCK_SRC_UNKNOWN;
	if (e && keepidle_s == hb_paths_idle(e, cfg->idle_s, max))
		return HB_SOCK_SRC_PATH;
	if (!e && keepidle_s == cfg->idle_s)
		return HB_SOCK_SRC_POLICY;
	return decided ? HB_SOCK_SRC_POLICY : HB_SOCK_SRC_UNKNOWN;
}
