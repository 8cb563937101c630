#!/bin/bash
# The README's second command: every check and every test, as CI runs them. As root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check
step "clippy"
cargo clippy -q --workspace --all-targets -- -D warnings
step "docs"
# The CLI binary and libberth are both `berth`: document the binary first, on
# its own, so that the two never write target/doc/berth at the same time.
RUSTDOCFLAGS="-D warnings" cargo rustdoc -q -p runtime-cli --bin berth
RUSTDOCFLAGS="-D warnings" cargo doc -q --workspace --no-deps
step "runtime-core, runtime-windows, runtime-ffi (libberth) and the conformance suite build for Windows"
cargo check -q --target x86_64-pc-windows-gnu -p runtime-core -p runtime-windows -p runtime-ffi -p berth-conformance
step "Windows build under wine: ComputeCore against the fake computecore.dll, and berth.dll"
scripts/windows-tests.sh
step "include/berth.h is what cbindgen generates"
make -s check-header
step "unit and integration tests (native driver on this host's cgroups)"
cargo test --workspace 2>&1
step "C ABI tests: dynamic and static linkage, then under AddressSanitizer and valgrind"
make -s c-test
make -s c-test-asan
make -s c-test-valgrind
step "Go binding"
scripts/go-test.sh
step "Python package: the wheel, installed into a fresh virtual environment, then mypy and pytest"
scripts/python-test.sh
step "the engines: containerd (ctr and its runc shim), Docker and podman, each with runc and with berth"
scripts/engine-tests.sh
step "benchmark harness, short run (the full one is scripts/bench.sh)"
scripts/bench.sh --smoke
step "cgroup v2 lane: the cgroup, OOM, freezer, device and escape tests in a pure cgroup v2 guest"
scripts/vm-tests.sh
