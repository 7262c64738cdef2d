#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The Debian package: built with `make deb` (dpkg-buildpackage; a build/hbkeep_*.deb newer
# than every source is reused), installed on this machine with dpkg -i, used (hbctl
# --version, hbctl run with the installed shim /usr/lib/hb/libhbshim.so, doctor, man pages,
# completion, units verified by systemd-analyze), then removed (dpkg -r, dpkg -P): nothing
# of it may stay behind. Needs root; refuses to run when hbkeep is installed already.
. "$(dirname "$0")/_lib.sh"
need_root
need_cmd dpkg dpkg-deb python3
VERSION=${HB_VERSION:-$(cat "$HB_ROOT/VERSION")}
ARCH=$(dpkg --print-architecture)
DEB=$O/hbkeep_${VERSION}_$ARCH.deb

if dpkg-query -W -f='${Status}' hbkeep 2>/dev/null | grep -q 'installed\|config-files'; then
	echo "Bail out! hbkeep is installed on this machine already (dpkg -P hbkeep to run this test)"
	exit 1
fi
for f in /usr/bin/hbctl /usr/lib/hb /etc/hbkeep /lib/systemd/system/hbkeep-policy.service; do
	[ -e "$f" ] && { echo "Bail out! $f exists (make install PREFIX=/usr?): remove it first"; exit 1; }
done

# ---- build (or reuse) ---------------------------------------------------------------------
newer=
[ -f "$DEB" ] && newer=$(cd "$HB_ROOT" && find Makefile VERSION bpf cli include lib shim units \
	debian deploy README.md -newer "$DEB" -type f -print -quit 2>/dev/null)
if [ ! -f "$DEB" ] || [ -n "$newer" ]; then
	need_cmd dpkg-buildpackage dh
	diag "building $DEB${newer:+ ($newer is newer)}"
	t0=$(date +%s)
	make -s -C "$HB_ROOT" O="$O" deb DEB_BUILD_OPTIONS="nocheck parallel=2" >"$HB_TMP/build.log" 2>&1
	rc=$?
	check_eq "make deb: exit 0 ($(($(date +%s) - t0)) s)" 0 "$rc"
	[ "$rc" = 0 ] || { diag "$(tail -n 20 "$HB_TMP/build.log")"; exit 1; }
else
	ok "make deb: $DEB is newer than the sources, reused"
fi
check "the package is named hbkeep_VERSION_ARCH.deb" [ -f "$DEB" ]
check_eq "control: package, version, architecture" "hbkeep $VERSION $ARCH" \
	"$(dpkg-deb -f "$DEB" Package Version Architecture | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
deps=$(dpkg-deb -f "$DEB" Depends)
check "control: Depends has libc6, libbpf1, libmnl0 and libmicrohttpd12 ($deps)" \
	eval '[[ $deps == *libc6* && $deps == *libbpf1* && $deps == *libmnl0* && $deps == *libmicrohttpd12* ]]'
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|;s|/$||' | grep -v '^$' >"$HB_TMP/files"
for f in /usr/bin/hbctl /usr/lib/hb/libhbshim.so /usr/share/man/man8/hbctl.8.gz \
	/usr/share/man/man7/libhbshim.7.gz /usr/share/bash-completion/completions/hbctl \
	/lib/systemd/system/hbkeep-policy.service /lib/systemd/system/hbkeep-monitor.service \
	/etc/hbkeep/policies.conf /usr/share/doc/hbkeep/copyright; do
	check "the package has $f" grep -qx "$f" "$HB_TMP/files"
done

# ---- install ---------------------------------------------------------------------------------
on_exit "dpkg -P hbkeep"
# dpkg's lock may be held for a moment by another dpkg/apt run: wait for it
for ((i = 0; i < 60; i++)); do
	dpkg -i "$DEB" >"$HB_TMP/install.log" 2>&1 && break
	grep -q 'lock' "$HB_TMP/install.log" || break
	sleep 2
done
check_eq "dpkg -i: installed" "install ok installed" "$(dpkg-query -W -f='${Status}' hbkeep 2>&1)"
grep -q 'install ok installed' <(dpkg-query -W -f='${Status}' hbkeep 2>&1) ||
	{ diag "$(tail -n 10 "$HB_TMP/install.log")"; exit 1; }
check_eq "conffile: /etc/hbkeep/policies.conf" /etc/hbkeep/policies.conf \
	"$(dpkg-query -W -f='${Conffiles}' hbkeep | awk 'NF { print $1 }')"

check_eq "hbctl --version" "hbctl $VERSION" "$(/usr/bin/hbctl --version 2>&1)"
# the installed hbctl finds the installed shim by itself (no HB_SHIM)
py='import os, socket
s = socket.socket()
print(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
      s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE), os.environ.get("LD_PRELOAD"))'
check_eq "hbctl run -- python3: keepalive on, idle 60 s, the installed shim" \
	"1 60 /usr/lib/hb/libhbshim.so" "$(env -u HB_SHIM -u LD_PRELOAD /usr/bin/hbctl run -- python3 -c "$py" 2>&1)"
check_eq "hbctl run --idle 25 --cnt 3 -- python3" "1 25 /usr/lib/hb/libhbshim.so" \
	"$(env -u HB_SHIM -u LD_PRELOAD /usr/bin/hbctl run --idle 25 --cnt 3 -- python3 -c "$py" 2>&1)"
check_eq "LD_PRELOAD=/usr/lib/hb/libhbshim.so with HB_KEEPIDLE" "1 42 /usr/lib/hb/libhbshim.so" \
	"$(LD_PRELOAD=/usr/lib/hb/libhbshim.so HB_KEEPIDLE=42 python3 -c "$py" 2>&1)"
/usr/bin/hbctl doctor >"$HB_TMP/doctor" 2>&1
check_eq "hbctl doctor: exit 0" 0 "$?"
check "hbctl doctor: names the installed shim" grep -Eq '^ok +run +LD_PRELOAD shim /usr/lib/hb/libhbshim.so' "$HB_TMP/doctor"
check "the installed policies.conf parses (policy apply --check)" \
	eval '/usr/bin/hbctl policy apply --check /etc/hbkeep/policies.conf >/dev/null'
if command -v man >/dev/null; then
	check_eq "man -w hbctl" /usr/share/man/man8/hbctl.8.gz "$(man -w hbctl 2>&1)"
	check_eq "man -w libhbshim" /usr/share/man/man7/libhbshim.7.gz "$(man -w 7 libhbshim 2>&1)"
	for p in /usr/share/man/man8/hbctl.8.gz /usr/share/man/man7/libhbshim.7.gz; do
		LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -E UTF-8 -l "$p" >/dev/null 2>"$HB_TMP/manwarn"
		check_eq "$(basename "$p") renders without warnings" "" "$(head -n 3 "$HB_TMP/manwarn")"
	done
fi
check_eq "bash completion is loadable" "complete -F _hbctl hbctl" \
	"$(bash -c '. /usr/share/bash-completion/completions/hbctl && complete -p hbctl' 2>&1)"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify /lib/systemd/system/hbkeep-policy.service \
		/lib/systemd/system/hbkeep-monitor.service >"$HB_TMP/verify" 2>&1
	rc=$?
	check_eq "systemd-analyze verify of the installed units" "0 " "$rc $(head -n 3 "$HB_TMP/verify")"
else
	not_ok "systemd-analyze is missing (Debian package systemd)"
fi
check_eq "the units are installed, not enabled (the administrator decides)" "" \
	"$(ls /etc/systemd/system/*/hbkeep-* 2>/dev/null)"

# ---- remove ----------------------------------------------------------------------------------
dpkg -r hbkeep >"$HB_TMP/remove.log" 2>&1
check_eq "dpkg -r: exit 0" 0 "$?"
check_eq "dpkg -r: only the conffile is left" "deinstall ok config-files /etc/hbkeep/policies.conf" \
	"$(dpkg-query -W -f='${Status}' hbkeep) $(find /etc/hbkeep -type f 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
dpkg -P hbkeep >"$HB_TMP/purge.log" 2>&1
check_eq "dpkg -P: exit 0" 0 "$?"
check "dpkg -P: dpkg forgot the package" eval '! dpkg-query -W hbkeep >/dev/null 2>&1'
left=
while read -r f; do
	case $f in /|/etc|/lib|/lib/systemd|/lib/systemd/system|/usr|/usr/bin|/usr/lib|/usr/share|\
		/usr/share/doc|/usr/share/man|/usr/share/man/man7|/usr/share/man/man8|\
		/usr/share/bash-completion|/usr/share/bash-completion/completions) continue ;;
	esac
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done <"$HB_TMP/files"
check_eq "nothing of the package stays behind" "" "${left# }"
check_eq "no hbctl on PATH from the package" "" "$(type -P hbctl | grep '^/usr/bin/hbctl$')"
