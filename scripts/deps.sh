#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Installs the Debian 12 packages that hbkeep's build, tests, benchmarks and demo need,
# only those missing; runs `apt-get update` first only when it has to install something.
set -eu
PKGS="build-essential pkg-config clang llvm libclang-rt-14-dev libmnl-dev libbpf-dev bpftool
libelf-dev zlib1g-dev libcmocka-dev libmicrohttpd-dev iproute2 nftables conntrack util-linux procps python3
curl redis-server redis-tools socat strace valgrind netcat-openbsd
debhelper dpkg-dev fakeroot man-db systemd python3-yaml
mosquitto mosquitto-clients prometheus iperf3 python3-kubernetes"
missing=
for p in $PKGS; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case $s in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/deps.sh: missing Debian packages:$missing" >&2
	echo "scripts/deps.sh: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "scripts/deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
