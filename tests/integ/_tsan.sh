#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# `make tsan`: the 32-thread stress helper (tests/helpers/threads.c), built with
# -fsanitize=thread, runs with the ThreadSanitizer build of the shim preloaded, under each
# mode of the shim (socket(), match list, HB_FORCE with debug logging from every thread,
# pass-through). Any ThreadSanitizer report fails. Expects O= the TSan build directory.
# Not run by tests/run.sh (the leading underscore): the normal build is not instrumented.
. "$(dirname "$0")/_lib.sh"

bin=$HELPERS/threads
[ -x "$bin" ] || { echo "Bail out! $bin not built (make tsan builds it)"; exit 1; }

# Both halves must really be instrumented, or a clean run proves nothing.
if nm "$bin" 2>/dev/null | grep -q ' __tsan_init$'; then
	ok "threads helper is built with ThreadSanitizer"
else
	not_ok "threads helper is built with ThreadSanitizer"
fi
if nm -D --undefined-only "$SHIM" 2>/dev/null | grep -q '__tsan_func_entry'; then
	ok "libhbshim.so is built with ThreadSanitizer"
else
	not_ok "libhbshim.so is built with ThreadSanitizer"
fi

# run NAME EXPECT ENV...: one run; its TSan logs go to $HB_TMP/NAME.* (one per pid: the
# helper forks a child).
run() {
	local name=$1 expect=$2 out rc logs
	shift 2
	local tsan="halt_on_error=0 exitcode=66 second_deadlock_stack=1 log_path=$HB_TMP/$name"
	out=$(env TSAN_OPTIONS="$tsan" \
		LD_PRELOAD="$SHIM" "$@" "$bin" "$expect" "${HB_TSAN_ITER:-100}" 2>"$HB_TMP/$name.stderr")
	rc=$?
	diag "$name: $out"
	logs=$(grep -l 'ThreadSanitizer' "$HB_TMP/$name".* 2>/dev/null)
	if [ -n "$logs" ]; then
		not_ok "$name: no ThreadSanitizer report"
		# shellcheck disable=SC2086
		head -n 60 $logs | sed 's/^/# /'
	else
		ok "$name: no ThreadSanitizer report"
	fi
	if [ "$rc" -eq 0 ]; then
		ok "$name: helper checks pass"
	else
		not_ok "$name: helper checks pass (exit $rc)"
		sed 's/^/# /' "$HB_TMP/$name.stderr" | head -n 20
	fi
}

run socket-mode socket
run match-list connect HB_MATCH=127.0.0.1,:1
run force-debug connect HB_MATCH=127.0.0.0/8 HB_FORCE=1 HB_LOG=debug HB_LOG_FILE="$HB_TMP/hb.log"
run force-socket socket HB_FORCE=1 HB_KEEPIDLE=45 HB_USER_TIMEOUT=20s
run pass-through none HB_KEEPALIVE=off
# The log of the debug run: whole lines from 32 threads, none interleaved.
if [ -s "$HB_TMP/hb.log" ] && ! grep -qv '^libhbshim: ' "$HB_TMP/hb.log"; then
	ok "HB_LOG_FILE holds whole lines only ($(wc -l <"$HB_TMP/hb.log") lines)"
else
	not_ok "HB_LOG_FILE holds whole lines only"
fi
