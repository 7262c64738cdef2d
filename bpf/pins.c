// SPDX-License-Identifier: BSD-2-Clause
/* The bpffs layout of hb/pins.h: one root, $HB_PIN_DIR overriding it. No libbpf here. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "hb/pins.h"

const char *hb_pin_root(void)
{
	const char *d = secure_getenv("HB_PIN_DIR");

	return d && *d ? d : HB_PIN_ROOT_DEFAULT;
}

/* ROOT/name, in a buffer per name (the environment does not change while hbctl runs, but
 * a test may set it between calls: recomputed each time). */
static const char *below(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", hb_pin_root(), name);
	return buf;
}

const char *hb_pin_policy_dir(void)
{
	static char buf[PATH_MAX];

	return below(buf, sizeof(buf), "policy");
}

const char *hb_pin_policy_legacy_dir(void)
{
	const char *d = secure_getenv("HB_PIN_DIR");

	return d && *d ? d : HB_PIN_POLICY_LEGACY;
}

const char *hb_pin_monitor_dir(void)
{
	static char buf[PATH_MAX];

	return below(buf, sizeof(buf), "monitor");
}

const char *hb_pin_paths(void)
{
	static char buf[PATH_MAX];

	return below(buf, sizeof(buf), "paths");
}
