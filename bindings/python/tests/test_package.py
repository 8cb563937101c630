"""The installed package is the wheel's, and carries everything it needs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import berth

HERE = Path(__file__).resolve().parent


def test_imported_from_the_installed_package() -> None:
    package = Path(berth.__file__).resolve().parent
    # Not the source tree next to the tests: the wheel, installed.
    assert HERE.parent not in package.parents, package
    assert "site-packages" in package.parts


def test_carries_libberth_and_berth_init() -> None:
    native = Path(berth.__file__).resolve().parent / "_native"
    assert Path(berth.library_path()).resolve() == native / "libberth.so.1"
    helper = native / "berth-init"
    assert helper.is_file() and os.access(helper, os.X_OK)
    # libberth.so.1 needs nothing but libc, libgcc and libseccomp (declared in the README).
    needed = subprocess.run(
        ["ldd", str(native / "libberth.so.1")], capture_output=True, text=True, check=True
    ).stdout
    assert "not found" not in needed, needed
    libs = {line.split()[0] for line in needed.splitlines() if "=>" in line}
    assert libs <= {"libseccomp.so.2", "libgcc_s.so.1", "libc.so.6"}, libs
    assert (Path(berth.__file__).parent / "py.typed").is_file()


def test_versions() -> None:
    assert berth.abi_version() == 2
    assert berth.version() == berth.__version__
