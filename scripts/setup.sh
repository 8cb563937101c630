#!/bin/bash
# Installs what building, the demo and the tests need on a fresh Debian 12 machine, as root.
# Idempotent. Usage: scripts/setup.sh [--tests]   (--tests adds the test-only tools)
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends)

packages=(busybox-static gcc libc6-dev make pkg-config libseccomp-dev)
if [ "${1:-}" = --tests ]; then
  packages+=(valgrind iproute2 lxc gcc-mingw-w64-x86-64 wine64)
fi
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  "${APT[@]}" install "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = --tests ]; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
  rustup target list --installed | grep -qx x86_64-pc-windows-gnu \
    || rustup target add x86_64-pc-windows-gnu >/dev/null
  # The header check needs the exact cbindgen the header was made with.
  want=$(sed -n 's/^CBINDGEN_VERSION := //p' Makefile)
  cbindgen --version 2>/dev/null | grep -qx "cbindgen $want" || make -s tools
fi
scripts/build-rootfs.sh
