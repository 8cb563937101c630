#!/usr/bin/env python3
"""The Python binding's overhead per call against the C ABI, measured in one run.

Each round does the same work twice, in an order that alternates between rounds: once in C
(``run_loop``, a subprocess that makes its own driver and prints one line per timed call) and
once in Python through ``berth.Driver`` (one driver for the whole benchmark). The work is
RUNS ``run`` of ``/bin/true`` (a container created, started, waited for and deleted) and
STATES ``state`` of one created container. Only the call itself is timed, on both sides
(CLOCK_MONOTONIC: ``clock_gettime`` in C, ``time.perf_counter_ns`` in Python).

The first call of each kind in each round is a warm-up and is left out of the statistics, on
both sides alike: the C program's driver is new every round, and its first ``run`` pays for
what a driver sets up once (it is shown apart). Timings are noisy, so the report gives ratios
and medians of this one run, never an absolute target.

    cc -std=c11 -Wall -Werror -O2 -Iinclude bench/python/run_loop.c -Lbuild/lib -lberth \\
       -Wl,-rpath,$PWD/build/lib -o build/python/run_loop
    sudo VENV/bin/python bench/python/overhead.py [--smoke]

Needs root and the ``berth`` package installed in the interpreter that runs it. Both sides
use the same ``berth-init``: ``$BERTH_HELPER`` if set, else the one the package carries. The
state roots (``/run/berth-pybench-<pid>``, ``/run/berth-cbench-<pid>``) and the cgroup
parent ``berth-pybench`` are removed at the end. Exits non-zero if anything failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any, Dict, List, NoReturn, Optional, Sequence, Tuple

import berth

REPO = Path(__file__).resolve().parents[2]
CGROUP_PARENT = "berth-pybench"
CGROUP_ROOT = Path("/sys/fs/cgroup")
OPS = ("run", "state")


class BenchError(Exception):
    """A failure that ends the benchmark (the message says what failed)."""


class Samples:
    """The timings of one side (C or Python), per operation and per round, in ns."""

    def __init__(self) -> None:
        self.rounds: Dict[str, List[List[int]]] = {op: [] for op in OPS}

    def add(self, op: str, values: List[int]) -> None:
        self.rounds[op].append(values)

    def warm(self, op: str) -> List[List[int]]:
        """Each round's timings without its first call."""
        return [values[1:] for values in self.rounds[op]]

    def first(self, op: str) -> List[int]:
        """Each round's first call."""
        return [values[0] for values in self.rounds[op]]


def _terminate(signum: int, _frame: Optional[FrameType]) -> NoReturn:
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Overhead per call of the berth Python binding against the C ABI."
    )
    parser.add_argument("--rootfs", default=str(REPO / "build" / "rootfs"), help="busybox rootfs")
    parser.add_argument(
        "--run-loop",
        default=str(REPO / "build" / "python" / "run_loop"),
        help="the compiled bench/python/run_loop.c",
    )
    parser.add_argument("--rounds", type=int, default=20, help="rounds (default 20)")
    parser.add_argument("--runs", type=int, default=10, help="runs per round (default 10)")
    parser.add_argument("--states", type=int, default=200, help="states per round (default 200)")
    parser.add_argument("--smoke", action="store_true", help="3 rounds, 5 runs, 50 states")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.runs, args.states = 3, 5, 50
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.runs < 2 or args.states < 2:
        parser.error("--runs and --states must be at least 2 (the first call is a warm-up)")
    return args


def run_c(
    run_loop: str,
    rootfs: str,
    root: str,
    runs: int,
    states: int,
    prefix: str,
    env: Dict[str, str],
) -> Tuple[List[int], List[int]]:
    """One round in C: the run and state timings run_loop prints."""
    argv = [run_loop, rootfs, root, CGROUP_PARENT, str(runs), str(states), prefix]
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=120 + 10 * runs + states // 10,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{run_loop} ({prefix}) timed out") from None
    if done.returncode != 0:
        raise BenchError(
            f"{run_loop} ({prefix}) exited with {done.returncode}: {done.stderr.strip()}"
        )
    found: Dict[str, List[int]] = {op: [] for op in OPS}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) != 2 or parts[0] not in found or not parts[1].isdigit():
            raise BenchError(f"{run_loop} ({prefix}) printed an unexpected line: {line!r}")
        found[parts[0]].append(int(parts[1]))
    if len(found["run"]) != runs or len(found["state"]) != states:
        raise BenchError(
            f"{run_loop} ({prefix}) printed {len(found['run'])} runs and "
            f"{len(found['state'])} states, not {runs} and {states}"
        )
    return found["run"], found["state"]


def run_python(
    driver: berth.Driver, rootfs: str, runs: int, states: int, prefix: str
) -> Tuple[List[int], List[int]]:
    """One round in Python: the same work as run_loop, through berth.Driver."""
    clock = time.perf_counter_ns
    run_ns: List[int] = []
    for i in range(runs):
        cid = f"{prefix}-run-{i}"
        command: Dict[str, Any] = {
            "id": cid,
            "rootfs": rootfs,
            "process": {"args": ["/bin/true"]},
        }
        t0 = clock()
        status = driver.run(command)
        t1 = clock()
        if status.code != 0 or status.signal != 0:
            raise BenchError(
                f"{cid}: /bin/true ended with code {status.code}, signal {status.signal}"
            )
        run_ns.append(t1 - t0)

    state_ns: List[int] = []
    sid = f"{prefix}-state"
    driver.create(
        {"id": sid, "rootfs": rootfs, "process": {"args": ["/bin/sh", "-c", "exec sleep 60"]}}
    )
    try:
        for _ in range(states):
            t0 = clock()
            driver.state(sid)
            t1 = clock()
            state_ns.append(t1 - t0)
    finally:
        driver.delete(sid, force=True)
    return run_ns, state_ns


def median_of_rounds(rounds: List[List[int]]) -> float:
    return float(statistics.median(v for values in rounds for v in values))


def deciles(values: List[float]) -> Tuple[float, float]:
    """p10 and p90 (linear interpolation between the values)."""
    if len(values) < 2:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    return cuts[0], cuts[-1]


def fmt_us(ns: float) -> str:
    us = ns / 1000
    if abs(us) >= 100:
        return f"{us:.1f} µs"
    if abs(us) >= 1:
        return f"{us:.2f} µs"
    return f"{us:.3f} µs"


def report(args: argparse.Namespace, c: Samples, py: Samples, libs: str) -> None:
    rounds = len(c.rounds["run"])
    print()
    print(
        f"berth Python binding vs C ABI: {rounds} rounds of {args.runs} runs and "
        f"{args.states} states per side, C and Python alternating first"
    )
    print(libs)
    print("first call of each kind in each round left out (warm-up); medians are per call")
    header = (
        f"{'':6} {'C median':>12} {'Py median':>12} {'Py/C':>7}   "
        f"{'per-round Py/C':>14} {'p10–p90':>15}   {'Py−C, this run':>15}"
    )
    print(header)
    for op in OPS:
        c_rounds, py_rounds = c.warm(op), py.warm(op)
        c_med, py_med = median_of_rounds(c_rounds), median_of_rounds(py_rounds)
        ratios = [statistics.median(p) / statistics.median(q) for p, q in zip(py_rounds, c_rounds)]
        low, high = deciles(ratios)
        n = sum(len(values) for values in c_rounds)
        diff = py_med - c_med
        sign = "+" if diff >= 0 else "−"
        print(
            f"{op:6} {fmt_us(c_med):>12} {fmt_us(py_med):>12} {py_med / c_med:7.3f}   "
            f"{statistics.median(ratios):14.3f} {f'{low:.3f}–{high:.3f}':>15}   "
            f"{sign + fmt_us(abs(diff)):>15}   (n={n} per side)"
        )
    print(
        f"first run of each round (left out above): C {fmt_us(statistics.median(c.first('run')))}"
        f" (a new driver each round), Python {fmt_us(statistics.median(py.first('run')))}"
        " (one driver for the whole benchmark), medians"
    )
    print(
        "Py/C: ratio of the medians above; per-round Py/C: median and p10–p90 of each round's "
        "Python median / C median; Py−C: difference of the medians, this run's, for context"
    )


def take_back_and_delete(root: str) -> List[str]:
    """Deletes what a failed run_loop left on its root, through a driver that takes it back;
    returns the problems."""
    problems: List[str] = []
    try:
        with berth.Driver(root=root, cgroup_parent=CGROUP_PARENT) as driver:
            for state in driver.list():
                try:
                    driver.delete(state["id"], force=True)
                except berth.Error as err:
                    problems.append(f"delete {state['id']} on {root}: {err}")
    except berth.Error as err:
        problems.append(f"taking back {root}: {err}")
    return problems


def clean_up(driver: Optional[berth.Driver], py_root: str, c_root: str) -> List[str]:
    """Closes the driver, removes both roots and the cgroup parent; returns the problems."""
    problems: List[str] = []
    if driver is not None:
        try:
            driver.close()
        except berth.Error as err:
            problems.append(f"closing the Python driver: {err}")
    if os.path.isdir(c_root) and os.listdir(c_root):
        problems.extend(take_back_and_delete(c_root))
    for root in (py_root, c_root):
        try:
            shutil.rmtree(root)
        except FileNotFoundError:
            pass
        except OSError as err:
            problems.append(f"removing {root}: {err}")
    for directory in [*CGROUP_ROOT.glob(f"*/{CGROUP_PARENT}"), CGROUP_ROOT / CGROUP_PARENT]:
        try:
            directory.rmdir()
        except OSError:
            pass
    return problems


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("overhead.py: berth needs root", file=sys.stderr)
        return 2
    rootfs = os.path.abspath(args.rootfs)
    run_loop = os.path.abspath(args.run_loop)
    if not os.path.isdir(rootfs):
        print(f"overhead.py: no rootfs at {rootfs} (make rootfs)", file=sys.stderr)
        return 2
    if not os.access(run_loop, os.X_OK):
        print(f"overhead.py: {run_loop} is not an executable (build run_loop.c)", file=sys.stderr)
        return 2

    pid = os.getpid()
    py_root = f"/run/berth-pybench-{pid}"
    c_root = f"/run/berth-cbench-{pid}"
    env = dict(os.environ)
    helper = env.get("BERTH_HELPER")
    if not helper:
        bundled = Path(berth.library_path()).parent / "berth-init"
        if bundled.is_file():
            helper = env["BERTH_HELPER"] = str(bundled)
    libs = (
        f"libberth {berth.version()}: Python {berth.library_path()}, C the one {run_loop} "
        f"links (its rpath); "
        f"helper {helper or 'as libberth finds it'}"
    )

    signal.signal(signal.SIGTERM, _terminate)
    c, py = Samples(), Samples()
    driver: Optional[berth.Driver] = None
    failure: Optional[str] = None
    try:
        driver = berth.Driver(root=py_root, cgroup_parent=CGROUP_PARENT)
        for r in range(args.rounds):
            sides = ("c", "py") if r % 2 == 0 else ("py", "c")
            for side in sides:
                if side == "c":
                    runs, states = run_c(
                        run_loop, rootfs, c_root, args.runs, args.states, f"cbench-{pid}-r{r}", env
                    )
                    c.add("run", runs)
                    c.add("state", states)
                else:
                    runs, states = run_python(
                        driver, rootfs, args.runs, args.states, f"pybench-{pid}-r{r}"
                    )
                    py.add("run", runs)
                    py.add("state", states)
            print(
                f"round {r + 1}/{args.rounds} ({' then '.join(sides)}): median run "
                f"C {fmt_us(statistics.median(c.warm('run')[-1]))}, "
                f"Py {fmt_us(statistics.median(py.warm('run')[-1]))}; median state "
                f"C {fmt_us(statistics.median(c.warm('state')[-1]))}, "
                f"Py {fmt_us(statistics.median(py.warm('state')[-1]))}",
                flush=True,
            )
    except (BenchError, berth.Error, OSError) as err:
        failure = str(err)
    except KeyboardInterrupt as err:
        failure = f"interrupted ({err})" if str(err) else "interrupted"
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        problems = clean_up(driver, py_root, c_root)

    if failure is None:
        report(args, c, py, libs)
    else:
        print(f"overhead.py: FAILED: {failure}", file=sys.stderr)
    for problem in problems:
        print(f"overhead.py: cleanup: {problem}", file=sys.stderr)
    return 0 if failure is None and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
