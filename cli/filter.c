// SPDX-License-Identifier: BSD-2-Clause
/*
 * FILTER options shared by `ls` and `set`: parsing and matching on struct hb_sock records.
 * Values of one repeatable option are OR-ed (--port 80 --port 443), different options are
 * AND-ed (--pid 12 --dport 5432).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "hb/policy.h"


static const char *const state_names[HB_TCP_MAX_STATES] = {
	[HB_TCP_ESTABLISHED] = "established",
	[HB_TCP_SYN_SENT] = "syn-sent",
	[HB_TCP_SYN_RECV] = "syn-recv",
	[HB_TCP_FIN_WAIT1] = "fin-wait-1",
	[HB_TCP_FIN_WAIT2] = "fin-wait-2",
	[HB_TCP_TIME_WAIT] = "time-wait",
	[HB_TCP_CLOSE] = "closed",
	[HB_TCP_CLOSE_WAIT] = "close-wait",
	[HB_TCP_LAST_ACK] = "last-ack",
	[HB_TCP_LISTEN] = "listen",
	[HB_TCP_CLOSING] = "closing",
	[HB_TCP_NEW_SYN_RECV] = "syn-recv",
};

#define B(s) (1u << (s))
#define ALL_STATES (B(HB_TCP_MAX_STATES) - 2)	/* bits 1..HB_TCP_MAX_STATES-1 */

const char *hb_state_name(unsigned int state)
{
	if (state < HB_TCP_MAX_STATES && state_names[state])
		return state_names[state];
	return "unknown";
}

int hb_state_parse(const char *name, uint32_t *mask)
{
	static const struct { const char *name; uint32_t mask; } groups[] = {
		{ "listening", B(HB_TCP_LISTEN) },
		{ "close", B(HB_TCP_CLOSE) },
		{ "all", ALL_STATES },
		/* ss's groups */
		{ "connected", ALL_STATES & ~(B(HB_TCP_LISTEN) | B(HB_TCP_CLOSE)) },
		{ "synchronized", ALL_STATES & ~(B(HB_TCP_LISTEN) | B(HB_TCP_CLOSE) | B(HB_TCP_SYN_SENT)) },
	};
	unsigned int i;

	for (i = 1; i < HB_TCP_MAX_STATES; i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*mask = B(i);
			if (i == HB_TCP_SYN_RECV)	/* request sockets report either number */
				*mask |= B(HB_TCP_NEW_SYN_RECV);
			return 0;
		}
	}
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (strcmp(name, groups[i].name) == 0) {
			*mask = groups[i].mask;
			return 0;
		}
	}
	return -EINVAL;
}

void hb_filter_init(struct hb_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->keepalive = -1;
	f->idle_over_ms = -1;
}

static int add_port(uint16_t *v, unsigned int *n, const char *opt, const char *arg, char *err,
		    size_t errlen)
{
	char e[HB_ERR_LEN];
	int port, rc;

	if (*n >= HB_FILTER_MAX) {
		snprintf(err, errlen, "%s: at most %d values", opt, HB_FILTER_MAX);
		return -E2BIG;
	}
	rc = hb_parse_int(arg, 0, 65535, &port, e, sizeof(e));
	if (rc) {
		snprintf(err, errlen, "%s: %s", opt, e);
		return rc;
	}
	v[(*n)++] = (uint16_t)port;
	return 1;
}

static int add_states(struct hb_filter *f, const char *arg, char *err, size_t errlen)
{
	char buf[256], *tok, *save = NULL;
	uint32_t m, all = 0;

	if (strlen(arg) >= sizeof(buf)) {
		snprintf(err, errlen, "--state: list too long");
		return -EINVAL;
	}
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (hb_state_parse(tok, &m)) {
			snprintf(err, errlen,
				 "--state: unknown state '%.40s' (established, syn-sent, syn-recv, "
				 "fin-wait-1, fin-wait-2, time-wait, closed, close-wait, last-ack, "
				 "listen, closing, connected, synchronized, all)", tok);
			return -EINVAL;
		}
		all |= m;
	}
	if (!all) {
		snprintf(err, errlen, "--state: empty list");
		return -EINVAL;
	}
	f->states |= all;
	return 1;
}

int hb_filter_opt(struct hb_filter *f, int c, const char *arg, char *err, size_t errlen)
{
	char e[HB_ERR_LEN];
	bool b;
	int rc, v;

	switch (c) {
	case HB_OPT_PID:
		if (f->n_pid >= HB_FILTER_MAX) {
			snprintf(err, errlen, "--pid: at most %d values", HB_FILTER_MAX);
			return -E2BIG;
		}
		rc = hb_parse_int(arg, 1, 0x7fffffff, &v, e, sizeof(e));
		if (rc) {
			snprintf(err, errlen, "--pid: %s", e);
			return rc;
		}
		f->pid[f->n_pid++] = v;
		break;
	case HB_OPT_COMM:
		if (f->n_comm >= HB_FILTER_MAX) {
			snprintf(err, errlen, "--comm: at most %d values", HB_FILTER_MAX);
			return -E2BIG;
		}
		if (!*arg) {
			snprintf(err, errlen, "--comm: empty name");
			return -EINVAL;
		}
		/* the kernel keeps 15 bytes of a command name: compare those */
		snprintf(f->comm[f->n_comm++], sizeof(f->comm[0]), "%s", arg);
		break;
	case HB_OPT_PORT:
		rc = add_port(f->port, &f->n_port, "--port", arg, err, errlen);
		if (rc < 0)
			return rc;
		break;
	case HB_OPT_SPORT:
		rc = add_port(f->sport, &f->n_sport, "--sport", arg, err, errlen);
		if (rc < 0)
			return rc;
		break;
	case HB_OPT_DPORT:
		rc = add_port(f->dport, &f->n_dport, "--dport", arg, err, errlen);
		if (rc < 0)
			return rc;
		break;
	case HB_OPT_STATE:
		rc = add_states(f, arg, err, errlen);
		if (rc < 0)
			return rc;
		break;
	case HB_OPT_KEEPALIVE:
		rc = hb_parse_bool(arg, &b, e, sizeof(e));
		if (rc) {
			snprintf(err, errlen, "--keepalive: %s", e);
			return rc;
		}
		f->keepalive = b;
		break;
	case HB_OPT_IDLE_OVER: {
		long long ms;

		rc = hb_parse_duration_ms(arg, &ms, e, sizeof(e));
		if (rc) {
			snprintf(err, errlen, "--idle-over: %s", e);
			return rc;
		}
		f->idle_over_ms = ms;
		break;
	}
	default:
		return 0;
	}
	f->active = true;
	return 1;
}

bool hb_filter_needs_owners(const struct hb_filter *f)
{
	return f->n_pid || f->n_comm;
}

static bool port_in(const uint16_t *v, unsigned int n, uint16_t port)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (v[i] == port)
			return true;
	return false;
}

static const struct hb_owner *owner_at(const struct hb_sock *s, unsigned int i)
{
	return i < HB_SOCK_OWNERS_INLINE ? &s->owner[i] : &s->more_owners[i - HB_SOCK_OWNERS_INLINE];
}

static bool owner_match(const struct hb_filter *f, const struct hb_sock *s)
{
	unsigned int i, j;

	for (i = 0; i < s->n_owners; i++) {
		const struct hb_owner *o = owner_at(s, i);
		bool pid_ok = !f->n_pid, comm_ok = !f->n_comm;

		for (j = 0; j < f->n_pid && !pid_ok; j++)
			pid_ok = o->pid == f->pid[j];
		for (j = 0; j < f->n_comm && !comm_ok; j++)
			comm_ok = strncmp(o->comm, f->comm[j], 15) == 0;
		/* --pid and --comm must hold for the same owner */
		if (pid_ok && comm_ok)
			return true;
	}
	return false;
}

bool hb_filter_match(const struct hb_filter *f, const struct hb_sock *s)
{
	if (f->states && !(f->states & B(s->state < 32 ? s->state : 0)))
		return false;
	if (f->n_port && !port_in(f->port, f->n_port, s->lport) &&
	    !port_in(f->port, f->n_port, s->rport))
		return false;
	if (f->n_sport && !port_in(f->sport, f->n_sport, s->lport))
		return false;
	if (f->n_dport && !port_in(f->dport, f->n_dport, s->rport))
		return false;
	/* unknown values never match: "--keepalive off" must not select sockets we could not read */
	if (f->keepalive >= 0 && s->keepalive != f->keepalive)
		return false;
	if (f->idle_over_ms >= 0 && (s->idle_ms < 0 || s->idle_ms <= f->idle_over_ms))
		return false;
	if ((f->n_pid || f->n_comm) && !owner_match(f, s))
		return false;
	return true;
}

size_t hb_filter_apply(const struct hb_filter *f, struct hb_sock_list *l)
{
	size_t i, k = 0;

	for (i = 0; i < l->n; i++) {
		if (hb_filter_match(f, &l->v[i])) {
			if (k != i)
				l->v[k] = l->v[i];
			k++;
		} else {
			free(l->v[i].more_owners);
		}
	}
	l->n = k;
	return k;
}
