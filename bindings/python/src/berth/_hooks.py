"""Hooks: Python callables that libberth calls on a container's events.

libberth calls a hook on whichever thread it likes: the caller's, or a thread of its own
(the supervisor, for ``on_oom`` and ``on_exit``). Four trampolines, made once and alive for
the life of the process, are the only C function pointers this package hands out; ctypes
takes the GIL when one is entered and lets it go when it returns. ``user_data`` is not a
pointer but a key into :data:`_registry`, so a hook that libberth calls after Python has
let go of it finds nothing and returns: no freed closure is ever called.

An exception in a hook is logged on the ``berth`` logger and goes no further: neither the
host nor the container ever sees it.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import _native
from .types import ExitStatus

log = logging.getLogger("berth")

OnStart = Callable[[int], Any]
OnOOM = Callable[[], Any]
OnExit = Callable[[ExitStatus], Any]
OnConsole = Callable[[int], Any]


@dataclass
class HookSet:
    """The hooks of one call (or one container made by ``create``), and this package's own
    interest in the start (``started``, for cancellation)."""

    on_start: Optional[OnStart] = None
    on_oom: Optional[OnOOM] = None
    on_exit: Optional[OnExit] = None
    on_console: Optional[OnConsole] = None
    started: Optional[Callable[[int], None]] = None

    def empty(self) -> bool:
        return (
            self.on_start is None
            and self.started is None
            and self.on_oom is None
            and self.on_exit is None
            and self.on_console is None
        )


_registry: dict[int, HookSet] = {}
_registry_lock = threading.Lock()
_keys = itertools.count(1)
_in_hook = threading.local()


def in_hook() -> bool:
    """Whether this thread is running a hook now."""
    return bool(getattr(_in_hook, "depth", 0))


def register(hooks: HookSet) -> Optional[int]:
    """Keeps ``hooks`` for libberth and returns their key; None when there is nothing to
    call (libberth then gets NULL)."""
    if hooks.empty():
        return None
    with _registry_lock:
        key = next(_keys)
        _registry[key] = hooks
    return key


def release(key: Optional[int]) -> None:
    """Forgets the hooks of ``key``: libberth calls them no more (or finds nothing)."""
    if key is None:
        return
    with _registry_lock:
        _registry.pop(key, None)


def _lookup(user_data: Optional[int]) -> Optional[HookSet]:
    if not user_data:
        return None
    with _registry_lock:
        return _registry.get(user_data)


def _call(name: str, container_id: Optional[bytes], fn: Callable[..., Any], *args: Any) -> None:
    _in_hook.depth = getattr(_in_hook, "depth", 0) + 1
    try:
        fn(*args)
    except BaseException:  # noqa: BLE001 - nothing may unwind into libberth
        cid = container_id.decode("utf-8", "replace") if container_id else "?"
        log.exception("the %s hook of container %s raised", name, cid)
    finally:
        _in_hook.depth -= 1


def _on_start(user_data: Optional[int], container_id: Optional[bytes], pid: int) -> None:
    hooks = _lookup(user_data)
    if hooks is None:
        return
    if hooks.started is not None:
        _call("on_start", container_id, hooks.started, pid)
    if hooks.on_start is not None:
        _call("on_start", container_id, hooks.on_start, pid)


def _on_oom(user_data: Optional[int], container_id: Optional[bytes]) -> None:
    hooks = _lookup(user_data)
    if hooks is not None and hooks.on_oom is not None:
        _call("on_oom", container_id, hooks.on_oom)


def _on_exit(user_data: Optional[int], container_id: Optional[bytes], status: Any) -> None:
    hooks = _lookup(user_data)
    if hooks is None or hooks.on_exit is None or not status:
        return
    s = status.contents
    _call(
        "on_exit",
        container_id,
        hooks.on_exit,
        ExitStatus(int(s.exit_code), int(s.signal), bool(s.oom_killed)),
    )


def _on_console(user_data: Optional[int], container_id: Optional[bytes], master: int) -> None:
    # The master is ours from here on: hand it to the hook, or close it. A hook that raises
    # still owns it (it may have wrapped it in a file object already).
    hooks = _lookup(user_data)
    if hooks is None or hooks.on_console is None:
        try:
            os.close(master)
        except OSError:
            pass
        return
    _call("on_console", container_id, hooks.on_console, int(master))


# The trampolines: created once, never freed.
ON_START = _native.ON_START(_on_start)
ON_OOM = _native.ON_OOM(_on_oom)
ON_EXIT = _native.ON_EXIT(_on_exit)
ON_CONSOLE = _native.ON_CONSOLE(_on_console)


def c_hooks(key: Optional[int], hooks: HookSet) -> Optional[_native.Hooks]:
    """The berth_hooks for ``hooks`` registered as ``key``, with only the wanted callbacks
    set; None for no key."""
    if key is None:
        return None
    return _native.new_hooks(
        key,
        ON_START if hooks.on_start is not None or hooks.started is not None else None,
        ON_OOM if hooks.on_oom is not None else None,
        ON_EXIT if hooks.on_exit is not None else None,
        ON_CONSOLE if hooks.on_console is not None else None,
    )
