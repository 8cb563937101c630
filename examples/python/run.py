"""Runs busybox containers from Python: one with hooks and its output read through a pipe,
then three at once under asyncio, one of which outlives its deadline and is killed.

    pip install ./bindings/python        (or the wheel that scripts/python-test.sh builds)
    sudo python3 examples/python/run.py [ROOTFS]   (default: build/rootfs)
"""

from __future__ import annotations

import asyncio
import glob
import os
import sys
import tempfile

import berth


def on_start(pid: int) -> None:
    print(f"[hook] started: pid {pid} on the host")


def on_exit(status: berth.ExitStatus) -> None:
    print(f"[hook] exited: {status}")


def command(container_id: str, rootfs: str, script: str) -> berth.Command:
    return {"id": container_id, "rootfs": rootfs, "process": {"args": ["/bin/sh", "-c", script]}}


async def three_at_once(driver: berth.Driver, rootfs: str) -> None:
    pid = os.getpid()
    quick = driver.run_async(command(f"py-example-{pid}-a", rootfs, "sleep 0.2; exit 1"))
    slower = driver.run_async(command(f"py-example-{pid}-b", rootfs, "sleep 0.4; exit 2"))
    # Cancelled by wait_for after 1 s: the container is killed and deleted.
    stuck = asyncio.wait_for(
        driver.run_async(command(f"py-example-{pid}-c", rootfs, "sleep 600")), 1.0
    )
    results = await asyncio.gather(quick, slower, stuck, return_exceptions=True)
    for name, result in zip("abc", results):
        print(f"async {name}: {result!r}")


def main() -> int:
    rootfs = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/rootfs")
    with tempfile.TemporaryDirectory(prefix="berth-example-") as root:
        with berth.Driver(root=root, cgroup_parent="berth-example") as driver:
            print(f"libberth {berth.version()} from {berth.library_path()}")
            read_end, write_end = os.pipe()
            with os.fdopen(read_end) as output:
                try:
                    status = driver.run(
                        command(
                            f"py-example-{os.getpid()}",
                            rootfs,
                            "echo hello from $(hostname); exit 7",
                        ),
                        stdout=write_end,
                        on_start=on_start,
                        on_exit=on_exit,
                    )
                finally:
                    os.close(write_end)
                print(f"the container said: {output.read().strip()}")
            print(
                f"it ended with code {status.code} (signal {status.signal}, oom {status.oom_killed})"
            )

            asyncio.run(three_at_once(driver, rootfs))
            try:
                driver.state("no-such-container")
            except berth.NotFound as err:
                print(f"as expected: {err}")
    # The driver removes each container's cgroup; the empty parent is the example's to remove.
    for path in glob.glob("/sys/fs/cgroup/*/berth-example") + ["/sys/fs/cgroup/berth-example"]:
        try:
            os.rmdir(path)
        except OSError:
            pass
    return 0 if status.code == 7 else 1


if __name__ == "__main__":
    sys.exit(main())
