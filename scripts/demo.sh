#!/bin/bash
# The README's first command: set up, build libberth and berth-init, and run a demo container
# through the C ABI (examples/c/run.c, linked against libberth.so.1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
make -s demo
