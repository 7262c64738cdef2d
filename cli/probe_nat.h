/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hbctl probe-nat, the pure half: which silences to try (a geometric series, then rounds that
 * cut the bracket between the longest survivor and the shortest death), the bookkeeping of
 * what each flow told us, the recommendation, the target parser and the two printers.
 * No sockets and no clocks here, so that tests/unit/test_cli_probe_nat.c covers it all;
 * probe_nat_flows.c does the waiting (hb_pn_flows_*, declared below), cmd_probe_nat.c the
 * command line and the rounds. All durations are milliseconds.
 */
#ifndef HB_PROBE_NAT_H
#define HB_PROBE_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define HB_PN_MIN_MS		1000LL		/* shortest silence: TCP_KEEPIDLE's 1 s minimum */
#define HB_PN_MAX_MS		32767000LL	/* longest: TCP_KEEPIDLE's maximum */
#define HB_PN_MIN_RES_MS	100LL		/* finest --resolution */
#define HB_PN_DEFAULT_MAX_MS	1800000LL	/* --max default: 30 minutes */
#define HB_PN_DEFAULT_PARALLEL	64
#define HB_PN_MAX_PARALLEL	64
#define HB_PN_MAX_OUTCOMES	4096		/* flows remembered (rounds x parallel) */

enum hb_pn_outcome {
	HB_PN_SURVIVED,		/* the probe after that silence was answered */
	HB_PN_SILENCE,		/* the probe went unanswered: ETIMEDOUT (dropped) */
	HB_PN_RESET,		/* a reset answered the probe, or came unprompted (dropped) */
	HB_PN_SERVER_FIN,	/* the server closed the idle connection itself: not a drop */
	HB_PN_CANCELLED,	/* longer than a silence that already killed a flow: implied */
	HB_PN_CHATTY,		/* never silent long enough: the server kept sending */
	HB_PN__COUNT,
};

struct hb_pn_result {
	unsigned int n;				/* outcomes recorded in ms[] / what[] */
	long long ms[HB_PN_MAX_OUTCOMES];	/* the silence each flow was tested at */
	unsigned char what[HB_PN_MAX_OUTCOMES];	/* enum hb_pn_outcome */
	unsigned int count[HB_PN__COUNT];	/* per outcome, including any beyond n */
	unsigned int rounds;
	unsigned int conns;			/* connections opened */
};

/* The bracket the outcomes give. */
struct hb_pn_bracket {
	long long survived_ms;		/* longest silence survived; 0 when none was */
	long long dropped_ms;		/* shortest drop longer than survived_ms; -1: none */
	enum hb_pn_outcome cause;	/* HB_PN_SILENCE or HB_PN_RESET, of that drop */
	long long server_closed_ms;	/* shortest server close (FIN); -1: none */
	unsigned int inconsistent;	/* drops at or below survived_ms (loss, varying timeout) */
};

struct hb_pn_recommend {
	int idle_s, intvl_s, cnt;
	int dead_peer_s;		/* a dead peer is noticed within idle + intvl * cnt */
	bool capped;			/* idle held at hbkeep's default (the path allows more) */
};

void hb_pn_result_init(struct hb_pn_result *r);
/* Records one flow's outcome at silence ms (for HB_PN_SERVER_FIN and unprompted resets, the
 * silence measured when it came). */
void hb_pn_record(struct hb_pn_result *r, enum hb_pn_outcome what, long long ms);
void hb_pn_bracket(const struct hb_pn_result *r, struct hb_pn_bracket *b);

/* Round 1: up to n silences, geometric from 1 s to max_ms (max_ms itself last), on the grid
 * of res_ms, ascending, without duplicates. Returns the number written to out (>= 1). */
unsigned int hb_pn_series(long long max_ms, long long res_ms, unsigned int n, long long *out);
/* A further round: up to n silences strictly between lo and hi, on the grid lo + k * res_ms,
 * at least 1 s and below limit_ms (a server close; -1: none), spread evenly. Returns the
 * number written to out; 0 when there is nothing left to cut. */
unsigned int hb_pn_bisect(long long lo, long long hi, long long res_ms, long long limit_ms,
			  unsigned int n, long long *out);
/* The resolution in force: the user's, else 5% of the survivor, whole seconds, at least 1 s. */
long long hb_pn_resolution(long long user_res_ms, long long survived_ms);

/* keepidle 2/3 of the longest survived silence (1 s at least, hbkeep's default 60 s at
 * most), interval a sixth of that (1..10 s), count 6. */
void hb_pn_recommend(const struct hb_pn_bracket *b, struct hb_pn_recommend *rec);

/* Splits "HOST:PORT", "[V6]:PORT" into host and port. Returns 0, or -EINVAL with a message. */
int hb_pn_parse_target(const char *s, char *host, size_t hostlen, char *port, size_t portlen,
		       char *err, size_t errlen);

/* A flow's verdict for -v: "survived", "dropped (probe unanswered)", ... */
const char *hb_pn_outcome_name(enum hb_pn_outcome w);

/* Seconds without trailing zeros: 4000 -> "4", 4500 -> "4.5", 250 -> "0.25". Returns buf. */
char *hb_pn_fmt_secs(char *buf, size_t len, long long ms);

struct hb_pn_report {
	const char *target;		/* as given */
	const char *address;		/* what it resolved to, "198.51.100.2:7000" */
	long long max_ms, res_ms;	/* res_ms: the resolution in force at the end */
	unsigned int parallel;
	long long elapsed_ms;
	bool interrupted;
	const struct hb_pn_result *r;
};

/* The human report: bracket, causes, recommendation as HB_* variables, hbctl run flags and
 * an hbctl policy add line. */
void hb_pn_print_text(FILE *f, const struct hb_pn_report *rep);
/* One JSON object, DESIGN.md's contract plus details. */
void hb_pn_print_json(FILE *f, const struct hb_pn_report *rep);

/* What a probe-nat run found, for hbctl paths learn. */
struct hb_pn_found {
	bool measured;			/* a bracket (not interrupted, not an error) */
	long long survived_ms;		/* 0: none survived */
	long long dropped_ms;		/* -1: no drop up to --max */
	char address[80];		/* "198.51.100.2:7000", "[::1]:443" */
};

struct hb_cli_opts;
struct addrinfo;

/* ---- probe_nat_flows.c: the flows, their sockets and the clock ---- */

struct hb_pn_flows;
/* The engine for one measurement, its outcomes going to res (initialised here). SIGINT and
 * SIGTERM are caught until hb_pn_flows_end(): they stop the flows (HB_EXIT_SIGNAL + the
 * signal). NULL without memory. */
struct hb_pn_flows *hb_pn_flows_start(struct hb_cli_opts *o, unsigned int parallel,
				      struct hb_pn_result *res);
/* The first flow, for a silence of target_ms, tried on each address of ai in turn: it picks
 * the address every other flow uses, and its failure is the command's error. Returns
 * HB_EXIT_OK, HB_EXIT_SIGNAL + the signal that stopped it, or HB_EXIT_RUNTIME after printing
 * the error. */
int hb_pn_flows_connect(struct hb_pn_flows *fl, struct addrinfo *ai, long long target_ms);
/* One round: a flow per silence in targets (with first, targets[0] is the connected first
 * flow's), opened PN_BURST handshakes at a time and watched until each has its verdict.
 * Returns HB_EXIT_OK, HB_EXIT_SIGNAL + the signal that stopped it, or HB_EXIT_RUNTIME after
 * printing the error. */
int hb_pn_flows_round(struct hb_pn_flows *fl, const long long *targets, unsigned int n,
		      bool first);
/* The address the flows go to: "198.51.100.2:7000", "[::1]:443" ("" before a connection). */
const char *hb_pn_flows_addr(const struct hb_pn_flows *fl);
/* Closes every flow, puts the signal handlers back and frees fl; *elapsed_ms since the
 * start. Returns the signal that stopped the flows, 0 for none. */
int hb_pn_flows_end(struct hb_pn_flows *fl, long long *elapsed_ms);

/* ---- cmd_probe_nat.c ---- */

/* hbctl probe-nat with its arguments (argv[0] the command's name), printing its report; when
 * out is not NULL, fills it. Returns the exit status. */
int hb_probe_nat_run(int argc, char **argv, struct hb_cli_opts *o, struct hb_pn_found *out);

#endif /* HB_PROBE_NAT_H */
