/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hbctl internals shared by the cli/ files: global options, the per-command entry points,
 * filters, formatting and printing. Each stage of a command's pipeline (fetch -> parse ->
 * filter -> print) lives in its own file; only cmd_*.c tie them together.
 */
#ifndef HB_CLI_H
#define HB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <getopt.h>
#include "hb/backend.h"
#include "hb/policy.h"
#include "hb/sock.h"

struct hb_paths;

/* Exit codes (DESIGN.md, hbctl contract). */
#define HB_EXIT_OK		0
#define HB_EXIT_RUNTIME		1
#define HB_EXIT_USAGE		2
#define HB_EXIT_NOMATCH		3
#define HB_EXIT_SIGNAL		128	/* + the signal that interrupted (the shell's rule) */

/*
 * The one return convention of the CLI's internal helpers that may end a command (an option
 * loop, a step): the exit code, HB_EXIT_OK to go on, anything else for the command to return
 * at once, the helper having said why on stderr. A helper that ends the command with nothing
 * wrong before its end (it printed --help) returns HB_EXIT_DONE, which main() exits 0 for; no
 * process ever sees it. So a call site is always `if (rc) return rc;`. Helpers that print
 * nothing return 0 or -errno as lib/ does (or a count, as their comments say).
 */
#define HB_EXIT_DONE		256

/* TCP states, linux/tcp.h numbering (user-space headers lack TCP_NEW_SYN_RECV). */
enum hb_tcp_state {
	HB_TCP_ESTABLISHED = 1, HB_TCP_SYN_SENT, HB_TCP_SYN_RECV, HB_TCP_FIN_WAIT1,
	HB_TCP_FIN_WAIT2, HB_TCP_TIME_WAIT, HB_TCP_CLOSE, HB_TCP_CLOSE_WAIT, HB_TCP_LAST_ACK,
	HB_TCP_LISTEN, HB_TCP_CLOSING, HB_TCP_NEW_SYN_RECV, HB_TCP_MAX_STATES,
};

enum hb_backend_choice {
	HB_BACKEND_AUTO,
	HB_BACKEND_BPF,
	HB_BACKEND_DIAG,
};

/* Global options, parsed before the command and again by each command (so that both
 * `hbctl -j ls` and `hbctl ls -j` work). One instance lives in main(); no file-scope flags. */
struct hb_cli_opts {
	bool json;
	int verbose;
	const char *netns;		/* --netns NAME|PATH|PID */
	enum hb_backend_choice backend;
	bool backend_given;		/* --backend (beats HB_BACKEND) */
	const char *cmd;		/* command name, for messages */
};

/* Long options every command accepts too; values >= HB_OPT_GLOBAL. */
enum {
	HB_OPT_GLOBAL = 0x1000,
	HB_OPT_NETNS,
	HB_OPT_BACKEND,
	HB_OPT_HELP,
};
#define HB_GLOBAL_LONGOPTS \
	{ "json", no_argument, NULL, 'j' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "netns", required_argument, NULL, HB_OPT_NETNS }, \
	{ "backend", required_argument, NULL, HB_OPT_BACKEND }, \
	{ "help", no_argument, NULL, HB_OPT_HELP }

/*
 * The keepalive value options that set, run and policy add share: one spelling, and one
 * definition of what a valid value is (libhb's hb_policy_set). The option code is
 * HB_OPT_VALUE + the enum hb_value it sets.
 */
#define HB_OPT_VALUE	0x2800	/* after the filter options (HB_OPT_FILTER) */
#define HB_VALUE_LONGOPTS \
	{ "idle", required_argument, NULL, HB_OPT_VALUE + HB_V_IDLE }, \
	{ "intvl", required_argument, NULL, HB_OPT_VALUE + HB_V_INTVL }, \
	{ "cnt", required_argument, NULL, HB_OPT_VALUE + HB_V_CNT }, \
	{ "user-timeout", required_argument, NULL, HB_OPT_VALUE + HB_V_USER_TIMEOUT }

/* The case labels of HB_VALUE_LONGOPTS' options, for a command's option switch. */
#define HB_VALUE_CASES \
	case HB_OPT_VALUE + HB_V_IDLE: case HB_OPT_VALUE + HB_V_INTVL: \
	case HB_OPT_VALUE + HB_V_CNT: case HB_OPT_VALUE + HB_V_USER_TIMEOUT

/* Parses the value of one of HB_VALUE_CASES (c) into p. Returns HB_EXIT_OK, or HB_EXIT_USAGE
 * after printing the usage error ("--idle: '0': out of range 1..32767 s"). */
int hb_cli_value_opt(struct hb_cli_opts *o, int c, const char *arg, struct hb_policy *p);

/* Results of hb_cli_getopt() beyond the options themselves. */
enum {
	HB_OPT_USAGE = -2,	/* a usage error, said: return HB_EXIT_USAGE */
};
/*
 * The step of an option loop every command shares: getopt_long() over argv with the
 * command's shortopts (starting with ':' or "+:", holding "jvn:h") and longopts (holding
 * HB_GLOBAL_LONGOPTS), the global options applied to o on the way. Returns the next option
 * of the command's own, HB_OPT_HELP for -h and --help, -1 after the last option, or
 * HB_OPT_USAGE after the one-line usage error it printed (a bad global value, an option
 * without its value, an unknown option: "unknown option '-x' (see hbctl CMD --help)").
 */
int hb_cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
		  struct hb_cli_opts *o);

/* Parses the arguments of a command that takes only the global options (-h prints usage).
 * Returns HB_EXIT_OK to go on, HB_EXIT_DONE after the help, HB_EXIT_USAGE after the error. */
int hb_cli_parse_globals_only(int argc, char **argv, struct hb_cli_opts *o,
			      void (*usage)(FILE *f));

/* Parses bpf|diag|auto (sock_diag too). Returns 0 or -EINVAL, *out unchanged on error. */
int hb_backend_parse(const char *s, enum hb_backend_choice *out);
/* Messages: "hbctl: CMD: text" on stderr. */
void hb_err(const struct hb_cli_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error: the message, one line like hb_err's (no separate hint line: a message that
 * needs one names --help itself, as hb_cli_getopt's do). Returns HB_EXIT_USAGE. */
int hb_usage_err(const struct hb_cli_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* -v output on stderr. */
void hb_verbose(const struct hb_cli_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

int cmd_ls(int argc, char **argv, struct hb_cli_opts *o);
int cmd_set(int argc, char **argv, struct hb_cli_opts *o);
int cmd_run(int argc, char **argv, struct hb_cli_opts *o);
int cmd_policy(int argc, char **argv, struct hb_cli_opts *o);
/* hbctl policy apply FILE [--dry-run] [--scope PATH] [-j] (cmd_policy_apply.c): argv[0] is
 * "apply". Returns an exit code. */
int cmd_policy_apply(int argc, char **argv, struct hb_cli_opts *o);
/* --idle auto and its two bounds (policy add, run --kernel). */
struct hb_idle_auto {
	bool on;
	int def_s, max_s;
	bool def_given, max_given;
};
/* run --kernel (cmd_run.c): CMD in a transient cgroup under the kernel policy pol (run's
 * options, parsed once), its idle from the path table when ia->on (--idle auto, with its
 * bounds). Returns CMD's exit status or an exit code. */
int hb_run_kernel(struct hb_cli_opts *o, const struct hb_policy *pol,
		  const struct hb_idle_auto *ia, char **cmd);
struct hb_pol_cfg;
/* The step between parsing and loading that policy add and run --kernel share (cmd_policy.c):
 * --idle auto's fallback in place of the idle (--idle-default), the checks (nothing to do,
 * too many patterns), pol compiled into cfg, and its match list as text for the pins ("" for
 * none). Returns 0 or HB_EXIT_USAGE after printing the error. */
int hb_cli_pol_compile(struct hb_cli_opts *o, struct hb_policy *pol, struct hb_idle_auto *ia,
		       struct hb_pol_cfg *cfg, char *text, size_t textlen);

int cmd_probe_nat(int argc, char **argv, struct hb_cli_opts *o);
int cmd_paths(int argc, char **argv, struct hb_cli_opts *o);
/* After a policy with --idle auto is loaded: fills its paths map from the table (a bad line
 * of the table is a warning). Returns 0 or HB_EXIT_RUNTIME after a message. */
int hb_paths_cli_sync(struct hb_cli_opts *o);
int cmd_monitor(int argc, char **argv, struct hb_cli_opts *o);
int cmd_doctor(int argc, char **argv, struct hb_cli_opts *o);

/* ---- filter.c ---- */

#define HB_FILTER_MAX 16	/* values of one repeatable filter option (OR-ed) */

struct hb_filter {
	unsigned int n_pid, n_comm, n_port, n_sport, n_dport;
	int pid[HB_FILTER_MAX];
	char comm[HB_FILTER_MAX][16];
	uint16_t port[HB_FILTER_MAX], sport[HB_FILTER_MAX], dport[HB_FILTER_MAX];
	uint32_t states;		/* bit (1 << TCP_*) per state; 0: every state */
	int keepalive;			/* -1 any, 0 off, 1 on */
	long long idle_over_ms;		/* -1: no --idle-over */
	bool active;			/* any filter option was given */
};

enum {
	HB_OPT_FILTER = 0x2000,
	HB_OPT_PID,
	HB_OPT_COMM,
	HB_OPT_PORT,
	HB_OPT_SPORT,
	HB_OPT_DPORT,
	HB_OPT_STATE,
	HB_OPT_KEEPALIVE,
	HB_OPT_IDLE_OVER,
};
#define HB_FILTER_LONGOPTS \
	{ "pid", required_argument, NULL, HB_OPT_PID }, \
	{ "comm", required_argument, NULL, HB_OPT_COMM }, \
	{ "port", required_argument, NULL, HB_OPT_PORT }, \
	{ "sport", required_argument, NULL, HB_OPT_SPORT }, \
	{ "dport", required_argument, NULL, HB_OPT_DPORT }, \
	{ "state", required_argument, NULL, HB_OPT_STATE }, \
	{ "keepalive", required_argument, NULL, HB_OPT_KEEPALIVE }, \
	{ "idle-over", required_argument, NULL, HB_OPT_IDLE_OVER }

void hb_filter_init(struct hb_filter *f);
/* Handles one filter option. Returns 1 if c was one, 0 if not, -EINVAL/-ERANGE/-E2BIG with a
 * message in err for a bad value. */
int hb_filter_opt(struct hb_filter *f, int c, const char *arg, char *err, size_t errlen);
/* Whether the filter needs owners (--pid, --comm). */
bool hb_filter_needs_owners(const struct hb_filter *f);
bool hb_filter_match(const struct hb_filter *f, const struct hb_sock *s);
/* Keeps only the matching records of l (in order, freeing the others' owners).
 * Returns the number kept. */
size_t hb_filter_apply(const struct hb_filter *f, struct hb_sock_list *l);
/* "established", "listen", ... (ss names); "unknown" for anything else. */
const char *hb_state_name(unsigned int state);
/* Parses a state name or group (connected, synchronized, all) into a TCP_* bit mask.
 * Returns 0 or -EINVAL. */
int hb_state_parse(const char *name, uint32_t *mask);

/* ---- format.c ---- */

/* Human duration: "350ms", "4.2s", "42s", "5m3s", "1h59m", "3d4h"; "?" for a negative value
 * (HB_UNKNOWN). Returns buf. */
char *hb_fmt_duration(char *buf, size_t len, long long ms);
/* "10.0.0.1:5432", "[::1]:443"; with star, port 0 prints as "*" (listeners' peers).
 * Returns buf. */
char *hb_fmt_addr(char *buf, size_t len, int family, const uint8_t addr[16], unsigned int port,
		  bool star);
/* Writes s as a JSON string (quotes included): control characters and bytes that are not
 * valid UTF-8 are escaped, so that the output always parses. */
void hb_json_str(FILE *f, const char *s, size_t maxlen);

/* ---- print.c ---- */

struct hb_print_opts {
	bool json;
	bool owners;			/* -p */
	bool color;			/* tty and no NO_COLOR */
	long long nat_timeout_ms;	/* -1: no --nat-timeout; with nat_auto: 0 */
	bool nat_auto;			/* --nat-timeout auto: each path's own (dropped=) */
	const struct hb_paths *paths;	/* the table hb_sock.path indexes, NULL: none */
	bool monitor;			/* a running monitor's counters: the PROBES column */
};

/* at-risk verdict for a NAT/firewall idle timeout (print.c documents the rule):
 * 1 at risk, 0 safe, -1 unknown (configuration unreadable). */
int hb_at_risk(const struct hb_sock *s, long long nat_timeout_ms);
/* Whether the state carries a connection through a middlebox (counted by --nat-timeout). */
bool hb_state_connected(unsigned int state);
/* The printers write through out.h's buffer (one write(2) per 64 KiB, no printf per socket).
 * Return 0 or -errno of a failed write. */
int hb_print_table(FILE *f, const struct hb_sock_list *l, const struct hb_print_opts *po);
int hb_print_json(FILE *f, const struct hb_sock_list *l, const struct hb_print_opts *po);
/* The NAT timeout a socket is judged by: --nat-timeout DUR's, or with --nat-timeout auto its
 * path's dropped= (-1: not judged, no entry or no drop known for its path). */
long long hb_sock_nat_timeout(const struct hb_sock *s, const struct hb_print_opts *po);
/* hb_at_risk() by hb_sock_nat_timeout(): 1, 0, -1 unknown, -2 not judged (connected, but no
 * timeout known for its path). */
int hb_sock_at_risk(const struct hb_sock *s, const struct hb_print_opts *po);
/* "12 of 340 connections at risk for a 350 s NAT timeout" (+ unknown and already idle);
 * with --nat-timeout auto "... for their paths' NAT timeouts" (+ not judged). */
void hb_print_risk_summary(FILE *f, const struct hb_sock_list *l, const struct hb_print_opts *po);
/* One socket, for set's messages: "10.0.0.1:40000 -> 10.0.0.2:5432 (inode 1234)". */
char *hb_fmt_sock(char *buf, size_t len, const struct hb_sock *s);

/* ---- diag.c ---- */

/* Parses a stream of netlink messages (one or more sock_diag dump replies, as received or
 * as --dump-raw wrote them) and appends one record per socket. Returns 0 or -errno (a
 * negative NLMSG_ERROR / NLMSG_DONE status, -EINTR for NLM_F_DUMP_INTR, -EBADMSG for
 * malformed data). */
int hb_diag_parse(const void *buf, size_t len, struct hb_sock_list *out);
/* Dumps AF_INET and AF_INET6 TCP sockets of the current network namespace; raw, if not
 * NULL, receives the reply bytes (--dump-raw). Returns 0 or -errno. */
int hb_diag_dump(struct hb_sock_list *out, FILE *raw);
/* Replays a file --dump-raw wrote. Returns 0 or -errno. */
int hb_diag_replay(const char *path, struct hb_sock_list *out);
/* The timer kind for inet_diag's idiag_timer. */
enum hb_timer_kind hb_diag_timer_kind(unsigned int idiag_timer);

/* ---- owners.c ---- */

struct hb_owner_stats {
	unsigned int procs_denied;	/* /proc/PID/fd we could not read (EACCES/EPERM) */
};
/* Fills the owners of l's sockets by scanning procroot ("/proc")/PID/fd. Linear in the
 * number of sockets plus the number of fds. Returns 0 or -errno. */
int hb_owners_fill(struct hb_sock_list *l, const char *procroot, struct hb_owner_stats *st);

/* ---- pidfd.c ---- */

struct hb_pidfd_stats {
	unsigned int denied;		/* sockets whose owners would not let us in */
};
/* Reads keepalive configuration through pidfd_getfd + getsockopt for sockets with owners;
 * sources compare against l->sysctl. Returns 0 or -errno. */
int hb_pidfd_fill_config(struct hb_sock_list *l, struct hb_pidfd_stats *st);
/* Decides the source of a value read with getsockopt (which returns the sysctl when the
 * socket field is 0). */
enum hb_sock_src hb_sock_src_guess(int value, int sysctl_value);

/* ---- backend.c ---- */

/* Enters the network namespace NAME (/run/netns/NAME), PATH, or PID (/proc/PID/ns/net).
 * Returns 0 or -errno; what names the file it tried in path. */
int hb_netns_enter(const char *spec, char *path, size_t pathlen);

struct hb_fetch {
	bool owners;			/* fill owners */
	bool config;			/* fill keepalive configuration */
	const char *dump_raw;		/* --dump-raw FILE */
	bool dump_force;		/* --force: replace an existing FILE (never through it) */
	bool quiet;			/* privilege notes already printed (--watch) */
	bool used_bpf;			/* out: which back end listed */
};
/* Lists sockets with the chosen back end (HB_DIAG_FILE replays). Prints its own one-line
 * error; returns an exit code. */
int hb_fetch_sockets(struct hb_cli_opts *o, struct hb_fetch *fx, struct hb_sock_list *l);
/* Resolves --backend / HB_BACKEND / auto into *out, HB_BACKEND_BPF or HB_BACKEND_DIAG, once;
 * prints -v reasons. Returns HB_EXIT_OK, or the exit code after printing the error. */
int hb_backend_resolve(struct hb_cli_opts *o, bool need_diag, enum hb_backend_choice *out);

struct hb_pol_add_res;
/* After hb_pol_add(): the one-line note when the kernel refused the policy's cgroup
 * setsockopt program (what is degraded and why). */
void hb_pol_no_record_note(struct hb_cli_opts *o, const struct hb_pol_add_res *res);
/* ls beside kernel policies: who set each value ("program" or "policy"), from the policies'
 * SK_STORAGE records (cli/pol_src.c); under --idle auto, "path" for an idle from the path
 * table t (NULL: none loaded; hb_sock.path is looked up where needed). Returns
 * how many sockets got a record, or -errno; without a policy it costs one failed opendir(). */
int hb_pol_src_attach(struct hb_sock_list *l, const struct hb_paths *t);

/* ---- path_src.c: the path table beside ls (pure: no I/O) ---- */

struct hb_path;
struct hb_pol_cfg;
/* Sets hb_sock.path of every socket with a peer (not listeners): the entry of t covering its
 * remote address and port, as the kernel policy looks it up. */
void hb_paths_attach(struct hb_sock_list *l, const struct hb_paths *t);
/* The same for one socket (a lookup is linear in the table: ls -j alone does it only for
 * the sockets under a policy with --idle auto). */
void hb_sock_path_lookup(struct hb_sock *s, const struct hb_paths *t);
/* The entry hb_sock.path names in t, or NULL. */
const struct hb_path *hb_sock_path(const struct hb_sock *s, const struct hb_paths *t);
/* Under a kernel policy cfg with --idle auto (HB_POL_F_IDLE_AUTO), where a socket's idle of
 * keepidle_s came from, e being its path's entry (NULL: none) and decided whether the
 * policy's record says the policy set it: HB_SOCK_SRC_PATH when e's idle (hb_paths_idle() with the
 * policy's --idle-default and --idle-max) is the socket's; HB_SOCK_SRC_POLICY when no entry covers
 * the path and it is --idle-default's, or when the record says so (the table changed since);
 * otherwise HB_SOCK_SRC_UNKNOWN: nothing tells (the caller keeps what it knew). */
enum hb_sock_src hb_auto_idle_src(const struct hb_pol_cfg *cfg, const struct hb_path *e,
				    int keepidle_s, bool decided);

/* Enters --netns if given (once, before any listing). Returns an exit code. */
int hb_cli_enter_netns(struct hb_cli_opts *o);

/* Whether colour is wanted on f (a tty and NO_COLOR unset or empty). */
bool hb_want_color(FILE *f);

#endif /* HB_CLI_H */
