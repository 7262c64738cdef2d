#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The systemd units (units/*.service.in): rendered by `make units` with BINDIR filled in,
# checked by `systemd-analyze verify` (syntax, directives, the ExecStart binary) and by
# `systemd-analyze security --offline` (the monitor's and the policy unit's hardening), and
# their contract: hbkeep-policy.service applies /etc/hbkeep/policies.conf once (oneshot,
# RemainAfterExit) and on reload; hbkeep-monitor.service runs the Prometheus exporter on
# 127.0.0.1:9464 with only the capabilities it needs. Both keep the file system read-only
# (ProtectSystem=strict, ProtectKernelTunables=yes) but for what they write: their pins in
# bpffs (directories created before the sandbox is set up: a ReadWritePaths= entry must
# exist) and, for the monitor, node_exporter's textfile directory; the textfile must stay
# readable by node_exporter's user under the unit's UMask (checked live in deploy.sh). The
# capabilities each unit keeps are enough: hbctl policy add/apply/ls/rm and hbctl monitor run
# as root with only those (setpriv), as the Kubernetes containers that add the same. `make
# install DESTDIR=` installs both and the policies file, never overwriting an edited one.
. "$(dirname "$0")/_lib.sh"
need_cmd systemd-analyze python3 strings
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
	check_eq "$n: ProtectKernelTunables, PrivateMounts" "yes yes" \
		"$(val "$u" ProtectKernelTunables) $(val "$u" PrivateMounts)"
	# ProtectKernelTunables= mounts /sys/fs/bpf read-only and wins over ReadWritePaths= on that
	# very path (systemd's namespace.c orders read-only before read-write for one path): only
	# a subtree is writable, and it must exist when the namespace is built
	rw_bpf=$(val "$u" ReadWritePaths | tr ' ' '\n' | grep -E '^-?/sys/fs/bpf(/|$)' | paste -sd' ')
	check_eq "$n: the writable bpffs directories are those ExecStartPre makes (+: outside the sandbox)" \
		"+/bin/mkdir -p -m 0700 $rw_bpf" "$(val "$u" ExecStartPre)"
	check "$n: bpffs paths in ReadWritePaths: below /sys/fs/bpf (read-only wins on it), never -optional ($rw_bpf)" \
		eval '[ -n "$rw_bpf" ] && ! grep -qE "(^| )(-|/sys/fs/bpf( |$))" <<<"$rw_bpf"'
	check_eq "$n: UMask=0077 (its pins private; the textfile sets its own mode)" 0077 "$(val "$u" UMask)"
	systemd-analyze security --offline=yes "$u" >"$HB_TMP/sec" 2>&1
	level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$HB_TMP/sec")
	# the levels measured with Debian 12's systemd 252 (README, "Monitor service"): a change
	# that weakens the sandbox raises them
	case $n in hbkeep-monitor.service) max=2.7 ;; *) max=2.2 ;; esac
	check "$n: systemd-analyze security exposure $level <= $max" \
		python3 -c 'import sys; sys.exit(not (sys.argv[1] and float(sys.argv[1]) <= float(sys.argv[2])))' "$level" "$max"
done
check_eq "policy: no IP traffic" any "$(val "$P" IPAddressDeny)"
# where hbctl pins: every bpffs directory the binary names (policies, the monitor, hbkeep's
# root) is writable in the policy unit (it adds, replaces and removes), and the directory
# hbctl doctor reports for policies is at or below one of them
below() { local d; for d in $2; do [[ "$1/" == "$d"/* ]] && return 0; done; return 1; }
rwP=$(val "$P" ReadWritePaths) bad=
for d in $(strings "$HBCTL" | grep -Ex '/sys/fs/bpf/[a-z]+' | sort -u); do
	below "$d" "$rwP" || bad+="$d "
done
check_eq "policy: every bpffs directory in hbctl is writable" "" "$bad"
pin=$("$HBCTL" doctor 2>/dev/null | sed -n 's/^[a-z]* *policy .*pinned in \([^ ]*\).*/\1/p')
check "policy: hbctl doctor's pin directory (${pin:-none}) is writable" eval '[ -n "$pin" ] && below "$pin" "$rwP"'
check "monitor: its pin root /sys/fs/bpf/hbkeep (in hbctl: $(strings "$HBCTL" | grep -cx /sys/fs/bpf/hbkeep)) is writable" \
	eval 'strings "$HBCTL" | grep -qx /sys/fs/bpf/hbkeep && below /sys/fs/bpf/hbkeep "$(val "$M" ReadWritePaths)"'
# the textfile: the drop-in the unit documents writes into a directory its ReadWritePaths
# opens, and it is the one README names (Debian's prometheus-node-exporter reads it)
tf=$(sed -n 's/^#.*ExecStart=.* --textfile \([^ ]*\).*/\1/p' "$M")
check_eq "monitor: its documented --textfile directory is in ReadWritePaths (- : only when present)" \
	"/sys/fs/bpf/hbkeep -${tf%/*}" "$(val "$M" ReadWritePaths)"
check "monitor: README's textfile example uses that directory" \
	eval '[ -n "$tf" ] && grep -q -- "--textfile ${tf%/*}/" "$HB_ROOT/README.md"'

# the capabilities the monitor keeps are the ones the BPF code asks for (hb_pol_check_caps,
# the iterator probe): a unit without CAP_BPF or CAP_PERFMON could not load anything
check "the units keep what hbctl doctor names as needed" \
	eval 'grep -q CAP_BPF "$P" && grep -q CAP_PERFMON "$M" && grep -q CAP_NET_ADMIN "$M"'

# ---- the capabilities are enough (and the Kubernetes containers add the same sets) ------------
# hbctl as root with only a unit's CapabilityBoundingSet (setpriv: what systemd and a container
# that drops ALL do; no CAP_DAC_OVERRIDE, no CAP_SYS_ADMIN), on a child cgroup of this test,
# policies pinned apart (HB_PIN_DIR)
caps_of() { val "$1" CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g'; }
as_unit() { local u=$1; shift; setpriv --bounding-set=-all,"$(caps_of "$u")" --inh-caps=-all "$@"; }
CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
if [ "$(id -u)" != 0 ] || [ -z "$CG2" ] || [ ! -r /sys/kernel/btf/vmlinux ] || ! command -v setpriv >/dev/null; then
	skip "the units' capabilities at work: needs root, cgroup v2, BTF and setpriv"
else
	CGB=$CG2$(sed -n 's/^0:://p' /proc/self/cgroup)
	CG=${CGB%/}/$HB_TEST_ID-units
	export HB_PIN_DIR=/sys/fs/bpf/$HB_TEST_ID
	mkdir "$CG"
	on_exit "rmdir $CG"
	on_exit "rm -rf $HB_PIN_DIR"
	on_exit "HB_PIN_DIR=$HB_PIN_DIR $HBCTL policy rm --cgroup $CG"
	check_eq "policy: with only $(caps_of "$P"): the set is what the process has" \
		"$(printf '%016x' $(( (1 << 39) | (1 << 38) | (1 << 12) )))" \
		"$(as_unit "$P" sed -n 's/^CapEff:\t//p' /proc/self/status)"
	as_unit "$P" "$HBCTL" policy add --cgroup "$CG" --idle 60 >"$HB_TMP/cap.out" 2>&1
	check_eq "policy: with only its unit's capabilities: policy add (pinned in HB_PIN_DIR/policy)" "0 1 " \
		"$? $(ls "$HB_PIN_DIR/policy" 2>/dev/null | wc -l) $(grep -v '^[0-9]*$' "$HB_TMP/cap.out" | head -n 2)"
	printf 'cgroup=%s idle=90 retrofit=yes\n' "$CG" >"$HB_TMP/cap.conf"
	as_unit "$P" "$HBCTL" policy apply --scope "${CG#"$CG2"}" "$HB_TMP/cap.conf" >"$HB_TMP/cap.out" 2>&1
	check_eq "policy: with only its unit's capabilities: policy apply (replace, retrofit=yes)" "0 1 replaced" \
		"$? $(sed -n 's/^0 added, \([0-9]* replaced\),.*/\1/p' "$HB_TMP/cap.out")"
	as_unit "$P" "$HBCTL" policy ls >"$HB_TMP/cap.out" 2>&1
	check "policy: with only its unit's capabilities: policy ls shows it" grep -q "$CG" "$HB_TMP/cap.out"
	as_unit "$P" "$HBCTL" policy rm --cgroup "$CG" >"$HB_TMP/cap.out" 2>&1
	check_eq "policy: with only its unit's capabilities: policy rm" "0 " "$? $(ls "$HB_PIN_DIR/policy" 2>/dev/null | head -n 3)"
	# and the monitor (whole-host counting is not needed to load: one child cgroup, 1 s)
	as_unit "$M" "$HBCTL" monitor --cgroup "$CG" -i 1s -d 1s --quiet -j >"$HB_TMP/cap.out" 2>&1
	rc=$?
	check_eq "monitor: with only its unit's capabilities: hbctl monitor runs" 0 "$rc"
	[ "$rc" = 0 ] || diag "$(tail -n 3 "$HB_TMP/cap.out")"
fi

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
