// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for the path table's text (lib/paths.c). Invariants:
 * - parsing never crashes, and every entry kept is well formed (a family, a prefix within
 *   it, no exclusion, dropped -1 or above 0, a known source);
 * - the table formatted parses back, without error, to the very same table;
 * - a lookup of each entry's own address (and port) finds an entry at least as specific, and
 *   the idle rule stays within 1..idle_max or is the default.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/paths.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "invariant failed: %s\n", #c); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hb_paths t, u;
	char err[HB_ERR_LEN], *text;
	unsigned int i;

	hb_paths_init(&t);
	hb_paths_init(&u);
	hb_paths_parse((const char *)data, size, &t, err, sizeof(err));
	for (i = 0; i < t.n; i++) {
		const struct hb_path *e = &t.e[i], *f;
		union {
			struct sockaddr sa;
			struct sockaddr_in s4;
			struct sockaddr_in6 s6;
		} a;
		socklen_t len;
		int idle;

		CHECK(e->dest.family == AF_INET || e->dest.family == AF_INET6);
		CHECK(e->dest.prefix <= (e->dest.family == AF_INET ? 32 : 128));
		CHECK(!e->dest.exclude);
		CHECK(e->dropped_ms == -1 || e->dropped_ms > 0);
		CHECK(e->survived_ms >= 0);
		CHECK((unsigned int)e->source < HB_PATH__SOURCES);
		memset(&a, 0, sizeof(a));
		if (e->dest.family == AF_INET) {
			a.s4.sin_family = AF_INET;
			a.s4.sin_port = htons(e->dest.port ? e->dest.port : 1);
			memcpy(&a.s4.sin_addr, e->dest.addr, 4);
			len = sizeof(a.s4);
		} else {
			a.s6.sin6_family = AF_INET6;
			a.s6.sin6_port = htons(e->dest.port ? e->dest.port : 1);
			memcpy(&a.s6.sin6_addr, e->dest.addr, 16);
			len = sizeof(a.s6);
			if (IN6_IS_ADDR_V4MAPPED(&a.s6.sin6_addr))
				continue;	/* looked up as IPv4 */
		}
		f = hb_paths_lookup(&t, &a.sa, len);
		CHECK(f);
		CHECK(!!f->dest.port >= !!e->dest.port);
		CHECK(!!f->dest.port > !!e->dest.port || f->dest.prefix >= e->dest.prefix);
		idle = hb_paths_idle(f, 60, 600);
		CHECK(idle >= 1 && idle <= 600);
	}
	text = hb_paths_format(&t);
	if (text) {
		CHECK(hb_paths_parse(text, strlen(text), &u, err, sizeof(err)) == 0);
		CHECK(u.n == t.n);
		CHECK(!t.n || !memcmp(u.e, t.e, t.n * sizeof(*t.e)));
		free(text);
	}
	hb_paths_free(&t);
	hb_paths_free(&u);
	return 0;
}
