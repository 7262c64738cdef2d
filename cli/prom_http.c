// SPDX-License-Identifier: BSD-2-Clause
/*
 * hbctl monitor's Prometheus endpoint: libmicrohttpd with its own polling thread (epoll,
 * non-blocking sockets), serving the exposition text the monitor loop publishes once per
 * interval. A scrape never reaches the counting loop: the loop renders, then swaps one
 * pointer under a mutex; the server thread only takes a reference to the current response.
 * No client can hold the loop, the textfile, close events or another scrape: connections
 * are idle-timed out (HB_PROM_TIMEOUT_S), capped (HB_PROM_MAX_CONNS, HB_PROM_MAX_PER_IP),
 * and the request parser is libmicrohttpd's (fuzzed upstream).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "cli.h"
#include "mon.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct hb_prom_srv {
	struct MHD_Daemon *d;
	pthread_mutex_t lock;
	struct MHD_Response *cur;	/* the last published exposition; NULL before the first */
	struct MHD_Response *not_found, *not_ready, *bad_method;
};

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
	/* connections wait in the backlog until the server thread starts (after the monitor
	 * is loaded); the server accepts them as fast as they come from then on */
	if (bind(fd, (struct sockaddr *)&ss, slen) || listen(fd, 128)) {
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

static struct MHD_Response *fixed(const char *text)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	return r;
}

/* libmicrohttpd's request callback, on its thread: GET or HEAD of / or /metrics (the query
 * string is not part of url) answered with the current exposition; nothing else. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_len, void **req)
{
	struct hb_prom_srv *s = cls;
	enum MHD_Result ret;

	(void)version;
	(void)data;
	(void)data_len;
	(void)req;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, s->bad_method);
	if (strcmp(url, "/metrics") && strcmp(url, "/"))
		return MHD_queue_response(c, MHD_HTTP_NOT_FOUND, s->not_found);
	/* the response is reference-counted: queueing takes a reference, under the lock
	 * only so that the publisher cannot drop the last one in between */
	pthread_mutex_lock(&s->lock);
	if (s->cur)
		ret = MHD_queue_response(c, MHD_HTTP_OK, s->cur);
	else
		ret = MHD_queue_response(c, MHD_HTTP_SERVICE_UNAVAILABLE, s->not_ready);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

struct hb_prom_srv *hb_prom_serve(int listen_fd, char *err, size_t errlen)
{
	struct hb_prom_srv *s = calloc(1, sizeof(*s));
	sigset_t all, old;

	if (!s) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->not_found = fixed("not found (the metrics are at /metrics)\n");
	s->not_ready = fixed("no counters yet: the monitor is starting\n");
	s->bad_method = fixed("only GET and HEAD\n");
	if (!s->not_found || !s->not_ready || !s->bad_method ||
	    MHD_add_response_header(s->bad_method, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		goto fail;
	}
	/* the server thread takes no signal: SIGINT/SIGTERM go to the loop that ends on them */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	errno = 0;
	s->d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL, on_request, s,
				MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HB_PROM_TIMEOUT_S,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HB_PROM_MAX_CONNS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HB_PROM_MAX_PER_IP,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
				MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!s->d) {
		snprintf(err, errlen, "starting the HTTP server (libmicrohttpd) failed%s%s",
			 errno ? ": " : "", errno ? strerror(errno) : "");
		goto fail;
	}
	return s;
fail:
	if (s->not_found)
		MHD_destroy_response(s->not_found);
	if (s->not_ready)
		MHD_destroy_response(s->not_ready);
	if (s->bad_method)
		MHD_destroy_response(s->bad_method);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

int hb_prom_publish(struct hb_prom_srv *s, char *body, size_t len)
{
	struct MHD_Response *r, *old;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return -ENOMEM;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE) != MHD_YES) {
		MHD_destroy_response(r);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	old = s->cur;
	s->cur = r;
	pthread_mutex_unlock(&s->lock);
	/* a scrape still sending the old one holds its own reference */
	if (old)
		MHD_destroy_response(old);
	return 0;
}

void hb_prom_stop(struct hb_prom_srv *s)
{
	if (!s)
		return;
	/* also closes the listening socket */
	MHD_stop_daemon(s->d);
	if (s->cur)
		MHD_destroy_response(s->cur);
	MHD_destroy_response(s->not_found);
	MHD_destroy_response(s->not_ready);
	MHD_destroy_response(s->bad_method);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
