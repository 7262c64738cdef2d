#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Regenerates the pinned bpf/vmlinux/<arch>/vmlinux.h from the running kernel's BTF.
# Committed on purpose (as bcc does) for reproducible builds; CO-RE relocates at load time.
set -eu
arch=${1:-$(uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')}
out=$(dirname "$0")/../bpf/vmlinux/$arch/vmlinux.h
mkdir -p "$(dirname "$out")"
${BPFTOOL:-bpftool} btf dump file /sys/kernel/btf/vmlinux format c >"$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
