"""The ctypes declarations match include/berth.h: sizes, offsets and constants, as a C
compiler sees them. Needs BERTH_INCLUDE_DIR (the test command sets it) and cc."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import berth
from berth import _native

INCLUDE = os.environ.get("BERTH_INCLUDE_DIR")

PROGRAM = r"""
#include <stddef.h>
#include <stdio.h>
#include "berth.h"
#define FIELD(t, f) printf(#t "." #f " %zu %zu\n", offsetof(t, f), sizeof(((t *)0)->f))
int main(void) {
    printf("berth_stdio %zu\n", sizeof(berth_stdio));
    FIELD(berth_stdio, size); FIELD(berth_stdio, stdin_handle);
    FIELD(berth_stdio, stdout_handle); FIELD(berth_stdio, stderr_handle);
    printf("berth_exit_status %zu\n", sizeof(berth_exit_status));
    FIELD(berth_exit_status, exit_code); FIELD(berth_exit_status, signal);
    FIELD(berth_exit_status, oom_killed);
    printf("berth_hooks %zu\n", sizeof(berth_hooks));
    FIELD(berth_hooks, size); FIELD(berth_hooks, user_data); FIELD(berth_hooks, on_start);
    FIELD(berth_hooks, on_oom); FIELD(berth_hooks, on_exit); FIELD(berth_hooks, on_console);
    printf("BERTH_ABI_VERSION %d\nBERTH_NULL_HANDLE %d\nBERTH_SIGNAL_MAX %d\n",
           BERTH_ABI_VERSION, BERTH_NULL_HANDLE, BERTH_SIGNAL_MAX);
    printf("BERTH_ERROR_INVALID_ARGUMENT %d\nBERTH_ERROR_NOT_FOUND %d\n"
           "BERTH_ERROR_ALREADY_EXISTS %d\nBERTH_ERROR_INVALID_STATE %d\n"
           "BERTH_ERROR_UNSUPPORTED %d\nBERTH_ERROR_PERMISSION %d\nBERTH_ERROR_SYSTEM %d\n"
           "BERTH_ERROR_INTERNAL %d\n",
           BERTH_ERROR_INVALID_ARGUMENT, BERTH_ERROR_NOT_FOUND, BERTH_ERROR_ALREADY_EXISTS,
           BERTH_ERROR_INVALID_STATE, BERTH_ERROR_UNSUPPORTED, BERTH_ERROR_PERMISSION,
           BERTH_ERROR_SYSTEM, BERTH_ERROR_INTERNAL);
    return 0;
}
"""


def _expected() -> dict[str, str]:
    lines = {}
    for struct, name in (
        (_native.Stdio, "berth_stdio"),
        (_native.ExitStatusC, "berth_exit_status"),
        (_native.Hooks, "berth_hooks"),
    ):
        lines[name] = str(ctypes.sizeof(struct))
        for field, ctype, *_ in struct._fields_:
            lines[f"{name}.{field}"] = f"{getattr(struct, field).offset} {ctypes.sizeof(ctype)}"
    lines["BERTH_ABI_VERSION"] = str(_native.ABI_VERSION)
    lines["BERTH_NULL_HANDLE"] = str(_native.NULL_HANDLE)
    lines["BERTH_SIGNAL_MAX"] = str(_native.SIGNAL_MAX)
    for cls, macro in (
        (berth.InvalidArgument, "INVALID_ARGUMENT"),
        (berth.NotFound, "NOT_FOUND"),
        (berth.AlreadyExists, "ALREADY_EXISTS"),
        (berth.InvalidState, "INVALID_STATE"),
        (berth.Unsupported, "UNSUPPORTED"),
        (berth.Permission, "PERMISSION"),
        (berth.System, "SYSTEM"),
        (berth.Internal, "INTERNAL"),
    ):
        lines[f"BERTH_ERROR_{macro}"] = str(cls.KIND)
    return lines


@pytest.mark.skipif(not INCLUDE or not shutil.which("cc"), reason="needs BERTH_INCLUDE_DIR and cc")
def test_layout_matches_the_header(tmp_path: Path) -> None:
    source = tmp_path / "layout.c"
    source.write_text(PROGRAM)
    exe = tmp_path / "layout"
    subprocess.run(
        ["cc", "-std=c11", "-Wall", "-Werror", f"-I{INCLUDE}", str(source), "-o", str(exe)],
        check=True,
    )
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    seen = dict(line.split(" ", 1) for line in out.splitlines())
    assert seen == _expected()
