// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for hbctl's sock_diag reply parser (cli/diag.c): the bytes a kernel, or a
 * replayed --dump-raw file (HB_DIAG_FILE), hands it. Whatever the input, the parser must
 * return 0 or -errno without reading out of bounds, and every record it accepts must be sane.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hb_sock_list l = { 0 };
	size_t i;
	int rc;

	rc = hb_diag_parse(data, size, &l);
	assert(rc <= 0);
	for (i = 0; i < l.n; i++) {
		const struct hb_sock *s = &l.v[i];

		assert(s->family == AF_INET || s->family == AF_INET6);
		assert(s->keepalive == HB_UNKNOWN || s->keepalive == 0 || s->keepalive == 1);
	}
	hb_sock_list_free(&l);
	return 0;
}
