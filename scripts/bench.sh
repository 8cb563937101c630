#!/bin/bash
# The benchmark: berth against runc and crun on the same containers, and berth's LXC driver
# against bare LXC. As root, on Debian 12.
#
#   scripts/bench.sh            the full run (about 10 minutes on a quiet 2-core machine):
#                               bench/results/REPORT.md, results.json, run-latency.png, scale.png
#   scripts/bench.sh --smoke    CI's short version (a few minutes): bench/results/smoke/
#   scripts/bench.sh --only lxc --out DIR
#                               the LXC driver's run and exec against lxc-execute and lxc-attach
#                               alone (seconds); without --out it would replace bench/results/
#
# Installs what it needs (runc, crun, perf and LXC when they can be, a font for the charts),
# builds the busybox rootfs, berth-init and the harness (bench/), and runs it. Other arguments
# go to the harness (`berth-bench --help`: --only, --out, --idle-sizes). Whatever a run leaves behind
# (containers, cgroups, state) is removed on exit, even after a failure or ^C.
#
# The report's text is bench/report.md.tmpl; `berth-bench report [DIR]` renders REPORT.md and
# the charts again from DIR/results.json (default bench/results) without measuring.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/bench.sh: run as root (containers need it)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends)
# util-linux: unshare and nsenter (the wrapper and the floors); fonts-dejavu-core: the charts'
# text, drawn without system libraries.
required=(runc crun util-linux fonts-dejavu-core busybox-static)
missing=()
for p in "${required[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# Optional: perf for the profile; LXC for the LXC driver's rows (they say "not measured"
# without it).
optional=()
for p in linux-perf lxc; do dpkg -s "$p" >/dev/null 2>&1 || optional+=("$p"); done
if [ ${#missing[@]} -gt 0 ] || [ ${#optional[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    "${APT[@]}" install "${missing[@]}" >/dev/null
  fi
  # The profile section uses perf when it can, the LXC rows LXC; the report says so when
  # either is missing.
  for p in "${optional[@]}"; do
    "${APT[@]}" install "$p" >/dev/null 2>&1 \
      || echo "scripts/bench.sh: $p could not be installed (the report says what is missing)" >&2
  done
fi

scripts/build-rootfs.sh build/rootfs
# berth-init (the helper), berth (the CLI, measured as a runtime beside runc and crun) and
# berth-bench.
cargo build --release -q -p runtime-linux -p runtime-cli -p berth-bench --bins
bin="${CARGO_TARGET_DIR:-target}/release/berth-bench"

cleanup() { "$bin" cleanup || echo "scripts/bench.sh: clean-up left something (see above)" >&2; }
trap cleanup EXIT
trap 'exit 130' INT TERM
"$bin" --rootfs build/rootfs "$@"
