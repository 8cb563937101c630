#!/bin/bash
# The Python package's checks, as root on Debian 12: builds libberth and berth-init
# (release), builds the wheel of bindings/python (which carries both), installs it into a
# fresh virtual environment with pytest, mypy and black (from PyPI, pinned in
# bindings/python/requirements-test.txt), then runs black --check, mypy --strict,
# examples/python, a short run of the overhead benchmark and the pytest suite against the
# installed wheel.
#
# Usage: scripts/python-test.sh [pytest flags]   (default: -q)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

step() { printf '\n== %s\n' "$*"; }

if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends python3-venv >/dev/null
fi

step "libberth and berth-init (release), staged in build/lib; the rootfs"
make -s stage
make -s rootfs
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$REPO/$target ;; esac

OUT=$REPO/build/python
rm -rf "$OUT/dist" "$OUT/venv" "$OUT/venv-build" bindings/python/build bindings/python/src/berth.egg-info
mkdir -p "$OUT"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

step "the wheel ($(python3 --version)), from target/release"
python3 -m venv "$OUT/venv-build"
BERTH_NATIVE_DIR="$target/release" "$OUT/venv-build/bin/pip" wheel -q --no-deps -w "$OUT/dist" ./bindings/python
wheel=$(ls "$OUT"/dist/berth-*.whl)
echo "$(basename "$wheel"): $(du -h "$wheel" | cut -f1)"
rm -rf "$OUT/venv-build" bindings/python/build bindings/python/src/berth.egg-info

step "a fresh virtual environment: the wheel, pytest, mypy, black"
python3 -m venv "$OUT/venv"
PY=$OUT/venv/bin/python
"$PY" -m pip install -q "$wheel"
"$PY" -m pip install -q -r bindings/python/requirements-test.txt

step "black --check: the package, its tests, the example and the benchmark"
"$PY" -m black --check -q --config bindings/python/pyproject.toml bindings/python examples/python bench/python

step "mypy --strict: the package (as Python 3.9), its tests, the example and the benchmark"
MYPY_CACHE_DIR="$OUT/mypy-cache" "$PY" -m mypy --strict --python-version 3.9 bindings/python/src/berth
MYPY_CACHE_DIR="$OUT/mypy-cache" "$PY" -m mypy --strict bindings/python/tests examples/python bench/python

unset BERTH_HELPER BERTH_LIBRARY
export BERTH_TEST_ROOTFS=$REPO/build/rootfs BERTH_INCLUDE_DIR=$REPO/include

step "examples/python"
"$PY" examples/python/run.py "$BERTH_TEST_ROOTFS"

step "the overhead of the Python binding against the C ABI (short run)"
cc -std=c11 -Wall -Werror -O2 -Iinclude bench/python/run_loop.c -Lbuild/lib -lberth \
  -Wl,-rpath,"$REPO/build/lib" -o "$OUT/run_loop"
"$PY" bench/python/overhead.py --smoke --run-loop "$OUT/run_loop"

step "pytest: bindings/python/tests against the installed wheel"
cd bindings/python
if [ $# -eq 0 ]; then set -- -q; fi
exec "$PY" -m pytest -p no:cacheprovider "$@" tests
