// SPDX-License-Identifier: BSD-2-Clause
/*
 * The path table (include/hb/paths.h): parsing, lookup, the idle rule, and the one writer
 * (lock, read, change, atomic replace).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "hb/paths.h"
#include "internal.h"

#define LINE_MAX_LEN	512	/* a line longer than this is an error */
#define LOCK_WAIT_MS	10000	/* the writers' lock: give up after this long */

void hb_paths_init(struct hb_paths *t)
{
	t->n = t->cap = 0;
	t->e = NULL;
}

void hb_paths_free(struct hb_paths *t)
{
	free(t->e);
	hb_paths_init(t);
}

static const char *const source_names[HB_PATH__SOURCES] = {
	[HB_PATH_MANUAL] = "manual", [HB_PATH_PROBE] = "probe", [HB_PATH_MONITOR] = "monitor",
};

const char *hb_path_source_name(enum hb_path_source s)
{
	return (unsigned int)s < HB_PATH__SOURCES ? source_names[s] : "?";
}

int hb_path_source_parse(const char *s)
{
	int i;

	for (i = 0; i < HB_PATH__SOURCES; i++)
		if (!strcmp(s, source_names[i]))
			return i;
	return -1;
}

int hb_paths_parse_dest(const char *s, struct hb_pattern *dest, char *err, size_t errlen)
{
	struct hb_match m;
	char q[HB_QUOTE_LEN];
	int rc;

	hb__quote(q, sizeof(q), s ? s : "");
	if (!s || !*s)
		return hb__err(-EINVAL, err, errlen, "empty destination (expected e.g. 10.0.0.0/8, "
			       "203.0.113.5:443, [2001:db8::]/32)");
	if (strchr(s, ','))
		return hb__err(-EINVAL, err, errlen, "'%s': one destination, not a list", q);
	rc = hb_match_parse(s, &m, err, errlen);
	if (rc)
		return rc;
	if (m.n != 1 || m.pat[0].exclude)
		return hb__err(-EINVAL, err, errlen, "'%s': a destination cannot be excluded ('!')",
			       q);
	if (!m.pat[0].family)
		return hb__err(-EINVAL, err, errlen, "'%s': a destination needs an address or prefix "
			       "(a port alone would cover every path)", q);
	*dest = m.pat[0];
	return 0;
}

static bool same_dest(const struct hb_pattern *a, const struct hb_pattern *b)
{
	return a->family == b->family && a->prefix == b->prefix && a->port == b->port &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

struct hb_path *hb_paths_find(const struct hb_paths *t, const struct hb_pattern *dest)
{
	unsigned int i;

	for (i = 0; i < t->n; i++)
		if (same_dest(&t->e[i].dest, dest))
			return &t->e[i];
	return NULL;
}

int hb_paths_set(struct hb_paths *t, const struct hb_path *e)
{
	struct hb_path *old = hb_paths_find(t, &e->dest), *ne;
	unsigned int cap;

	if (old) {
		*old = *e;
		return 0;
	}
	if (t->n >= HB_PATHS_MAX)
		return -E2BIG;
	if (t->n == t->cap) {
		cap = t->cap ? t->cap * 2 : 16;
		if (cap > HB_PATHS_MAX)
			cap = HB_PATHS_MAX;
		ne = realloc(t->e, cap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		t->e = ne;
		t->cap = cap;
	}
	t->e[t->n++] = *e;
	return 0;
}

int hb_paths_evidence(struct hb_paths *t, const struct hb_pattern *dest,
		      enum hb_path_evidence kind, long long gap_ms, long long now)
{
	struct hb_path *old = hb_paths_find(t, dest), e;
	int rc;

	if (gap_ms < HB_PATHS_EVIDENCE_MIN_MS)
		return 0;
	if (old && old->source == HB_PATH_MANUAL)
		return 0;	/* what a person measured or knows wins */
	if (old) {
		e = *old;
	} else {
		memset(&e, 0, sizeof(e));
		e.dest = *dest;
		e.dropped_ms = -1;
	}
	if (kind == HB_PATH_EV_SURVIVED) {
		/* An entry without a drop gets --idle-max (a path that survived probe-nat's
		 * --max): a survival alone must not make one, nor turn a drop into none. It
		 * raises the lower bound of a path whose drop is known and above it. */
		if (!old || e.dropped_ms < 0 || gap_ms >= e.dropped_ms || gap_ms <= e.survived_ms)
			return 0;
		e.survived_ms = gap_ms;
	} else {
		if (old && e.dropped_ms >= 0 && gap_ms >= e.dropped_ms)
			return 0;
		e.dropped_ms = gap_ms;
		if (e.survived_ms >= gap_ms)
			e.survived_ms = 0;	/* the timeout shrank */
	}
	e.source = HB_PATH_MONITOR;
	e.time = now;
	rc = hb_paths_set(t, &e);
	return rc ? rc : 1;
}

int hb_paths_remove(struct hb_paths *t, const struct hb_pattern *dest)
{
	struct hb_path *e = hb_paths_find(t, dest);

	if (!e)
		return -ENOENT;
	memmove(e, e + 1, (size_t)(t->e + t->n - (e + 1)) * sizeof(*e));
	t->n--;
	return 0;
}

/* The value of a duration key: "none" (-1) only where allowed. */
static int parse_dur(const char *key, const char *v, bool none_ok, long long *ms, char *err,
		     size_t errlen)
{
	char e[HB_ERR_LEN];

	if (none_ok && !strcmp(v, "none")) {
		*ms = -1;
		return 0;
	}
	if (hb_parse_duration_ms(v, ms, e, sizeof(e)))
		return hb__err(-EINVAL, err, errlen, "%s: %s", key, e);
	if (*ms > (long long)HB_IDLE_MAX * 1000 * 100)
		return hb__err(-EINVAL, err, errlen, "%s: too large", key);
	return 0;
}

/* One line, trimmed, NUL-terminated, not empty, not a comment. */
static int parse_line(char *line, struct hb_path *e, char *err, size_t errlen)
{
	char *save = NULL, *tok, *eq, q[HB_QUOTE_LEN];
	bool have_s = false, have_d = false;
	long long v;
	int rc, src;

	memset(e, 0, sizeof(*e));
	e->dropped_ms = -1;
	e->source = HB_PATH_MANUAL;
	tok = strtok_r(line, " \t", &save);
	rc = hb_paths_parse_dest(tok, &e->dest, err, errlen);
	if (rc)
		return rc;
	while ((tok = strtok_r(NULL, " \t", &save))) {
		hb__quote(q, sizeof(q), tok);
		eq = strchr(tok, '=');
		if (!eq || eq == tok)
			return hb__err(-EINVAL, err, errlen, "'%s': expected KEY=VALUE", q);
		*eq++ = 0;
		if (!strcmp(tok, "survived")) {
			if ((rc = parse_dur("survived", eq, false, &e->survived_ms, err, errlen)))
				return rc;
			have_s = true;
		} else if (!strcmp(tok, "dropped")) {
			if ((rc = parse_dur("dropped", eq, true, &e->dropped_ms, err, errlen)))
				return rc;
			if (e->dropped_ms == 0)
				return hb__err(-EINVAL, err, errlen, "dropped: must be above 0");
			have_d = true;
		} else if (!strcmp(tok, "source")) {
			src = hb_path_source_parse(eq);
			if (src < 0) {
				hb__quote(q, sizeof(q), eq);
				return hb__err(-EINVAL, err, errlen, "source: '%s': expected manual, "
					       "probe or monitor", q);
			}
			e->source = (enum hb_path_source)src;
		} else if (!strcmp(tok, "time")) {
			char *end;

			errno = 0;
			v = strtoll(eq, &end, 10);
			if (errno || end == eq || *end || v < 0) {
				hb__quote(q, sizeof(q), eq);
				return hb__err(-EINVAL, err, errlen, "time: '%s': expected Unix "
					       "seconds", q);
			}
			e->time = v;
		}
		/* other keys: a newer hbctl's, ignored */
	}
	if (!have_s && !have_d)
		return hb__err(-EINVAL, err, errlen, "no survived= or dropped=");
	return 0;
}

int hb_paths_parse(const char *text, size_t len, struct hb_paths *t, char *err, size_t errlen)
{
	char line[LINE_MAX_LEN + 1], e1[HB_ERR_LEN];
	size_t i = 0, n, lineno = 0;
	struct hb_path e;
	int rc, first = 0;
	const char *ls;
	char *s, *end;

	t->n = 0;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);

		n = nl ? (size_t)(nl - (text + i)) : len - i;
		lineno++;
		ls = text + i;
		i += n + 1;
		if (n > LINE_MAX_LEN || memchr(ls, 0, n)) {
			rc = hb__err(-EINVAL, e1, sizeof(e1), n > LINE_MAX_LEN ? "too long" :
				     "a NUL byte");
			goto bad;
		}
		memcpy(line, ls, n);
		line[n] = 0;
		for (s = line; hb__isspace((unsigned char)*s); s++)
			;
		for (end = s + strlen(s); end > s && hb__isspace((unsigned char)end[-1]); end--)
			;
		*end = 0;
		if (!*s || *s == '#')
			continue;
		rc = parse_line(s, &e, e1, sizeof(e1));
		if (!rc) {
			rc = hb_paths_set(t, &e);
			if (rc == -ENOMEM || rc == -E2BIG) {
				hb__err(rc, err, errlen, "line %zu: %s", lineno, rc == -E2BIG ?
					"more than " "4096 entries" : "out of memory");
				return rc;
			}
			continue;
		}
bad:
		if (!first) {
			first = rc;
			hb__err(rc, err, errlen, "line %zu: %s", lineno, e1);
		}
	}
	return first;
}

static void fmt_dur(char *buf, size_t len, long long ms)
{
	if (ms < 0)
		snprintf(buf, len, "none");
	else if (ms % 1000)
		snprintf(buf, len, "%lldms", ms);
	else
		snprintf(buf, len, "%llds", ms / 1000);
}

int hb_path_format(const struct hb_path *e, char *buf, size_t len)
{
	char dest[80], s[32], d[32];

	hb_pattern_format(&e->dest, dest, sizeof(dest));
	fmt_dur(s, sizeof(s), e->survived_ms);
	fmt_dur(d, sizeof(d), e->dropped_ms);
	return snprintf(buf, len, "%s survived=%s dropped=%s source=%s time=%lld", dest, s, d,
			hb_path_source_name(e->source), e->time);
}

char *hb_paths_format(const struct hb_paths *t)
{
	size_t cap = 128 + (size_t)t->n * 160, off;
	char *buf = malloc(cap);
	unsigned int i;
	int n;

	if (!buf)
		return NULL;
	off = (size_t)snprintf(buf, cap, "# hbkeep path table (hbctl paths; see hbctl(8))\n");
	for (i = 0; i < t->n; i++) {
		n = hb_path_format(&t->e[i], buf + off, cap - off - 1);
		if (n < 0 || (size_t)n >= cap - off - 1) {
			free(buf);
			errno = EOVERFLOW;
			return NULL;
		}
		off += (size_t)n;
		buf[off++] = '\n';
		buf[off] = 0;
	}
	return buf;
}

/* First prefix bits of a and b are equal. */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned int prefix)
{
	unsigned int full = prefix / 8, rem = prefix % 8;

	if (memcmp(a, b, full))
		return false;
	return !rem || !((a[full] ^ b[full]) & (uint8_t)(0xff00u >> rem));
}

const struct hb_path *hb_paths_lookup(const struct hb_paths *t, const struct sockaddr *sa,
				      socklen_t len)
{
	const struct hb_path *best = NULL;
	uint8_t a[16] = { 0 };
	sa_family_t fam;
	unsigned int i;
	uint16_t port;
	int family;

	if (!sa || len < (socklen_t)sizeof(sa_family_t))
		return NULL;
	memcpy(&fam, sa, sizeof(fam));
	if (fam == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		struct sockaddr_in s4;

		memcpy(&s4, sa, sizeof(s4));
		family = AF_INET;
		port = ntohs(s4.sin_port);
		memcpy(a, &s4.sin_addr, 4);
	} else if (fam == AF_INET6 && len >= (socklen_t)offsetof(struct sockaddr_in6,
								  sin6_scope_id)) {
		struct sockaddr_in6 s6;

		memset(&s6, 0, sizeof(s6));
		memcpy(&s6, sa, len < (socklen_t)sizeof(s6) ? len : sizeof(s6));
		port = ntohs(s6.sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr)) {
			family = AF_INET;
			memcpy(a, s6.sin6_addr.s6_addr + 12, 4);
		} else {
			family = AF_INET6;
			memcpy(a, &s6.sin6_addr, 16);
		}
	} else {
		return NULL;
	}
	for (i = 0; i < t->n; i++) {
		const struct hb_path *e = &t->e[i];

		if (e->dest.family != family || (e->dest.port && e->dest.port != port) ||
		    !prefix_eq(e->dest.addr, a, e->dest.prefix))
			continue;
		/* a port beats no port; then the longer prefix */
		if (!best || (e->dest.port && !best->dest.port) ||
		    (!!e->dest.port == !!best->dest.port && e->dest.prefix > best->dest.prefix))
			best = e;
	}
	return best;
}

int hb_paths_idle(const struct hb_path *e, int idle_default, int idle_max)
{
	long long idle;

	if (idle_max < HB_IDLE_MIN || idle_max > HB_IDLE_MAX)
		idle_max = HB_IDLE_MAX;
	if (!e)
		return idle_default;
	if (e->dropped_ms < 0)
		return idle_max;
	idle = e->dropped_ms * 8 / 10 / 1000;	/* floor(0.8 * dropped) */
	if (idle < HB_IDLE_MIN)
		idle = HB_IDLE_MIN;
	return idle > idle_max ? idle_max : (int)idle;
}

const char *hb_paths_file(hb_getenv_fn getenv_fn)
{
	const char *f = getenv_fn ? getenv_fn("HB_PATHS_FILE") : secure_getenv("HB_PATHS_FILE");

	return f && *f ? f : HB_PATHS_DEFAULT_FILE;
}

/* Reads all of fd (a regular file, at most HB_PATHS_FILE_MAX bytes). Returns a malloc'd
 * buffer (its length in *len) or NULL with errno set. */
static char *read_all(int fd, size_t *len)
{
	struct stat st;
	size_t cap, off = 0;
	char *buf, *nb;
	ssize_t n;

	if (fstat(fd, &st))
		return NULL;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return NULL;
	}
	if (st.st_size > HB_PATHS_FILE_MAX) {
		errno = EFBIG;
		return NULL;
	}
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf)
		return NULL;
	for (;;) {
		if (off == cap) {
			if (cap > HB_PATHS_FILE_MAX) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + off, cap - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	*len = off;
	return buf;
}

static int load(const char *file, bool nofollow, struct hb_paths *t, char *err, size_t errlen)
{
	char q[HB_QUOTE_LEN], *buf;
	size_t len = 0;
	int fd, rc;

	t->n = 0;
	hb__quote(q, sizeof(q), file);
	/* O_NONBLOCK: a FIFO put there must not hang the reader (it is refused below) */
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP && nofollow)
			return hb__err(-ELOOP, err, errlen, "%s: a symbolic link (refused: the table "
				       "is written in place of it)", q);
		return hb__err(-errno, err, errlen, "%s: %s", q, strerror(errno));
	}
	buf = read_all(fd, &len);
	rc = -errno;
	close(fd);
	if (!buf)
		return hb__err(rc, err, errlen, "%s: %s", q, rc == -EINVAL ? "not a regular file" :
			       strerror(-rc));
	rc = hb_paths_parse(buf, len, t, err, errlen);
	free(buf);
	if (rc) {
		char e2[HB_ERR_LEN];

		snprintf(e2, sizeof(e2), "%s", err ? err : "");
		hb__err(rc, err, errlen, "%s: %s", q, e2);
	}
	return rc;
}

int hb_paths_load(const char *file, struct hb_paths *t, char *err, size_t errlen)
{
	return load(file, false, t, err, errlen);
}

/* The writers' lock, PATH.lock: flock, trying for LOCK_WAIT_MS (a lock held by someone else
 * must not hang hbctl). Returns the fd or -errno. */
static int lock_table(const char *file, char *err, size_t errlen)
{
	char lock[PATH_MAX], q[HB_QUOTE_LEN];
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int fd, i;

	hb__quote(q, sizeof(q), file);
	if (snprintf(lock, sizeof(lock), "%s.lock", file) >= (int)sizeof(lock))
		return hb__err(-ENAMETOOLONG, err, errlen, "%s: name too long", q);
	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
	if (fd < 0)
		return hb__err(-errno, err, errlen, "%s.lock: %s", q, strerror(errno));
	for (i = 0; i < LOCK_WAIT_MS / 50; i++) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		nanosleep(&ts, NULL);
	}
	i = errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	close(fd);
	return hb__err(i, err, errlen, "%s.lock: %s", q, i == -ETIMEDOUT ?
		       "another writer holds it (gave up after 10 s)" : strerror(-i));
}

/* The directory of file (into dir). */
static void dir_of(const char *file, char *dir, size_t len)
{
	const char *slash = strrchr(file, '/');

	if (!slash)
		snprintf(dir, len, ".");
	else if (slash == file)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - file), file);
}

/* Writes text to a new file in the table's directory and renames it over file: a reader sees
 * the old table or the new one, never half of one; mkstemp creates (O_EXCL) and so never
 * follows a symlink, and rename replaces a symlink at file rather than following it. */
static int replace_file(const char *file, const char *text, char *err, size_t errlen)
{
	char dir[PATH_MAX], tmp[PATH_MAX], q[HB_QUOTE_LEN];
	size_t len = strlen(text), off = 0;
	ssize_t n;
	int fd, rc = 0, dfd;

	hb__quote(q, sizeof(q), file);
	dir_of(file, dir, sizeof(dir));
	if (snprintf(tmp, sizeof(tmp), "%s/.paths.XXXXXX", dir) >= (int)sizeof(tmp))
		return hb__err(-ENAMETOOLONG, err, errlen, "%s: name too long", q);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return hb__err(-errno, err, errlen, "%s: creating a file beside it: %s", q,
			       strerror(errno));
	if (fchmod(fd, 0644))
		rc = -errno;
	while (!rc && off < len) {
		n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else
			off += (size_t)n;
	}
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, file))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return hb__err(rc, err, errlen, "%s: %s", q, strerror(-rc));
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);	/* the rename itself durable; best effort */
		close(dfd);
	}
	return 0;
}

int hb_paths_update(const char *file, int (*fn)(struct hb_paths *t, void *arg), void *arg,
		    char *err, size_t errlen)
{
	char dir[PATH_MAX], q[HB_QUOTE_LEN], *text;
	struct hb_paths t;
	int lfd, rc;

	dir_of(file, dir, sizeof(dir));
	if (mkdir(dir, 0755) && errno != EEXIST) {
		hb__quote(q, sizeof(q), dir);
		return hb__err(-errno, err, errlen, "%s: %s", q, strerror(errno));
	}
	lfd = lock_table(file, err, errlen);
	if (lfd < 0)
		return lfd;
	hb_paths_init(&t);
	rc = load(file, true, &t, err, errlen);
	if (rc)
		goto out;
	rc = fn(&t, arg);
	if (rc)
		goto out;
	text = hb_paths_format(&t);
	if (!text) {
		rc = hb__err(-errno, err, errlen, "%s", strerror(errno));
		goto out;
	}
	rc = replace_file(file, text, err, errlen);
	free(text);
out:
	hb_paths_free(&t);
	close(lfd);
	return rc;
}
