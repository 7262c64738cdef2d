/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hbctl monitor's pieces inside cli/: cmd_monitor.c (options, the loop), mon_out.c (table and
 * JSON), prom.c (Prometheus text, its HTTP endpoint, the textfile). The BPF side is behind
 * include/hb/monitor.h.
 */
#ifndef HB_CLI_MON_H
#define HB_CLI_MON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "hb/monitor.h"

#define HB_MON_RECENT	8	/* close events kept for the table */

/* One connection's owner (first process holding it), pid 0 when unknown. */
struct hb_mon_owner {
	int pid;
	char comm[16];
};

/* One peer's row (mon_peers.c): the BPF counters and what they mean. */
struct hb_mon_peer_stat {
	char peer[56];			/* "10.0.0.1:80", "[::1]:443" */
	unsigned long long attempts, opened, failed, closed;
	unsigned long long bytes_per_conn;	/* of the closed ones */
	unsigned long long median_lifetime_ms;	/* histogram approximation (mon_peers.c) */
	double opened_per_min;
	bool polled;
};
/* The polling rule: at least this many opened, at this rate, living shorter than this. */
#define HB_MON_POLL_MIN_OPENED		10
#define HB_MON_POLL_MIN_PER_MIN		10.0
#define HB_MON_POLL_MAX_LIFE_MS		5000
/* What a persistent connection is priced at: the policy's default idle. */
#define HB_MON_PERSIST_IDLE_S		60

/* What one interval saw. */
struct hb_mon_snap {
	unsigned long long now_ns;	/* CLOCK_MONOTONIC */
	double interval_s;		/* since the previous snapshot */
	struct hb_mon_totals total;	/* cumulative since the monitor started */
	struct hb_mon_totals delta;	/* this interval */
	struct hb_mon_conn *conns;	/* open connections (NULL unless asked for) */
	struct hb_mon_owner *owner;	/* parallel to conns */
	size_t n_conns;
	bool have_conns;
	struct hb_mon_peer_stat *peers;	/* top peers by opened (NULL unless --peers) */
	size_t n_peers;
	bool have_peers;
};

struct hb_mon_view {
	const char *cgroup;		/* the cgroup's path inside the hierarchy ("/" = root) */
	const char *cgroup_dir;		/* the directory attached to */
	long long interval_ms;
	unsigned int top;		/* table rows of connections */
	unsigned int peers;		/* --peers: rows of peers (0: off) */
	struct hb_mon_learn *learn;	/* --learn (NULL: off) */
	bool json, conns, color, tty;
	bool no_closes;			/* close causes unavailable (tp_btf refused) */
	unsigned long long start_ns;
	struct hb_mon_close recent[HB_MON_RECENT];	/* ring of the latest closes */
	unsigned int n_recent, recent_head;
	struct hb_mon_close *tick;	/* the closes of the current interval (JSON "closes") */
	size_t n_tick, cap_tick;
};

/* ---- mon_out.c ---- */

/* What a missing monitor feature (HB_MON_FEAT_*) costs, in hbctl's words: "--peers", ... (the
 * loader's reasons name no option); NULL when its reason says it all. */
const char *hb_mon_feat_lost(int feat);
/* Fills s->owner (pid, comm) from /proc for s's connections. Returns 0 or -errno. */
int hb_mon_fill_owners(struct hb_mon_snap *s);
void hb_mon_print_table(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s);
/* One line: the object DESIGN.md gives for monitor -j. */
void hb_mon_print_json(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s);
/* Name of a close cause as in JSON ("keepalive_timeout"). */
const char *hb_mon_cause_name(unsigned int cause);
/* Upper bound of histogram bucket i in ms; 0 for the last (open) one. */
unsigned long long hb_mon_bucket_le_ms(unsigned int i);

/* ---- mon_peers.c: hbctl monitor --peers ---- */
/* Fills s->peers with the top v->peers peers. Returns 0, -EOPNOTSUPP (feature missing) or
 * -errno. */
int hb_mon_peers_snap(struct hb_monitor *m, const struct hb_mon_view *v, struct hb_mon_snap *s);
/* The persistent alternative of a polled peer, one line (no newline). */
void hb_mon_peer_cost(char *buf, size_t len, const struct hb_mon_peer_stat *p);
void hb_mon_peers_table(FILE *f, const struct hb_mon_snap *s);
/* ,"peers":[...] */
void hb_mon_peers_json(FILE *f, const struct hb_mon_snap *s);
void hb_mon_peers_prom(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s);

/* ---- mon_learn.c: hbctl monitor --learn ---- */
struct hb_cli_opts;
struct hb_mon_learn;
/* NULL when out of memory. The table is hb_paths_file(NULL). */
struct hb_mon_learn *hb_mon_learn_new(void);
void hb_mon_learn_free(struct hb_mon_learn *l);
const char *hb_mon_learn_file(const struct hb_mon_learn *l);
/* Keeps the evidence of one close event (mon_learn.c says which). */
void hb_mon_learn_note(struct hb_mon_learn *l, const struct hb_mon_close *e);
/* Writes what was kept into the table (once, locked, atomic) and the kernel policies' map.
 * Returns 0 or -errno (said on stderr). */
int hb_mon_learn_flush(struct hb_cli_opts *o, struct hb_mon_learn *l);

/* ---- mon_ls.c: hbctl ls beside a running monitor ---- */
struct hb_sock_list;
struct hb_out;
/* Sets each socket's mon (counters of a running monitor, by cookie; the records live in
 * l->mon_buf). Returns the number of sockets that got counters, or -errno. */
int hb_mon_attach(struct hb_sock_list *l);
/* The table cell "SENT/RECV/UNANSWERED". Returns the end. */
char *hb_mon_put_cell(char *p, const struct hb_mon_conn *m);
/* ,"monitor":{...} for the socket's JSON object. */
void hb_mon_json_sock(struct hb_out *out, const struct hb_mon_conn *m);

/* ---- prom.c ---- */
/* Prometheus text exposition format 0.0.4 (also what node_exporter's textfile collector
 * reads). Per-connection series only with v->conns. */
void hb_prom_render(FILE *f, const struct hb_mon_view *v, const struct hb_mon_snap *s);
/* ---- prom_http.c ---- */
/* Listens on ADDR:PORT ("127.0.0.1:9464", "[::1]:9464", ":9464" or "9464": loopback).
 * Returns the listening fd or -errno, with a message in err. */
int hb_prom_listen(const char *spec, char *err, size_t errlen);
/* The endpoint's limits: an idle connection is closed after HB_PROM_TIMEOUT_S; at most
 * HB_PROM_MAX_CONNS connections, HB_PROM_MAX_PER_IP from one address (more are refused). */
#define HB_PROM_TIMEOUT_S	10
#define HB_PROM_MAX_CONNS	256
#define HB_PROM_MAX_PER_IP	64
struct hb_prom_srv;
/* Serves GET/HEAD of / and /metrics on listen_fd from a thread of its own (503 until the
 * first hb_prom_publish). Takes listen_fd over on success; NULL with a message in err (the
 * caller still owns listen_fd then). */
struct hb_prom_srv *hb_prom_serve(int listen_fd, char *err, size_t errlen);
/* Makes body (malloc'ed, len bytes; taken over, also on failure) what scrapes get from now
 * on; never waits for a scrape. Returns 0 or -ENOMEM (the previous body stays). */
int hb_prom_publish(struct hb_prom_srv *s, char *body, size_t len);
/* Stops the server and closes its listening socket. NULL is fine. */
void hb_prom_stop(struct hb_prom_srv *s);
/* ---- prom.c ---- */
/* Writes body to path atomically, mode 0644 (hb_write_file_atomic: mkstemp beside it, then
 * rename; never through a symlink). Returns 0 or
 * -errno. */
int hb_prom_textfile(const char *path, const char *body, size_t len);

#endif /* HB_CLI_MON_H */
