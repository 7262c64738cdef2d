#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# libhbshim never harms its host (issue 13, DESIGN.md "Files, sockets and privileges"):
#  - HB_LOG_FILE naming a FIFO nobody reads, a FIFO with a reader, a device or a symlink is
#    refused with one stderr line, and the program completes (it hung forever in open());
#  - a stderr pipe that nobody reads costs log lines, never a blocked program;
#  - a program that closes stderr behind the shim (fclose, close_range, dup2) and reopens fd 2
#    for its data finds no libhbshim line in its data;
#  - a siglongjmp out of a signal handler that interrupted the shim leaves every later socket
#    managed, and sockets made inside such handlers are managed too;
#  - an unreadable HB_MATCH manages no socket (an exclude list with a typo must not widen).
. "$(dirname "$0")/_lib.sh"
need_root
need_cmd nsenter mkfifo
for h in ka_client holdsrv reopen2 siglj; do
	[ -x "$HELPERS/$h" ] || { echo "Bail out! $HELPERS/$h not built (make test-bins)"; exit 1; }
done
[ -x "$O/tests/bench/hbbench" ] || { echo "Bail out! hbbench not built (make test-bins)"; exit 1; }
unset HB_KEEPALIVE HB_KEEPIDLE HB_KEEPINTVL HB_KEEPCNT HB_USER_TIMEOUT HB_MATCH HB_FORCE HB_LOG \
	HB_LOG_FILE KEEPIDLE KEEPINTVL KEEPCNT KEEPALIVE TCP_KEEPIDLE TCP_KEEPINTVL TCP_KEEPCNT \
	TCP_USER_TIMEOUT DD_TCP_KEEPALIVE_TIME DD_TCP_KEEPALIVE_INTVL DD_TCP_KEEPALIVE_PROBES \
	DD_USE_KEEPALIVE
check_lines() { check_eq "$1" "${2//$'\n'/ | }" "${3//$'\n'/ | }"; }

NS=$(netns_new safe) || { echo "Bail out! cannot create a network namespace"; exit 1; }
PRE=$(hb_preload)
KA=$HELPERS/ka_client
NONE="ka=0 idle=7200 intvl=75 cnt=9 uto=0"
nsenter --net="/run/netns/$NS" "$HELPERS/holdsrv" 127.0.0.1 7001 127.0.0.1 3128 \
	>/dev/null 2>&1 </dev/null &
bg_pid $!
wait_port "$NS" 7001 || { echo "Bail out! holdsrv not listening"; exit 1; }

# ---- HB_LOG_FILE: only a regular file, never blocking -------------------------------------------
mkfifo "$HB_TMP/fifo"
# refused VALUE DESC: /bin/true completes at once, exit 0, one stderr line naming HB_LOG_FILE
refused() {
	local t0 t1 rc err
	t0=$(date +%s)
	shimmed HB_LOG=info HB_LOG_FILE="$1" /bin/true 2>"$HB_TMP/err"
	rc=$?
	t1=$(date +%s)
	err=$(cat "$HB_TMP/err")
	check_lines "HB_LOG_FILE=$2: /bin/true completes (exit 0, not killed by timeout)" 0 "$rc"
	check "HB_LOG_FILE=$2: completes within 5 s (took $((t1 - t0)) s)" [ $((t1 - t0)) -le 5 ]
	if [ "$(wc -l <<<"$err")" -eq 1 ] && [[ $err == "libhbshim: HB_LOG_FILE: "* ]]; then
		ok "HB_LOG_FILE=$2: exactly one stderr line naming HB_LOG_FILE"
		diag "$err"
	else
		not_ok "HB_LOG_FILE=$2: exactly one stderr line naming HB_LOG_FILE"
		diag "stderr: ${err//$'\n'/|}"
	fi
}
refused "$HB_TMP/fifo" "a FIFO nobody reads"
# A FIFO with a reader: open() would succeed, but a FIFO is never a log file (it can fill).
exec 7<>"$HB_TMP/fifo"
refused "$HB_TMP/fifo" "a FIFO with a reader"
exec 7>&-
refused /dev/null "a device (/dev/null)"
echo "precious" >"$HB_TMP/target"
ln -s "$HB_TMP/target" "$HB_TMP/link"
refused "$HB_TMP/link" "a symlink to a regular file"
check_lines "HB_LOG_FILE=symlink: the link's target is unchanged" "precious" "$(cat "$HB_TMP/target")"
# After the refusal the log goes to stderr: the socket lines are there.
shimmed HB_LOG=info HB_LOG_FILE="$HB_TMP/fifo" "$KA" 127.0.0.1 7001 >/dev/null 2>"$HB_TMP/err"
check_lines "HB_LOG_FILE refused: the info line goes to stderr instead" 2 "$(grep -c '^libhbshim: ' "$HB_TMP/err")"
# The regular file still works.
shimmed HB_LOG=info HB_LOG_FILE="$HB_TMP/ok.log" "$KA" 127.0.0.1 7001 >/dev/null 2>"$HB_TMP/err"
check_lines "HB_LOG_FILE=regular file: the line is in the file, nothing on stderr" "1 0" \
	"$(grep -c '^libhbshim: fd ' "$HB_TMP/ok.log") $(wc -c <"$HB_TMP/err")"

# ---- stderr a pipe nobody reads: lines are dropped, the program never blocks --------------------
exec 7<>"$HB_TMP/fifo"	# held open for reading, never read: 64 KiB and it is full
t0=$(date +%s)
shimmed HB_LOG=info "$O/tests/bench/hbbench" -c -k tcp -n 3000 2>"$HB_TMP/fifo"
rc=$?
t1=$(date +%s)
exec 7>&-
check_lines "stderr a full pipe, 3000 logged sockets (~240 KB of lines): completes, exit 0" 0 "$rc"
check "stderr a full pipe: within 10 s (took $((t1 - t0)) s)" [ $((t1 - t0)) -le 10 ]

# ---- fd 2 reopened behind the shim's back --------------------------------------------------------
for mode in fclose close_range dup2; do
	out=$(shimmed HB_LOG=info "$HELPERS/reopen2" "$mode" "$HB_TMP/data.$mode" 2>"$HB_TMP/err.$mode")
	check_lines "$mode(stderr), fd 2 reopened for data: program ok" "0 " "$? $out"
	check_lines "$mode(stderr), fd 2 reopened for data: the data file holds only the data" \
		"data 1"$'\n'"data 2" "$(cat "$HB_TMP/data.$mode")"
	check_lines "$mode(stderr): the line from before went to the real stderr" 1 \
		"$(grep -c '^libhbshim: fd ' "$HB_TMP/err.$mode")"
done

# ---- siglongjmp out of the shim ------------------------------------------------------------------
# A 50 us interval timer against a socket() loop with HB_LOG=info (a wide window inside the
# shim); every handler makes its own socket and siglongjmps out, 300 times.
out=$(shimmed HB_LOG=info HB_LOG_FILE="$HB_TMP/sig.log" "$HELPERS/siglj" 300 2>&1)
rc=$?
diag "siglj: $out"
after=$(sed -n 's/.*after=\([0-9]*\/100\).*/\1/p' <<<"$out")
check_lines "siglongjmp out of handlers 300 times: exit 0" 0 "$rc"
check_lines "siglongjmp out of handlers: the 100 sockets after it are all managed" "100/100" "$after"
read -r hok htot < <(sed -n 's/.*handler=\([0-9]*\)\/\([0-9]*\).*/\1 \2/p' <<<"$out")
all_of() { [ -n "$2" ] && [ "$2" -gt 0 ] && [ "$1" = "$2" ]; }
check "sockets made inside handlers that interrupted the shim: all managed (${hok:-?}/${htot:-?})" \
	all_of "${hok:-}" "${htot:-}"

# ---- an unreadable HB_MATCH manages no socket ----------------------------------------------------
for v in '!127.0.0.0/8,!:3128x' '10.0.0.0/33' '!' ':99999'; do
	out=$(shimmed HB_MATCH="$v" "$KA" 127.0.0.1 7001 127.0.0.1 3128 2>"$HB_TMP/err")
	rc=$?
	err=$(cat "$HB_TMP/err")
	check_lines "HB_MATCH='$v' (unreadable): runs on, no socket managed" "0 $NONE"$'\n'"$NONE" "$rc $out"
	if [ "$(wc -l <<<"$err")" -eq 1 ] && [[ $err == "libhbshim: HB_MATCH: "* ]]; then
		ok "HB_MATCH='$v': exactly one warning line naming HB_MATCH"
	else
		not_ok "HB_MATCH='$v': exactly one warning line naming HB_MATCH"
		diag "stderr: ${err//$'\n'/|}"
	fi
done
exit 0
