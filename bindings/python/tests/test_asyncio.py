"""run_async and wait_async: the event loop runs on while containers do."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any, Callable, List

import pytest

import berth
from conftest import cid, shell


async def ticking(until: "asyncio.Future[Any]") -> int:
    """Counts the loop's turns every 10 ms until ``until`` is done: a blocked loop counts few."""
    ticks = 0
    while not until.done():
        await asyncio.sleep(0.01)
        ticks += 1
    return ticks


def test_run_async(driver: berth.Driver) -> None:
    async def main() -> None:
        run = asyncio.ensure_future(driver.run_async(shell(cid("async"), "sleep 0.5; exit 3")))
        ticks = await ticking(run)
        assert (await run).code == 3
        # 0.5 s of the program: the loop turned, it was not blocked.
        assert ticks >= 20, ticks

    asyncio.run(main())


def test_many_run_async_at_once(driver: berth.Driver) -> None:
    async def main() -> List[berth.ExitStatus]:
        return list(
            await asyncio.gather(
                *(driver.run_async(shell(cid(f"async-{i}"), f"exit {i}")) for i in range(20))
            )
        )

    statuses = asyncio.run(main())
    assert [s.code for s in statuses] == list(range(20))


def test_cancelling_run_async_kills_and_deletes(driver: berth.Driver) -> None:
    container_id = cid("async-cancel")
    started: List[int] = []

    async def main() -> None:
        run = asyncio.ensure_future(
            driver.run_async(shell(container_id, "exec sleep 60"), on_start=started.append)
        )
        while not started:
            await asyncio.sleep(0.01)
        t0 = time.monotonic()
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        assert time.monotonic() - t0 < 10

    asyncio.run(main())
    with pytest.raises(berth.NotFound):
        driver.state(container_id)


def test_cancelling_run_async_during_setup(driver: berth.Driver) -> None:
    container_id = cid("async-cancel-early")
    exits: List[berth.ExitStatus] = []

    async def main() -> None:
        run = asyncio.ensure_future(
            driver.run_async(shell(container_id, "exec sleep 60"), on_exit=exits.append)
        )
        await asyncio.sleep(0)  # the run's thread is setting the container up
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run

    asyncio.run(main())
    with pytest.raises(berth.NotFound):
        driver.state(container_id)
    # Killed as soon as it started, not after its 60 s.
    assert exits and exits[0].signal == signal.SIGKILL


def test_run_async_errors(driver: berth.Driver) -> None:
    async def main() -> None:
        with pytest.raises(berth.InvalidArgument, match="process.args"):
            await driver.run_async(shell(cid("async-bad"), "exit 0", process={"args": []}))
        with pytest.raises(berth.InvalidArgument, match="dict"):
            await driver.run_async(["not", "a", "dict"])  # type: ignore[arg-type]

    asyncio.run(main())


def test_wait_async(driver: berth.Driver, started: Callable[..., str]) -> None:
    container_id = started("wait-async", "sleep 0.4; exit 5")

    async def main() -> None:
        wait = asyncio.ensure_future(driver.wait_async(container_id))
        ticks = await ticking(wait)
        assert (await wait).code == 5
        assert ticks >= 10, ticks
        # On a stopped container it returns at once.
        assert (await driver.wait_async(container_id)).code == 5

    asyncio.run(main())


def test_cancelling_wait_async_leaves_the_container(
    driver: berth.Driver, started: Callable[..., str]
) -> None:
    container_id = started("wait-async-cancel")

    async def main() -> None:
        wait = asyncio.ensure_future(driver.wait_async(container_id))
        await asyncio.sleep(0.1)
        wait.cancel()
        with pytest.raises(asyncio.CancelledError):
            await wait
        assert driver.state(container_id)["status"] == "running"
        driver.kill(container_id, signal.SIGKILL)
        assert (await asyncio.wait_for(driver.wait_async(container_id), 10)).signal == 9

    asyncio.run(main())


def test_wait_async_of_an_unknown_container(driver: berth.Driver) -> None:
    async def main() -> None:
        with pytest.raises(berth.NotFound):
            await driver.wait_async("no-such-container")

    asyncio.run(main())
