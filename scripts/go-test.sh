#!/bin/bash
# The Go binding's checks, as root on Debian 12: installs Go (Debian's golang-go) if missing,
# builds libberth and berth-init (release) and stages libberth in build/lib, builds the
# rootfs, runs go vet and go test in bindings/go and builds examples/go. Only the standard
# library is used: GOPROXY=off proves nothing is downloaded.
#
# Usage: scripts/go-test.sh [go test flags]   (default: -count=1 -v; e.g. -race -count=3)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

if ! command -v go >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends golang-go >/dev/null
fi
# atomic.Bool and sync.RWMutex.TryLock: Go 1.19 (Debian 12's).
minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ -z "$minor" ] || [ "$minor" -lt 19 ]; then
  echo "Go 1.19 or later is required (found $(go env GOVERSION))" >&2
  exit 1
fi

step() { printf '\n== %s\n' "$*"; }

step "libberth and berth-init (release), staged in build/lib; the rootfs"
make -s stage
make -s rootfs

export GOPROXY=off GOFLAGS=-mod=readonly GOTOOLCHAIN=local CGO_ENABLED=1
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$REPO/$target ;; esac
export BERTH_HELPER="$target/release/berth-init"
export BERTH_TEST_ROOTFS="$REPO/build/rootfs"

step "go vet: bindings/go and examples/go"
(cd bindings/go && go vet ./...)
(cd examples/go && go vet ./...)

step "build examples/go (build/go/oomwatch)"
mkdir -p build/go
(cd examples/go && go build -o "$REPO/build/go/oomwatch" .)

step "go test: bindings/go ($(go env GOVERSION), libberth from build/lib)"
cd bindings/go
if [ $# -eq 0 ]; then set -- -count=1 -v; fi
exec go test "$@" ./...
