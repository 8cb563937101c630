#!/bin/bash
# Builds the fakes the Windows tests of runtime-windows run against under wine, into DIR:
#   DIR/computecore.dll, DIR/vmcompute.dll   the fake HCS (fake_computecore.c, fake_vmcompute.c)
#   DIR/partial/computecore.dll              the same without HcsCancelOperation
#   DIR/novm/computecore.dll                 the same with no vmcompute.dll beside it
#   DIR/bcryptprimitives.dll                 ProcessPrng, which wine 8.0 lacks
# Usage: runtime-windows/tests/windows/build.sh DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh DIR}
mkdir -p "$out/partial" "$out/novm"
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}
flags=(-shared -s -O2 -std=c11 -Wall -Wextra -Werror -static-libgcc)
"$cc" "${flags[@]}" -o "$out/computecore.dll" "$here/fake_computecore.c"
"$cc" "${flags[@]}" -DFAKE_OMIT_CANCEL -o "$out/partial/computecore.dll" "$here/fake_computecore.c"
"$cc" "${flags[@]}" -o "$out/vmcompute.dll" "$here/fake_vmcompute.c"
cp "$out/computecore.dll" "$out/novm/"
"$cc" "${flags[@]}" -o "$out/bcryptprimitives.dll" "$here/bcryptprimitives.c" -ladvapi32
