#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The systemd units (units/*.service.in): rendered by `make units` with BINDIR filled in,
# checked by `systemd-analyze verify` (syntax, directives, the ExecStart binary) and by
# `systemd-analyze security --offline` (the monitor's and the policy unit's hardening), and
# their contract: hbkeep-policy.service applies /etc/hbkeep/policies.conf once (oneshot,
# RemainAfterExit) and on reload; hbkeep-monitor.service runs the Prometheus exporter on
# 127.0.0.1:9464 with only the capabilities it needs. `make install DESTDIR=` installs both
# and the policies file, and never overwrites an edited policies file.
. "$(dirname "$0")/_lib.sh"
need_cmd systemd-analyze python3
HBCTL=$O/hbctl
need_built "$HBCTL"

U=$HB_TMP/units
make -s -C "$HB_ROOT" O="$U" BINDIR="$O" units >"$HB_TMP/make.log" 2>&1
check_eq "make units: exit 0" 0 "$?"
P=$U/units/hbkeep-policy.service M=$U/units/hbkeep-monitor.service
check "make units: both units, @BINDIR@ filled in" \
	eval '[ -f "$P" ] && [ -f "$M" ] && ! grep -q @BINDIR@ "$P" "$M"'

# --man=no: the man page is not installed here (tests/integ/deb.sh verifies with it)
systemd-analyze verify --man=no "$P" "$M" >"$HB_TMP/verify" 2>&1
rc=$?
check_eq "systemd-analyze verify: no error" "0 " "$rc $(head -n 3 "$HB_TMP/verify")"

# key=value lines of a unit's sections, for the checks below
val() { sed -n "s/^$2=//p" "$1" | tr '\n' '|' | sed 's/|$//'; }
check_eq "policy: Type=oneshot, RemainAfterExit=yes" "oneshot yes" "$(val "$P" Type) $(val "$P" RemainAfterExit)"
check_eq "policy: ExecStart applies /etc/hbkeep/policies.conf" \
	"$O/hbctl policy apply /etc/hbkeep/policies.conf" "$(val "$P" ExecStart)"
check_eq "policy: ExecReload applies it again" "$(val "$P" ExecStart)" "$(val "$P" ExecReload)"
check_eq "policy: only the capabilities of a policy" "CAP_BPF CAP_PERFMON CAP_NET_ADMIN" \
	"$(val "$P" CapabilityBoundingSet)"
check_eq "monitor: runs the exporter on 127.0.0.1:9464" \
	"$O/hbctl monitor --quiet --interval 15s --prometheus 127.0.0.1:9464" "$(val "$M" ExecStart)"
check_eq "monitor: only the capabilities it needs" \
	"CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_PTRACE CAP_DAC_READ_SEARCH" "$(val "$M" CapabilityBoundingSet)"
for u in "$P" "$M"; do
	n=$(basename "$u")
	check_eq "$n: NoNewPrivileges, ProtectSystem=strict, ProtectHome, PrivateTmp" "yes strict yes yes" \
		"$(val "$u" NoNewPrivileges) $(val "$u" ProtectSystem) $(val "$u" ProtectHome) $(val "$u" PrivateTmp)"
	check_eq "$n: address families" "AF_UNIX AF_NETLINK AF_INET AF_INET6" "$(val "$u" RestrictAddressFamilies)"
	check "$n: bpf(2) allowed by the system call filter" eval '[[ "$(val "$u" SystemCallFilter)" == *" bpf"* ]]'
	systemd-analyze security --offline=yes "$u" >"$HB_TMP/sec" 2>&1
	level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$HB_TMP/sec")
	check "$n: systemd-analyze security exposure $level <= 3.5" \
		python3 -c 'import sys; sys.exit(not (sys.argv[1] and float(sys.argv[1]) <= 3.5))' "$level"
done

# the capabilities the monitor keeps are the ones the BPF code asks for (hb_pol_check_caps,
# the iterator probe): a unit without CAP_BPF or CAP_PERFMON could not load anything
check "the units keep what hbctl doctor names as needed" \
	eval 'grep -q CAP_BPF "$P" && grep -q CAP_PERFMON "$M" && grep -q CAP_NET_ADMIN "$M"'

# ---- make install ------------------------------------------------------------------------------
R=$HB_TMP/root
make -s -C "$HB_ROOT" O="$O" install DESTDIR="$R" PREFIX=/usr/local >"$HB_TMP/install.log" 2>&1
rc=$?
check_eq "make install DESTDIR=: exit 0" 0 "$rc"
[ "$rc" = 0 ] || diag "$(tail -n 5 "$HB_TMP/install.log")"
check "make install: units in \$(PREFIX)/lib/systemd/system, for \$(BINDIR)/hbctl" \
	eval 'grep -qx "ExecStart=/usr/local/bin/hbctl policy apply /etc/hbkeep/policies.conf" \
		"$R/usr/local/lib/systemd/system/hbkeep-policy.service" &&
	      [ -f "$R/usr/local/lib/systemd/system/hbkeep-monitor.service" ]'
check "make install: /etc/hbkeep/policies.conf" cmp -s "$HB_ROOT/units/policies.conf" "$R/etc/hbkeep/policies.conf"
echo "cgroup=/system.slice idle=30" >>"$R/etc/hbkeep/policies.conf"
make -s -C "$HB_ROOT" O="$O" install DESTDIR="$R" PREFIX=/usr/local >/dev/null 2>&1
check "make install again: the edited policies file is kept" \
	grep -qx "cgroup=/system.slice idle=30" "$R/etc/hbkeep/policies.conf"
make -s -C "$HB_ROOT" O="$O" uninstall DESTDIR="$R" PREFIX=/usr/local >/dev/null 2>&1
check_eq "make uninstall: only the policies file is left" "$R/etc/hbkeep/policies.conf" \
	"$(find "$R" -type f)"
