// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl monitor's Prometheus side: the text exposition format (0.0.4, which node_exporter's
 * textfile collector reads too), a one-request-at-a-time HTTP endpoint on the monitor's own
 * poll loop (a scrape is one small GET), and the atomic textfile writer.
 *
 * Labels are of low cardinality by default: cgroup on every series, comm and keepalive on
 * hb_open_connections; per-connection series (local, peer, comm) only with --conns.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "cli.h"
#include "mon.h"

/* A label value: backslash, quote and newline escaped. */
static void label(FILE *f, const char *name, const char *v, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const struct hb_mon_view *v, const char *name, unsigned long long val)
{
	fprintf(f, "%s{", name);
	label(f, "cgroup", v->cgroup, true);
	fprintf(f, "} %llu\n", val);
}

static const struct {
	int ctr;
	const char *name, *help;
} ctr_metric[] = {
	{ HB_MON_KA_SENT, "hb_keepalive_probes_sent_total",
	  "TCP keepalive probes sent (the monitored share of TcpExtTCPKeepAlive)." },
	{ HB_MON_KA_RECV, "hb_keepalive_probes_received_total", "TCP keepalive probes received." },
	{ HB_MON_KA_ACK_SENT, "hb_keepalive_probe_acks_sent_total",
	  "ACKs sent in answer to received keepalive probes." },
	{ HB_MON_KA_ACK_RECV, "hb_keepalive_probe_acks_received_total",
	  "ACKs received for keepalive probes sent." },
	{ HB_MON_KA_UNANSWERED, "hb_keepalive_probes_unanswered_total",
	  "Keepalive probes with no answer before the next probe or the close." },
	{ HB_MON_ZWP_SENT, "hb_zero_window_probes_sent_total", "TCP zero-window probes sent." },
	{ HB_MON_ZWP_RECV, "hb_zero_window_probes_received_total",
	  "TCP zero-window probes received." },
};

static const char *const proto_label[HB_MON_NPROTO] = { "mqtt", "websocket", "http2" };

/* hb_open_connections{comm,keepalive}: counted per (comm, on/off) with a small table. */
struct comm_count {
	char comm[16];
	unsigned long long n[2];
};

static void open_conns(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s)
{
	struct comm_count *cc;
	size_t n = 0, i, k;
	const char *comm;

	head(f, "hb_open_connections", "gauge",
	     "Open TCP connections the monitor has seen, by owner command and keepalive.");
	cc = calloc(s->n_conns + 1, sizeof(*cc));
	if (!cc)
		return;
	for (i = 0; i < s->n_conns; i++) {
		comm = s->owner && s->owner[i].pid ? s->owner[i].comm : "";
		for (k = 0; k < n && strncmp(cc[k].comm, comm, sizeof(cc[k].comm)); k++)
			;
		if (k == n)
			snprintf(cc[n++].comm, sizeof(cc[k].comm), "%s", comm);
		cc[k].n[s->conns[i].keepalive ? 1 : 0]++;
	}
	if (!n)	/* a series even with none, so that dashboards see 0 */
		n = 1;
	for (k = 0; k < n; k++) {
		for (i = 0; i < 2; i++) {
			fputs("hb_open_connections{", f);
			label(f, "cgroup", v->cgroup, true);
			label(f, "comm", cc[k].comm, false);
			label(f, "keepalive", i ? "on" : "off", false);
			fprintf(f, "} %llu\n", cc[k].n[i]);
		}
	}
	free(cc);
}

static void conn_series(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s)
{
	static const struct { int ctr; const char *name; } cm[] = {
		{ HB_MON_KA_SENT, "hb_connection_keepalive_probes_sent_total" },
		{ HB_MON_KA_RECV, "hb_connection_keepalive_probes_received_total" },
		{ HB_MON_KA_UNANSWERED, "hb_connection_keepalive_probes_unanswered_total" },
	};
	char l[64], r[64];
	unsigned long long since;
	size_t i, k;

	for (k = 0; k <= sizeof(cm) / sizeof(cm[0]); k++) {
		if (k < sizeof(cm) / sizeof(cm[0]))
			head(f, cm[k].name, "counter", "Per connection (--conns).");
		else
			head(f, "hb_connection_idle_seconds", "gauge",
			     "Time since the connection's last data segment (--conns).");
		for (i = 0; i < s->n_conns; i++) {
			const struct hb_mon_conn *c = &s->conns[i];

			hb_fmt_addr(l, sizeof(l), c->family, c->laddr, c->lport, false);
			hb_fmt_addr(r, sizeof(r), c->family, c->raddr, c->rport, false);
			fprintf(f, "%s{", k < sizeof(cm) / sizeof(cm[0]) ? cm[k].name :
				"hb_connection_idle_seconds");
			label(f, "cgroup", v->cgroup, true);
			label(f, "local", l, false);
			label(f, "peer", r, false);
			label(f, "comm", s->owner && s->owner[i].pid ? s->owner[i].comm : "", false);
			if (k < sizeof(cm) / sizeof(cm[0])) {
				fprintf(f, "} %llu\n", (unsigned long long)c->c[cm[k].ctr]);
			} else {
				since = c->last_data_ns ? c->last_data_ns : c->created_ns;
				fprintf(f, "} %.3f\n", c->now_ns > since ?
					(double)(c->now_ns - since) / 1e9 : 0.0);
			}
		}
	}
}

void hb_prom_render(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s)
{
	const struct hb_mon_totals *t = &s->total;
	unsigned long long cum = 0, le;
	size_t i;
	int p, k, d;

	for (i = 0; i < sizeof(ctr_metric) / sizeof(ctr_metric[0]); i++) {
		head(f, ctr_metric[i].name, "counter", ctr_metric[i].help);
		sample(f, v, ctr_metric[i].name, t->c[ctr_metric[i].ctr]);
	}
	head(f, "hb_app_heartbeats_total", "counter",
	     "Application heartbeats (MQTT PINGREQ/PINGRESP, WebSocket ping/pong, HTTP/2 PING) "
	     "in plaintext segments.");
	for (p = 0; p < HB_MON_NPROTO; p++)
		for (k = 0; k < HB_MON_NKIND; k++)
			for (d = 0; d < HB_MON_NDIR; d++) {
				fputs("hb_app_heartbeats_total{", f);
				label(f, "cgroup", v->cgroup, true);
				label(f, "protocol", proto_label[p], false);
				label(f, "kind", k == HB_MON_PING ? "ping" : "pong", false);
				label(f, "direction", d == HB_MON_SENT ? "sent" : "received", false);
				fprintf(f, "} %llu\n", (unsigned long long)t->app[p][k][d]);
			}
	head(f, "hb_idle_gap_seconds", "histogram",
	     "Gaps between consecutive data segments of a connection (1 ms or more), recorded "
	     "when data resumes.");
	for (i = 0; i < HB_MON_HIST_N; i++) {
		cum += t->hist[i];
		le = hb_mon_bucket_le_ms((unsigned int)i);
		fputs("hb_idle_gap_seconds_bucket{", f);
		label(f, "cgroup", v->cgroup, true);
		if (le)
			fprintf(f, ",le=\"%g\"} %llu\n", (double)le / 1000.0, cum);
		else
			fprintf(f, ",le=\"+Inf\"} %llu\n", cum);
	}
	sample(f, v, "hb_idle_gap_seconds_count", cum);
	fputs("hb_idle_gap_seconds_sum{", f);
	label(f, "cgroup", v->cgroup, true);
	fprintf(f, "} %.3f\n", (double)t->gap_sum_ms / 1000.0);
	if (!v->no_closes)	/* unavailable on this kernel: no series rather than zeros */
		head(f, "hb_connections_closed_total", "counter", "Connections closed, by cause.");
	for (k = 0; k < HB_MON_NCAUSE && !v->no_closes; k++) {
		fputs("hb_connections_closed_total{", f);
		label(f, "cgroup", v->cgroup, true);
		label(f, "cause", hb_mon_cause_name((unsigned int)k), false);
		fprintf(f, "} %llu\n", (unsigned long long)t->closed[k]);
	}
	if (s->have_conns) {
		open_conns(f, v, s);
		if (v->conns)
			conn_series(f, v, s);
	}
}

int hb_prom_listen(const char *spec, char *err, size_t errlen)
{
	char host[128] = "127.0.0.1";
	const char *port, *p;
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t slen;
	long pn;
	char *end;
	int fd, one = 1, e;

	if (spec[0] == '[') {
		p = strchr(spec, ']');
		if (!p || p[1] != ':' || (size_t)(p - spec - 1) >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, (size_t)(p - spec - 1));
		host[p - spec - 1] = '\0';
		port = p + 2;
	} else if ((p = strrchr(spec, ':'))) {
		if ((size_t)(p - spec) >= sizeof(host))
			goto bad;
		if (p > spec) {
			memcpy(host, spec, (size_t)(p - spec));
			host[p - spec] = '\0';
		}
		port = p + 1;
	} else {
		port = spec;
	}
	errno = 0;
	pn = strtol(port, &end, 10);
	if (errno || *end || end == port || pn < 1 || pn > 65535)
		goto bad;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)pn);
		slen = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)pn);
		slen = sizeof(*a6);
	} else {
		goto bad;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		e = -errno;
		snprintf(err, errlen, "socket: %s", strerror(-e));
		return e;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, slen) || listen(fd, 16)) {
		e = -errno;
		snprintf(err, errlen, "%s", strerror(-e));
		close(fd);
		return e;
	}
	return fd;
bad:
	snprintf(err, errlen, "expected ADDR:PORT, [ADDR6]:PORT or PORT (a numeric address)");
	return -EINVAL;
}

static void write_all(int fd, const char *p, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t w;

	while (len) {
		w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && poll(&pfd, 1, 2000) > 0)
				continue;
			return;
		}
		p += w;
		len -= (size_t)w;
	}
}

void hb_prom_answer(int fd, const char *body, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char req[2048], hdr[256];
	size_t have = 0;
	ssize_t got;
	int n;
	bool metrics;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	/* the request line and headers, with a bound on the wait (a scrape is one packet) */
	while (have < sizeof(req) - 1 && !memmem(req, have, "\r\n\r\n", 4)) {
		if (poll(&pfd, 1, 1000) <= 0)
			break;
		got = read(fd, req + have, sizeof(req) - 1 - have);
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	req[have] = '\0';
	metrics = strncmp(req, "GET /metrics ", 13) == 0 || strncmp(req, "GET / ", 6) == 0 ||
		  strncmp(req, "GET /metrics?", 13) == 0;
	if (!metrics) {
		static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
					 "Content-Length: 10\r\nConnection: close\r\n\r\nnot found\n";

		write_all(fd, nf, sizeof(nf) - 1);
		close(fd);
		return;
	}
	n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
		     "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n", len);
	write_all(fd, hdr, (size_t)n);
	write_all(fd, body, len);
	shutdown(fd, SHUT_WR);
	close(fd);
}

int hb_prom_textfile(const char *path, const char *body, size_t len)
{
	char tmp[4096];
	const char *slash = strrchr(path, '/');
	size_t dl = slash ? (size_t)(slash - path + 1) : 0;
	ssize_t w;
	size_t off = 0;
	int fd, e = 0;

	/* hidden and without .prom, so that the collector never reads it half-written */
	if (snprintf(tmp, sizeof(tmp), "%.*s.%s.%d.tmp", (int)dl, path, path + dl,
		     (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < len) {
		w = write(fd, body + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			e = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (!e && fsync(fd))
		e = -errno;
	if (close(fd) && !e)
		e = -errno;
	if (!e && rename(tmp, path))
		e = -errno;
	if (e)
		unlink(tmp);
	return e;
}
