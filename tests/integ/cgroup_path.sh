#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# One cgroup PATH resolution for every subcommand (DESIGN.md): a cgroup v2 directory,
# absolute under the cgroup v2 mount, or as /proc/PID/cgroup writes it ('/' is the root).
#  - a cgroup that does not exist: policy add, monitor and policy apply --scope fail at once,
#    exit 1, with the same message
#  - a directory outside the hierarchy: the same 'not a cgroup v2 directory' from each
#  - policy add takes a child cgroup of the test's in all three forms (the same id)
#  - monitor takes it in the same forms: each run ends the same way, and when the monitor
#    runs here, it reports the cgroup as /proc/PID/cgroup writes it
# Needs root, BTF and cgroup v2; on the project's machines it must not skip.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_policy.sh"
pol_need

C=$(pol_cg path) || { echo "Bail out! cannot make a cgroup under $CG_BASE"; exit 1; }
pol_cg_track "$C"
REL=${C#"$CG2"}		# as /proc/PID/cgroup writes it
diag "cgroup v2 at $CG2; test cgroup $C ($REL)"

# err CMD...: runs hbctl CMD; prints its exit status and its stderr without the
# "hbctl: SUBCOMMAND: " prefix
err() {
	"$HBCTL" "$@" >/dev/null 2>"$HB_TMP/err"
	echo "$? $(sed -E 's/^hbctl: (policy add|policy apply|monitor): //' "$HB_TMP/err")"
}

# ---- errors: the same from every subcommand ---------------------------------------------------
NO=/$HB_TEST_ID-nosuch
want="1 cgroup '$NO' does not exist (looked for $CG2$NO)"
check_eq "policy add: a cgroup that does not exist" "$want" "$(err policy add --cgroup "$NO")"
check_eq "monitor: the same exit status and message" "$want" "$(err monitor --cgroup "$NO" -d 1s)"
: >"$HB_TMP/empty.conf"
check_eq "policy apply --scope: the same, after the option's name" "1 --scope: ${want#1 }" \
	"$(err policy apply "$HB_TMP/empty.conf" --scope "$NO")"
want="1 $HB_TMP is not a cgroup v2 directory (cgroup v2 is mounted at $CG2)"
check_eq "policy add: a directory outside the hierarchy" "$want" \
	"$(err policy add --cgroup "$HB_TMP")"
check_eq "monitor: the same" "$want" "$(err monitor --cgroup "$HB_TMP" -d 1s)"

# ---- policy add: the three forms are one cgroup -----------------------------------------------
id=$(stat -c %i "$C")
for form in "$C" "$REL" "${REL#/}"; do
	got=$("$HBCTL" policy add --cgroup "$form" --idle 33 2>"$HB_TMP/err")
	check_eq "policy add --cgroup $form: the test's cgroup" "$id" "$got"
	[ "$got" = "$id" ] || diag "$(cat "$HB_TMP/err")"
	check_eq "policy ls shows it by its absolute path" "$C" "$(pol_json "by($id).get('cgroup')")"
	"$HBCTL" policy rm "$id" >/dev/null 2>&1
done

# ---- monitor: the same forms ------------------------------------------------------------------
# mon FORM: "STATUS CGROUP" of a one-second monitor run on FORM ("STATUS -" when it printed no
# JSON), and its stderr in $HB_TMP/mon.err
mon() {
	"$HBCTL" monitor --cgroup "$1" -i 500ms -d 1s -j >"$HB_TMP/mon.out" 2>"$HB_TMP/mon.err"
	local rc=$?
	echo "$rc $("$PY" -c 'import json, sys
for l in open(sys.argv[1]):
    print(json.loads(l)["cgroup"]); break
else:
    print("-")' "$HB_TMP/mon.out" 2>/dev/null || echo -)"
}
abs=$(mon "$C")
cp "$HB_TMP/mon.err" "$HB_TMP/abs.err"
check_eq "monitor --cgroup REL (as /proc/PID/cgroup writes it) ends as with the absolute path" \
	"$abs" "$(mon "$REL")"
check "... with the same messages" cmp -s "$HB_TMP/abs.err" "$HB_TMP/mon.err"
check_eq "monitor --cgroup without the leading slash: the same" "$abs" "$(mon "${REL#/}")"
# (never on the root cgroup, which a test must not attach to: the unit test test_cli_cgroup
# resolves '/' and the mount point)
if [ "${abs%% *}" = 0 ]; then
	check_eq "monitor reports the cgroup as /proc/PID/cgroup writes it" "0 $REL" "$abs"
else
	# the monitor cannot load here (see integ/monitor): resolution passed, loading failed
	check "monitor --cgroup: what failed was not the cgroup ($(head -c 200 "$HB_TMP/abs.err"))" \
		eval '! grep -Eq "cgroup|$REL" "$HB_TMP/abs.err"'
fi
