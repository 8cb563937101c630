"""The driver: every container operation, from Python, through libberth's C ABI."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import json
import os
import select
import signal as _signal
import sys
import threading
import time
import weakref
from typing import Any, Dict, List, Mapping, Optional, Protocol, Tuple, Union, cast

from . import _hooks, _native
from ._hooks import HookSet, OnConsole, OnExit, OnOOM, OnStart
from .errors import (
    Error,
    Internal,
    InvalidArgument,
    InvalidState,
    NotFound,
    Unsupported,
    error_for,
)
from .types import ExitStatus, State, Stats


class HasFileno(Protocol):
    """A file object: anything with a ``fileno()``."""

    def fileno(self) -> int: ...


#: A stream of a container process: a file descriptor, a file object with a ``fileno()``,
#: or None for the null device (``/dev/null``).
Stream = Union[int, HasFileno, None]

_INT32 = (-(2**31), 2**31 - 1)


def _raise_for(op: str, err: Optional[int]) -> None:
    taken = _native.take_error(err)
    if taken is not None:
        kind, message, errno = taken
        raise error_for(kind, message, errno, op)


def _c_string(op: str, what: str, value: object) -> bytes:
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a str, not {type(value).__name__}", op=op)
    if "\0" in value:
        raise InvalidArgument(f"{what} contains a NUL character", op=op)
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidArgument(f"{what} is not valid UTF-8: {err}", op=op) from None


def _c_json(op: str, what: str, value: object) -> bytes:
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{what} must be a dict, not {type(value).__name__}", op=op)
    try:
        return json.dumps(dict(value), allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as err:
        raise InvalidArgument(f"{what} cannot be written as JSON: {err}", op=op) from None


def _c_int(op: str, what: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{what} must be an int, not {type(value).__name__}", op=op)
    if not low <= value <= high:
        raise InvalidArgument(f"{what} {value} is out of range ({low} to {high})", op=op)
    return int(value)


def _handle(op: str, name: str, stream: Stream) -> int:
    """The descriptor of one stream, or the null device for None."""
    if stream is None:
        return _native.NULL_HANDLE
    if isinstance(stream, bool):
        raise InvalidArgument(f"{name} must be a descriptor, a file object or None", op=op)
    if isinstance(stream, int):
        fd = stream
    else:
        fileno = getattr(stream, "fileno", None)
        if fileno is None:
            raise InvalidArgument(
                f"{name} must be a descriptor, a file object with fileno() or None, "
                f"not {type(stream).__name__}",
                op=op,
            )
        try:
            if name != "stdin" and hasattr(stream, "flush"):
                # What Python buffered goes out before what the container writes.
                stream.flush()
            fd = fileno()
        except (OSError, ValueError) as err:
            raise InvalidArgument(f"{name} has no file descriptor: {err}", op=op) from None
        if isinstance(fd, bool) or not isinstance(fd, int):
            raise InvalidArgument(f"{name}.fileno() gave {fd!r}, not an int", op=op)
    if fd < 0:
        raise InvalidArgument(f"{name} {fd} is not a file descriptor", op=op)
    return fd


def _c_stdio(op: str, stdin: Stream, stdout: Stream, stderr: Stream) -> Optional[_native.Stdio]:
    if stdin is None and stdout is None and stderr is None:
        return None
    return _native.new_stdio(
        _handle(op, "stdin", stdin), _handle(op, "stdout", stdout), _handle(op, "stderr", stderr)
    )


def _status(c: _native.ExitStatusC) -> ExitStatus:
    return ExitStatus(int(c.exit_code), int(c.signal), bool(c.oom_killed))


def _ref(value: Any) -> Any:
    """A pointer argument: NULL for None."""
    return None if value is None else ctypes.byref(value)


def version() -> str:
    """The version of the loaded libberth, ``MAJOR.MINOR.PATCH``."""
    raw = _lib("version").berth_version()
    return bytes(raw).decode("ascii")


def abi_version() -> int:
    """The C ABI version of the loaded libberth (this package speaks 2)."""
    return int(_lib("version").berth_abi_version())


def library_path() -> str:
    """The file libberth was loaded from (the wheel's own ``libberth.so.1`` by default)."""
    _lib("version")
    return _native.library_path()


def _lib(op: str) -> ctypes.CDLL:
    try:
        return _native.lib()
    except _native.LoadError as err:
        raise Unsupported(str(err), op=op) from None


# Every driver not yet closed, closed at exit: libberth's threads must be gone (and its
# containers killed) before the interpreter finalizes, for a thread of libberth's that
# calls a hook then could never take the GIL.
_open_drivers: "weakref.WeakSet[Driver]" = weakref.WeakSet()


@atexit.register
def _close_open_drivers() -> None:
    for driver in list(_open_drivers):
        with contextlib.suppress(Exception):
            driver.close()


class Driver:
    """A berth driver: it runs containers, and is safe to use from many threads at once
    (an operation on one container never waits for one on another).

    Use it as a context manager, or call :meth:`close`. The keywords are the options of
    ``berth_driver_new``: ``root`` (the state directory, default ``/run/berth``), ``kind``
    (``"native"``, the default, or ``"lxc"``), ``helper_path`` (the ``berth-init``
    executable; by default the one the wheel carries beside libberth, unless
    ``$BERTH_HELPER`` names another), ``cgroup_parent`` (default ``"berth"``),
    ``keep_containers`` (see :meth:`close`) and ``seccomp_cache`` (a directory where
    compiled seccomp filters are kept for the next driver). Other keywords go to libberth
    as they are, which refuses those it does not know (:class:`InvalidArgument`).

    Every blocking call releases the GIL while it waits in libberth, so a hook that libberth
    calls on its own thread meanwhile (``on_exit``) runs, and other Python threads do.
    """

    def __init__(
        self,
        root: Union[str, "os.PathLike[str]", None] = None,
        *,
        kind: Optional[str] = None,
        helper_path: Union[str, "os.PathLike[str]", None] = None,
        cgroup_parent: Optional[str] = None,
        keep_containers: bool = False,
        seccomp_cache: Union[str, "os.PathLike[str]", None] = None,
        **options: Any,
    ) -> None:
        self._handle: Optional[int] = None
        self._closing = False
        # _calls counts the calls in progress, which close waits for: _lock guards it and
        # _closing. _freed is set once the handle is freed.
        self._lock = threading.Lock()
        self._calls = 0
        self._freed = threading.Event()
        self._in_flight = _InFlight(self)
        self._keep = bool(keep_containers)
        # The hook keys of containers made by create (and their detached execs), kept until
        # the container is deleted: libberth may call those hooks until then.
        self._kept: Dict[str, List[int]] = {}
        self._kept_lock = threading.Lock()

        op = "new driver"
        given: Dict[str, Any] = {
            "kind": kind,
            "root": root,
            "helper_path": helper_path,
            "cgroup_parent": cgroup_parent,
            "seccomp_cache": seccomp_cache,
        }
        opts = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in given.items()}
        opts = {k: v for k, v in opts.items() if v is not None}
        if keep_containers:
            opts["keep_containers"] = True
        opts.update(options)
        text = _c_json(op, "options", opts)
        c = _lib(op)
        out = ctypes.c_void_p()
        _raise_for(op, c.berth_driver_new(text, ctypes.byref(out)))
        if not out.value:
            raise Internal("berth_driver_new gave no driver and no error", op=op)
        self._handle = out.value
        self._pair: Tuple[ctypes.CDLL, int] = (c, out.value)
        _open_drivers.add(self)

    # ---- lifetime ----

    def __enter__(self) -> "Driver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_handle", None) is None or sys.is_finalizing() or _hooks.in_hook():
            return
        with contextlib.suppress(Exception):
            self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closing

    def close(self) -> None:
        """Releases the driver. Later calls raise :class:`InvalidState`; a second close does
        nothing. Not from a hook (:class:`InvalidState`).

        By default it kills and deletes every container of the driver, and calls in
        progress on other threads (a ``run``, ``exec`` or ``wait`` blocked on a container)
        return once their container is killed. With ``keep_containers=True`` it kills and
        deletes nothing: the containers stay as they are for a later driver on the same
        root, and no hook of theirs runs again; close then waits for the calls in progress
        to return, so end those first.
        """
        if _hooks.in_hook():
            raise InvalidState("a driver cannot be closed from a hook", op="close")
        with self._lock:
            closing_already = self._closing
            self._closing = True
        if closing_already:
            self._freed.wait()
            return
        while True:
            with self._lock:
                if not self._calls:
                    break
            if not self._keep:
                self._kill_all()
            time.sleep(0.02)
        handle, self._handle = self._handle, None
        if handle is not None:
            _native.lib().berth_driver_free(handle)
        self._freed.set()
        with self._kept_lock:
            for keys in self._kept.values():
                for key in keys:
                    _hooks.release(key)
            self._kept.clear()
        _open_drivers.discard(self)

    def _kill_all(self) -> None:
        """SIGKILL to every process of every container, paused ones thawed (for close)."""
        handle = self._handle
        if handle is None:
            return
        c = _native.lib()
        out = ctypes.c_void_p()
        if _native.take_error(c.berth_list(handle, ctypes.byref(out))) is not None:
            return
        for state in json.loads(_native.take_string(out)):
            if state["status"] == "stopped":
                continue
            cid = state["id"].encode("utf-8")
            _native.take_error(c.berth_kill(handle, cid, int(_signal.SIGKILL), True))
            if state["status"] == "paused":
                _native.take_error(c.berth_resume(handle, cid))

    def _entered(self, op: str) -> "_InFlight":
        """Begins a call: ``with self._entered(op) as (c, handle):`` gives libberth and the
        driver handle, which close does not free until the ``with`` ends. Raises
        :class:`InvalidState` once the driver is closing."""
        with self._lock:
            if self._closing:
                raise InvalidState("the driver is closed", op=op)
            self._calls += 1
        return self._in_flight

    def _keep_hooks(self, container_id: str, key: Optional[int]) -> None:
        if key is None:
            return
        with self._kept_lock:
            self._kept.setdefault(container_id, []).append(key)

    def _release_hooks(self, container_id: str) -> None:
        with self._kept_lock:
            keys = self._kept.pop(container_id, [])
        for key in keys:
            _hooks.release(key)

    # ---- running ----

    def run(
        self,
        command: Mapping[str, Any],
        *,
        stdin: Stream = None,
        stdout: Stream = None,
        stderr: Stream = None,
        on_start: Optional[OnStart] = None,
        on_oom: Optional[OnOOM] = None,
        on_exit: Optional[OnExit] = None,
        on_console: Optional[OnConsole] = None,
    ) -> ExitStatus:
        """Creates the container ``command`` describes (a dict in the wire form of
        ``docs/command.md``), starts it, waits for it to exit, deletes it and returns how it
        ended. Blocks until then, without the GIL.

        Each stream is a descriptor, a file object with a ``fileno()`` or None for the null
        device; berth duplicates them, and the caller keeps its own. The hooks are
        ``on_start(pid)`` (the program runs; its host pid), ``on_oom()``,
        ``on_exit(status)`` and ``on_console(master_fd)`` for a process with ``tty`` (the
        hook owns the descriptor and closes it).
        """
        hooks = HookSet(on_start, on_oom, on_exit, on_console)
        return self._run("run", command, stdin, stdout, stderr, hooks)

    def _run(
        self,
        op: str,
        command: Mapping[str, Any],
        stdin: Stream,
        stdout: Stream,
        stderr: Stream,
        hooks: HookSet,
    ) -> ExitStatus:
        text = _c_json(op, "command", command)
        stdio = _c_stdio(op, stdin, stdout, stderr)
        status = _native.ExitStatusC()
        self._call_with_hooks(op, "berth_run", (text,), stdio, hooks, status)
        return _status(status)

    def _call_with_hooks(
        self,
        op: str,
        name: str,
        leading: Tuple[bytes, ...],
        stdio: Optional[_native.Stdio],
        hooks: HookSet,
        out: Any,
        keep_for: Optional[str] = None,
    ) -> None:
        """Calls ``name(driver, *leading, stdio, hooks, &out)`` with ``hooks`` registered for
        the call; with ``keep_for``, they stay registered until that container is deleted
        (libberth calls them after the call returns)."""
        key = _hooks.register(hooks)
        kept = False
        try:
            with self._entered(op) as (c, handle):
                err = getattr(c, name)(
                    handle,
                    *leading,
                    _ref(stdio),
                    _ref(_hooks.c_hooks(key, hooks)),
                    ctypes.byref(out),
                )
            _raise_for(op, err)
            if keep_for is not None:
                self._keep_hooks(keep_for, key)
                kept = True
        finally:
            if not kept:
                _hooks.release(key)

    def create(
        self,
        command: Mapping[str, Any],
        *,
        stdin: Stream = None,
        stdout: Stream = None,
        stderr: Stream = None,
        on_start: Optional[OnStart] = None,
        on_oom: Optional[OnOOM] = None,
        on_exit: Optional[OnExit] = None,
        on_console: Optional[OnConsole] = None,
    ) -> int:
        """Sets the container up and leaves it waiting just before its program runs;
        returns the host pid of its init. The keywords are :meth:`run`'s; the hooks are kept
        until the container is deleted (``on_start`` runs at :meth:`start`)."""
        op = "create"
        text = _c_json(op, "command", command)
        container_id = _c_string(op, "command.id", command.get("id"))
        stdio = _c_stdio(op, stdin, stdout, stderr)
        hooks = HookSet(on_start, on_oom, on_exit, on_console)
        pid = ctypes.c_int32()
        self._call_with_hooks(
            op, "berth_create", (text,), stdio, hooks, pid, keep_for=container_id.decode("utf-8")
        )
        return int(pid.value)

    def start(self, container_id: str) -> None:
        """Lets a created container run its program (its ``on_start`` runs before this
        returns)."""
        self._simple("start", "berth_start", container_id)

    def wait(self, container_id: str, timeout: Optional[float] = None) -> ExitStatus:
        """Waits for the container's init to exit and returns how it ended; at once for a
        container that has stopped. With ``timeout`` (seconds), raises :class:`TimeoutError`
        if it has not exited by then (the container is left as it is)."""
        if timeout is None:
            return self._wait(container_id)
        deadline = time.monotonic() + timeout
        while True:
            pidfd, retry = self._open_pidfd(container_id)
            if not retry:
                break
            if time.monotonic() >= deadline:
                raise TimeoutError(f"container {container_id} is still being created")
            time.sleep(0.005)
        if pidfd is not None:
            try:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                remaining = max(0.0, deadline - time.monotonic())
                if not poller.poll(remaining * 1000):
                    raise TimeoutError(
                        f"container {container_id} has not exited within {timeout} s"
                    )
            finally:
                os.close(pidfd)
        return self._wait(container_id)

    def _wait(self, container_id: str) -> ExitStatus:
        op = "wait"
        cid = _c_string(op, "id", container_id)
        status = _native.ExitStatusC()
        with self._entered(op) as (c, handle):
            err = c.berth_wait(handle, cid, ctypes.byref(status))
        _raise_for(op, err)
        return _status(status)

    def _open_pidfd(self, container_id: str) -> Tuple[Optional[int], bool]:
        """A pidfd of the container's init, which becomes readable when it exits: (pidfd,
        False); (None, False) when it has stopped (a wait returns at once); (None, True)
        while it is being created and has no init yet."""
        state = self.state(container_id)
        pid = state["pid"]
        if state["status"] == "stopped":
            return None, False
        if not pid:
            return None, True
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return None, False  # it has just ended: berth records it at once
        # The pid is the init's only while berth has not reaped it, and berth reaps it
        # before it reports the container stopped: the same pid, still live, after the open
        # means the pidfd is the init's.
        try:
            again = self.state(container_id)
        except BaseException:
            os.close(pidfd)
            raise
        if again["pid"] != pid or again["status"] == "stopped":
            os.close(pidfd)
            return None, False
        return pidfd, False

    def delete(self, container_id: str, force: bool = False) -> None:
        """Removes the container and everything berth made for it. A created, running or
        paused one is refused (:class:`InvalidState`) unless ``force``, which kills it."""
        try:
            self._simple("delete", "berth_delete", container_id, bool(force))
        except NotFound:
            self._release_hooks(container_id)
            raise
        self._release_hooks(container_id)

    def kill(self, container_id: str, signal: int, all: bool = False) -> None:
        """Sends ``signal`` (1 to 64) to the container's init, or to every process of the
        container when ``all``."""
        sig = _c_int("kill", "signal", signal, *_INT32)
        self._simple("kill", "berth_kill", container_id, sig, bool(all))

    def pause(self, container_id: str) -> None:
        """Freezes every process of a running container."""
        self._simple("pause", "berth_pause", container_id)

    def resume(self, container_id: str) -> None:
        """Thaws a paused container."""
        self._simple("resume", "berth_resume", container_id)

    def resize(self, container_id: str, rows: int, cols: int) -> None:
        """Sets the terminal size of a container whose process has a ``tty``."""
        r = _c_int("resize", "rows", rows, 0, 0xFFFF)
        c = _c_int("resize", "cols", cols, 0, 0xFFFF)
        self._simple("resize", "berth_resize", container_id, r, c)

    def update(self, container_id: str, resources: Mapping[str, Any]) -> None:
        """Changes the resources of a created, running or paused container: the fields of
        ``resources`` (a command's ``resources`` form) are set, the others keep their
        values."""
        text = _c_json("update", "resources", resources)
        self._simple("update", "berth_update", container_id, text)

    def _simple(self, op: str, name: str, container_id: str, *args: Any) -> None:
        cid = _c_string(op, "id", container_id)
        with self._entered(op) as (c, handle):
            err = getattr(c, name)(handle, cid, *args)
        _raise_for(op, err)

    # ---- exec ----

    def exec(
        self,
        container_id: str,
        process: Mapping[str, Any],
        *,
        stdin: Stream = None,
        stdout: Stream = None,
        stderr: Stream = None,
        on_start: Optional[OnStart] = None,
        on_exit: Optional[OnExit] = None,
        on_console: Optional[OnConsole] = None,
    ) -> ExitStatus:
        """Runs another process (a dict in the form of a command's ``process``) in the
        running container, and returns how it ended. Blocks until it exits; its hooks run on
        this thread."""
        op = "exec"
        cid = _c_string(op, "id", container_id)
        text = _c_json(op, "process", process)
        stdio = _c_stdio(op, stdin, stdout, stderr)
        status = _native.ExitStatusC()
        hooks = HookSet(on_start, None, on_exit, on_console)
        self._call_with_hooks(op, "berth_exec", (cid, text), stdio, hooks, status)
        return _status(status)

    def exec_detached(
        self,
        container_id: str,
        process: Mapping[str, Any],
        *,
        stdin: Stream = None,
        stdout: Stream = None,
        stderr: Stream = None,
        on_start: Optional[OnStart] = None,
        on_exit: Optional[OnExit] = None,
        on_console: Optional[OnConsole] = None,
    ) -> int:
        """Starts another process in the running container and returns its host pid at
        once; :meth:`wait_exec` gives how it ended, and ``on_exit`` runs on a thread of
        berth's."""
        op = "exec"
        cid = _c_string(op, "id", container_id)
        text = _c_json(op, "process", process)
        stdio = _c_stdio(op, stdin, stdout, stderr)
        pid = ctypes.c_int32()
        hooks = HookSet(on_start, None, on_exit, on_console)
        self._call_with_hooks(
            op, "berth_exec_detached", (cid, text), stdio, hooks, pid, keep_for=container_id
        )
        return int(pid.value)

    def wait_exec(self, container_id: str, pid: int) -> ExitStatus:
        """Waits for the detached exec ``pid`` of the container to exit and returns how it
        ended."""
        op = "wait exec"
        cid = _c_string(op, "id", container_id)
        p = _c_int(op, "pid", pid, *_INT32)
        status = _native.ExitStatusC()
        with self._entered(op) as (c, handle):
            err = c.berth_wait_exec(handle, cid, p, ctypes.byref(status))
        _raise_for(op, err)
        return _status(status)

    # ---- reading ----

    def state(self, container_id: str) -> State:
        """The container's state: ``id``, ``pid``, ``status``, ``created``, ``cgroup_path``,
        ``rootfs`` and ``exit_status``."""
        return cast(State, self._json("state", "berth_state", container_id))

    def stats(self, container_id: str) -> Stats:
        """The container's resource usage: ``memory``, ``cpu``, ``pids`` and ``io``."""
        return cast(Stats, self._json("stats", "berth_stats", container_id))

    def list(self) -> List[State]:
        """The states of every container of the driver."""
        op = "list"
        out = ctypes.c_void_p()
        with self._entered(op) as (c, handle):
            err = c.berth_list(handle, ctypes.byref(out))
        _raise_for(op, err)
        return cast(List[State], json.loads(_native.take_string(out)))

    def _json(self, op: str, name: str, container_id: str) -> Any:
        cid = _c_string(op, "id", container_id)
        out = ctypes.c_void_p()
        with self._entered(op) as (c, handle):
            err = getattr(c, name)(handle, cid, ctypes.byref(out))
        _raise_for(op, err)
        return json.loads(_native.take_string(out))

    # ---- asyncio ----

    async def run_async(
        self,
        command: Mapping[str, Any],
        *,
        stdin: Stream = None,
        stdout: Stream = None,
        stderr: Stream = None,
        on_start: Optional[OnStart] = None,
        on_oom: Optional[OnOOM] = None,
        on_exit: Optional[OnExit] = None,
        on_console: Optional[OnConsole] = None,
    ) -> ExitStatus:
        """:meth:`run`, without blocking the event loop: the run goes on a thread of its own.

        Cancelling it kills every process of the container (at once if the program runs,
        else as soon as it starts), waits for the run to delete the container, and then
        raises :class:`asyncio.CancelledError`. The hooks run on berth's threads, not the
        loop's: use ``loop.call_soon_threadsafe`` from them to reach the loop.
        """
        op = "run"
        loop = asyncio.get_running_loop()
        if not isinstance(command, Mapping):
            raise InvalidArgument(f"command must be a dict, not {type(command).__name__}", op=op)
        container_id = _c_string(op, "command.id", command.get("id")).decode("utf-8")
        done: "asyncio.Future[ExitStatus]" = loop.create_future()
        cancelled = threading.Event()
        started = threading.Event()

        def on_started(_pid: int) -> None:
            started.set()
            if cancelled.is_set():
                self._kill_quietly(container_id)

        hooks = HookSet(on_start, on_oom, on_exit, on_console, started=on_started)

        def work() -> None:
            try:
                result = self._run(op, command, stdin, stdout, stderr, hooks)
            except BaseException as err:  # noqa: BLE001 - handed to the awaiting task
                _deliver(loop, done, None, err)
            else:
                _deliver(loop, done, result, None)

        threading.Thread(target=work, name=f"berth-run-{container_id}", daemon=True).start()
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            # Set before reading started, as on_started sets started before reading
            # cancelled: one of the two sees the other, and the container is killed.
            cancelled.set()
            if started.is_set():
                self._kill_quietly(container_id)
            while not done.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([done])
            if not done.cancelled():
                done.exception()  # retrieved: the cancellation is what the caller gets
            raise

    async def wait_async(self, container_id: str) -> ExitStatus:
        """:meth:`wait`, without blocking the event loop: the loop watches a pidfd of the
        container's init. Cancelling it stops the waiting and leaves the container as it
        is."""
        loop = asyncio.get_running_loop()
        while True:
            pidfd, retry = self._open_pidfd(container_id)
            if not retry:
                break
            await asyncio.sleep(0.005)
        if pidfd is not None:
            exited: "asyncio.Future[None]" = loop.create_future()

            def readable() -> None:
                if not exited.done():
                    exited.set_result(None)

            loop.add_reader(pidfd, readable)
            try:
                await exited
            finally:
                loop.remove_reader(pidfd)
                os.close(pidfd)
        # The init has exited: berth's supervisor reaps it and records the status at once,
        # so this wait is short; it still runs off the loop.
        return await loop.run_in_executor(None, self._wait, container_id)

    def _kill_quietly(self, container_id: str) -> None:
        with contextlib.suppress(Error):
            self.kill(container_id, int(_signal.SIGKILL), all=True)


class _InFlight:
    """The ``with`` of a call that :meth:`Driver._entered` counted: it ends the count. One
    per driver, shared by every call (it keeps no state of the call); a plain class, not a
    ``contextlib`` generator, because it is on the path of every call."""

    __slots__ = ("_driver",)

    def __init__(self, driver: Driver) -> None:
        self._driver = driver

    def __enter__(self) -> Tuple[ctypes.CDLL, int]:
        return self._driver._pair

    def __exit__(self, *exc: object) -> None:
        driver = self._driver
        with driver._lock:
            driver._calls -= 1


def _deliver(
    loop: asyncio.AbstractEventLoop,
    future: "asyncio.Future[ExitStatus]",
    result: Optional[ExitStatus],
    error: Optional[BaseException],
) -> None:
    def settle() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(cast(ExitStatus, result))

    with contextlib.suppress(RuntimeError):  # the loop is closed: no one awaits it
        loop.call_soon_threadsafe(settle)
