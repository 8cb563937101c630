#!/bin/bash
# The engines' lanes: containerd (ctr and the runc shim), Docker and podman, each run with runc
# as the baseline and then with berth as their OCI runtime, on this host. As root, Debian 12.
#
#   scripts/engine-tests.sh [ENGINE...]   (default: containerd docker podman)
#
# Installs the engines from Debian if missing, builds berth and berth-init (debug) and the
# busybox rootfs. Each lane starts its own daemons with their own roots and sockets and stops
# them after; see scripts/engines/<engine>.sh for what each checks.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

export DEBIAN_FRONTEND=noninteractive
packages=(runc containerd docker.io podman conmon tar)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo build -q -p runtime-cli -p runtime-linux --bins
export BERTH="$REPO/${CARGO_TARGET_DIR:-target}/debug/berth"
export ROOTFS="$REPO/build/rootfs"
scripts/build-rootfs.sh "$ROOTFS" >/dev/null

engines=("$@")
[ ${#engines[@]} -gt 0 ] || engines=(containerd docker podman)
for engine in "${engines[@]}"; do
  for runtime in runc berth; do
    WORK=$(mktemp -d "/tmp/berth-lane-$engine-$runtime.XXXXXX")
    export WORK
    printf '\n== %s with %s\n' "$engine" "$runtime"
    status=0
    "scripts/engines/$engine.sh" "$runtime" || status=$?
    rm -rf "$WORK"
    [ "$status" = 0 ] || { echo "scripts/engine-tests.sh: the $engine lane failed with $runtime" >&2; exit 1; }
  done
done
