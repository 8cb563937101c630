"""Builds the berth wheel: the Python package plus libberth.so.1 and berth-init in berth/_native.

The native files come from ``$BERTH_NATIVE_DIR`` (a directory holding ``libberth.so`` or
``libberth.so.1``, and ``berth-init``: a cargo ``target/release``), or else from a release
build of the checkout this file sits in (``cargo build --release -p runtime-ffi -p
runtime-linux``, a no-op when it is up to date). Their debug information is stripped when
``strip`` is there. The wheel is tagged ``py3-none-linux_<arch>``: it holds no Python
extension, so any CPython 3 (and PyPy) on that machine can load it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
LIB_NAMES = ("libberth.so.1", "libberth.so")
HELPER = "berth-init"


def native_dir() -> Path:
    given = os.environ.get("BERTH_NATIVE_DIR")
    if given:
        return Path(given).resolve()
    repo = HERE.parent.parent
    if not (repo / "Cargo.toml").is_file() or not (repo / "runtime-ffi").is_dir():
        raise SystemExit(
            "berth: no libberth to package: set BERTH_NATIVE_DIR to a directory holding "
            "libberth.so and berth-init, or build from a berth checkout"
        )
    cargo = os.environ.get("CARGO", "cargo")
    subprocess.run(
        [cargo, "build", "--release", "-p", "runtime-ffi", "-p", "runtime-linux"],
        cwd=repo,
        check=True,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", repo / "target"))
    if not target.is_absolute():
        target = repo / target
    return target / "release"


class BuildWithNative(build_py):
    """build_py, then libberth.so.1 and berth-init into berth/_native."""

    def run(self) -> None:
        super().run()
        source = native_dir()
        lib = next((source / n for n in LIB_NAMES if (source / n).is_file()), None)
        helper = source / HELPER
        if lib is None or not helper.is_file():
            raise SystemExit(f"berth: {source} lacks libberth.so or {HELPER}")
        dest = Path(self.build_lib) / "berth" / "_native"
        dest.mkdir(parents=True, exist_ok=True)
        for src, name in ((lib, "libberth.so.1"), (helper, HELPER)):
            out = dest / name
            shutil.copyfile(src, out)
            if shutil.which("strip"):
                subprocess.run(["strip", "--strip-debug", str(out)], check=True)
            out.chmod(0o755)


class NativeDistribution(Distribution):
    """A distribution with platform code in it, so the wheel is not tagged pure."""

    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):  # type: ignore[misc,valid-type]
    """Tagged for the platform alone: ctypes loads libberth from any Python 3."""

    def get_tag(self) -> tuple[str, str, str]:
        platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        return "py3", "none", platform


setup(
    distclass=NativeDistribution,
    cmdclass={"build_py": BuildWithNative, "bdist_wheel": PlatformWheel},
)
