// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl probe-nat's flow engine: opens, paces and watches the parallel flows, and reads
 * each one's verdict. How long does the path to a server keep an idle TCP flow?
 *
 * Every TCP peer must answer a keepalive probe, and a probe sent after a middlebox forgot the
 * flow is dropped (or reset). So: open N connections, keep each silent for its own duration,
 * then let it send one keepalive probe. Answered: the flow survived that silence. ETIMEDOUT
 * or a reset: it did not. A FIN from the server is the server's own idle timeout, reported
 * apart and never counted as a drop. Round 1 tries a geometric series up to --max; further
 * rounds cut the bracket between the longest survivor and the shortest death until
 * --resolution. probe_nat.c plans and prints, cmd_probe_nat.c parses the command line, runs
 * the rounds and reports; this file owns the sockets and the clock.
 *
 * When the probe leaves matters: the kernel arms the keepalive timer on the timer wheel,
 * which fires late by up to an eighth of the delay for long timers (a probe armed for 20 s
 * left 1.9 s late; a "30 s" one at 30.7 s), and lowering TCP_KEEPIDLE at the moment that
 * coarse timer is due does not pull it in (45-470 ms late). So each socket gets
 * SO_KEEPALIVE, TCP_KEEPINTVL 1 s, TCP_KEEPCNT 2 and a fallback TCP_KEEPIDLE well beyond its
 * silence (twice it plus 10 s); about a second before the silence ends we re-arm the timer
 * (TCP_KEEPIDLE = the silence in whole seconds: tcp_sock_set_keepidle() re-arms it for the
 * remainder, a one-second timer that the wheel fires within a jiffy) and set
 * TCP_USER_TIMEOUT so that a probe and its retry unanswered end the flow; a silence that is
 * not whole seconds is ended at its exact moment by TCP_KEEPIDLE = 1 (fires at once). Then
 * the departure of each probe is read from the socket (tcpi_segs_out moves; TCP_INFO read
 * every millisecond around the due time), and the bracket is computed from the real
 * silences: from the last segment either way (tcpi_last_*) to the probe's departure, a
 * survivor's rounded down and a drop's rounded up to 10 ms, so that the bracket always
 * contains the path's timeout.
 *
 * The verdicts, from TCP_INFO and the socket's error: the last segment received
 * (tcpi_last_ack_recv, refreshed by the probe's ACK, and tcpi_last_data_recv) is later than
 * the probe: survived. SO_ERROR ETIMEDOUT (probe and retry unanswered): dropped by silence.
 * ECONNRESET: dropped by reset. read() == 0: the server closed. Data from the server restarts
 * the silence (it refreshed the middlebox too).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <linux/tcp.h>	/* struct tcp_info with tcpi_segs_in/out (glibc's lacks them) */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "hb/policy.h"
#include "probe_nat.h"

#define PN_INTVL_S	1	/* TCP_KEEPINTVL while probing: the retry a second later */
#define PN_CNT		2	/* TCP_KEEPCNT: the probe and one retry (a lost probe is not a drop) */
#define PN_CONNECT_MS	10000	/* connect() timeout */
#define PN_CHECK_MS	25	/* TCP_INFO polling after a probe */
#define PN_TOL_MS	20	/* tcpi_last_*_recv are in jiffies: a few ms of slack */
#define PN_GIVEUP_MS	10000	/* no verdict this long after the probe: count it unanswered */
#define PN_RESTARTS	5	/* the server spoke this often: the flow never goes silent */
#define PN_WATCH_MIN_MS	50	/* TCP_INFO polling while silent: target / 20 in this range */
#define PN_WATCH_MAX_MS	1000
#define PN_RETRIES	2	/* a later connection that fails is tried again this often */
#define PN_BURST	4	/* handshakes at a time (F_PENDING waits): below a small listen
				 * backlog (Python's socketserver: 5). Beyond it the server falls
				 * back to SYN cookies, and a connection its full accept queue
				 * then loses answers the flow's probe with a reset later */
#define PN_REARM_MS	1000	/* re-arm the keepalive timer this long before the silence ends */
#define PN_REARM2_MS	150	/* and again this long before: a slot of a jiffy, even if the
				 * process is slow to wake at the due time */
#define PN_FINE_MS	1	/* TCP_INFO polling around a probe's due time */
#define PN_FINE_BEFORE	10	/* ... from this long before it */
#define PN_FINE_AFTER	1500	/* ... until this long after it (then PN_CHECK_MS) */
#define PN_ROUND_MS	10	/* real silences: survivors rounded down, drops up, to this */


/* F_IDLE: silent, the fallback timer far away; F_ARMED: the timer re-armed for the due time,
 * watching for the probe's departure; F_PROBED: the probe left, waiting for the verdict. */
enum flow_state { F_FREE, F_PENDING, F_CONNECTING, F_IDLE, F_ARMED, F_PROBED };

struct flow {
	int fd;
	enum flow_state st;
	long long target;	/* the silence this flow tests, ms */
	long long t_start;	/* connect() called (monotonic ms) */
	long long t_last;	/* last segment received, by the kernel's account */
	long long t_dep_lo;	/* the probe left after this (the last look that saw it not) */
	long long t_dep_hi;	/* and before this (the look that saw it gone) */
	long long t_look;	/* the last TCP_INFO look while armed */
	bool kicked;		/* TCP_KEEPIDLE = 1 done */
	long long t_next;	/* next thing to do: connect timeout, probe, TCP_INFO check */
	unsigned int restarts;	/* the server spoke: the silence started again */
	unsigned int segs_in;	/* tcpi_segs_in/out when the silence (re)started */
	unsigned int segs_out;
	unsigned int tries;
};

struct hb_pn_flows {
	struct hb_cli_opts *o;
	struct sockaddr_storage sa;
	socklen_t salen;
	char addr[80];			/* "198.51.100.2:7000", "[::1]:80" */
	struct flow fl[HB_PN_MAX_PARALLEL];
	unsigned int nfl;
	struct hb_pn_result *res;		/* the caller's */
	bool tty;
	long long t0, next_progress;
	unsigned int parallel;
	bool progress_shown;
	struct sigaction old_int, old_term;	/* put back by hb_pn_flows_end() */
};

/* Set by SIGINT/SIGTERM: stop waiting, report what is known (libbpf-bootstrap's exiting). */
static volatile sig_atomic_t pn_stop;

static void on_signal(int sig)
{
	pn_stop = sig;
}


static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int get_info(int fd, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len) ? -errno : 0;
}

/* When the last segment (data or a bare ACK) arrived, on our clock. */
static long long last_rx(const struct tcp_info *ti, long long now)
{
	unsigned int d = ti->tcpi_last_data_recv, a = ti->tcpi_last_ack_recv;

	return now - (long long)(d < a ? d : a);
}

/* When the last segment crossed the path either way (received, or data sent): the start of
 * the silence the middlebox sees. */
static long long last_any(const struct tcp_info *ti, long long now)
{
	long long rx = last_rx(ti, now), tx = now - (long long)ti->tcpi_last_data_sent;

	return tx > rx && tx <= now ? tx : rx;
}

static int set_int(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof(val)) ? -errno : 0;
}

static int ceil_secs(long long ms)
{
	long long s = (ms + 999) / 1000;

	return s > HB_IDLE_MAX ? HB_IDLE_MAX : (int)s;
}

/* The kernel's own timer, armed at connect: well beyond the silence, so that its coarse
 * slot never decides when the probe leaves; it only stands in if we are very late. */
static int fallback_secs(long long target)
{
	long long s = 2LL * ceil_secs(target) + 10;

	return s > HB_IDLE_MAX ? HB_IDLE_MAX : (int)s;
}

/* The real silences, rounded so that the bracket errs on the wide side. */
static long long round_down(long long ms)
{
	return ms < 0 ? 0 : ms / PN_ROUND_MS * PN_ROUND_MS;
}

static long long round_up(long long ms)
{
	return ms < 0 ? 0 : (ms + PN_ROUND_MS - 1) / PN_ROUND_MS * PN_ROUND_MS;
}

/* The silence a survivor is known to have survived, and the one a drop is known to have
 * died of: from the last segment to the probe's departure (its planned silence when the
 * departure was not seen). */
static long long survived_ms(const struct flow *f)
{
	return f->t_dep_hi ? round_down(f->t_dep_lo - f->t_last) : f->target;
}

static long long dropped_ms(const struct flow *f)
{
	return f->t_dep_hi ? round_up(f->t_dep_hi - f->t_last) : f->target;
}

static unsigned int n_active(const struct hb_pn_flows *p)
{
	unsigned int i, n = 0;

	for (i = 0; i < p->nfl; i++)
		n += p->fl[i].st != F_FREE;
	return n;
}

static void progress_clear(struct hb_pn_flows *p)
{
	if (p->progress_shown)
		fputs("\r\033[K", stderr);
	p->progress_shown = false;
}

/* One status line on a terminal, rewritten in place. */
static void progress(struct hb_pn_flows *p, long long now, bool force)
{
	struct hb_pn_bracket b;
	char s1[32], s2[32], s3[32];
	long long next = -1;
	unsigned int i;

	if (!p->tty || (!force && now < p->next_progress))
		return;
	p->next_progress = now + 1000;
	for (i = 0; i < p->nfl; i++) {
		const struct flow *f = &p->fl[i];
		long long t = f->st == F_IDLE || f->st == F_ARMED ? f->t_last + f->target :
			      f->st == F_PROBED ? f->t_dep_hi + PN_INTVL_S * PN_CNT * 1000 : -1;

		if (t >= 0 && (next < 0 || t < next))
			next = t;
	}
	hb_pn_bracket(p->res, &b);
	hb_pn_fmt_secs(s1, sizeof(s1), b.survived_ms);
	hb_pn_fmt_secs(s2, sizeof(s2), b.dropped_ms);
	hb_pn_fmt_secs(s3, sizeof(s3), next > now ? (next - now + 999) / 1000 * 1000 : 0);
	fprintf(stderr, "\rprobe-nat %s: round %u, %lld s: survived %s s, dropped %s; %u "
		"waiting, next in ~%s s\033[K", p->addr, p->res->rounds, (now - p->t0) / 1000, s1,
		b.dropped_ms < 0 ? "none yet" : strcat(s2, " s"), n_active(p), s3);
	p->progress_shown = true;
}

static void flow_close(struct flow *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->st = F_FREE;
}

/* Records f's verdict at silence ms and frees it; a drop cancels the longer silences (they
 * would be dropped too). */
static void flow_done(struct hb_pn_flows *p, struct flow *f, enum hb_pn_outcome what, long long ms,
		      int err)
{
	char s[32], s2[32];
	unsigned int i;

	hb_pn_record(p->res, what, ms);
	if (p->o->verbose) {
		progress_clear(p);
		hb_verbose(p->o, "flow %u (%s s of silence, planned %s s): %s%s%s",
			   (unsigned int)(f - p->fl), hb_pn_fmt_secs(s, sizeof(s), ms),
			   hb_pn_fmt_secs(s2, sizeof(s2), f->target), hb_pn_outcome_name(what),
			   err ? ": " : "", err ? strerror(err) : "");
	}
	flow_close(f);
	if (what != HB_PN_SILENCE && what != HB_PN_RESET)
		return;
	for (i = 0; i < p->nfl; i++) {
		struct flow *g = &p->fl[i];

		if (g->st != F_FREE && g->target > ms)
			flow_done(p, g, HB_PN_CANCELLED, g->target, 0);
	}
}

/* Opens a flow towards p->sa for a silence of target ms. Returns 0 or -errno. */
static int flow_open(struct hb_pn_flows *p, struct flow *f, long long target)
{
	int fd, rc;

	fd = socket(p->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	/* Before connect(): the kernel arms the keepalive timer when the handshake completes. */
	if ((rc = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1)) ||
	    (rc = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, fallback_secs(target))) ||
	    (rc = set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, PN_INTVL_S)) ||
	    (rc = set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, PN_CNT)))
		goto err_close;
	if (connect(fd, (const struct sockaddr *)&p->sa, p->salen) && errno != EINPROGRESS) {
		rc = -errno;
		goto err_close;
	}
	p->res->conns++;
	f->fd = fd;
	f->st = F_CONNECTING;
	f->target = target;
	f->t_start = now_ms();
	f->t_next = f->t_start + PN_CONNECT_MS;
	f->restarts = 0;
	f->t_dep_lo = f->t_dep_hi = 0;
	f->kicked = false;
	return 0;
err_close:
	close(fd);
	return rc;
}

/* When the timer is re-armed: a second before the silence ends (at once for a 1 s one). */
static long long arm_at(const struct flow *f)
{
	return f->t_last + f->target - PN_REARM_MS;
}

/* While silent, TCP_INFO is read every target/20 (50 ms..1 s) to see whether anything
 * crossed the middlebox: the server's own keepalive probes are out of window, so they show in
 * tcpi_segs_in (and our ACK in tcpi_segs_out), not in tcpi_last_*_recv. */
static long long idle_next(const struct flow *f, long long now)
{
	long long watch = f->target / 20, end = arm_at(f);

	if (watch < PN_WATCH_MIN_MS)
		watch = PN_WATCH_MIN_MS;
	if (watch > PN_WATCH_MAX_MS)
		watch = PN_WATCH_MAX_MS;
	return now + watch < end ? now + watch : end;
}

/* The handshake completed (or failed). Returns 0 or -errno. */
static int flow_connected(struct flow *f)
{
	struct tcp_info ti;
	socklen_t len = sizeof(int);
	long long now;
	int err = 0, rc;

	if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	if (err)
		return -err;
	now = now_ms();
	if ((rc = get_info(f->fd, &ti)))
		return rc;
	if (ti.tcpi_state != HB_TCP_ESTABLISHED)
		return -ENOTCONN;
	f->t_last = last_any(&ti, now);
	/* Bounds the wait for the fallback probe's answer (the kernel kills the flow at this age
	 * with a probe outstanding); after connect() so that it does not shorten the handshake.
	 * Re-arming sets the real one. */
	rc = set_int(f->fd, IPPROTO_TCP, TCP_USER_TIMEOUT,
		     (fallback_secs(f->target) + PN_INTVL_S * PN_CNT) * 1000);
	if (rc)
		return rc;
	f->st = F_IDLE;
	f->segs_in = ti.tcpi_segs_in;
	f->segs_out = ti.tcpi_segs_out;
	f->t_next = idle_next(f, now);
	return 0;
}

/* The socket reported an error: a drop, unless it never connected. */
static void flow_error(struct hb_pn_flows *p, struct flow *f, int err, long long now)
{
	long long ms;

	if (err == ECONNRESET || err == EPIPE) {
		/* Unprompted (before our probe): a middlebox or the server aborted the idle flow
		 * at this silence; the two cannot be told apart, and either way it is gone. */
		ms = f->st == F_PROBED ? dropped_ms(f) : round_up(now - f->t_last);
		flow_done(p, f, HB_PN_RESET, ms, err);
	} else {
		flow_done(p, f, HB_PN_SILENCE, dropped_ms(f), err);
	}
}

/* TCP_INFO verdict of a survivor; 1 when f survived and is done. */
static int check_survived(struct hb_pn_flows *p, struct flow *f, long long now, long long since)
{
	struct tcp_info ti;

	if (get_info(f->fd, &ti))
		return 0;
	if (last_rx(&ti, now) >= since - PN_TOL_MS) {
		flow_done(p, f, HB_PN_SURVIVED, survived_ms(f), 0);
		return 1;
	}
	return 0;
}

/* Something crossed the middlebox at about t: the silence starts again, unless the server
 * never stops talking. The kernel's timer follows by itself (it counts from the last segment
 * received); it is re-armed again a second before the new end. */
static void restart(struct hb_pn_flows *p, struct flow *f, long long t, const struct tcp_info *ti,
		    long long now)
{
	if (++f->restarts > PN_RESTARTS) {
		flow_done(p, f, HB_PN_CHATTY, f->target, 0);
		return;
	}
	f->st = F_IDLE;
	f->kicked = false;
	f->t_last = t;
	f->segs_in = ti->tcpi_segs_in;
	f->segs_out = ti->tcpi_segs_out;
	f->t_next = idle_next(f, now);
}

/* Returns 1 when f was restarted (the server spoke) or is done. */
static int check_quiet(struct hb_pn_flows *p, struct flow *f, const struct tcp_info *ti, long long now)
{
	long long rx = last_rx(ti, now);

	if (rx > f->t_last + PN_TOL_MS) {
		/* an in-window segment meanwhile (a window update, data) */
		restart(p, f, rx, ti, now);
		return 1;
	}
	if (ti->tcpi_segs_in != f->segs_in) {
		/* an out-of-window one (the server's own keepalive probe), since the last look */
		restart(p, f, now, ti, now);
		return 1;
	}
	return 0;
}

/* Re-arms the kernel's keepalive timer for the due time: TCP_KEEPIDLE in whole seconds from
 * the last segment (the kernel re-arms for the remainder, about a second: a fine slot of the
 * timer wheel), and the user timeout that ends the flow when the probe and its retry go
 * unanswered. */
static void flow_arm(struct hb_pn_flows *p, struct flow *f, long long now)
{
	unsigned int i = (unsigned int)(f - p->fl);
	long long ut = f->target + PN_INTVL_S * 1000 + PN_INTVL_S * 500;

	if (set_int(f->fd, IPPROTO_TCP, TCP_KEEPIDLE, ceil_secs(f->target)))
		hb_verbose(p->o, "flow %u: TCP_KEEPIDLE: %s", i, strerror(errno));
	if (set_int(f->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, ut > INT32_MAX ? INT32_MAX : (int)ut))
		hb_verbose(p->o, "flow %u: TCP_USER_TIMEOUT: %s", i, strerror(errno));
	f->st = F_ARMED;
	f->t_look = now;
	/* one look shortly before (the server may speak meanwhile; re-armed again), then every
	 * millisecond */
	f->t_next = f->t_last + f->target - PN_REARM2_MS;
	if (f->t_next <= now)
		f->t_next = now + PN_FINE_MS;
}

/* A silent flow's watch, its re-arming, the watch for its probe's departure; or a probe is
 * out: read the verdict. */
static void flow_timer(struct hb_pn_flows *p, struct flow *f, long long now)
{
	struct tcp_info ti;
	long long due = f->t_last + f->target, before = now_ms(), after;

	if (f->st == F_IDLE || f->st == F_ARMED) {
		if (get_info(f->fd, &ti) || ti.tcpi_state != HB_TCP_ESTABLISHED) {
			f->t_next = now + PN_CHECK_MS;	/* the error or EOF comes through poll() */
			return;
		}
	}
	after = now_ms();
	if (f->st == F_IDLE || (f->st == F_ARMED && now < due - PN_FINE_BEFORE - 5)) {
		/* nothing of ours can have left yet: any segment is the server's, or our ACK */
		if (check_quiet(p, f, &ti, now))
			return;
		if (ti.tcpi_segs_out != f->segs_out) {
			restart(p, f, now, &ti, now);
			return;
		}
		if (f->st == F_ARMED) {
			if (f->target % 1000 == 0 &&
			    set_int(f->fd, IPPROTO_TCP, TCP_KEEPIDLE, ceil_secs(f->target)))
				hb_verbose(p->o, "flow %u: TCP_KEEPIDLE: %s",
					   (unsigned int)(f - p->fl), strerror(errno));
			f->t_look = before;
			f->t_next = due - PN_FINE_BEFORE;
		} else if (now < arm_at(f)) {
			f->t_next = idle_next(f, now);
		} else {
			flow_arm(p, f, now);
		}
		return;
	}
	if (f->st == F_ARMED) {
		if (ti.tcpi_segs_out != f->segs_out) {
			/* the probe left between the last look and this one */
			f->t_dep_lo = f->t_look;
			f->t_dep_hi = after;
			f->st = F_PROBED;
			if (!check_survived(p, f, after, f->t_dep_lo))
				f->t_next = now + PN_FINE_MS;
			return;
		}
		if (check_quiet(p, f, &ti, now))
			return;
		f->t_look = before;
		/* A silence that is not whole seconds ends now (TCP_KEEPIDLE = 1: the timer fires
		 * at the next tick); a whole one is the kernel's, and the kick only makes sure
		 * when it is two jiffies late. */
		if (!f->kicked && now >= due + (f->target % 1000 ? 0 : 8)) {
			if (set_int(f->fd, IPPROTO_TCP, TCP_KEEPIDLE, 1))
				hb_verbose(p->o, "flow %u: TCP_KEEPIDLE: %s",
					   (unsigned int)(f - p->fl), strerror(errno));
			f->kicked = true;
		}
		f->t_next = now < due + PN_FINE_AFTER ? now + PN_FINE_MS : now + PN_CHECK_MS;
		if (f->t_next < due - PN_FINE_BEFORE)
			f->t_next = due - PN_FINE_BEFORE;
		return;
	}
	if (f->st == F_PROBED) {
		if (check_survived(p, f, now, f->t_dep_lo))
			return;
		if (now >= f->t_dep_hi + PN_GIVEUP_MS) {
			flow_done(p, f, HB_PN_SILENCE, dropped_ms(f), ETIMEDOUT);
			return;
		}
		f->t_next = now + (now < f->t_dep_hi + 100 ? PN_FINE_MS : PN_CHECK_MS);
	}
}

/* Readable, hung up or in error. */
static void flow_event(struct hb_pn_flows *p, struct flow *f, short revents, long long now)
{
	char buf[4096];
	socklen_t len = sizeof(int);
	bool data = false;
	ssize_t n;
	int err = 0;

	if (revents & POLLERR) {
		if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
			flow_error(p, f, err, now);
			return;
		}
	}
	for (;;) {
		n = recv(f->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			data = true;	/* a banner or the like: discarded */
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			flow_error(p, f, errno, now);
			return;
		}
		if (!data)
			return;
		/* Data crossed the middlebox: after our probe, the flow survived; before, the
		 * silence starts again (a server that never stops talking is given up on). */
		if (f->st == F_PROBED) {
			flow_done(p, f, HB_PN_SURVIVED, survived_ms(f), 0);
		} else {
			struct tcp_info ti;

			if (get_info(f->fd, &ti) == 0)
				restart(p, f, now, &ti, now);
		}
		return;
	}
	/* EOF: the server closed. After our probe, its FIN crossed the middlebox after the
	 * silence: the flow survived it. Before, it is the server's own idle timeout. */
	if (f->st == F_PROBED && check_survived(p, f, now, f->t_dep_lo))
		return;
	flow_done(p, f, HB_PN_SERVER_FIN, (now - f->t_last + 50) / 100 * 100, 0);
}

static int connect_error(struct hb_pn_flows *p, int err)
{
	progress_clear(p);
	if (err == ETIMEDOUT)
		hb_err(p->o, "connect %s: %s (no answer in %d s)", p->addr, strerror(err),
		       PN_CONNECT_MS / 1000);
	else
		hb_err(p->o, "connect %s: %s", p->addr, strerror(err));
	return HB_EXIT_RUNTIME;
}

/* A later connection failed (the first one worked): try it again before giving up.
 * Returns 0, or an exit code after printing the error. */
static int reconnect(struct hb_pn_flows *p, struct flow *f, int err)
{
	int rc;

	flow_close(f);
	if (f->tries++ >= PN_RETRIES)
		return connect_error(p, err);
	hb_verbose(p->o, "flow %u: connect: %s (trying again)", (unsigned int)(f - p->fl),
		   strerror(err));
	rc = flow_open(p, f, f->target);
	return rc ? connect_error(p, -rc) : 0;
}

int hb_pn_flows_round(struct hb_pn_flows *p, const long long *targets, unsigned int n,
		      bool first_open)
{
	struct pollfd pfd[HB_PN_MAX_PARALLEL];
	unsigned int map[HB_PN_MAX_PARALLEL];
	unsigned int i, k;
	long long now, wake;
	int rc, timeout;

	p->res->rounds++;
	for (i = first_open ? 1 : 0; i < n; i++) {
		p->fl[i].tries = 0;
		p->fl[i].fd = -1;
		p->fl[i].st = F_PENDING;
		p->fl[i].target = targets[i];
	}
	p->nfl = n;
	progress(p, now_ms(), true);
	while (n_active(p)) {
		/* the pending flows, shortest silence first, PN_BURST handshakes at a time */
		for (i = k = 0; i < p->nfl; i++)
			k += p->fl[i].st == F_CONNECTING;
		for (i = 0; i < p->nfl && k < PN_BURST; i++) {
			if (p->fl[i].st != F_PENDING)
				continue;
			rc = flow_open(p, &p->fl[i], p->fl[i].target);
			if (rc)
				return connect_error(p, -rc);
			k++;
		}
		now = now_ms();
		wake = now + 1000;
		for (i = k = 0; i < p->nfl; i++) {
			struct flow *f = &p->fl[i];

			if (f->st == F_FREE || f->st == F_PENDING)
				continue;
			pfd[k].fd = f->fd;
			pfd[k].events = f->st == F_CONNECTING ? POLLOUT : POLLIN | POLLRDHUP;
			pfd[k].revents = 0;
			map[k++] = i;
			if (f->t_next < wake)
				wake = f->t_next;
		}
		if (p->tty && p->next_progress < wake)
			wake = p->next_progress;
		timeout = wake > now ? (int)(wake - now) : 0;
		rc = poll(pfd, k, timeout);
		if (rc < 0 && errno != EINTR) {
			progress_clear(p);
			hb_err(p->o, "poll: %s", strerror(errno));
			return HB_EXIT_RUNTIME;
		}
		if (pn_stop)
			return HB_EXIT_SIGNAL + pn_stop;
		now = now_ms();
		for (i = 0; rc > 0 && i < k; i++) {
			struct flow *f = &p->fl[map[i]];
			int crc;

			if (!pfd[i].revents || f->st == F_FREE || f->fd != pfd[i].fd)
				continue;	/* nothing, or cancelled by an earlier verdict */
			if (f->st != F_CONNECTING) {
				flow_event(p, f, pfd[i].revents, now);
				continue;
			}
			crc = flow_connected(f);
			if (crc && (crc = reconnect(p, f, -crc)))
				return crc;
		}
		for (i = 0; i < p->nfl; i++) {
			struct flow *f = &p->fl[i];

			if (f->st == F_FREE || f->st == F_PENDING || f->t_next > now)
				continue;
			if (f->st == F_CONNECTING) {
				rc = reconnect(p, f, ETIMEDOUT);
				if (rc)
					return rc;
				continue;
			}
			flow_timer(p, f, now);
		}
		progress(p, now, false);
	}
	return 0;
}

int hb_pn_flows_connect(struct hb_pn_flows *p, struct addrinfo *ai, long long target)
{
	struct flow *f = &p->fl[0];
	struct pollfd pfd;
	int rc = -EHOSTUNREACH, prc;
	long long now;

	for (; ai; ai = ai->ai_next) {
		uint8_t a[16] = { 0 };
		unsigned int port;

		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *s4 = (const void *)ai->ai_addr;

			memcpy(a, &s4->sin_addr, 4);
			port = ntohs(s4->sin_port);
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const void *)ai->ai_addr;

			memcpy(a, &s6->sin6_addr, 16);
			port = ntohs(s6->sin6_port);
		} else {
			continue;
		}
		memcpy(&p->sa, ai->ai_addr, ai->ai_addrlen);
		p->salen = ai->ai_addrlen;
		hb_fmt_addr(p->addr, sizeof(p->addr), ai->ai_family, a, port, false);
		rc = flow_open(p, f, target);
		if (rc) {
			hb_verbose(p->o, "connect %s: %s", p->addr, strerror(-rc));
			continue;
		}
		pfd.fd = f->fd;
		pfd.events = POLLOUT;
		for (;;) {
			now = now_ms();
			if (now >= f->t_next) {
				rc = -ETIMEDOUT;
				break;
			}
			prc = poll(&pfd, 1, (int)(f->t_next - now));
			if (pn_stop) {
				flow_close(f);
				return HB_EXIT_SIGNAL + pn_stop;
			}
			if (prc > 0) {
				rc = flow_connected(f);
				break;
			}
			if (prc < 0 && errno != EINTR) {
				rc = -errno;
				break;
			}
		}
		if (!rc)
			return 0;
		flow_close(f);
		hb_verbose(p->o, "connect %s: %s", p->addr, strerror(-rc));
	}
	return connect_error(p, -rc);
}

struct hb_pn_flows *hb_pn_flows_start(struct hb_cli_opts *o, unsigned int parallel,
				      struct hb_pn_result *res)
{
	struct sigaction sa = { 0 };
	struct hb_pn_flows *p;
	unsigned int i;

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->o = o;
	p->res = res;
	p->parallel = parallel;
	p->tty = isatty(STDERR_FILENO);
	for (i = 0; i < HB_PN_MAX_PARALLEL; i++)
		p->fl[i].fd = -1;
	hb_pn_result_init(res);

	/* No SA_RESTART: poll() returns EINTR and the loop sees pn_stop. */
	pn_stop = 0;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &p->old_int);
	sigaction(SIGTERM, &sa, &p->old_term);
	p->t0 = now_ms();
	return p;
}

const char *hb_pn_flows_addr(const struct hb_pn_flows *p)
{
	return p->addr;
}

int hb_pn_flows_end(struct hb_pn_flows *p, long long *elapsed_ms)
{
	unsigned int i;
	int sig = pn_stop;

	progress_clear(p);
	for (i = 0; i < HB_PN_MAX_PARALLEL; i++)
		flow_close(&p->fl[i]);
	*elapsed_ms = now_ms() - p->t0;
	sigaction(SIGINT, &p->old_int, NULL);
	sigaction(SIGTERM, &p->old_term, NULL);
	free(p);
	return sig;
}
