// SPDX-License-Identifier: BSD-2-Clause
/*
 * The kernel policy compiled for its program (policy_bpf.h): a libhb policy and match list
 * become the struct hb_pol_cfg the sock_ops program gets as rodata. Pure code, no libbpf:
 * tests/unit/test_cli_policy_compile.c checks it against libhb's own decision.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "hb/paths.h"
#include "hb/policy.h"
#include "hb/policy_loader.h"

_Static_assert(sizeof(struct hb_pol_pat) == HB_POL_PAT_SIZE, "hb_pol_pat layout");
_Static_assert(sizeof(struct hb_pol_cfg) == HB_POL_CFG_SIZE, "hb_pol_cfg layout");
_Static_assert(sizeof(struct hb_pol_stats) == HB_POL_STATS_SIZE, "hb_pol_stats layout");
_Static_assert(sizeof(struct hb_pol_meta) == HB_POL_META_SIZE, "hb_pol_meta layout");
_Static_assert(HB_POL_MATCH_MAX == HB_MATCH_MAX, "match list sizes");
_Static_assert(sizeof(struct hb_path_key) == HB_PATH_KEY_SIZE, "hb_path_key layout");
_Static_assert(sizeof(struct hb_path_val) == HB_PATH_VAL_SIZE, "hb_path_val layout");
_Static_assert(HB_POL_PATHS_MAX == HB_PATHS_MAX, "path table sizes");
_Static_assert(HB_POL_SET_KEEPALIVE == HB_BIT(HB_V_KEEPALIVE) &&
	       HB_POL_SET_IDLE == HB_BIT(HB_V_IDLE) && HB_POL_SET_INTVL == HB_BIT(HB_V_INTVL) &&
	       HB_POL_SET_CNT == HB_BIT(HB_V_CNT) &&
	       HB_POL_SET_UTO == HB_BIT(HB_V_USER_TIMEOUT), "value bits");

/* ---- compiling the policy ----------------------------------------------------------------- */

static __u32 mask_word(int bits)
{
	if (bits <= 0)
		return 0;
	if (bits >= 32)
		return 0xffffffffu;
	return htonl(0xffffffffu << (32 - bits));
}

int hb_pol_compile_match(const struct hb_match *m, struct hb_pol_cfg *cfg)
{
	unsigned int i, w;

	if (m->n > HB_POL_MATCH_MAX)
		return -E2BIG;
	memset(cfg->pat, 0, sizeof(cfg->pat));
	cfg->n = m->n;
	cfg->n_include = 0;
	for (i = 0; i < m->n; i++) {
		const struct hb_pattern *p = &m->pat[i];
		struct hb_pol_pat *q = &cfg->pat[i];

		q->family = p->family;
		q->exclude = p->exclude ? 1 : 0;
		q->port = p->port;
		if (!q->exclude)
			cfg->n_include++;
		if (p->family == AF_INET) {
			memcpy(&q->addr[0], p->addr, 4);
			q->mask[0] = mask_word(p->prefix > 32 ? 32 : p->prefix);
			q->addr[0] &= q->mask[0];
		} else if (p->family == AF_INET6) {
			for (w = 0; w < 4; w++) {
				memcpy(&q->addr[w], p->addr + 4 * w, 4);
				q->mask[w] = mask_word((p->prefix > 128 ? 128 : p->prefix) - 32 * (int)w);
				q->addr[w] &= q->mask[w];
			}
		}
	}
	return 0;
}

int hb_pol_compile(const struct hb_policy *p, struct hb_pol_cfg *cfg)
{
	struct hb_effective e;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	/* No sysctl: a value that would come from it is simply not set, and each socket keeps
	 * its own network namespace's. */
	hb_policy_effective(p, NULL, &e);
	if (e.keepalive) {
		cfg->mask |= HB_POL_SET_KEEPALIVE;
		if (e.src[HB_V_IDLE] != HB_SRC_SYSCTL) {
			cfg->mask |= HB_POL_SET_IDLE;
			cfg->idle_s = e.idle_s;
		}
		if (e.src[HB_V_INTVL] != HB_SRC_SYSCTL) {
			cfg->mask |= HB_POL_SET_INTVL;
			cfg->intvl_s = e.intvl_s;
		}
		if (e.src[HB_V_CNT] != HB_SRC_SYSCTL) {
			cfg->mask |= HB_POL_SET_CNT;
			cfg->cnt = e.cnt;
		}
	}
	/* 0 is the kernel's own behaviour: nothing to set (as hb_policy_plan()). */
	if (e.user_timeout_ms && e.src[HB_V_USER_TIMEOUT] == HB_SRC_USER) {
		cfg->mask |= HB_POL_SET_UTO;
		cfg->user_timeout_ms = e.user_timeout_ms;
	}
	if (p->force)
		cfg->flags |= HB_POL_F_FORCE;
	if (p->has_match) {
		rc = hb_pol_compile_match(&p->match, cfg);
		if (rc)
			return rc;
		cfg->flags |= HB_POL_F_MATCH;
	}
	return 0;
}
