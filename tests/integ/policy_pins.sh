#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# One bpffs root for everything hbctl pins (hb/pins.h): /sys/fs/bpf/hbkeep with policy/ in it,
# $HB_PIN_DIR replacing the root; and the policies an earlier version pinned elsewhere
# (/sys/fs/bpf/hb/ID, or $HB_PIN_DIR/ID with the override), made here by moving a policy's
# pin directory there (a rename in bpffs, as the old layout had it):
#  - policy ls lists such a policy with its values, still attached; policy rm removes it
#    (nothing pinned, its link gone, no program on the cgroup)
#  - policy add on its cgroup moves it into policy/ and replaces it in place (same link)
# Needs root, BTF and cgroup v2; on the project's machines it must not skip.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_policy.sh"
pol_need
need_cmd bpftool

A=$(pol_cg a) && B=$(pol_cg b) || { echo "Bail out! cannot make cgroups under $CG_BASE"; exit 1; }
pol_cg_track "$A"
pol_cg_track "$B"
ida=$(stat -c %i "$A") idb=$(stat -c %i "$B")
# ids: the policies policy ls lists, of this test's cgroups
ids() { pol_json "' '.join(str(x['id']) for x in p if x['id'] in ($ida, $idb))"; }
progs() { bpftool cgroup show "$1" | grep -c sockops_policy; }

# ---- the default root ---------------------------------------------------------------------------
unset HB_PIN_DIR
"$HBCTL" policy add --cgroup "$A" --idle 21 >/dev/null
check_eq "default: pinned in /sys/fs/bpf/hbkeep/policy/ID" "link meta sk sockopt_link stats" \
	"$(ls /sys/fs/bpf/hbkeep/policy/"$ida" 2>&1 | sort | tr '\n' ' ' | sed 's/ $//')"
"$HBCTL" policy rm "$ida"
check "default: policy rm leaves nothing of it" test ! -e "/sys/fs/bpf/hbkeep/policy/$ida"

# ---- HB_PIN_DIR replaces the root -----------------------------------------------------------------
export HB_PIN_DIR=/sys/fs/bpf/$HB_TEST_ID
on_exit "rm -rf $HB_PIN_DIR"
"$HBCTL" policy add --cgroup "$A" --idle 22 >/dev/null
check_eq "HB_PIN_DIR: pinned in \$HB_PIN_DIR/policy/ID" "link meta sk sockopt_link stats" \
	"$(ls "$HB_PIN_DIR/policy/$ida" 2>&1 | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "HB_PIN_DIR: policy ls lists it" "$ida" "$(ids)"
check_eq "without HB_PIN_DIR, policy ls does not" "" \
	"$(env -u HB_PIN_DIR "$HBCTL" policy ls -j | "$PY" -c 'import json, sys
print(" ".join(str(x["id"]) for x in json.load(sys.stdin) if x["id"] == int(sys.argv[1])))' "$ida")"

# ---- a policy in the old place of the override: $HB_PIN_DIR/ID ------------------------------------
link=$(pol_json "by($ida)['link_id']")
mv "$HB_PIN_DIR/policy/$ida" "$HB_PIN_DIR/$ida" || { echo "Bail out! rename in bpffs"; exit 1; }
check_eq "old place: policy ls still lists it" "$ida" "$(ids)"
check_eq "old place: its values and state" "22 active $link" \
	"$(pol_json "'%s %s %s' % (by($ida).get('keepidle_s'), by($ida).get('state'), by($ida).get('link_id'))")"
check_eq "old place: still attached" 1 "$(progs "$A")"
"$HBCTL" policy rm "$ida" 2>"$HB_TMP/err"
check_eq "old place: policy rm exits 0" "0 " "$? $(cat "$HB_TMP/err")"
check "old place: nothing of it is left" test ! -e "$HB_PIN_DIR/$ida" -a ! -e "$HB_PIN_DIR/policy/$ida"
check_eq "old place: no program on the cgroup" 0 "$(progs "$A")"
check "old place: its link is gone" eval '! bpftool link show id "$link" >/dev/null 2>&1'
check_eq "old place: policy ls no longer lists it" "" "$(ids)"

# ---- a policy in the old place: add moves it and replaces it -------------------------------------
"$HBCTL" policy add --cgroup "$B" --idle 23 >/dev/null
link=$(pol_json "by($idb)['link_id']")
mv "$HB_PIN_DIR/policy/$idb" "$HB_PIN_DIR/$idb" || { echo "Bail out! rename in bpffs"; exit 1; }
rep=$("$HBCTL" policy add -j --cgroup "$B" --idle 24 2>"$HB_TMP/err")
check_eq "old place: a second add replaces it (id, replaced|stderr)" "$idb True|" \
	"$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["id"], d["replaced"])' "$rep" 2>&1)|$(cat "$HB_TMP/err")"
check "old place: add moved it into policy/" test -e "$HB_PIN_DIR/policy/$idb/link" -a ! -e "$HB_PIN_DIR/$idb"
check_eq "old place: the same link, the new value, one program" "$link 24 1" \
	"$(pol_json "by($idb).get('link_id')") $(pol_json "by($idb).get('keepidle_s')") $(progs "$B")"
"$HBCTL" policy rm "$idb"

# ---- the default old place: /sys/fs/bpf/hb/ID -------------------------------------------------------
unset HB_PIN_DIR
"$HBCTL" policy add --cgroup "$A" --idle 25 >/dev/null
link=$(pol_json "by($ida)['link_id']")
mkdir -p /sys/fs/bpf/hb
mv "/sys/fs/bpf/hbkeep/policy/$ida" "/sys/fs/bpf/hb/$ida" || { echo "Bail out! rename in bpffs"; exit 1; }
on_exit "\"$HBCTL\" policy rm $ida"
check_eq "/sys/fs/bpf/hb: policy ls lists it" "$ida 25 active" \
	"$(pol_json "'%s %s %s' % (by($ida).get('id'), by($ida).get('keepidle_s'), by($ida).get('state'))")"
"$HBCTL" policy rm "$ida"
check_eq "/sys/fs/bpf/hb: policy rm exits 0" 0 "$?"
check "/sys/fs/bpf/hb: nothing of it is left" test ! -e "/sys/fs/bpf/hb/$ida" -a ! -e "/sys/fs/bpf/hbkeep/policy/$ida"
check_eq "/sys/fs/bpf/hb: no program on the cgroup" 0 "$(progs "$A")"
check "/sys/fs/bpf/hb: its link is gone" eval '! bpftool link show id "$link" >/dev/null 2>&1'
