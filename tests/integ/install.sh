#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# `make install` into a temporary DESTDIR: every file lands where PREFIX says, the shim path
# compiled into hbctl follows PREFIX (also when an install with another PREFIX follows a plain
# `make`), both man pages render without warnings, the bash completion loads, and `make
# uninstall` removes every file again. The build runs in a copy of $O, so that the shared
# build tree keeps its own LIBDIR.
. "$(dirname "$0")/_lib.sh"
need_cmd make install cmp
HBCTL=$O/hbctl
need_built "$HBCTL"

B=$HB_TMP/build
mkdir -p "$B"
# what `all` is made of, timestamps kept: only what depends on LIBDIR is rebuilt
for d in obj gen bpf lib libhbshim.so hbctl; do
	[ -e "$O/$d" ] && cp -a "$O/$d" "$B/"
done
mk() { make --no-print-directory -C "$HB_ROOT" O="$B" SAN="${HB_SAN:-}" CC="${CC:-cc}" "$@"; }

# ---- PREFIX=/usr/local ----------------------------------------------------------------------
D1=$HB_TMP/d1
mk PREFIX=/usr/local DESTDIR="$D1" install >"$HB_TMP/i1.log" 2>&1
rc=$?
check_eq "make install PREFIX=/usr/local DESTDIR=...: exit 0" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$(tail -n 5 "$HB_TMP/i1.log")"
P=$D1/usr/local
check "bin/hbctl, executable" test -x "$P/bin/hbctl"
check "lib/hb/libhbshim.so" test -f "$P/lib/hb/libhbshim.so"
check "share/man/man7/libhbshim.7" test -f "$P/share/man/man7/libhbshim.7"
check "share/man/man8/hbctl.8" test -f "$P/share/man/man8/hbctl.8"
check "share/bash-completion/completions/hbctl" test -f "$P/share/bash-completion/completions/hbctl"
check "the installed shim is the built one" cmp -s "$O/libhbshim.so" "$P/lib/hb/libhbshim.so"
check "installed hbctl runs (--version)" "$P/bin/hbctl" --version
check "hbctl run --help names /usr/local/lib/hb/libhbshim.so" \
	grep -q "/usr/local/lib/hb/libhbshim.so" <<<"$("$P/bin/hbctl" run --help 2>&1)"
# with a sanitizer build the shim needs its runtime preloaded first; hbctl run appends to it
san=$(hb_preload); san=${san%"$SHIM"}; san=${san%:}
check "the shim runs a command through the installed hbctl (HB_SHIM)" \
	env ${san:+LD_PRELOAD=$san} HB_SHIM="$P/lib/hb/libhbshim.so" "$P/bin/hbctl" run -- \
	python3 -c 'import socket; s = socket.socket(); assert s.getsockopt(6, 4) == 60'

if command -v man >/dev/null; then
	for page in "$P/share/man/man8/hbctl.8" "$P/share/man/man7/libhbshim.7"; do
		w=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
		check_eq "man -l $(basename "$page"): renders without warnings" "" "$w"
		check "man -l $(basename "$page"): has a NAME section" \
			grep -q "^NAME" <<<"$(MANWIDTH=80 man -l "$page" 2>/dev/null | col -b 2>/dev/null)"
	done
else
	skip "man pages render: needs man"
fi
check "bash completion loads and completes hbctl" bash -c \
	". '$P/share/bash-completion/completions/hbctl' && complete -p hbctl >/dev/null"

# the same PREFIX again: nothing is rebuilt (the generated header keeps its timestamp)
t0=$(stat -c %y "$B/hbctl")
sleep 1.1
mk PREFIX=/usr/local DESTDIR="$D1" install >"$HB_TMP/i1b.log" 2>&1
t1=$(stat -c %y "$B/hbctl")
check_eq "the same PREFIX again relinks nothing" "$t0" "$t1"

# ---- PREFIX=/opt/x after that build: the compiled-in path follows -------------------------
D2=$HB_TMP/d2
mk PREFIX=/opt/x DESTDIR="$D2" install >"$HB_TMP/i2.log" 2>&1
check_eq "make install PREFIX=/opt/x: exit 0" 0 $?
check "PREFIX=/opt/x: bin/hbctl and lib/hb/libhbshim.so" \
	test -x "$D2/opt/x/bin/hbctl" -a -f "$D2/opt/x/lib/hb/libhbshim.so"
check "hbctl run --help names /opt/x/lib/hb/libhbshim.so" \
	grep -q "/opt/x/lib/hb/libhbshim.so" <<<"$("$D2/opt/x/bin/hbctl" run --help 2>&1)"
check "the /usr/local install still names /usr/local" \
	grep -q "/usr/local/lib/hb/libhbshim.so" <<<"$("$P/bin/hbctl" run --help 2>&1)"
out=$(env -u HB_SHIM "$D2/opt/x/bin/hbctl" run -- true 2>&1)
check_eq "a shim missing from LIBDIR: exit 1" 1 $?
check "and the error names the path tried" grep -q "^hbctl: run: libhbshim.so not found" <<<"$out"
mk LIBDIR=/opt/y/lib64 DESTDIR="$HB_TMP/d3" install >"$HB_TMP/i3.log" 2>&1
check "LIBDIR=/opt/y/lib64 alone moves it too" \
	grep -q "/opt/y/lib64/hb/libhbshim.so" <<<"$("$HB_TMP/d3/usr/local/bin/hbctl" run --help 2>&1)"

# ---- uninstall --------------------------------------------------------------------------------
for d in "$D1:/usr/local" "$D2:/opt/x"; do
	dest=${d%%:*} prefix=${d#*:}
	mk PREFIX="$prefix" DESTDIR="$dest" uninstall >"$HB_TMP/u.log" 2>&1
	check_eq "make uninstall PREFIX=$prefix: exit 0" 0 $?
	left=$(find "$dest" ! -type d | sed "s|^$dest||")
	check_eq "uninstall PREFIX=$prefix leaves no file" "" "$left"
	check "uninstall PREFIX=$prefix removes lib/hb" test ! -e "$dest$prefix/lib/hb"
done
