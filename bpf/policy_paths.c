// SPDX-License-Identifier: BSD-2-Clause
/*
 * The paths map of --idle auto (policy_bpf.h): one LPM trie every such policy shares, pinned
 * at hb_pin_paths(), that `hbctl paths add/rm/learn` keep in step with the paths table
 * (hb/paths.h) and that hb_pol_add() fills before the program runs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include "hb/bpf_loader.h"
#include "hb/paths.h"
#include "hb/pins.h"
#include "hb/policy_loader.h"
#include "policy_int.h"


/* The map key of a path table entry (policy_bpf.h: port, then the address as IPv6). */
static void path_key(const struct hb_pattern *d, struct hb_path_key *k)
{
	memset(k, 0, sizeof(*k));
	k->data[0] = (__u8)(d->port >> 8);
	k->data[1] = (__u8)d->port;
	if (d->family == AF_INET) {
		k->data[12] = 0xff;
		k->data[13] = 0xff;
		memcpy(&k->data[14], d->addr, 4);
		k->prefixlen = 16 + 96 + d->prefix;
	} else {
		memcpy(&k->data[2], d->addr, 16);
		k->prefixlen = 16 + d->prefix;
	}
}

bool hb__pol_path_map_ok(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_MAP_TYPE_LPM_TRIE &&
	       info.key_size == sizeof(struct hb_path_key) &&
	       info.value_size == sizeof(struct hb_path_val);
}

/* Makes the paths map fd hold exactly table t. Returns t->n or -errno with err set. */
int hb__pol_map_fill(int fd, const struct hb_paths *t, char *err, size_t errlen)
{
	struct hb_path_key k, next, *stale = NULL;
	struct hb_path_val v;
	size_t nstale = 0;
	unsigned int i;
	int rc = 0;
	void *prev = NULL;

	for (i = 0; i < t->n; i++) {
		const struct hb_path *e = &t->e[i];

		path_key(&e->dest, &k);
		memset(&v, 0, sizeof(v));
		v.idle_s = e->dropped_ms < 0 ? 0 : (__u32)hb_paths_idle(e, 0, HB_IDLE_MAX);
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			rc = hb_bpf_errf(-errno, err, errlen,
					 "%s: %s", hb_pin_paths(), strerror(errno));
			goto out;
		}
	}
	/* then the keys the table no longer has (collected first: deleting while walking an
	 * LPM trie restarts the walk) */
	stale = calloc(HB_PATHS_MAX + 1, sizeof(*stale));
	if (!stale) {
		rc = hb_bpf_errf(-ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	while (nstale <= HB_PATHS_MAX && !bpf_map_get_next_key(fd, prev, &next)) {
		bool keep = false;

		for (i = 0; i < t->n && !keep; i++) {
			path_key(&t->e[i].dest, &k);
			keep = !memcmp(&k, &next, sizeof(k));
		}
		if (!keep)
			stale[nstale++] = next;
		k = next;
		prev = &k;
	}
	for (i = 0; i < nstale; i++)
		bpf_map_delete_elem(fd, &stale[i]);
	rc = (int)t->n;
out:
	free(stale);
	return rc;
}

int hb_paths_map_sync(const struct hb_paths *t, char *err, size_t errlen)
{
	int fd, rc;

	fd = bpf_obj_get(hb_pin_paths());
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;	/* no policy with --idle auto */
		return hb_bpf_errf(-errno, err, errlen, "%s: %s", hb_pin_paths(), strerror(errno));
	}
	if (!hb__pol_path_map_ok(fd)) {
		close(fd);
		return hb_bpf_errf(-EINVAL, err, errlen,
				   "%s: not hbkeep's paths map (of another version?)",
			    hb_pin_paths());
	}
	rc = hb__pol_map_fill(fd, t, err, errlen);
	close(fd);
	return rc;
}
