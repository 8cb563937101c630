#!/bin/bash
# The Windows lane: builds runtime-windows's tests and runtime-ffi's berth.dll for
# x86_64-pc-windows-gnu (linked with mingw-w64), the fake computecore.dll and vmcompute.dll
# of runtime-windows/tests/windows, and runs the Windows test binaries under wine.
# Needs what `scripts/setup.sh --tests` installs (gcc-mingw-w64-x86-64, wine64, the target).
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-pc-windows-gnu
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
wine=${WINE:-$(command -v wine64 || echo /usr/lib/wine/wine64)}
wineserver=${WINESERVER:-$(command -v wineserver || echo /usr/lib/wine/wineserver)}

work=$(mktemp -d /tmp/berth-wine.XXXXXX)
cleanup() {
  WINEPREFIX="$work/prefix" "$wineserver" -k >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

runtime-windows/tests/windows/build.sh "$work/fakes"

cargo build -q --target "$target" -p runtime-ffi
test -f "${CARGO_TARGET_DIR:-target}/$target/debug/berth.dll"

cargo test -q --no-run --target "$target" -p runtime-windows
# The test binaries, by the JSON of their artifacts (built just above).
mapfile -t binaries < <(
  cargo test -q --no-run --target "$target" -p runtime-windows --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p'
)
if [ ${#binaries[@]} -eq 0 ]; then
  echo "windows-tests: no test binary was built" >&2
  exit 1
fi

export RUST_BACKTRACE=0 WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" DISPLAY=
"$wine" wineboot -i >/dev/null 2>&1 || true
export BERTH_TEST_COMPUTECORE_DIR
BERTH_TEST_COMPUTECORE_DIR=$("$wine" winepath -w "$work/fakes" 2>/dev/null | tr -d '\r')

status=0
for binary in "${binaries[@]}"; do
  # Wine 8.0 has no bcryptprimitives.dll (ProcessPrng, which Rust's std imports): ours goes
  # beside each binary, where the loader looks first.
  run="$work/bin/$(basename "$binary")"
  mkdir -p "$work/bin"
  cp "$binary" "$run"
  cp "$work/fakes/bcryptprimitives.dll" "$work/bin/"
  echo "== wine $(basename "$binary")"
  "$wine" "$run" --test-threads=2 || status=1
done
exit $status
