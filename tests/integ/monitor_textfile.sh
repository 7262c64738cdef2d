#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# hbctl monitor --textfile as root into a directory another user can write (issue 13, items 1
# and 12):
#  - a directory, or a file in a missing directory: usage error (2) / runtime error (1) before
#    anything is loaded, not a failure every interval with exit 0
#  - user nobody owns the textfile directory and plants symlinks to a root-only 0600 file at
#    the textfile's name and at the old predictable temporary name (.NAME.PID.tmp): after
#    several intervals the victim is unchanged, the textfile is a regular 0644 file (under
#    UMask 0077, as the systemd unit runs it) that nobody can read, no temporary file is left
#  - the directory removed while it runs: the monitor reports it and exits 1
. "$(dirname "$0")/_monitor.sh"
need_cmd setpriv

# ---- the path, checked before the monitor loads ---------------------------------------------
"$HBCTL" monitor --cgroup "$CG" -d 1s --textfile "$HB_TMP" >/dev/null 2>"$HB_TMP/dir.err"
check_eq "--textfile DIR: usage error (2)" 2 "$?"
check "--textfile DIR: one line says it is a directory" \
	eval '[ "$(wc -l <"$HB_TMP/dir.err")" = 1 ] && grep -q "is a directory" "$HB_TMP/dir.err"'
"$HBCTL" monitor --cgroup "$CG" -d 1s --textfile "$HB_TMP/nodir/hb.prom" >/dev/null \
	2>"$HB_TMP/nodir.err"
check_eq "--textfile in a missing directory: runtime error (1)" 1 "$?"
check "--textfile in a missing directory: names it" grep -q "nodir.*No such file" "$HB_TMP/nodir.err"

# ---- planted symlinks ------------------------------------------------------------------------
TF=$(mktemp -d "/tmp/$HB_TEST_ID-tf.XXXXXX")
on_exit "rm -rf $TF"
chown nobody "$TF" && chmod 0755 "$TF"
VICTIM=$HB_TMP/victim
printf 'root-only secret\n' >"$VICTIM"
chmod 0600 "$VICTIM"
sum0=$(sha256sum <"$VICTIM")
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
as_nobody ln -s "$VICTIM" "$TF/hbkeep.prom"
as_nobody ln -s "$VICTIM" "$TF/.hbkeep.prom.tmp"

(umask 077; exec "$HBCTL" monitor --cgroup "$CG" --netns "$NS" -i 200ms --quiet \
	--textfile "$TF/hbkeep.prom" 2>>"$HB_TMP/mon.err") &
MON=$!
bg_pid "$MON"
# the old writer's name, known once the pid is
as_nobody ln -s "$VICTIM" "$TF/.hbkeep.prom.$MON.tmp"
for ((i = 0; i < 100; i++)); do
	[ -f "$TF/hbkeep.prom" ] && [ ! -L "$TF/hbkeep.prom" ] && break
	kill -0 "$MON" 2>/dev/null || break
	sleep 0.1
done
if ! kill -0 "$MON" 2>/dev/null || [ ! -f "$TF/hbkeep.prom" ]; then
	echo "Bail out! the monitor did not run: $(tail -n 2 "$HB_TMP/mon.err")"
	exit 1
fi
sleep 1.2	# several more intervals, each one a chance to follow a link
check_eq "planted links: the root-only victim is unchanged" "$sum0" "$(sha256sum <"$VICTIM")"
check_eq "planted links: the victim is still 0600" 600 "$(stat -c %a "$VICTIM")"
check "the textfile replaced the link with a regular file" \
	eval '[ -f "$TF/hbkeep.prom" ] && [ ! -L "$TF/hbkeep.prom" ]'
check_eq "the textfile is 0644 root-owned under umask 0077" "644 root" \
	"$(stat -c '%a %U' "$TF/hbkeep.prom" 2>&1)"
check "node_exporter's user (nobody) can read it" \
	eval 'as_nobody cat "$TF/hbkeep.prom" | grep -q "^hbkeep_"'
check "the planted links are still links (never written through)" \
	eval '[ -L "$TF/.hbkeep.prom.$MON.tmp" ] && [ -L "$TF/.hbkeep.prom.tmp" ]'
left=$(find "$TF" -mindepth 1 ! -name hbkeep.prom ! -name ".hbkeep.prom.tmp" \
	! -name ".hbkeep.prom.$MON.tmp" | wc -l)
check_eq "no temporary file left beside it" 0 "$left"

# ---- the directory goes while it runs: reported, exit 1 -------------------------------------
rm -rf "$TF"
sleep 0.6
check "the failing write is reported" grep -q -- "--textfile $TF/hbkeep.prom: No such file" \
	"$HB_TMP/mon.err"
kill -TERM "$MON"
wait "$MON"
check_eq "a textfile that failed: exit 1 at the end" 1 "$?"
[ -s "$HB_TMP/mon.err" ] && diag "$(tail -n 3 "$HB_TMP/mon.err")"
exit 0
