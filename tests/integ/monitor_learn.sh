#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl monitor --learn: passive evidence into the path table (HB_PATHS_FILE, a file of the
# test's own), in a private network namespace and a child cgroup:
#  - a path whose drop is known (a probe entry, dropped 10 s): a connection of the cgroup with
#    silences of 1 s and 3 s between its data, closed normally, raises its survived bound to
#    ~3 s (source=monitor, the drop kept), and `paths ls` shows the source and age
#  - without an entry, the same survival makes none (an entry without a drop would mean
#    --idle-max)
#  - a manual entry for that peer is left exactly as it was
# (The drop side of the rule, and a manual entry against every kind of evidence, are in
# tests/unit/test_paths.c: test_evidence.)
# Needs root and BTF; on the project's machines it must not skip.
. "$(dirname "$0")/_monitor.sh"
unset HB_BPF_DENY
export HB_PATHS_FILE=$HB_TMP/paths

ns_bg "$HB_TMP/s1" python3 "$PEER" server 127.0.0.1 5000
wait_for "$HB_TMP/s1" ready 30 || { echo "Bail out! server"; exit 1; }
entry() {
	"$HBCTL" paths ls -j | python3 -c '
import json, sys
e = [e for e in json.load(sys.stdin) if e["dest"] == "127.0.0.1"]
print(eval(sys.argv[1]) if e else "none")' "$1"
}

# no entry: a survival makes none
mon_start "$HB_TMP/m0.json" -j -i 300ms --learn || { echo "Bail out! monitor"; exit 1; }
cg_bg "$HB_TMP/c0" python3 "$PEER" client 127.0.0.1 5000 --gaps 1,3 --hold 0.3
wait_for "$HB_TMP/c0" done 30 || diag "client did not finish"
sleep 1.5
mon_stop
check_eq "monitor --learn exits 0" 0 "$MON_RC"
check_eq "no entry: a survival alone makes none" none "$(entry 'e[0]')"

printf '127.0.0.1 survived=0s dropped=10s source=probe time=1\n' >"$HB_PATHS_FILE"
mon_start "$HB_TMP/m1.json" -j -i 300ms --learn || { echo "Bail out! monitor"; exit 1; }
cg_bg "$HB_TMP/c1" python3 "$PEER" client 127.0.0.1 5000 --gaps 1,3 --hold 0.3
wait_for "$HB_TMP/c1" done 30 || diag "client did not finish"
sleep 1.5
mon_stop
check_eq "monitor --learn exits 0" 0 "$MON_RC"
got=$(entry "'%s %s %s' % (2.9 <= e[0]['survived_s'] <= 3.3, e[0]['dropped_s'], e[0]['source'])")
diag "entry: $(entry 'e[0]')"
check_eq "a normal close: survived its longest silence (~3 s), the drop kept, source monitor" \
	"True 10 monitor" "$got"
check "paths ls: the source and the age" sh -c "'$HBCTL' paths ls | grep -E '^127\.0\.0\.1 .* monitor +[0-9]+s'"
check_eq "no errors on stderr" "" "$(mon_errors)"

# a manual entry is never overridden
"$HBCTL" paths add 127.0.0.1 --timeout 2s || { echo "Bail out! paths add"; exit 1; }
before=$(cat "$HB_PATHS_FILE")
mon_start "$HB_TMP/m2.json" -j -i 300ms --learn || { echo "Bail out! monitor"; exit 1; }
cg_bg "$HB_TMP/c2" python3 "$PEER" client 127.0.0.1 5000 --gaps 1,3 --hold 0.3
wait_for "$HB_TMP/c2" done 30 || diag "client did not finish"
sleep 1.5
mon_stop
check_eq "a manual entry (dropped 2 s) stays as it was after a 3 s survival" "$before" \
	"$(cat "$HB_PATHS_FILE")"
check_eq "no errors on stderr" "" "$(mon_errors)"
