"""Hooks from berth's threads, a hook that raises, OOM, and many runs at once."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import List

import pytest

import berth
from conftest import Capture, cid, shell


def test_a_raising_hook_is_logged_and_nothing_else(
    driver: berth.Driver, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("deliberate failure in a hook")

    out = Capture()
    with caplog.at_level(logging.ERROR, logger="berth"):
        status = driver.run(
            shell(cid("raising"), "echo still runs; exit 4"),
            stdout=out.w,
            on_start=boom,
            on_exit=boom,
        )
    # The container ran to its end, the call returned its status.
    assert status.code == 4
    assert out.text() == "still runs\n"
    raised = [
        r for r in caplog.records if "deliberate failure" in str(r.exc_info and r.exc_info[1])
    ]
    assert {r.getMessage().split()[1] for r in raised} == {"on_start", "on_exit"}
    assert all(cid("raising") in r.getMessage() for r in raised)


def test_a_raising_hook_on_berths_thread(
    driver: berth.Driver, caplog: pytest.LogCaptureFixture
) -> None:
    """on_exit of a created container runs on a thread berth owns: it too only logs."""
    container_id = cid("raising-thread")
    called = threading.Event()

    def on_exit(_: berth.ExitStatus) -> None:
        called.set()
        raise ValueError("deliberate failure on berth's thread")

    with caplog.at_level(logging.ERROR, logger="berth"):
        driver.create(shell(container_id, "exit 0"), on_exit=on_exit)
        try:
            driver.start(container_id)
            assert driver.wait(container_id).code == 0
            assert called.wait(5)
        finally:
            driver.delete(container_id)
    assert any("berth's thread" in str(r.exc_info and r.exc_info[1]) for r in caplog.records)
    # The driver works on.
    assert driver.run(shell(cid("after-raise"), "exit 0")).code == 0


def test_oom(driver: berth.Driver) -> None:
    ooms: List[int] = []
    exits: List[berth.ExitStatus] = []
    oom = threading.Event()

    def on_oom() -> None:
        ooms.append(1)
        oom.set()

    command = shell(cid("oom"), "a=$(head -c 200000000 /dev/zero | tr '\\0' x); echo survived")
    command["resources"] = {"memory_limit": 32 << 20, "memory_swap": 32 << 20}
    status = driver.run(command, on_oom=on_oom, on_exit=exits.append)
    assert status.oom_killed, status
    assert (status.code, status.signal) == (137, 9)
    assert oom.wait(5) and ooms
    assert exits and exits[0].oom_killed


def test_fifty_concurrent_runs_from_threads(driver: berth.Driver) -> None:
    n = 50

    def one(i: int) -> str:
        container_id = cid(f"many-{i}")
        starts: List[int] = []
        exits: List[berth.ExitStatus] = []
        out = Capture()
        status = driver.run(
            shell(container_id, f"echo {i}; exit {i}"),
            stdout=out.w,
            on_start=starts.append,
            on_exit=exits.append,
        )
        problems = []
        if status != berth.ExitStatus(i):
            problems.append(f"status {status}")
        if out.text() != f"{i}\n":
            problems.append("output")
        if len(starts) != 1 or exits != [status]:
            problems.append(f"hooks: {len(starts)} starts, exits {exits}")
        return f"run {i}: {', '.join(problems)}" if problems else ""

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(one, range(n)))
    assert [r for r in results if r] == []
    assert [s for s in driver.list() if "-many-" in s["id"]] == []
