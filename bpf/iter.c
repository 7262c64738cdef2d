// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl's BPF iterator back end (backend.h): the loader, the only file that includes
 * iter.skel.h. libbpf-bootstrap's sequence: __open and __load (once, from the probe), then per
 * run attach the iterator link, bpf_iter_create(), read() in 1 MiB gulps, and release link
 * and fd under cleanup:.
 *
 * The kernel side (iter.bpf.c) sends raw values; iter_rec.c turns them into struct hb_sock
 * and joins the owners to the sockets (iter_int.h), without libbpf, so that a unit test can
 * feed it records.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "hb/backend.h"
#include "hb/bpf_loader.h"
#include "hb/iter.h"
#include "hb/log.h"
#include "hb/policy.h"
#include "iter.skel.h"
#include "iter_int.h"

_Static_assert(sizeof(struct hb_iter_set_res) == HB_ITER_SET_RES_SIZE, "hb_iter_set_res layout");
_Static_assert(sizeof(struct hb_iter_set_cfg) == 24, "hb_iter_set_cfg layout");
_Static_assert(HB_ITER_SET_KEEPALIVE == HB_BIT(HB_V_KEEPALIVE) &&
	       HB_ITER_SET_IDLE == HB_BIT(HB_V_IDLE) && HB_ITER_SET_INTVL == HB_BIT(HB_V_INTVL) &&
	       HB_ITER_SET_CNT == HB_BIT(HB_V_CNT) &&
	       HB_ITER_SET_UTO == HB_BIT(HB_V_USER_TIMEOUT), "set mask bits");

#define READ_BUF_SIZE	(1u << 20)	/* the kernel hands out at most its 32 KiB seq buffer */

/* The probe's answer for a failed load: privileges, memory, or the kernel lacks something. */
static int load_errno(int err)
{
	if (err == -EPERM || err == -EACCES)
		return -EPERM;
	if (err == -ENOMEM)
		return -ENOMEM;
	return -EOPNOTSUPP;
}

/*
 * The object is loaded once per process, by the probe, and serves every later list and set
 * (a --watch loop too): loading means parsing the kernel's BTF, which costs ~20 ms and ~10 MB
 * that would otherwise come on top of a listing of 100k sockets. Links and iterator fds are
 * per run and released under each run's cleanup:; the object goes at exit.
 */
static int probe_rc = 1;		/* 1: not probed yet */
static struct iter_bpf *skel;

static char probe_why[320];	/* why the probe failed: the refused program, or caps */

/* Opens the skeleton with only prog loading (NULL: all) and loads it. Returns 0 (the object
 * in *out) or -errno. */
static int load_only(const char *prog, struct iter_bpf **out)
{
	struct bpf_program *p;
	struct iter_bpf *s;
	int err;

	*out = NULL;
	s = iter_bpf__open();
	if (!s)
		return -errno;
	if (prog)
		bpf_object__for_each_program(p, s->obj)
			bpf_program__set_autoload(p, strcmp(bpf_program__name(p), prog) == 0);
	err = hb_bpf_deny_check(s->obj, NULL, 0);
	if (!err)
		err = iter_bpf__load(s);
	if (err) {
		iter_bpf__destroy(s);
		return err;
	}
	*out = s;
	return 0;
}

/* Opens and loads the skeleton into skel; on failure, loads each program alone to name the
 * one the kernel refuses in probe_why. Returns 0 or -errno. */
static int skel_load(void)
{
	struct bpf_program *p;
	struct iter_bpf *s, *one;
	int err, e1;

	err = load_only(NULL, &s);
	if (!err) {
		skel = s;
		return 0;
	}
	hb_bpf_load_err(err, NULL, "the iterator programs", HB_BPF_NEED_PERFMON, probe_why,
			sizeof(probe_why));
	s = iter_bpf__open();
	if (s) {
		bpf_object__for_each_program(p, s->obj) {
			e1 = load_only(bpf_program__name(p), &one);
			iter_bpf__destroy(one);
			if (e1) {
				hb_bpf_load_err(e1, bpf_program__name(p), bpf_program__section_name(p),
						HB_BPF_NEED_PERFMON, probe_why, sizeof(probe_why));
				break;
			}
		}
		iter_bpf__destroy(s);
	}
	return load_errno(err);
}

const char *hb_iter_probe_why(void)
{
	return probe_rc < 0 ? probe_why : "";
}

__attribute__((destructor)) static void skel_free(void)
{
	iter_bpf__destroy(skel);
	skel = NULL;
}

int hb_iter_probe(void)
{
	if (probe_rc <= 0)
		return probe_rc;
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		probe_rc = -EOPNOTSUPP;
		snprintf(probe_why, sizeof(probe_why), "this kernel has no BTF (/sys/kernel/btf/vmlinux)");
	} else if (!hb_bpf_have_caps(HB_BPF_NEED_PERFMON)) {
		probe_rc = -EPERM;
		snprintf(probe_why, sizeof(probe_why), "needs CAP_BPF and CAP_PERFMON, or root");
	} else
		/* A real load is the only test that answers for this kernel (iterator targets,
		 * helpers, CO-RE), and its result is what the calls below use. */
		probe_rc = skel_load();
	if (probe_rc == -ENOMEM) {
		probe_rc = 1;	/* not an answer about this kernel: ask again next time */
		return -ENOMEM;
	}
	return probe_rc;
}

/* ---- running an iterator ---------------------------------------------------------------- */

typedef hb_bpf_rec_fn rec_fn;

/* Starts prog's iterator in the caller's current network namespace. Returns the fd to read
 * (*link to destroy after closing it) or -errno. */
static int iter_open(struct bpf_program *prog, struct bpf_link **link)
{
	int fd;

	*link = bpf_program__attach_iter(prog, NULL);
	if (!*link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(*link));
	if (fd < 0) {
		fd = -errno;
		bpf_link__destroy(*link);
		*link = NULL;
	}
	return fd;
}

/* Runs prog's iterator (iter_open + hb_bpf_iter_read). Returns 0 or -errno. */
static int run_iter(struct bpf_program *prog, char *buf, size_t buf_size, size_t rec_size,
		    rec_fn fn, void *ctx)
{
	struct bpf_link *link;
	int fd, err;

	fd = iter_open(prog, &link);
	if (fd < 0)
		return fd;
	err = hb_bpf_iter_read(fd, buf, buf_size, rec_size, fn, ctx);
	close(fd);
	bpf_link__destroy(link);
	return err;
}

/* ---- listing -------------------------------------------------------------------------- */

/* The iter/task_file walk, run on a second thread while iter/tcp runs on the first: the two
 * walks are independent, and the join by inode needs both complete anyway. */
struct files_job {
	int fd;				/* the iterator to read */
	_Alignas(8) char buf[64 * 1024];	/* a read returns at most the 32 KiB seq buffer */
	struct hb_iter_fds fds;
	int err;
};

static void *files_thread(void *arg)
{
	struct files_job *j = arg;

	j->err = hb_bpf_iter_read(j->fd, j->buf, sizeof(j->buf), sizeof(struct hb_iter_file),
			   hb__iter_file_rec, &j->fds);
	return NULL;
}

static int read_sysctl(const char *name)
{
	char path[96], buf[32];
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return HB_UNKNOWN;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return HB_UNKNOWN;
	buf[got] = '\0';
	return atoi(buf);
}

int hb_iter_list(struct hb_sock_list *out, const struct hb_list_opts *opts)
{
	struct hb_iter_conv c;
	struct files_job *job = NULL;
	struct bpf_link *flink = NULL;
	bool threaded = false;
	pthread_t th;
	char *buf;
	int err;

	hb__iter_conv_init(&c, out);
	err = hb_iter_probe();
	if (err)
		return err;
	buf = malloc(READ_BUF_SIZE);
	if (!buf)
		return -ENOMEM;
	out->backend = "bpf-iter";

	if (opts && opts->owners) {
		/* iter/task_file sees every socket descriptor of every process of our pid
		 * namespace; the join below keeps those of the sockets iter/tcp lists */
		job = calloc(1, sizeof(*job));
		if (!job) {
			err = -ENOMEM;
			goto cleanup;
		}
		job->fd = iter_open(skel->progs.iter_task_file, &flink);
		if (job->fd < 0) {
			err = job->fd;
			goto cleanup;
		}
		/* without a thread (resource limits), the same walk runs after iter/tcp */
		threaded = pthread_create(&th, NULL, files_thread, job) == 0;
	}
	err = run_iter(skel->progs.iter_tcp, buf, READ_BUF_SIZE, sizeof(struct hb_iter_sock),
		       hb__iter_sock_rec, &c);
	if (threaded)
		pthread_join(th, NULL);
	else if (job)
		files_thread(job);
	if (err)
		goto cleanup;
	if (!c.have_sysctl) {
		/* no full socket to read them from: the sysctls of this namespace */
		out->sysctl.idle_s = read_sysctl("tcp_keepalive_time");
		out->sysctl.intvl_s = read_sysctl("tcp_keepalive_intvl");
		out->sysctl.cnt = read_sysctl("tcp_keepalive_probes");
	}
	if (!job || out->n == c.start)
		goto cleanup;
	err = job->err;
	if (err)
		goto cleanup;
	err = hb__iter_join(&c, &job->fds);

cleanup:
	if (job) {
		if (job->fd >= 0)
			close(job->fd);
		hb__iter_fds_free(&job->fds);
		free(job);
	}
	bpf_link__destroy(flink);
	hb__iter_conv_free(&c);
	free(buf);
	return err;
}

/* ---- set ------------------------------------------------------------------------------ */

struct set_ctx {
	struct hb_set_result *res;
	size_t cap;
};

static int add_failure(struct set_ctx *c, uint64_t cookie, int err)
{
	struct hb_set_result *res = c->res;
	struct hb_set_failure *f;

	if (res->failed == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;

		f = realloc(res->fail, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		res->fail = f;
		c->cap = cap;
	}
	f = &res->fail[res->failed++];
	f->cookie = cookie;
	f->err = err;
	f->pid = 0;
	return 0;
}

/* One cookie's outcome, as the set program left it in the map. */
static int account(struct set_ctx *c, uint64_t cookie, const struct hb_iter_set_res *r)
{
	if (!r->done)	/* closed in the meantime (or in another network namespace) */
		return add_failure(c, cookie, ENOENT);
	if (r->err)
		return add_failure(c, cookie, -r->err);
	c->res->changed++;
	return 0;
}

static int fill_cookies(int map_fd, const uint64_t *cookies, size_t n,
			struct hb_iter_set_res *zero)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t count = (uint32_t)n;
	size_t i;

	memset(zero, 0, n * sizeof(*zero));
	if (!bpf_map_update_batch(map_fd, cookies, zero, &count, &opts))
		return 0;
	/* kernels without batch operations on hash maps: one update per cookie */
	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(map_fd, &cookies[i], &zero[0], BPF_ANY))
			return -errno;
	return 0;
}

/* Reads every outcome of this chunk back: a few batch calls, else one lookup per cookie. With
 * empty, the map is emptied on the way (for the next chunk); after the last chunk it is left
 * as it is, and the kernel frees it after we exit instead of us waiting for 64k deletions. */
static int collect(int map_fd, struct set_ctx *c, const uint64_t *cookies, size_t n,
		   uint64_t *keys, struct hb_iter_set_res *vals, bool empty)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct hb_iter_set_res r;
	uint32_t token = 0, count, i;
	bool first = true;
	int err;

	for (;;) {
		count = (uint32_t)n;
		if (empty)
			err = bpf_map_lookup_and_delete_batch(map_fd, first ? NULL : &token, &token,
							      keys, vals, &count, &opts);
		else
			err = bpf_map_lookup_batch(map_fd, first ? NULL : &token, &token, keys,
						   vals, &count, &opts);
		if (err && err != -ENOENT) {
			if (!first)
				return err;
			break;	/* not supported: the slow way below */
		}
		for (i = 0; i < count; i++) {
			int rc = account(c, keys[i], &vals[i]);

			if (rc)
				return rc;
		}
		if (err == -ENOENT)
			return 0;	/* all read */
		first = false;
	}
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(map_fd, &cookies[i], &r))
			continue;	/* a duplicate, already read */
		bpf_map_delete_elem(map_fd, &cookies[i]);
		err = account(c, cookies[i], &r);
		if (err)
			return err;
	}
	return 0;
}

/* Empties the map: what a previous call left (see collect()). */
static int clear_cookies(int map_fd, uint64_t *keys, struct hb_iter_set_res *vals, size_t cap)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t token = 0, count;
	uint64_t key;
	bool first = true;
	int err;

	if (bpf_map_get_next_key(map_fd, NULL, &key))
		return 0;	/* empty already: the usual case */
	for (;;) {
		count = (uint32_t)cap;
		err = bpf_map_lookup_and_delete_batch(map_fd, first ? NULL : &token, &token, keys,
						      vals, &count, &opts);
		if (err == -ENOENT)
			return 0;
		if (err)
			break;
		first = false;
	}
	while (!bpf_map_get_next_key(map_fd, NULL, &key))
		if (bpf_map_delete_elem(map_fd, &key))
			return -errno;
	return 0;
}

int hb_iter_set(const uint64_t *cookies, size_t n, const struct hb_set_values *vals,
		struct hb_set_result *res)
{
	struct hb_iter_set_cfg cfg = {
		.mask = vals->mask & HB_ALL_BITS,
		.keepalive = vals->keepalive ? 1 : 0,
		.idle_s = vals->idle_s,
		.intvl_s = vals->intvl_s,
		.cnt = vals->cnt,
		.user_timeout_ms = vals->user_timeout_ms,
	};
	struct set_ctx c = { .res = res };
	struct hb_iter_set_res *outc = NULL;
	uint64_t *keys = NULL;
	char buf[256];
	size_t off, m, chunk;
	int err, map_fd;

	memset(res, 0, sizeof(*res));
	if (!n)
		return 0;
	err = hb_iter_probe();
	if (err)
		return err;
	chunk = n < HB_ITER_SET_CHUNK ? n : HB_ITER_SET_CHUNK;
	/* room for a whole map's worth, which clear_cookies() may meet */
	keys = malloc(HB_ITER_SET_CHUNK * sizeof(*keys));
	outc = malloc(HB_ITER_SET_CHUNK * sizeof(*outc));
	if (!keys || !outc) {
		err = -ENOMEM;
		goto cleanup;
	}
	map_fd = bpf_map__fd(skel->maps.set_cookies);
	skel->bss->set_cfg = cfg;
	err = clear_cookies(map_fd, keys, outc, HB_ITER_SET_CHUNK);
	if (err)
		goto cleanup;
	/* One walk over the namespace's sockets per HB_ITER_SET_CHUNK cookies. */
	for (off = 0; off < n; off += m) {
		m = n - off < chunk ? n - off : chunk;
		err = fill_cookies(map_fd, cookies + off, m, outc);
		if (err)
			break;
		/* the program writes nothing to the seq file: the outcomes are in the map */
		err = run_iter(skel->progs.iter_tcp_set, buf, sizeof(buf), 1, NULL, NULL);
		if (err)
			break;
		err = collect(map_fd, &c, cookies + off, m, keys, outc, off + m < n);
		if (err)
			break;
	}

cleanup:
	free(keys);
	free(outc);
	return err;
}
