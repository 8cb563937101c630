#!/bin/bash
# The README's first command: set up, build libberth and berth-init, and run a demo container
# through the C ABI (examples/c/run.c).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -q -p runtime-ffi -p runtime-linux --bins --lib
mkdir -p build/c
cc -Wall -Werror -std=c11 -Iinclude examples/c/run.c -o build/c/run \
  -Ltarget/release -lberth -Wl,-rpath,"$PWD/target/release"
BERTH_HELPER="$PWD/target/release/berth-init" build/c/run "$PWD/build/rootfs"
