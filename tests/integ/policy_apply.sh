#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl policy apply FILE: persistent policies, in child cgroups of the test's own cgroup
# (never the root), every apply limited with --scope to the test's cgroup so that the host's
# other policies are never touched:
#  - --dry-run prints the plan and changes nothing; apply adds; a second apply changes
#    nothing (same links, same programs); an edited file replaces, removes and adds exactly
#    what differs; connections in the cgroup get the file's values
#  - a file with an error changes nothing and says FILE:LINE; a missing cgroup is reported
#    and the other lines are applied
#  - policies outside --scope and of hbctl run --kernel are left alone; an empty file
#    removes the rest; nothing stays pinned
# Needs root, BTF and cgroup v2; on the project's machines it must not skip.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_policy.sh"
pol_need
pol_clients

NS=$(netns_new apply) || { echo "Bail out! cannot create a network namespace"; exit 1; }
run_bg --ns "$NS" "$HELPERS/holdsrv" 0.0.0.0 7000 >/dev/null 2>&1
wait_port "$NS" 7000 || { echo "Bail out! holdsrv did not start"; exit 1; }

S=$(pol_cg scope) && OUT=$(pol_cg out) || { echo "Bail out! cannot make cgroups under $CG_BASE"; exit 1; }
pol_cg_track "$S"
pol_cg_track "$OUT"
mkdir "$S/a" "$S/b" "$S/c" "$S/d" "$S/runner" || { echo "Bail out! mkdir in $S"; exit 1; }
A=$S/a B=$S/b C=$S/c D=$S/d
ida=$(stat -c %i "$A") idb=$(stat -c %i "$B") idc=$(stat -c %i "$C") idd=$(stat -c %i "$D")
ido=$(stat -c %i "$OUT")
F=$HB_TMP/policies.conf
apply() { "$HBCTL" policy apply "$@" --scope "$S"; }
ours() { pol_json "' '.join(str(x['id']) for x in sorted(p, key=lambda x: x['id']) if (x['cgroup'] or '').startswith('$S/'))"; }
vals() { pol_json "' '.join(str(by($1).get(k)) for k in ('keepidle_s','keepintvl_s','keepcnt','user_timeout_ms','match','force'))"; }
sorted_ids() { printf '%s\n' "$@" | sort -n | tr '\n' ' ' | sed 's/ $//'; }

cat >"$F" <<EOF
# hbkeep policies for the test
cgroup=$A idle=30 intvl=5 cnt=4 user-timeout=20s     # absolute path

cgroup=${B#"$CG2"/} match="127.0.0.0/8, !:22" force=yes
EOF

# ---- dry run -------------------------------------------------------------------------------
apply "$F" --dry-run >"$HB_TMP/dry" 2>&1
check_eq "--dry-run: exit 0" 0 "$?"
check "--dry-run: the plan adds both, with the file's lines" eval \
	'grep -Eq "^add +$ida +$A +keepalive=on idle=30s intvl=5s cnt=4 user-timeout=20s +\($F:2\)" "$HB_TMP/dry" &&
	 grep -Eq "^add +$idb +$B .*match=127.0.0.0/8,!:22 force=yes +\($F:4\)" "$HB_TMP/dry"'
check "--dry-run: summary" grep -q "^dry run: 2 to add, 0 to replace, 0 to remove, 0 unchanged" "$HB_TMP/dry"
check_eq "--dry-run: nothing pinned" "none none" "$(pins "$ida") $(pins "$idb")"

# ---- apply, then again -----------------------------------------------------------------------
apply "$F" >"$HB_TMP/out1" 2>&1
rc=$?
check_eq "apply: exit 0" 0 "$rc"
[ "$rc" = 0 ] || diag "$(cat "$HB_TMP/out1")"
check "apply: says what it added" grep -q "^2 added, 0 replaced, 0 removed, 0 unchanged" "$HB_TMP/out1"
check_eq "apply: both policies in place" "$(sorted_ids "$ida" "$idb")" "$(ours)"
check_eq "apply: the values of line 2" "30 5 4 20000 None False" "$(vals "$ida")"
check_eq "apply: the values of line 4 (defaults, match, force)" "60 10 6 None 127.0.0.0/8,!:22 True" "$(vals "$idb")"
check_eq "apply: pinned" "link meta sk sockopt_link stats" "$(pins "$ida")"
link_a=$(pol_json "by($ida)['link_id']") prog_a=$(pol_json "by($ida)['prog_id']")
prog_b=$(pol_json "by($idb)['prog_id']")

r=$(in_cg "$A" nsenter --net="/run/netns/$NS" "$STATIC" 127.0.0.1 7000)
check_eq "a connection in the cgroup gets the file's values" \
	"ka=1 idle=30 intvl=5 cnt=4 uto=20000" "$(opts "$r")"

apply "$F" >"$HB_TMP/out2" 2>&1
check_eq "second apply: exit 0" 0 "$?"
check "second apply: changes nothing" grep -q "^0 added, 0 replaced, 0 removed, 2 unchanged" "$HB_TMP/out2"
check_eq "second apply: the same programs (nothing reloaded)" "$prog_a $prog_b" \
	"$(pol_json "by($ida)['prog_id']") $(pol_json "by($idb)['prog_id']")"

# ---- an edited file: replace, remove, add ----------------------------------------------------
cat >"$F" <<EOF
cgroup=$A idle=31 intvl=5 cnt=4 user-timeout=20s
cgroup=$C keepalive=off user-timeout=7s
EOF
apply "$F" -j >"$HB_TMP/out3.json" 2>"$HB_TMP/err3"
check_eq "edited file: exit 0" 0 "$?"
check_eq "edited file, -j: replace a, add c, remove b" \
	"replace:$ida add:$idc remove:$idb True" \
	"$("$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%s:%d" % (s["op"], s["id"]) for s in d["steps"]), d["ok"])' "$HB_TMP/out3.json" 2>&1)"
check_eq "edited file: a replaced in place (same link, new program)" "$link_a True" \
	"$(pol_json "by($ida)['link_id']") $(pol_json "by($ida)['prog_id'] != $prog_a")"
check_eq "edited file: the new values" "31 5 4 20000 None False" "$(vals "$ida")"
check_eq "edited file: c has keepalive off, user timeout only" "False None 7000" \
	"$(pol_json "' '.join(str(by($idc).get(k)) for k in ('keepalive','keepidle_s','user_timeout_ms'))")"
check_eq "edited file: b is gone, nothing of it pinned" none "$(pins "$idb")"
r=$(in_cg "$A" nsenter --net="/run/netns/$NS" "$STATIC" 127.0.0.1 7000)
check_eq "a new connection gets the replaced values" "ka=1 idle=31 intvl=5 cnt=4 uto=20000" "$(opts "$r")"

# ---- errors ----------------------------------------------------------------------------------
cp "$F" "$HB_TMP/good.conf"
printf '# broken\ncgroup=%s idle=abc\ncgroup=%s colour=blue\n' "$B" "$D" >"$HB_TMP/bad.conf"
apply "$HB_TMP/bad.conf" >"$HB_TMP/out4" 2>"$HB_TMP/err4"
check_eq "a file with errors: exit 1" 1 "$?"
check "errors name FILE:LINE and the key" eval \
	'grep -q "$HB_TMP/bad.conf:2: idle: " "$HB_TMP/err4" && grep -q "$HB_TMP/bad.conf:3: unknown key .colour." "$HB_TMP/err4"'
check "a file with errors: nothing changed" grep -q "has errors: nothing changed" "$HB_TMP/err4"
check_eq "a file with errors: the policies are as before" "$(sorted_ids "$ida" "$idc")" "$(ours)"

printf 'cgroup=%s/nonexistent idle=9\ncgroup=%s idle=31 intvl=5 cnt=4 user-timeout=20s\ncgroup=%s keepalive=off user-timeout=7s\ncgroup=%s idle=12\n' \
	"$S" "$A" "$C" "$D" >"$HB_TMP/missing.conf"
apply "$HB_TMP/missing.conf" >"$HB_TMP/out5" 2>"$HB_TMP/err5"
check_eq "a missing cgroup: exit 1" 1 "$?"
check "a missing cgroup: FILE:LINE names it" grep -q "$HB_TMP/missing.conf:1: .*nonexistent" "$HB_TMP/err5"
check_eq "a missing cgroup: the other lines are applied" "$(sorted_ids "$ida" "$idc" "$idd")" "$(ours)"
check_eq "the new one has its value" 12 "$(pol_json "by($idd)['keepidle_s']")"

# issue 13 item 11: one line outside --scope replaced the in-scope policy, then exited 1;
# the file is checked whole first, so it changes nothing (a, c and d as they were)
printf 'cgroup=%s idle=32 intvl=5 cnt=4 user-timeout=20s\ncgroup=%s keepalive=off user-timeout=7s\ncgroup=%s idle=12\ncgroup=%s idle=5\n' \
	"$A" "$C" "$D" "$OUT" >"$HB_TMP/outside.conf"
prog_a=$(pol_json "by($ida)['prog_id']")
apply "$HB_TMP/outside.conf" >"$HB_TMP/out6" 2>"$HB_TMP/err6"
check_eq "a line outside --scope: exit 1" 1 "$?"
check "a line outside --scope: FILE:LINE says so, and nothing changed" eval \
	'grep -q "$HB_TMP/outside.conf:4: cgroup $OUT: outside --scope" "$HB_TMP/err6" &&
	 grep -q "outside.conf has errors: nothing changed" "$HB_TMP/err6"'
check_eq "a line outside --scope: the in-scope policy is not replaced" "31 $prog_a" \
	"$(pol_json "by($ida)['keepidle_s']") $(pol_json "by($ida)['prog_id']")"
check_eq "a line outside --scope: no policy added outside it" none "$(pins "$ido")"
check_eq "a line outside --scope: the policies are as before" "$(sorted_ids "$ida" "$idc" "$idd")" "$(ours)"
printf 'cgroup=%s idle=33\ncgroup=%s idle=34\n' "$A" "$A" >"$HB_TMP/twice.conf"
apply "$HB_TMP/twice.conf" >/dev/null 2>"$HB_TMP/err7"
check_eq "the same cgroup twice: exit 1, a keeps its value" "1 31" \
	"$? $(pol_json "by($ida)['keepidle_s']")"

# ---- what apply leaves alone -------------------------------------------------------------------
"$HBCTL" policy add --cgroup "$OUT" --idle 44 >/dev/null
"$HBCTL" policy add --cgroup "$D" --idle 45 >/dev/null	# by hand, inside the scope
# a run --kernel from a cgroup inside the scope: its transient cgroup is inside it too
bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$S/runner" \
	"$HBCTL" run --kernel --idle 21 -- sleep 30 >/dev/null 2>&1 &
rpid=$!
bg_pid "$rpid"
for ((i = 0; i < 100; i++)); do [ -d "$S/runner/hbkeep-run.$rpid" ] && break; sleep 0.05; done
tid=$(stat -c %i "$S/runner/hbkeep-run.$rpid" 2>/dev/null)
check "run --kernel made its transient policy inside the scope" [ -n "$tid" ] && [ "$(pins "$tid")" != none ]
apply "$HB_TMP/good.conf" >"$HB_TMP/out6" 2>&1
check_eq "apply the good file again: exit 0" 0 "$?"
check_eq "the hand-made policy inside the scope is removed, the file's stay" \
	"$(sorted_ids "$ida" "$idc" "$tid")" "$(ours)"
check_eq "the policy outside --scope is untouched" 44 "$(pol_json "by($ido)['keepidle_s']")"
check_eq "the transient policy of run --kernel is untouched" "21 True" \
	"$(pol_json "'%s %s' % (by($tid).get('keepidle_s'), by($tid).get('transient'))")"
kill "$rpid" 2>/dev/null
wait "$rpid" 2>/dev/null

# ---- empty file --------------------------------------------------------------------------------
: >"$HB_TMP/empty.conf"
apply "$HB_TMP/empty.conf" >"$HB_TMP/out7" 2>&1
check_eq "an empty file: exit 0" 0 "$?"
check_eq "an empty file: no policy left in the scope" "" "$(ours)"
check_eq "an empty file: the policy outside the scope stays" 44 "$(pol_json "by($ido)['keepidle_s']")"
"$HBCTL" policy rm --cgroup "$OUT"
check_eq "nothing of the test's policies stays pinned" "none none none none none" \
	"$(pins "$ida") $(pins "$idb") $(pins "$idc") $(pins "$idd") $(pins "$ido")"
"$HBCTL" policy apply --help >/dev/null
check_eq "policy apply --help: exit 0" 0 "$?"
"$HBCTL" policy apply >/dev/null 2>&1
check_eq "policy apply without FILE: usage error" 2 "$?"
