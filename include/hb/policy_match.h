/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The kernel policy's decisions, one copy for the sock_ops program (bpf/policy.bpf.c) and user
 * space (hbctl ls's sources, cli/pol_src.c; the unit tests that hold it against libhb's
 * lib/match.c): which sockets a policy manages and what it does with each value. Static
 * inline, over the ABI of hb/policy_bpf.h.
 */
#ifndef HB_POLICY_MATCH_H
#define HB_POLICY_MATCH_H

#include "hb/policy_bpf.h"

/*
 * The match decision of libhb's hb_match_sockaddr() (lib/match.c), for an address given as
 * words: a socket is managed when it matches some include pattern (or there are none) and
 * no exclude pattern; an IPv4-mapped IPv6 address matches IPv4 patterns through its IPv4
 * part and IPv6 patterns through the whole address; an IPv6 pattern never matches an IPv4
 * socket. Shared by the program and user space (tests/unit/test_cli_policy_compile.c holds the two
 * against each other), hence the volatile: the program reads the patterns from rodata,
 * which the compiler must not fold to the object file's zeros.
 *
 * family: AF_INET (a[0] is the address) or AF_INET6; port in host byte order.
 */
static inline __attribute__((always_inline)) bool
hb_pol_match(const volatile struct hb_pol_cfg *cfg, __u32 family, const __u32 a[4], __u16 port)
{
	bool included = cfg->n_include == 0, has_v4;
	__u32 v4, i, n = cfg->n;

	if (family == 2) {
		has_v4 = true;
		v4 = a[0];
	} else if (family == 10) {
		/* ::ffff:a.b.c.d; 0x0000ffff in network byte order on either endianness */
		has_v4 = a[0] == 0 && a[1] == 0 &&
			 ((const __u8 *)&a[2])[0] == 0 && ((const __u8 *)&a[2])[1] == 0 &&
			 ((const __u8 *)&a[2])[2] == 0xff && ((const __u8 *)&a[2])[3] == 0xff;
		v4 = a[3];
	} else {
		return false;
	}
	for (i = 0; i < HB_POL_MATCH_MAX; i++) {
		const volatile struct hb_pol_pat *p = &cfg->pat[i];
		bool hit;

		if (i >= n)
			break;
		if (p->port && p->port != port)
			continue;
		if (p->family == 0)
			hit = true;
		else if (p->family == 2)
			hit = has_v4 && (v4 & p->mask[0]) == p->addr[0];
		else if (p->family == 10)
			hit = family == 10 && (a[0] & p->mask[0]) == p->addr[0] &&
			      (a[1] & p->mask[1]) == p->addr[1] &&
			      (a[2] & p->mask[2]) == p->addr[2] &&
			      (a[3] & p->mask[3]) == p->addr[3];
		else
			hit = false;
		if (!hit)
			continue;
		if (p->exclude)
			return false;	/* exclusion wins, whatever the order */
		included = true;
	}
	return included;
}

/* What the policy does with one value of one socket (hb_pol_decide). */
#define HB_POL_DO_NOTHING	0	/* the policy does not set this value */
#define HB_POL_DO_KEEP		1	/* the program's own choice: left alone */
#define HB_POL_DO_HAVE		2	/* the socket has the policy's value already */
#define HB_POL_DO_SET		3	/* set it (bpf_setsockopt) */

/*
 * The decision of the sock_ops program (and of --retrofit) for one value: bit its
 * HB_POL_SET_*, app the values the program set itself as the cgroup setsockopt recorder saw
 * them, cur what the socket has (the tcp_sock field, 0: never set; for SO_KEEPALIVE 0/1),
 * want_cur the policy's value in the same unit. Without --force the program's choice wins:
 * a recorded call (SO_KEEPALIVE=0 included), or a value set that is not the policy's (what
 * is left to go by where the kernel refused the recorder). Shared by the program and the
 * unit tests, as hb_pol_match is.
 */
static inline __attribute__((always_inline)) int
hb_pol_decide(const volatile struct hb_pol_cfg *cfg, __u32 bit, __u32 app, __u32 cur,
	      __u32 want_cur)
{
	bool force = cfg->flags & HB_POL_F_FORCE;

	if (!(cfg->mask & bit))
		return HB_POL_DO_NOTHING;
	if ((app & bit) && !force)
		return HB_POL_DO_KEEP;
	if (cur && cur == want_cur)
		return HB_POL_DO_HAVE;
	if (cur && !force)
		return HB_POL_DO_KEEP;
	return HB_POL_DO_SET;
}

#endif /* HB_POLICY_MATCH_H */
