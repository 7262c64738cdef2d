/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The path table (../shared/DESIGN.md, "Paths: learned NAT timeouts and adaptive keepalive"):
 * what is known of each destination's NAT timeout, and the idle time a connection to it gets
 * with --idle auto / HB_KEEPIDLE=auto.
 *
 * The table is a text file, /var/lib/hbkeep/paths (HB_PATHS_FILE overrides), one entry a
 * line, blank lines and '#' comments allowed:
 *
 *   DEST survived=DUR dropped=DUR|none source=manual|probe|monitor time=UNIX_SECONDS
 *
 * DEST is an address or prefix with an optional port, as in match lists (10.0.0.0/8,
 * 203.0.113.5:443, [2001:db8::]/32, [2001:db8::1]:443); no "!", no port-only pattern. DUR is
 * a duration as everywhere (30s, 29010ms). Unknown keys are ignored (a newer hbctl may add
 * some); a later line for the same DEST replaces an earlier one.
 *
 * Parsing, lookup and the idle rule are pure (no I/O); hb_paths_load() reads a file without
 * blocking (a FIFO or a device is refused); hb_paths_update() is the one writer: it locks
 * PATH.lock (flock, never blocking for long), reads, lets the caller change the table, and
 * replaces the file atomically (mkstemp in the same directory, fsync, rename), so that a
 * reader never sees half a file and no symlink is ever followed when creating a file.
 */
#ifndef HB_PATHS_H
#define HB_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "hb/policy.h"

#define HB_PATHS_DEFAULT_FILE	"/var/lib/hbkeep/paths"
#define HB_PATHS_MAX		4096		/* entries in a table */
#define HB_PATHS_FILE_MAX	(1 << 20)	/* bytes read from a table file */
#define HB_PATHS_IDLE_DEFAULT	60		/* --idle-default: no entry for the path */
#define HB_PATHS_IDLE_MAX	600		/* --idle-max: the path survived --max */

enum hb_path_source {
	HB_PATH_MANUAL,		/* hbctl paths add --timeout */
	HB_PATH_PROBE,		/* hbctl paths learn (probe-nat) */
	HB_PATH_MONITOR,	/* hbctl monitor --learn */
	HB_PATH__SOURCES,
};

struct hb_path {
	struct hb_pattern dest;	/* exclude 0, family AF_INET or AF_INET6 */
	long long survived_ms;	/* longest silence known survived; 0: none known */
	long long dropped_ms;	/* shortest silence known to drop a flow; -1: none */
	enum hb_path_source source;
	long long time;		/* when it was recorded (Unix seconds); 0: unknown */
};

struct hb_paths {
	unsigned int n, cap;
	struct hb_path *e;
};

/* An empty table. */
void hb_paths_init(struct hb_paths *t);
void hb_paths_free(struct hb_paths *t);

/* Parses one DEST (an address or prefix with an optional port). Returns 0 or -EINVAL with a
 * message in err. */
int hb_paths_parse_dest(const char *s, struct hb_pattern *dest, char *err, size_t errlen);

/* Parses a table's text (len bytes, NUL not needed) into t (emptied first). Every good line is
 * kept; returns 0, or -EINVAL when some line is bad (err names the first: "line 3: ..."), or
 * -E2BIG past HB_PATHS_MAX entries, or -ENOMEM. */
int hb_paths_parse(const char *text, size_t len, struct hb_paths *t, char *err, size_t errlen);

/* The text of t, one line an entry, in t's order. Returns a malloc'd string (free it) or NULL
 * with errno set. */
char *hb_paths_format(const struct hb_paths *t);
/* One entry's line, without the newline. Returns snprintf's count. */
int hb_path_format(const struct hb_path *e, char *buf, size_t len);

/* Adds e, or replaces the entry with the same DEST. Returns 0, -E2BIG or -ENOMEM. */
int hb_paths_set(struct hb_paths *t, const struct hb_path *e);
/* Removes the entry for exactly this DEST. Returns 0 or -ENOENT. */
int hb_paths_remove(struct hb_paths *t, const struct hb_pattern *dest);
/* The entry for exactly this DEST, or NULL. */
struct hb_path *hb_paths_find(const struct hb_paths *t, const struct hb_pattern *dest);

/* The most specific entry covering the socket address (an entry with a port beats one
 * without, then the longest prefix; IPv4-mapped IPv6 addresses are looked up as IPv4), or
 * NULL. */
const struct hb_path *hb_paths_lookup(const struct hb_paths *t, const struct sockaddr *sa,
				      socklen_t len);

/* The idle time (s) for a connection on path e: floor(0.8 * dropped) (at least 1 s, at most
 * idle_max) when a drop is known; idle_max when the path survived with no drop known;
 * idle_default with no entry (e NULL). */
int hb_paths_idle(const struct hb_path *e, int idle_default, int idle_max);

/*
 * Passive evidence (hbctl monitor --learn) for the entry of exactly dest: a connection on the
 * path survived a silence of gap_ms (data or a probe ACK came after it), or failed right after
 * one (retransmission or keepalive timeout, a reset received). The rule: a manual entry is
 * never changed; gaps under HB_PATHS_EVIDENCE_MIN_MS say nothing; dropped falls to gap_ms
 * (making the entry if there is none; a survived bound at or above it is cleared: the path's
 * timeout shrank); survived rises to gap_ms only on an entry whose drop is known and above
 * gap_ms (an entry without a drop means --idle-max to hb_paths_idle: a survival alone must
 * not make one, nor turn a known drop into none); the entry becomes source=monitor,
 * time=now. Returns 1 when the table changed, 0 when not, -E2BIG or -ENOMEM.
 */
#define HB_PATHS_EVIDENCE_MIN_MS	1000
enum hb_path_evidence { HB_PATH_EV_SURVIVED, HB_PATH_EV_DROPPED };
int hb_paths_evidence(struct hb_paths *t, const struct hb_pattern *dest,
		      enum hb_path_evidence kind, long long gap_ms, long long now);

/* "manual", "probe", "monitor"; and back (-1 when unknown). */
const char *hb_path_source_name(enum hb_path_source s);
int hb_path_source_parse(const char *s);

/* The table's file: HB_PATHS_FILE from getenv_fn (NULL: secure_getenv) or the default. */
const char *hb_paths_file(hb_getenv_fn getenv_fn);

/* Reads file into t. A missing file is an empty table (returns 0). Returns 0 or -errno (err
 * says what; -EINVAL for a bad line, with the good lines in t). */
int hb_paths_load(const char *file, struct hb_paths *t, char *err, size_t errlen);

/* Changes the table under the writers' lock: loads file (a bad line is an error: nothing is
 * written), calls fn(t, arg), and when fn returns 0 replaces file atomically with the result.
 * Creates the last directory component (0755) when missing. Returns fn's negative value, 0,
 * or -errno with err set. */
int hb_paths_update(const char *file, int (*fn)(struct hb_paths *t, void *arg), void *arg,
		    char *err, size_t errlen);

#endif /* HB_PATHS_H */
