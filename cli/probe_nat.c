// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl probe-nat, the pure half (probe_nat.h): plans, bookkeeping, recommendation, target
 * parsing and printing. cmd_probe_nat.c owns the sockets and the clock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "hb/policy.h"
#include "probe_nat.h"

void hb_pn_result_init(struct hb_pn_result *r)
{
	memset(r, 0, sizeof(*r));
}

void hb_pn_record(struct hb_pn_result *r, enum hb_pn_outcome what, long long ms)
{
	if ((unsigned int)what >= HB_PN__COUNT)
		return;
	r->count[what]++;
	/* Beyond the array only the counts go on: 64 flows x 64 rounds is more than any run. */
	if (r->n < HB_PN_MAX_OUTCOMES) {
		r->ms[r->n] = ms;
		r->what[r->n] = (unsigned char)what;
		r->n++;
	}
}

static bool is_drop(unsigned int what)
{
	return what == HB_PN_SILENCE || what == HB_PN_RESET;
}

void hb_pn_bracket(const struct hb_pn_result *r, struct hb_pn_bracket *b)
{
	unsigned int i;

	b->survived_ms = 0;
	b->dropped_ms = -1;
	b->cause = HB_PN_SILENCE;
	b->server_closed_ms = -1;
	b->inconsistent = 0;
	for (i = 0; i < r->n; i++) {
		if (r->what[i] == HB_PN_SURVIVED && r->ms[i] > b->survived_ms)
			b->survived_ms = r->ms[i];
		if (r->what[i] == HB_PN_SERVER_FIN &&
		    (b->server_closed_ms < 0 || r->ms[i] < b->server_closed_ms))
			b->server_closed_ms = r->ms[i];
	}
	/* A drop no longer than a survivor contradicts it (a lost probe and its retry, or a
	 * timeout that varies); the bracket is the survivor's and the next longer drop. */
	for (i = 0; i < r->n; i++) {
		if (!is_drop(r->what[i]))
			continue;
		if (r->ms[i] <= b->survived_ms) {
			b->inconsistent++;
			continue;
		}
		if (b->dropped_ms < 0 || r->ms[i] < b->dropped_ms) {
			b->dropped_ms = r->ms[i];
			b->cause = (enum hb_pn_outcome)r->what[i];
		}
	}
}

/* Snaps ms to the grid of res (nearest), at least the 1 s minimum. */
static long long snap(long long ms, long long res)
{
	long long g = (ms + res / 2) / res * res;

	while (g < HB_PN_MIN_MS)
		g += res;
	return g;
}

/* r with r^k == x, for x >= 1 (no libm: bisection is exact enough for a plan). */
static double root(double x, unsigned int k)
{
	double lo = 1.0, hi = x, mid, p;
	unsigned int i, j;

	for (i = 0; i < 100; i++) {
		mid = (lo + hi) / 2;
		for (p = 1.0, j = 0; j < k; j++)
			p *= mid;
		if (p > x)
			hi = mid;
		else
			lo = mid;
	}
	return lo;
}

unsigned int hb_pn_series(long long max_ms, long long res_ms, unsigned int n, long long *out)
{
	unsigned int i, k = 0, n_lin, n_geo;
	long long first, last_lin, g;
	double ratio, d;

	if (res_ms < 1)
		res_ms = 1;
	if (n <= 1 || max_ms <= HB_PN_MIN_MS) {
		out[0] = max_ms;
		return 1;
	}
	/* A silence of s is answered at time s, so a timeout is bracketed in one pass only when
	 * flows started together sit on the grid around it: most flows go on the resolution's
	 * grid from 1 s (5 in 8: 1..40 s with 64 flows at 1 s), the rest on a geometric series
	 * up to max_ms (further rounds cut that coarser bracket). */
	n_lin = (n * 5 + 7) / 8;
	n_geo = n - n_lin;
	if (n_geo == 0) {
		n_geo = 1;
		n_lin--;
	}
	first = snap(HB_PN_MIN_MS, res_ms);
	for (i = 0; i < n_lin; i++) {
		g = first + (long long)i * res_ms;
		if (g >= max_ms)
			break;
		out[k++] = g;
	}
	last_lin = k ? out[k - 1] : HB_PN_MIN_MS;
	ratio = root((double)max_ms / (double)last_lin, n_geo);
	for (i = 1, d = (double)last_lin * ratio; i <= n_geo; i++, d *= ratio) {
		g = i == n_geo ? max_ms : snap((long long)(d + 0.5), res_ms);
		if (g > max_ms || (i < n_geo && g == max_ms))
			continue;	/* max_ms comes last, exactly */
		if (k && g <= out[k - 1])
			continue;
		out[k++] = g;
	}
	return k;
}

static long long slack_ms(long long res_ms)
{
	return res_ms / 10 < 10 ? 10 : res_ms / 10;
}

unsigned int hb_pn_bisect(long long lo, long long hi, long long res_ms, long long limit_ms,
			  unsigned int n, long long *out)
{
	long long kmin, kmax, m, idx, prev = 0, slack;
	unsigned int j, k = 0;

	if (res_ms < 1 || n == 0 || hi <= lo)
		return 0;
	/* The points are whole multiples of the resolution (whole seconds at 1 s: the kernel's
	 * timer takes whole seconds) at least a tenth of it inside the bracket: the measured
	 * silences are real ones, a few ms off the grid, and a bracket within a tenth of the
	 * resolution of it is done. */
	slack = slack_ms(res_ms);
	kmin = (lo + slack) / res_ms + 1;
	if (kmin * res_ms < HB_PN_MIN_MS)
		kmin = (HB_PN_MIN_MS + res_ms - 1) / res_ms;
	kmax = (hi - slack - 1) / res_ms;
	if (hi - slack - 1 < 0)
		return 0;
	if (limit_ms >= 0 && (limit_ms - 1) / res_ms < kmax)
		kmax = limit_ms >= 1 ? (limit_ms - 1) / res_ms : -1;	/* the server closes first */
	if (kmax < kmin)
		return 0;
	m = kmax - kmin + 1;
	for (j = 0; j < n && j < m; j++) {
		/* the j-th of n points spread evenly over the m grid points (1-based index) */
		idx = m <= n ? (long long)j + 1 : ((long long)j + 1) * (m + 1) / ((long long)n + 1);
		if (idx < 1 || idx <= prev)
			continue;
		prev = idx;
		out[k++] = (kmin + idx - 1) * res_ms;
	}
	return k;
}

long long hb_pn_resolution(long long user_res_ms, long long survived_ms)
{
	long long r;

	if (user_res_ms > 0)
		return user_res_ms;
	r = survived_ms / 20 / 1000 * 1000;
	return r < 1000 ? 1000 : r;
}

void hb_pn_recommend(const struct hb_pn_bracket *b, struct hb_pn_recommend *rec)
{
	long long idle = b->survived_ms * 2 / 3 / 1000;

	rec->capped = false;
	if (idle < HB_IDLE_MIN)
		idle = HB_IDLE_MIN;
	if (idle > HB_DEFAULT_IDLE) {
		idle = HB_DEFAULT_IDLE;
		rec->capped = true;
	}
	rec->idle_s = (int)idle;
	rec->intvl_s = rec->idle_s / 6;
	if (rec->intvl_s < HB_INTVL_MIN)
		rec->intvl_s = HB_INTVL_MIN;
	if (rec->intvl_s > HB_DEFAULT_INTVL)
		rec->intvl_s = HB_DEFAULT_INTVL;
	rec->cnt = HB_DEFAULT_CNT;
	rec->dead_peer_s = rec->idle_s + rec->intvl_s * rec->cnt;
}

static int set_err(char *err, size_t errlen, const char *fmt, const char *s)
{
	snprintf(err, errlen, fmt, s);
	return -EINVAL;
}

int hb_pn_parse_target(const char *s, char *host, size_t hostlen, char *port, size_t portlen,
		       char *err, size_t errlen)
{
	const char *h, *he, *p, *c;
	size_t hl, pl;
	long v;

	if (!s || !*s)
		return set_err(err, errlen, "empty target (HOST:PORT)%s", "");
	if (s[0] == '[') {
		h = s + 1;
		he = strchr(h, ']');
		if (!he || he[1] != ':')
			return set_err(err, errlen, "'%.60s': expected [IPV6]:PORT", s);
		p = he + 2;
	} else {
		h = s;
		he = strrchr(s, ':');
		if (!he)
			return set_err(err, errlen, "'%.60s': expected HOST:PORT", s);
		if (memchr(s, ':', (size_t)(he - s)))
			return set_err(err, errlen, "'%.60s': an IPv6 address needs brackets, "
				       "as in [2001:db8::1]:443", s);
		p = he + 1;
	}
	hl = (size_t)(he - h);
	pl = strlen(p);
	if (!hl)
		return set_err(err, errlen, "'%.60s': no host", s);
	if (!pl)
		return set_err(err, errlen, "'%.60s': no port", s);
	if (hl >= hostlen || pl >= portlen)
		return set_err(err, errlen, "'%.60s': too long", s);
	for (c = p; *c >= '0' && *c <= '9'; c++)
		;
	if (!*c) {	/* numeric: 1..65535 */
		errno = 0;
		v = strtol(p, NULL, 10);
		if (errno || v < 1 || v > 65535)
			return set_err(err, errlen, "port '%.20s': not in 1..65535", p);
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	memcpy(port, p, pl + 1);
	return 0;
}

char *hb_pn_fmt_secs(char *buf, size_t len, long long ms)
{
	char frac[8];
	int i;

	if (ms < 0)
		ms = 0;
	if (ms % 1000 == 0) {
		snprintf(buf, len, "%lld", ms / 1000);
		return buf;
	}
	snprintf(frac, sizeof(frac), "%03lld", ms % 1000);
	for (i = 2; i > 0 && frac[i] == '0'; i--)
		frac[i] = 0;
	snprintf(buf, len, "%lld.%s", ms / 1000, frac);
	return buf;
}

/* The three ways to apply a recommendation. */
static void rec_lines(const struct hb_pn_recommend *rec, const char *address, char *env,
		      size_t envlen, char *run, size_t runlen, char *pol, size_t pollen)
{
	snprintf(env, envlen, "HB_KEEPIDLE=%d HB_KEEPINTVL=%d HB_KEEPCNT=%d", rec->idle_s,
		 rec->intvl_s, rec->cnt);
	snprintf(run, runlen, "hbctl run --idle %d --intvl %d --cnt %d -- CMD", rec->idle_s,
		 rec->intvl_s, rec->cnt);
	snprintf(pol, pollen, "hbctl policy add --cgroup PATH --match %s --idle %d --intvl %d "
		 "--cnt %d", address, rec->idle_s, rec->intvl_s, rec->cnt);
}

/* Whether anything is known: a survivor or a drop. */
static bool measured(const struct hb_pn_bracket *b)
{
	return b->survived_ms > 0 || b->dropped_ms >= 0;
}

/* Whether every silence up to --max survived: the path has no idle timeout to fit, so
 * there is no idle time to recommend. */
const char *hb_pn_outcome_name(enum hb_pn_outcome w)
{
	static const char *const names[HB_PN__COUNT] = {
		[HB_PN_SURVIVED] = "survived", [HB_PN_SILENCE] = "dropped (probe unanswered)",
		[HB_PN_RESET] = "dropped (reset)", [HB_PN_SERVER_FIN] = "closed by the server",
		[HB_PN_CANCELLED] = "cancelled (a shorter silence was dropped)",
		[HB_PN_CHATTY] = "never silent (the server kept sending)",
	};

	return names[w];
}

static bool no_timeout(const struct hb_pn_bracket *b, const struct hb_pn_report *rep)
{
	return b->dropped_ms < 0 && b->survived_ms > 0 && b->survived_ms >= rep->max_ms;
}

void hb_pn_print_text(FILE *f, const struct hb_pn_report *rep)
{
	const struct hb_pn_result *r = rep->r;
	struct hb_pn_bracket b;
	struct hb_pn_recommend rec;
	char s1[32], s2[32], s3[32], env[96], run[96], pol[200];
	const char *sofar = rep->interrupted ? " (so far)" : "";

	hb_pn_bracket(r, &b);
	if (rep->interrupted)
		fprintf(f, "interrupted after %s s: what is known so far\n",
			hb_pn_fmt_secs(s1, sizeof(s1), rep->elapsed_ms / 100 * 100));
	hb_pn_fmt_secs(s1, sizeof(s1), b.survived_ms);
	hb_pn_fmt_secs(s2, sizeof(s2), b.dropped_ms);
	if (b.dropped_ms >= 0 && b.survived_ms == 0)
		fprintf(f, "this path forgets idle TCP flows after less than %s s%s\n", s2, sofar);
	else if (b.dropped_ms >= 0)
		fprintf(f, "this path forgets idle TCP flows after %s-%s s%s\n", s1, s2, sofar);
	else if (b.survived_ms > 0)
		fprintf(f, "no drop observed up to %s s%s\n", s1, sofar);
	else
		fprintf(f, "no flow measured yet\n");
	if (b.dropped_ms >= 0) {
		fprintf(f, "  longest silence survived: %s s; shortest that killed a flow: %s s "
			"(resolution %s s)\n", s1, s2, hb_pn_fmt_secs(s3, sizeof(s3), rep->res_ms));
		if (b.cause == HB_PN_RESET)
			fprintf(f, "  killed by reset (a reset answered the probe, or came "
				"unprompted): %u flow%s; by silence: %u\n", r->count[HB_PN_RESET],
				r->count[HB_PN_RESET] == 1 ? "" : "s", r->count[HB_PN_SILENCE]);
		else
			fprintf(f, "  killed by silence (the keepalive probe went unanswered): %u "
				"flow%s; by reset: %u\n", r->count[HB_PN_SILENCE],
				r->count[HB_PN_SILENCE] == 1 ? "" : "s", r->count[HB_PN_RESET]);
	} else if (b.survived_ms > 0 && b.survived_ms >= rep->max_ms) {
		fprintf(f, "  every flow survived its silence, the longest %s s (--max)\n", s1);
	}
	if (b.server_closed_ms >= 0) {
		hb_pn_fmt_secs(s3, sizeof(s3), b.server_closed_ms);
		if (b.dropped_ms < 0 || b.server_closed_ms < b.dropped_ms)
			fprintf(f, "  the server itself closes idle connections after %s s (FIN, %u "
				"flow%s): its own idle timeout, before the path dropped any flow, "
				"so longer silences cannot be measured through this server; keepalive "
				"does not stop it (the application must send data, or the server's "
				"timeout be raised)\n", s3, r->count[HB_PN_SERVER_FIN],
				r->count[HB_PN_SERVER_FIN] == 1 ? "" : "s");
		else
			fprintf(f, "  the server also closes idle connections after %s s (FIN, its "
				"own idle timeout; not counted as a drop)\n", s3);
	}
	if (b.inconsistent)
		fprintf(f, "  note: %u flow%s died after a silence no longer than a survivor's "
			"(packet loss, or a timeout that varies)\n", b.inconsistent,
			b.inconsistent == 1 ? "" : "s");
	if (r->count[HB_PN_CHATTY])
		fprintf(f, "  note: %u flow%s never went silent (the server kept sending)\n",
			r->count[HB_PN_CHATTY], r->count[HB_PN_CHATTY] == 1 ? "" : "s");
	fprintf(f, "  measured %s in %s s: %u round%s, %u connection%s\n", rep->address,
		hb_pn_fmt_secs(s3, sizeof(s3), rep->elapsed_ms / 100 * 100), r->rounds,
		r->rounds == 1 ? "" : "s", r->conns, r->conns == 1 ? "" : "s");
	if (!measured(&b))
		return;
	if (no_timeout(&b, rep)) {
		fprintf(f, "recommended: none: this path has no idle timeout up to %s s (--max); "
			"keepalive is not needed to keep it open (a longer --max measures further)\n",
			s1);
		return;
	}
	hb_pn_recommend(&b, &rec);
	rec_lines(&rec, rep->address, env, sizeof(env), run, sizeof(run), pol, sizeof(pol));
	fprintf(f, "recommended: keepidle %d s, interval %d s, count %d (a dead peer is noticed "
		"within %d s)\n", rec.idle_s, rec.intvl_s, rec.cnt, rec.dead_peer_s);
	if (b.survived_ms == 0 || rec.idle_s * 1000LL >= b.survived_ms)
		fprintf(f, "  warning: even %s s of silence is too long for this path; keepalive "
			"cannot go below 1 s: the application must send more often\n",
			b.survived_ms ? s1 : "1");
	else if (rec.capped)
		fprintf(f, "  (hbkeep's default idle: the path allows more, but a longer idle "
			"only delays noticing a dead peer)\n");
	fprintf(f, "  %s\n  %s\n  %s\n", env, run, pol);
}

static void json_secs_or_null(FILE *f, const char *key, long long ms)
{
	char buf[32];

	if (ms < 0)
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%s", key, hb_pn_fmt_secs(buf, sizeof(buf), ms));
}

void hb_pn_print_json(FILE *f, const struct hb_pn_report *rep)
{
	const struct hb_pn_result *r = rep->r;
	struct hb_pn_bracket b;
	struct hb_pn_recommend rec;
	char env[96], run[96], pol[200], buf[32];

	hb_pn_bracket(r, &b);
	fputs("{\"target\":", f);
	hb_json_str(f, rep->target, 512);
	fputs(",\"address\":", f);
	hb_json_str(f, rep->address, 128);
	fprintf(f, ",\"survived_s\":%s", hb_pn_fmt_secs(buf, sizeof(buf), b.survived_ms));
	json_secs_or_null(f, "dropped_s", b.dropped_ms);
	json_secs_or_null(f, "server_closed_s", b.server_closed_ms);
	if (b.dropped_ms < 0)
		fputs(",\"cause\":null", f);
	else
		fprintf(f, ",\"cause\":\"%s\"", b.cause == HB_PN_RESET ? "reset" : "silence");
	if (measured(&b) && !no_timeout(&b, rep)) {
		hb_pn_recommend(&b, &rec);
		rec_lines(&rec, rep->address, env, sizeof(env), run, sizeof(run), pol, sizeof(pol));
		fprintf(f, ",\"recommend\":{\"keepidle_s\":%d,\"keepintvl_s\":%d,\"keepcnt\":%d,"
			"\"dead_peer_s\":%d,\"env\":", rec.idle_s, rec.intvl_s, rec.cnt,
			rec.dead_peer_s);
		hb_json_str(f, env, sizeof(env));
		fputs(",\"run\":", f);
		hb_json_str(f, run, sizeof(run));
		fputs(",\"policy\":", f);
		hb_json_str(f, pol, sizeof(pol));
		fputc('}', f);
	} else {
		fputs(",\"recommend\":null", f);
	}
	json_secs_or_null(f, "max_s", rep->max_ms);
	json_secs_or_null(f, "resolution_s", rep->res_ms);
	fprintf(f, ",\"parallel\":%u,\"rounds\":%u,\"connections\":%u", rep->parallel, r->rounds,
		r->conns);
	fprintf(f, ",\"flows\":{\"survived\":%u,\"silence\":%u,\"reset\":%u,\"server_fin\":%u,"
		"\"cancelled\":%u,\"chatty\":%u}", r->count[HB_PN_SURVIVED], r->count[HB_PN_SILENCE],
		r->count[HB_PN_RESET], r->count[HB_PN_SERVER_FIN], r->count[HB_PN_CANCELLED],
		r->count[HB_PN_CHATTY]);
	fprintf(f, ",\"inconsistent\":%u", b.inconsistent);
	json_secs_or_null(f, "elapsed_s", rep->elapsed_ms / 100 * 100);
	fprintf(f, ",\"interrupted\":%s}\n", rep->interrupted ? "true" : "false");
}
