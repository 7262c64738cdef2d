/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where hbctl pins what outlives it in bpffs (bpf/pins.c): one root for everything,
 *
 *   /sys/fs/bpf/hbkeep/             the root; $HB_PIN_DIR (a directory in bpffs) overrides it
 *   /sys/fs/bpf/hbkeep/policy/ID/   a kernel policy (policy_bpf.h): link, stats, meta
 *   /sys/fs/bpf/hbkeep/monitor/     the monitor's programs and maps after --pin
 *   /sys/fs/bpf/hbkeep/monitor_PID/ a running monitor's map and iterator (removed on exit)
 *   /sys/fs/bpf/hbkeep/paths        the paths table (hbctl paths)
 *
 * Before this layout, policies were pinned in /sys/fs/bpf/hb/ID/ (and $HB_PIN_DIR/ID/ with the
 * override): `policy ls` still lists them, `policy rm` removes them, and `policy add` on
 * such a policy's cgroup moves it to the new place first.
 */
#ifndef HB_PINS_H
#define HB_PINS_H

#define HB_PIN_BPFFS		"/sys/fs/bpf"
#define HB_PIN_ROOT_DEFAULT	HB_PIN_BPFFS "/hbkeep"
#define HB_PIN_POLICY_LEGACY	HB_PIN_BPFFS "/hb"

/* The root: $HB_PIN_DIR when set and not empty (secure_getenv), else /sys/fs/bpf/hbkeep. */
const char *hb_pin_root(void);
/* ROOT/policy: the policies' directory. */
const char *hb_pin_policy_dir(void);
/* Where a previous version pinned policies: /sys/fs/bpf/hb, or $HB_PIN_DIR itself. */
const char *hb_pin_policy_legacy_dir(void);
/* ROOT/monitor: what `monitor --pin` leaves. */
const char *hb_pin_monitor_dir(void);
/* ROOT/paths: the paths table. */
const char *hb_pin_paths(void);

#endif /* HB_PINS_H */
