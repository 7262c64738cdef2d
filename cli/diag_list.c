// SPDX-License-Identifier: BSD-2-Clause
/*
 * The sock_diag back end's listing, assembled from its three parts: the netlink dump
 * (diag.c), the owners from /proc (owners.c) and the keepalive settings read through
 * pidfd_getfd (pidfd.c). Prints nothing: backend.c says what failed and what was unreadable.
 */
#include <errno.h>
#include <stdio.h>
#include "cli.h"

int hb_diag_list(struct hb_sock_list *out, const struct hb_list_opts *opts, FILE *raw,
		 struct hb_diag_stats *st)
{
	struct hb_owner_stats ost = { 0 };
	struct hb_pidfd_stats cst = { 0 };
	int rc;

	*st = (struct hb_diag_stats){ .failed = HB_DIAG_STEP_DUMP };
	rc = hb_diag_dump(out, raw);
	if (!rc && raw && fflush(raw))
		rc = -errno;	/* --dump-raw's file is part of the dump */
	if (rc)
		return rc;
	if (opts->owners || opts->config) {
		rc = hb_owners_fill(out, "/proc", &ost);
		st->procs_denied = ost.procs_denied;
		if (rc) {
			st->failed = HB_DIAG_STEP_OWNERS;
			return rc;
		}
	}
	if (opts->config) {
		rc = hb_pidfd_fill_config(out, &cst);
		st->cfg_denied = cst.denied;
		if (rc) {
			st->failed = HB_DIAG_STEP_CONFIG;
			return rc;
		}
	}
	return 0;
}
