"""The C ABI of libberth, declared for ctypes: the one module that touches raw pointers.

ctypes is ABI mode: nothing is compiled against ``berth.h``, so the declarations below must
match it field for field. The test suite checks them against the header with a C compiler
(``tests/test_abi.py``). Every function here is called through a ``ctypes.CDLL``, which
releases the GIL for the duration of the call: a thread blocked in ``berth_run`` or
``berth_wait`` lets every other Python thread (and berth's own threads, calling hooks) run.

The library is found, in order: ``$BERTH_LIBRARY`` (a path), the ``libberth.so.1`` that the
wheel carries beside this file (in ``_native/``), then the system's ``libberth.so.1`` through
the dynamic loader's search path (``make install``). The wheel also carries ``berth-init``
beside the library, where libberth looks for its helper when no ``helper_path`` is given.
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int32,
    c_int64,
    c_size_t,
    c_ssize_t,
    c_uint16,
    c_uint32,
    c_void_p,
)
from pathlib import Path
from typing import Any, Callable, Optional

#: The ABI this module declares (``BERTH_ABI_VERSION`` of the header it follows).
ABI_VERSION = 2
#: The soname of ABI 2.
SONAME = "libberth.so.1"
#: ``BERTH_NULL_HANDLE``: the null device.
NULL_HANDLE = -1
#: ``BERTH_SIGNAL_MAX``.
SIGNAL_MAX = 64

#: Where the wheel puts libberth and berth-init.
BUNDLED_DIR = Path(__file__).resolve().parent / "_native"

# berth_handle is intptr_t; on Linux (LP64) that is ssize_t.
berth_handle = c_ssize_t


class Stdio(Structure):
    """``berth_stdio``."""

    _fields_ = [
        ("size", c_size_t),
        ("stdin_handle", berth_handle),
        ("stdout_handle", berth_handle),
        ("stderr_handle", berth_handle),
    ]


class ExitStatusC(Structure):
    """``berth_exit_status``."""

    _fields_ = [
        ("exit_code", c_int64),
        ("signal", c_int32),
        ("oom_killed", c_bool),
    ]


ON_START = CFUNCTYPE(None, c_void_p, c_char_p, c_int32)
ON_OOM = CFUNCTYPE(None, c_void_p, c_char_p)
ON_EXIT = CFUNCTYPE(None, c_void_p, c_char_p, POINTER(ExitStatusC))
ON_CONSOLE = CFUNCTYPE(None, c_void_p, c_char_p, berth_handle)


class Hooks(Structure):
    """``berth_hooks``."""

    _fields_ = [
        ("size", c_size_t),
        ("user_data", c_void_p),
        ("on_start", ON_START),
        ("on_oom", ON_OOM),
        ("on_exit", ON_EXIT),
        ("on_console", ON_CONSOLE),
    ]


# Opaque handles (berth_driver*, berth_error*) and returned strings are plain addresses:
# c_void_p gives an int, or None for NULL. A returned char* is read as c_void_p, not
# c_char_p, so that its address survives to be passed to berth_string_free.
_ERR = c_void_p
_DRIVER = c_void_p

_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "berth_version": (c_char_p, []),
    "berth_abi_version": (c_uint32, []),
    "berth_error_kind_of": (ctypes.c_int, [_ERR]),
    "berth_error_message": (c_char_p, [_ERR]),
    "berth_error_errno": (c_int32, [_ERR]),
    "berth_error_free": (None, [_ERR]),
    "berth_driver_new": (_ERR, [c_char_p, POINTER(_DRIVER)]),
    "berth_driver_free": (None, [_DRIVER]),
    "berth_run": (
        _ERR,
        [_DRIVER, c_char_p, POINTER(Stdio), POINTER(Hooks), POINTER(ExitStatusC)],
    ),
    "berth_exec": (
        _ERR,
        [_DRIVER, c_char_p, c_char_p, POINTER(Stdio), POINTER(Hooks), POINTER(ExitStatusC)],
    ),
    "berth_exec_detached": (
        _ERR,
        [_DRIVER, c_char_p, c_char_p, POINTER(Stdio), POINTER(Hooks), POINTER(c_int32)],
    ),
    "berth_wait_exec": (_ERR, [_DRIVER, c_char_p, c_int32, POINTER(ExitStatusC)]),
    "berth_kill": (_ERR, [_DRIVER, c_char_p, c_int32, c_bool]),
    "berth_create": (
        _ERR,
        [_DRIVER, c_char_p, POINTER(Stdio), POINTER(Hooks), POINTER(c_int32)],
    ),
    "berth_start": (_ERR, [_DRIVER, c_char_p]),
    "berth_wait": (_ERR, [_DRIVER, c_char_p, POINTER(ExitStatusC)]),
    "berth_delete": (_ERR, [_DRIVER, c_char_p, c_bool]),
    "berth_pause": (_ERR, [_DRIVER, c_char_p]),
    "berth_resume": (_ERR, [_DRIVER, c_char_p]),
    "berth_resize": (_ERR, [_DRIVER, c_char_p, c_uint16, c_uint16]),
    "berth_update": (_ERR, [_DRIVER, c_char_p, c_char_p]),
    "berth_state": (_ERR, [_DRIVER, c_char_p, POINTER(c_void_p)]),
    "berth_list": (_ERR, [_DRIVER, POINTER(c_void_p)]),
    "berth_stats": (_ERR, [_DRIVER, c_char_p, POINTER(c_void_p)]),
    "berth_string_free": (None, [c_void_p]),
}


class LoadError(Exception):
    """libberth could not be loaded, or is not ABI 2 (the package turns it into Unsupported)."""


def _candidates() -> list[str]:
    explicit = os.environ.get("BERTH_LIBRARY")
    if explicit:
        return [explicit]
    bundled = BUNDLED_DIR / SONAME
    return [str(bundled)] if bundled.exists() else [SONAME]


def _load() -> ctypes.CDLL:
    errors = []
    for name in _candidates():
        try:
            lib = ctypes.CDLL(name)
        except OSError as err:
            errors.append(f"{name}: {err}")
            continue
        for fn_name, (restype, argtypes) in _PROTOTYPES.items():
            fn = getattr(lib, fn_name)
            fn.restype = restype
            fn.argtypes = argtypes
        abi = lib.berth_abi_version()
        if abi != ABI_VERSION:
            raise LoadError(f"{name} has ABI version {abi}; this package speaks ABI {ABI_VERSION}")
        return lib
    raise LoadError(
        "cannot load libberth (" + "; ".join(errors) + "); install the berth wheel, "
        "`make install` libberth, or set BERTH_LIBRARY to its path"
    )


_lib: Optional[ctypes.CDLL] = None
_lib_lock = threading.Lock()


def lib() -> ctypes.CDLL:
    """The loaded libberth, loaded on first use."""
    global _lib
    loaded = _lib
    if loaded is not None:
        return loaded
    with _lib_lock:
        if _lib is None:
            _lib = _load()
        return _lib


def library_path() -> str:
    """The file libberth was loaded from."""
    loaded = lib()
    return str(loaded._name)


def take_error(err: Optional[int]) -> Optional[tuple[int, str, int]]:
    """The kind, message and errno of a returned berth_error, which this frees; None for NULL."""
    if not err:
        return None
    c = lib()
    try:
        kind = int(c.berth_error_kind_of(err))
        raw = c.berth_error_message(err) or b""
        errno = int(c.berth_error_errno(err))
    finally:
        c.berth_error_free(err)
    return kind, raw.decode("utf-8", "replace"), errno


def take_string(ptr: c_void_p) -> str:
    """The text of a string berth returned through ``char **json_out``, which this frees."""
    address = ptr.value
    if not address:
        return ""
    try:
        return ctypes.string_at(address).decode("utf-8")
    finally:
        lib().berth_string_free(address)


def new_stdio(stdin: int, stdout: int, stderr: int) -> Stdio:
    """A berth_stdio of three handles (``NULL_HANDLE`` for the null device)."""
    return Stdio(ctypes.sizeof(Stdio), stdin, stdout, stderr)


def new_hooks(
    key: int,
    on_start: Optional[Callable[..., None]],
    on_oom: Optional[Callable[..., None]],
    on_exit: Optional[Callable[..., None]],
    on_console: Optional[Callable[..., None]],
) -> Hooks:
    """A berth_hooks whose ``user_data`` is ``key`` and whose callbacks are the given
    trampolines (CFUNCTYPE objects that outlive every call), or NULL."""
    hooks = Hooks()
    hooks.size = ctypes.sizeof(Hooks)
    hooks.user_data = key
    if on_start is not None:
        hooks.on_start = on_start
    if on_oom is not None:
        hooks.on_oom = on_oom
    if on_exit is not None:
        hooks.on_exit = on_exit
    if on_console is not None:
        hooks.on_console = on_console
    return hooks
