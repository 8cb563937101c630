"""Fixtures: one driver for the session, on its own state root and cgroup parent.

Environment:
    BERTH_TEST_ROOTFS   the busybox rootfs (default: build/rootfs of the checkout)
    BERTH_INCLUDE_DIR   the directory of berth.h, for the ABI layout check (skipped without)

The tests need root. They use the berth-init and libberth that the installed package
carries; BERTH_HELPER and BERTH_LIBRARY are cleared so that nothing else is picked up.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import berth

os.environ.pop("BERTH_HELPER", None)
os.environ.pop("BERTH_LIBRARY", None)

CGROUP_PARENT = "berth-pytest"
REPO = Path(__file__).resolve().parents[3]
ROOTFS = os.environ.get("BERTH_TEST_ROOTFS") or str(REPO / "build" / "rootfs")
STATE_ROOT = f"/run/berth-pytest-{os.getpid()}"


def cid(name: str) -> str:
    """A container id unique to this test process."""
    return f"pytest-{os.getpid()}-{name}"


def shell(container_id: str, script: str, **fields: Any) -> Dict[str, Any]:
    """A command that runs ``/bin/sh -c script`` in the busybox rootfs."""
    command: Dict[str, Any] = {
        "id": container_id,
        "rootfs": ROOTFS,
        "process": {"args": ["/bin/sh", "-c", script]},
    }
    command.update(fields)
    return command


def remove_cgroup_parent(parent: str = CGROUP_PARENT) -> None:
    """Removes the (empty) cgroup parent of every hierarchy."""
    for directory in [*Path("/sys/fs/cgroup").glob(f"*/{parent}"), Path("/sys/fs/cgroup") / parent]:
        try:
            directory.rmdir()
        except OSError:
            pass


def open_fds() -> List[int]:
    return sorted(int(n) for n in os.listdir("/proc/self/fd"))


class Capture:
    """A pipe whose read end a thread drains: pass ``w`` as a stream, then ``text()``."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        self._chunks: List[bytes] = []
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            chunk = os.read(self.r, 65536)
            if not chunk:
                break
            self._chunks.append(chunk)
        os.close(self.r)

    def text(self) -> str:
        """Closes the write end and returns all that was written."""
        os.close(self.w)
        self._thread.join(10)
        return b"".join(self._chunks).decode()


def within(event: threading.Event, what: str, seconds: float = 5.0) -> None:
    assert event.wait(seconds), f"{what}: not within {seconds} s"


def eventually(check: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.01)


@pytest.fixture(scope="session")
def driver() -> Iterator[berth.Driver]:
    if os.geteuid() != 0:
        pytest.fail("the driver tests need root")
    if not Path(ROOTFS).is_dir():
        pytest.fail(f"no rootfs at {ROOTFS}: run scripts/build-rootfs.sh or set BERTH_TEST_ROOTFS")
    d = berth.Driver(root=STATE_ROOT, cgroup_parent=CGROUP_PARENT)
    yield d
    left = d.list()
    d.close()
    try:
        os.rmdir(STATE_ROOT)
    except OSError:
        pass
    remove_cgroup_parent()
    # Every test cleans up after itself: anything left is a leak.
    assert left == [], f"containers left behind: {left}"


@pytest.fixture
def started(driver: berth.Driver) -> Iterator[Callable[..., str]]:
    """Creates and starts a container (``sleep 60`` by default); force-deleted afterwards."""
    made: List[str] = []

    def start(name: str, script: str = "exec sleep 60", **fields: Any) -> str:
        container_id = cid(name)
        driver.create(shell(container_id, script, **fields))
        made.append(container_id)
        driver.start(container_id)
        return container_id

    yield start
    for container_id in made:
        try:
            driver.delete(container_id, force=True)
        except berth.NotFound:
            pass


class Recorder:
    """Records on_start and on_exit calls."""

    def __init__(self) -> None:
        self.pids: List[int] = []
        self.statuses: List[berth.ExitStatus] = []
        self.threads: List[Tuple[str, str]] = []
        self.exited = threading.Event()

    def on_start(self, pid: int) -> None:
        self.pids.append(pid)
        self.threads.append(("start", threading.current_thread().name))

    def on_exit(self, status: berth.ExitStatus) -> None:
        self.statuses.append(status)
        self.threads.append(("exit", threading.current_thread().name))
        self.exited.set()

    def hooks(self) -> Dict[str, Any]:
        return {"on_start": self.on_start, "on_exit": self.on_exit}

    def exit_status(self) -> Optional[berth.ExitStatus]:
        within(self.exited, "on_exit")
        return self.statuses[0] if self.statuses else None
