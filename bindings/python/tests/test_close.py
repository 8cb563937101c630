"""close: what happens to containers and to calls in progress."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import List

import pytest

import berth
from conftest import CGROUP_PARENT, cid, shell


def test_close_kills_and_ends_calls_in_progress(tmp_path: Path) -> None:
    d = berth.Driver(root=tmp_path / "root", cgroup_parent=CGROUP_PARENT)
    started = threading.Event()
    results: List[object] = []

    def run() -> None:
        try:
            results.append(
                d.run(shell(cid("close"), "exec sleep 600"), on_start=lambda _: started.set())
            )
        except berth.Error as err:
            results.append(err)

    runner = threading.Thread(target=run)
    runner.start()
    assert started.wait(10)
    d.close()
    runner.join(10)
    assert not runner.is_alive()
    assert len(results) == 1
    assert isinstance(results[0], berth.ExitStatus) and results[0].signal == 9


def test_close_from_a_hook_is_refused(tmp_path: Path) -> None:
    errors: List[BaseException] = []

    def on_start(_: int) -> None:
        try:
            d.close()
        except berth.InvalidState as err:
            errors.append(err)

    with berth.Driver(root=tmp_path / "root", cgroup_parent=CGROUP_PARENT) as d:
        assert d.run(shell(cid("close-hook"), "exit 0"), on_start=on_start).code == 0
        assert not d.closed
    assert len(errors) == 1 and "hook" in str(errors[0])


def test_keep_containers(tmp_path: Path) -> None:
    root = tmp_path / "root"
    container_id = cid("kept")
    with berth.Driver(root=root, cgroup_parent=CGROUP_PARENT, keep_containers=True) as first:
        first.create(shell(container_id, "exec sleep 60"))
        first.start(container_id)
        pid = first.state(container_id)["pid"]
    os.kill(pid, 0)  # still running
    with berth.Driver(root=root, cgroup_parent=CGROUP_PARENT) as second:
        state = second.state(container_id)
        assert state["status"] == "running" and state["pid"] == pid
        second.delete(container_id, force=True)
        with pytest.raises(berth.NotFound):
            second.state(container_id)
