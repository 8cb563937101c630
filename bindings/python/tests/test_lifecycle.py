"""create, start, wait, kill, pause/resume, stats, update, delete; exec; terminals."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Callable, List

import pytest

import berth
from conftest import Capture, Recorder, cid, eventually, shell


def test_create_start_wait_delete(driver: berth.Driver) -> None:
    container_id = cid("lifecycle")
    rec = Recorder()
    pid = driver.create(shell(container_id, "exit 3"), **rec.hooks())
    try:
        assert pid > 1
        state = driver.state(container_id)
        assert state["status"] == "created" and state["pid"] == pid
        assert state["id"] == container_id and state["exit_status"] is None
        assert [s["id"] for s in driver.list() if s["id"] == container_id] == [container_id]
        assert rec.pids == []  # the program has not run
        driver.start(container_id)
        assert len(rec.pids) == 1
        status = driver.wait(container_id)
        assert status == berth.ExitStatus(3)
        assert driver.wait(container_id) == status  # at once, again
        state = driver.state(container_id)
        assert state["status"] == "stopped" and state["pid"] == 0
        assert state["exit_status"] is not None
        assert berth.ExitStatus.from_json(state["exit_status"]) == status
        assert rec.exit_status() == status
    finally:
        driver.delete(container_id)
    with pytest.raises(berth.NotFound):
        driver.state(container_id)


def test_delete_refuses_a_live_container_without_force(
    driver: berth.Driver, started: Callable[..., str]
) -> None:
    container_id = started("live")
    with pytest.raises(berth.InvalidState):
        driver.delete(container_id)
    assert driver.state(container_id)["status"] == "running"
    driver.delete(container_id, force=True)
    with pytest.raises(berth.NotFound):
        driver.state(container_id)


def test_kill(driver: berth.Driver, started: Callable[..., str]) -> None:
    # The shell traps TERM and exits 42, so the signal is seen to arrive.
    container_id = started(
        "kill", "trap 'exit 42' TERM; touch /tmp/ready; while :; do sleep 0.05; done"
    )
    # Pid 1 ignores a signal it has no handler for: the trap must be set first.
    eventually(
        lambda: driver.exec(container_id, {"args": ["test", "-e", "/tmp/ready"]}).success, "trap"
    )
    driver.kill(container_id, signal.SIGTERM)
    assert driver.wait(container_id, timeout=10).code == 42
    with pytest.raises(berth.InvalidState):
        driver.kill(container_id, signal.SIGKILL)


def test_kill_all(driver: berth.Driver, started: Callable[..., str]) -> None:
    container_id = started("kill-all", "sleep 60 & sleep 60 & wait")
    driver.kill(container_id, signal.SIGKILL, all=True)
    status = driver.wait(container_id, timeout=10)
    assert (status.code, status.signal) == (137, 9)


def test_wait_with_a_timeout(driver: berth.Driver, started: Callable[..., str]) -> None:
    container_id = started("timeout")
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        driver.wait(container_id, timeout=0.2)
    assert 0.15 < time.monotonic() - t0 < 5
    assert driver.state(container_id)["status"] == "running"  # left as it was
    driver.kill(container_id, signal.SIGKILL)
    assert driver.wait(container_id, timeout=10).signal == 9


def test_wait_from_another_thread_releases_the_gil(
    driver: berth.Driver, started: Callable[..., str]
) -> None:
    container_id = started("gil")
    result: List[berth.ExitStatus] = []
    waiter = threading.Thread(target=lambda: result.append(driver.wait(container_id)))
    waiter.start()
    # This thread keeps running Python while the other is blocked in berth_wait.
    spins = 0
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        spins += 1
    assert spins > 1000 and waiter.is_alive()
    driver.kill(container_id, signal.SIGKILL)
    waiter.join(10)
    assert result and result[0].signal == 9


def test_pause_resume_stats(driver: berth.Driver, started: Callable[..., str]) -> None:
    container_id = started("pause", "while :; do sleep 0.05; done")
    stats = driver.stats(container_id)
    assert set(stats) >= {"memory", "cpu", "pids", "io"}
    assert stats["pids"]["current"] is not None and stats["pids"]["current"] >= 1
    assert stats["memory"]["usage"] is not None and stats["memory"]["usage"] > 0
    driver.pause(container_id)
    assert driver.state(container_id)["status"] == "paused"
    with pytest.raises(berth.InvalidState):
        driver.pause(container_id)
    driver.resume(container_id)
    assert driver.state(container_id)["status"] == "running"
    with pytest.raises(berth.InvalidState):
        driver.resume(container_id)


def test_update(driver: berth.Driver, started: Callable[..., str]) -> None:
    container_id = started("update", resources={"pids_limit": 100})
    assert driver.stats(container_id)["pids"]["limit"] == 100
    driver.update(container_id, {"pids_limit": 50})
    assert driver.stats(container_id)["pids"]["limit"] == 50
    with pytest.raises(berth.InvalidArgument, match="pids_limit"):
        driver.update(container_id, {"pids_limit": 0})


def test_exec(driver: berth.Driver, started: Callable[..., str]) -> None:
    container_id = started("exec")
    out = Capture()
    rec = Recorder()
    status = driver.exec(
        container_id,
        {"args": ["/bin/sh", "-c", "echo $WHO; exit 6"], "env": ["WHO=exec"]},
        stdout=out.w,
        **rec.hooks(),
    )
    assert status.code == 6
    assert out.text() == "exec\n"
    assert len(rec.pids) == 1 and rec.exit_status() == status
    # Its hooks all ran on this thread.
    assert {name for _, name in rec.threads} == {threading.current_thread().name}
    # The container runs on.
    assert driver.state(container_id)["status"] == "running"


def test_exec_detached(driver: berth.Driver, started: Callable[..., str]) -> None:
    container_id = started("detached")
    rec = Recorder()
    pid = driver.exec_detached(
        container_id, {"args": ["/bin/sh", "-c", "sleep 0.2; exit 9"]}, **rec.hooks()
    )
    assert pid > 1 and rec.pids == [pid]
    assert driver.wait_exec(container_id, pid) == berth.ExitStatus(9)
    assert rec.exit_status() == berth.ExitStatus(9)
    with pytest.raises(berth.NotFound):
        driver.wait_exec(container_id, 1)


def test_exec_in_a_stopped_container(driver: berth.Driver) -> None:
    container_id = cid("exec-stopped")
    driver.create(shell(container_id, "exit 0"))
    try:
        driver.start(container_id)
        driver.wait(container_id)
        with pytest.raises(berth.InvalidState):
            driver.exec(container_id, {"args": ["true"]})
    finally:
        driver.delete(container_id)


def test_terminal_console_and_resize(driver: berth.Driver) -> None:
    container_id = cid("tty")
    masters: List[int] = []
    got = threading.Event()

    def on_console(master: int) -> None:
        masters.append(master)
        got.set()

    command = shell(container_id, "stty size; read line; stty size; echo got $line")
    command["process"].update({"tty": True, "console_size": {"rows": 24, "cols": 80}})
    driver.create(command, on_console=on_console)
    try:
        assert got.wait(5) and len(masters) == 1
        master = masters[0]
        driver.start(container_id)
        output = b""

        def read_until(text: bytes) -> None:
            nonlocal output
            deadline = time.monotonic() + 10
            while text not in output:
                assert time.monotonic() < deadline, output
                output += os.read(master, 1024)

        read_until(b"24 80")
        driver.resize(container_id, 40, 120)
        os.write(master, b"hello\n")
        read_until(b"got hello")
        assert b"40 120" in output
        assert driver.wait(container_id, timeout=10).code == 0
        os.close(master)
    finally:
        driver.delete(container_id, force=True)


def test_resize_without_a_terminal(driver: berth.Driver, started: Callable[..., str]) -> None:
    container_id = started("no-tty")
    with pytest.raises(berth.InvalidState):
        driver.resize(container_id, 10, 10)
    with pytest.raises(berth.InvalidArgument, match="rows"):
        driver.resize(container_id, 70000, 10)


def test_hook_calls_the_driver(driver: berth.Driver) -> None:
    """on_exit, on berth's thread, may wait for and delete its own container."""
    container_id = cid("hook-delete")
    done = threading.Event()
    seen: List[object] = []

    def on_exit(status: berth.ExitStatus) -> None:
        seen.append(driver.wait(container_id))
        driver.delete(container_id)
        done.set()

    driver.create(shell(container_id, "exit 2"), on_exit=on_exit)
    driver.start(container_id)
    assert done.wait(10)
    assert seen == [berth.ExitStatus(2)]
    eventually(lambda: all(s["id"] != container_id for s in driver.list()), "deleted")
