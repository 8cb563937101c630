#!/bin/bash
# The Windows lane: builds runtime-windows's tests and runtime-ffi's berth.dll for
# x86_64-pc-windows-gnu (linked with mingw-w64), the fake computecore.dll and vmcompute.dll
# of runtime-windows/tests/windows, and runs the Windows test binaries under wine; then
# tests/c/test_windows.c, the C ABI of berth.dll built with mingw, under wine through the
# production loader: first with no computecore.dll in the prefix's System32, then with the
# fakes copied there.
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
ffi_out="${CARGO_TARGET_DIR:-target}/$target/debug"
test -f "$ffi_out/berth.dll"
# The C test of the ABI, linked with the import library cargo writes beside berth.dll.
mkdir -p "$work/ctest"
"${MINGW_CC:-x86_64-w64-mingw32-gcc}" -std=c11 -O1 -Wall -Wextra -Werror -static-libgcc \
  -Iinclude -o "$work/ctest/test_windows.exe" tests/c/test_windows.c "$ffi_out/libberth.dll.a"
cp "$ffi_out/berth.dll" "$work/fakes/bcryptprimitives.dll" "$work/ctest/"

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

# The C ABI through ComputeCore::load(), which looks in System32 only: the fakes are not
# there yet, so the driver must be UNSUPPORTED naming computecore.dll; then they are.
system32="$WINEPREFIX/drive_c/windows/system32"
test -d "$system32"
if [ -e "$system32/computecore.dll" ]; then
  echo "windows-tests: $system32 has a computecore.dll already" >&2
  exit 1
fi
echo "== wine test_windows.exe missing (no computecore.dll in System32)"
timeout 180 "$wine" "$work/ctest/test_windows.exe" missing || status=1
cp "$work/fakes/computecore.dll" "$work/fakes/vmcompute.dll" "$system32/"
echo "== wine test_windows.exe (the fake computecore.dll in System32)"
timeout 180 "$wine" "$work/ctest/test_windows.exe" || status=1
exit $status
