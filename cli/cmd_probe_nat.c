// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl probe-nat: how long does the path to a server keep an idle TCP flow? This file
 * parses the command line, resolves the target, runs the rounds (which silences, from
 * probe_nat.c's plan) and reports; probe_nat_flows.c opens, paces and watches the flows (the
 * method is described there); probe_nat.c plans and prints. hb_probe_nat_run() is also
 * hbctl paths learn's.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "cli.h"
#include "hb/policy.h"
#include "probe_nat.h"

enum {
	OPT_MAX = 0x3000,
	OPT_RES,
	OPT_PARALLEL,
};

static void pn_usage(FILE *f)
{
	fprintf(f,
		"Usage: hbctl probe-nat HOST:PORT [--max DUR] [--resolution DUR] [--parallel N]\n"
		"                       [-j] [-v] [--netns NAME|PATH|PID]\n"
		"\n"
		"Measure after how much silence the path to HOST:PORT (NAT, firewall, load\n"
		"balancer) forgets an idle TCP connection, and recommend keepalive settings. Any\n"
		"TCP server will do: keepalive probes need no cooperating software on the far side.\n"
		"N connections stay silent for different durations (most a second apart from 1 s,\n"
		"the rest a geometric series up to --max), then each sends one keepalive probe:\n"
		"answered, the flow survived; no answer or a reset, it was dropped. The bracket is\n"
		"from the real silences (each probe's departure read from the socket). Later\n"
		"rounds cut it to --resolution. A server that closes idle connections itself (FIN)\n"
		"is reported apart, not as a drop. A timeout up to 40 s (64 flows) takes about the\n"
		"timeout plus 2 s; longer ones about twice the timeout.\n"
		"\n"
		"  --max DUR               longest silence to try (default 30m; 1s..32767s)\n"
		"  --resolution DUR        stop when the bracket is this narrow (default 5%% of\n"
		"                          the timeout, at least 1s; at least 100ms)\n"
		"  --parallel N            connections at a time (default %d; 1..%d; 8 against a\n"
		"                          server that limits them, as sshd's MaxStartups does)\n"
		"  -j, --json              one JSON object\n"
		"  -v, --verbose           each flow's verdict on stderr\n"
		"  -n, --netns NAME|PATH|PID  probe from that network namespace\n"
		"\n"
		"HOST is a name or an address, IPv6 in brackets: [2001:db8::1]:443.\n"
		"Ctrl-C prints what is known so far and exits with 130.\n"
		"Exit status: 0 measured, 1 error (resolve, connect, nothing measurable),\n"
		"2 usage, 130 interrupted.\n", HB_PN_DEFAULT_PARALLEL, HB_PN_MAX_PARALLEL);
}

/* Parses probe-nat's (and paths learn's) arguments. Returns HB_EXIT_OK to go on, or the exit
 * code to return at once (HB_EXIT_DONE after --help). */
static int parse_opts(int argc, char **argv, struct hb_cli_opts *o, long long *max_ms,
		      long long *res_ms, int *parallel, const char **target)
{
	static const struct option longopts[] = {
		HB_GLOBAL_LONGOPTS,
		{ "max", required_argument, NULL, OPT_MAX },
		{ "resolution", required_argument, NULL, OPT_RES },
		{ "parallel", required_argument, NULL, OPT_PARALLEL },
		{ 0 }
	};
	char err[HB_ERR_LEN];
	int c;

	while ((c = hb_cli_getopt(argc, argv, ":jvn:h", longopts, o)) != -1) {
		switch (c) {
		case OPT_MAX:
			if (hb_parse_duration_ms(optarg, max_ms, err, sizeof(err)))
				return hb_usage_err(o, "--max: %s", err);
			if (*max_ms < HB_PN_MIN_MS || *max_ms > HB_PN_MAX_MS)
				return hb_usage_err(o, "--max: '%.40s': not in 1s..32767s (the range "
						    "of TCP_KEEPIDLE)", optarg);
			break;
		case OPT_RES:
			if (hb_parse_duration_ms(optarg, res_ms, err, sizeof(err)))
				return hb_usage_err(o, "--resolution: %s", err);
			if (*res_ms < HB_PN_MIN_RES_MS)
				return hb_usage_err(o, "--resolution: '%.40s': below the 100ms "
						    "minimum", optarg);
			break;
		case OPT_PARALLEL:
			if (hb_parse_int(optarg, 1, HB_PN_MAX_PARALLEL, parallel, err, sizeof(err)))
				return hb_usage_err(o, "--parallel: %s", err);
			break;
		case HB_OPT_HELP:
			pn_usage(stdout);
			return HB_EXIT_DONE;
		default:	/* HB_OPT_USAGE: said */
			return HB_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return hb_usage_err(o, "no target given (hbctl probe-nat HOST:PORT)");
	if (optind + 1 < argc)
		return hb_usage_err(o, "unexpected argument '%.40s' (one HOST:PORT)",
				    argv[optind + 1]);
	*target = argv[optind];
	if (*res_ms > *max_ms)
		return hb_usage_err(o, "--resolution is longer than --max");
	return HB_EXIT_OK;
}

/* Resolves target (after entering --netns). Returns 0 with *ai set, or an exit code after
 * printing the error. */
static int resolve(struct hb_cli_opts *o, const char *target, struct addrinfo **ai)
{
	struct addrinfo hints = { 0 };
	char host[256], port[64], err[HB_ERR_LEN];
	int rc;

	if (hb_pn_parse_target(target, host, sizeof(host), port, sizeof(port), err, sizeof(err)))
		return hb_usage_err(o, "%s", err);
	rc = hb_cli_enter_netns(o);
	if (rc)
		return rc;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	rc = getaddrinfo(host, port, &hints, ai);
	if (rc) {
		hb_err(o, "resolve %s: %s", target, rc == EAI_SYSTEM ? strerror(errno) :
		       gai_strerror(rc));
		return HB_EXIT_RUNTIME;
	}
	return 0;
}

/* What a measurement asked for and found. */
struct measure {
	long long max_ms;		/* --max */
	long long res_ms;		/* --resolution; 0: hb_pn_resolution()'s */
	unsigned int parallel;		/* --parallel */
	char addr[80];			/* the address probed */
	long long elapsed_ms;
	int stop_sig;			/* the signal that interrupted, 0 for none */
};

/* The plan: the first flow's connection, round 1 (a series up to --max), then rounds that
 * cut the bracket between the longest survivor and the shortest death to the resolution.
 * Returns HB_EXIT_OK, HB_EXIT_SIGNAL + the signal that interrupted (*connecting when that
 * was while connecting: no report then), or an exit code after printing the error. */
static int rounds(struct hb_cli_opts *o, struct hb_pn_flows *fl, struct addrinfo *ai,
		  const char *target, const struct measure *m, const struct hb_pn_result *res,
		  bool *connecting)
{
	long long targets[HB_PN_MAX_PARALLEL];
	struct hb_pn_bracket b;
	char s[32], s2[32];
	unsigned int n;
	int rc;

	n = hb_pn_series(m->max_ms, m->res_ms ? m->res_ms : 1000, m->parallel, targets);
	rc = hb_pn_flows_connect(fl, ai, targets[0]);
	if (rc > HB_EXIT_SIGNAL) {
		hb_err(o, "interrupted while connecting to %s", target);
		*connecting = true;
	}
	if (rc)
		return rc;
	hb_verbose(o, "probing %s (%s) up to %s s, %u flows at a time", target,
		   hb_pn_flows_addr(fl), hb_pn_fmt_secs(s, sizeof(s), m->max_ms), m->parallel);
	rc = hb_pn_flows_round(fl, targets, n, true);
	while (!rc) {
		hb_pn_bracket(res, &b);
		if (b.dropped_ms < 0)
			break;		/* nothing to cut: no drop up to --max or the server close */
		n = hb_pn_bisect(b.survived_ms, b.dropped_ms,
				 hb_pn_resolution(m->res_ms, b.survived_ms), b.server_closed_ms,
				 m->parallel, targets);
		if (!n)
			break;
		hb_verbose(o, "round %u: %u flows between %s s and %s s", res->rounds + 1, n,
			   hb_pn_fmt_secs(s, sizeof(s), b.survived_ms),
			   hb_pn_fmt_secs(s2, sizeof(s2), b.dropped_ms));
		rc = hb_pn_flows_round(fl, targets, n, false);
	}
	return rc;
}

/* Measures the path to target (resolved to ai) into res. Returns HB_EXIT_OK, or the exit
 * code after printing the error, or after a signal (m->stop_sig; res holds what is known
 * unless it came while connecting). */
static int measure(struct hb_cli_opts *o, const char *target, struct addrinfo *ai,
		   struct measure *m, struct hb_pn_result *res)
{
	struct hb_pn_flows *fl;
	bool connecting = false;
	int rc, sig;

	fl = hb_pn_flows_start(o, m->parallel, res);
	if (!fl) {
		hb_err(o, "%s", strerror(ENOMEM));
		return HB_EXIT_RUNTIME;
	}
	rc = rounds(o, fl, ai, target, m, res, &connecting);
	snprintf(m->addr, sizeof(m->addr), "%s", hb_pn_flows_addr(fl));
	sig = hb_pn_flows_end(fl, &m->elapsed_ms);
	if (rc > HB_EXIT_SIGNAL && !connecting)
		m->stop_sig = sig;
	return rc;
}

/* The report of a measurement that ended or was interrupted (m->stop_sig); out, if not
 * NULL, gets what paths learn records. Returns the exit status. */
static int report(struct hb_cli_opts *o, const char *target, const struct measure *m,
		  const struct hb_pn_result *res, struct hb_pn_found *out)
{
	struct hb_pn_report rep = { 0 };
	struct hb_pn_bracket b;
	char s[32];

	hb_pn_bracket(res, &b);
	if (!m->stop_sig && b.survived_ms == 0 && b.dropped_ms < 0) {
		/* nothing measured, and not for want of waiting */
		if (b.server_closed_ms >= 0)
			hb_err(o, "%s closes idle connections itself after %s s (FIN), sooner than "
			       "the shortest probe (1 s): the path cannot be measured through this "
			       "server", m->addr, hb_pn_fmt_secs(s, sizeof(s), b.server_closed_ms));
		else
			hb_err(o, "%s never stayed silent (the server keeps sending): the path "
			       "cannot be measured through this server", m->addr);
		return HB_EXIT_RUNTIME;
	}
	rep.target = target;
	rep.address = m->addr;
	rep.max_ms = m->max_ms;
	rep.res_ms = hb_pn_resolution(m->res_ms, b.survived_ms);
	rep.parallel = m->parallel;
	rep.elapsed_ms = m->elapsed_ms;
	rep.interrupted = m->stop_sig != 0;
	rep.r = res;
	if (o->json)
		hb_pn_print_json(stdout, &rep);
	else
		hb_pn_print_text(stdout, &rep);
	fflush(stdout);
	if (m->stop_sig)
		return HB_EXIT_SIGNAL + m->stop_sig;
	if (out) {
		out->measured = true;
		out->survived_ms = b.survived_ms;
		out->dropped_ms = b.dropped_ms;
		snprintf(out->address, sizeof(out->address), "%s", m->addr);
	}
	return HB_EXIT_OK;
}

int hb_probe_nat_run(int argc, char **argv, struct hb_cli_opts *o, struct hb_pn_found *out)
{
	struct measure m = { .max_ms = HB_PN_DEFAULT_MAX_MS };
	int parallel = HB_PN_DEFAULT_PARALLEL, rc;
	struct hb_pn_result *res;
	struct addrinfo *ai = NULL;
	const char *target = NULL;

	rc = parse_opts(argc, argv, o, &m.max_ms, &m.res_ms, &parallel, &target);
	if (rc)
		return rc;
	m.parallel = (unsigned int)parallel;
	rc = resolve(o, target, &ai);
	if (rc)
		return rc;
	res = calloc(1, sizeof(*res));
	if (!res) {
		freeaddrinfo(ai);
		hb_err(o, "%s", strerror(ENOMEM));
		return HB_EXIT_RUNTIME;
	}
	rc = measure(o, target, ai, &m, res);
	freeaddrinfo(ai);
	if (!rc || m.stop_sig)
		rc = report(o, target, &m, res, out);
	free(res);
	return rc;
}

int cmd_probe_nat(int argc, char **argv, struct hb_cli_opts *o)
{
	return hb_probe_nat_run(argc, argv, o, NULL);
}
