"""Errors: one exception class per kind, with the message and errno; bad input rejected
before anything is made."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import berth
from conftest import CGROUP_PARENT, cid, open_fds, shell


def test_the_hierarchy() -> None:
    kinds = [
        berth.InvalidArgument,
        berth.NotFound,
        berth.AlreadyExists,
        berth.InvalidState,
        berth.Unsupported,
        berth.Permission,
        berth.System,
        berth.Internal,
    ]
    assert [k.KIND for k in kinds] == list(range(1, 9))
    assert all(issubclass(k, berth.Error) and issubclass(k, Exception) for k in kinds)


def test_not_found(driver: berth.Driver) -> None:
    calls: Dict[str, Callable[[], Any]] = {
        "state": lambda: driver.state("no-such-container"),
        "start": lambda: driver.start("no-such-container"),
        "kill": lambda: driver.kill("no-such-container", 15),
        "delete": lambda: driver.delete("no-such-container", force=True),
        "pause": lambda: driver.pause("no-such-container"),
        "resume": lambda: driver.resume("no-such-container"),
        "stats": lambda: driver.stats("no-such-container"),
        "wait": lambda: driver.wait("no-such-container"),
        "exec": lambda: driver.exec("no-such-container", {"args": ["true"]}),
    }
    for op, call in calls.items():
        with pytest.raises(berth.NotFound) as info:
            call()
        err = info.value
        assert err.kind == 2 and err.errno == 0 and err.op == op, repr(err)
        assert "no-such-container" in err.message
        assert str(err) == f"berth {op}: {err.message}"


@pytest.mark.parametrize(
    "field, change",
    [
        ("process.cwd", lambda c: c["process"].update(cwd="tmp")),
        ("process.args", lambda c: c["process"].update(args=[])),
        ("resources.cpu_shares", lambda c: c.update(resources={"cpu_shares": 1})),
        ("namespaces.mount", lambda c: c.update(namespaces={"mount": "host"})),
        ("id", lambda c: c.update(id="-bad id")),
        ("rootfs", lambda c: c.update(rootfs="relative/rootfs")),
        ("no_such_field", lambda c: c.update(no_such_field=1)),
    ],
)
def test_invalid_commands_name_the_field(
    driver: berth.Driver, field: str, change: Callable[[Dict[str, Any]], None]
) -> None:
    command = shell(cid("invalid"), "exit 0")
    change(command)
    with pytest.raises(berth.InvalidArgument, match=field.replace(".", r"\.")):
        driver.run(command)
    with pytest.raises(berth.InvalidArgument, match=field.replace(".", r"\.")):
        driver.create(command)


def test_bad_input_checked_in_python(driver: berth.Driver) -> None:
    bad: List[Callable[[], Any]] = [
        lambda: driver.kill("bad\0id", 9),
        lambda: driver.state(7),  # type: ignore[arg-type]
        lambda: driver.run(["not", "a", "dict"]),  # type: ignore[arg-type]
        lambda: driver.run(shell(cid("nan"), "exit 0", resources={"memory_limit": float("nan")})),
        lambda: driver.run(shell(cid("obj"), "exit 0", hostname=object())),
        lambda: driver.run(shell(cid("fd"), "exit 0"), stdout=-3),
        lambda: driver.run(shell(cid("fd"), "exit 0"), stdout="out.txt"),  # type: ignore[arg-type]
        lambda: driver.run(shell(cid("fd"), "exit 0"), stdout=True),
        lambda: driver.kill(cid("x"), 2**40),
        lambda: driver.create({"rootfs": "/", "process": {"args": ["true"]}}),
    ]
    for call in bad:
        with pytest.raises(berth.InvalidArgument):
            call()


def test_bad_signals_and_streams(driver: berth.Driver, started: Callable[..., str]) -> None:
    container_id = started("errors")
    for sig in (0, 65, -1):
        with pytest.raises(berth.InvalidArgument, match="signal"):
            driver.kill(container_id, sig)
    # A descriptor that is not open is refused by libberth.
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(berth.InvalidArgument):
        driver.run(shell(cid("closed-fd"), "exit 0"), stdout=w)
    closed = open(os.devnull, "w")
    closed.close()
    with pytest.raises(berth.InvalidArgument, match="stdout"):
        driver.run(shell(cid("closed-file"), "exit 0"), stdout=closed)


def test_already_exists(driver: berth.Driver, started: Callable[..., str]) -> None:
    container_id = started("exists")
    with pytest.raises(berth.AlreadyExists):
        driver.create(shell(container_id, "exit 0"))
    with pytest.raises(berth.AlreadyExists):
        driver.run(shell(container_id, "exit 0"))
    assert driver.state(container_id)["status"] == "running"  # untouched


def test_failures_leave_nothing_behind(driver: berth.Driver) -> None:
    before = open_fds()
    threads = threading.active_count()
    for _ in range(5):
        with pytest.raises(berth.InvalidArgument):
            driver.run(shell(cid("leak"), "exit 0", rootfs="relative"))
        with pytest.raises(berth.Error):
            driver.run(shell(cid("leak"), "exit 0", rootfs="/nonexistent-rootfs"))
        with pytest.raises(berth.NotFound):
            driver.state(cid("leak"))
    assert open_fds() == before
    assert threading.active_count() == threads
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{CGROUP_PARENT}/{cid('leak')}"))


def test_driver_options() -> None:
    with pytest.raises(berth.Unsupported):
        berth.Driver(kind="windows")
    with pytest.raises(berth.InvalidArgument, match="qemu"):
        berth.Driver(kind="qemu")
    with pytest.raises(berth.InvalidArgument, match="no_such_option"):
        berth.Driver(no_such_option=True)


def test_errno(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_bytes(b"")
    with pytest.raises(berth.System) as info:
        berth.Driver(root=file / "root", cgroup_parent=CGROUP_PARENT)
    assert info.value.errno == errno.ENOTDIR


def test_a_closed_driver(tmp_path: Path) -> None:
    d = berth.Driver(root=tmp_path / "root", cgroup_parent=CGROUP_PARENT)
    d.close()
    d.close()  # a no-op
    assert d.closed
    with pytest.raises(berth.InvalidState, match="closed"):
        d.list()
    with pytest.raises(berth.InvalidState):
        d.run(shell(cid("closed"), "exit 0"))
