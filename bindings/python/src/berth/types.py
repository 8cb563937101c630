"""The values berth takes and gives: :class:`ExitStatus`, and typed dicts of the wire form.

Commands and processes are plain dicts in the wire form of ``docs/command.md``: whatever
libberth accepts, this package passes on, and libberth checks (an unknown or bad field is
:class:`berth.InvalidArgument` naming its path). The :class:`Command` and :class:`Process`
typed dicts name the common fields for a type checker; they are ordinary dicts at run time,
and a dict with more fields (any of ``docs/command.md``) is just as welcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, TypedDict


@dataclass(frozen=True)
class ExitStatus:
    """How a process ended.

    ``code`` is the exit code, or ``128 + signal`` when a signal ended the process (as a
    shell reports it), or -1 when berth could not observe the exit (a container taken back
    from a driver in another process). ``signal`` is the signal that ended it, 0 when it
    exited. ``oom_killed`` is whether the kernel's OOM killer killed a process of the
    container during its life.
    """

    code: int
    signal: int = 0
    oom_killed: bool = False

    @property
    def success(self) -> bool:
        """Whether the process exited with code 0."""
        return self.code == 0 and self.signal == 0

    @classmethod
    def from_json(cls, value: "ExitStatusJSON") -> "ExitStatus":
        """The status of a ``state``'s ``exit_status`` object."""
        return cls(
            code=int(value["code"]),
            signal=int(value["signal"] or 0),
            oom_killed=bool(value["oom_killed"]),
        )


class IdMapping(TypedDict):
    """One range of a user namespace's uid or gid map."""

    container_id: int
    host_id: int
    size: int


class ConsoleSize(TypedDict):
    """A terminal's size."""

    rows: int
    cols: int


class Rlimit(TypedDict):
    """A resource limit of the process (``type``: ``RLIMIT_NOFILE`` or ``nofile``, ...)."""

    type: str
    soft: int
    hard: int


class _ProcessRequired(TypedDict):
    args: List[str]


class Process(_ProcessRequired, total=False):
    """``ProcessConfig``: a container's program, or a process to ``exec``."""

    env: List[str]
    cwd: str
    user: str
    additional_gids: List[int]
    groups: Optional[List[int]]
    umask: int
    tty: bool
    console_size: ConsoleSize
    cap_add: List[str]
    cap_drop: List[str]
    capabilities: Optional[Dict[str, List[str]]]
    oom_score_adj: Optional[int]
    no_new_privileges: bool
    rlimits: List[Rlimit]
    privileged: bool


class Mount(TypedDict, total=False):
    """One of a command's ``mounts``."""

    destination: str
    type: str
    source: str
    options: List[str]
    uid_mappings: List[IdMapping]
    gid_mappings: List[IdMapping]


class Resources(TypedDict, total=False):
    """Cgroup limits (the common ones; ``docs/command.md`` lists them all)."""

    memory_limit: int
    memory_reservation: int
    memory_swap: int
    cpu_shares: int
    cpu_quota: int
    cpu_period: int
    cpuset_cpus: str
    cpuset_mems: str
    pids_limit: int
    blkio_weight: int
    unified: Dict[str, str]


class _CommandRequired(TypedDict):
    id: str
    rootfs: str
    process: Process


class Command(_CommandRequired, total=False):
    """A container: ``id``, ``rootfs`` and ``process`` are required."""

    readonly_rootfs: bool
    hostname: str
    namespaces: Dict[str, Any]
    mounts: List[Mount]
    resources: Resources
    cgroup_parent: str
    cgroup_path: str
    masked_paths: Optional[List[str]]
    readonly_paths: Optional[List[str]]
    sysctls: Dict[str, str]
    uid_mappings: List[IdMapping]
    gid_mappings: List[IdMapping]
    init: bool
    init_signal_group: bool


class ExitStatusJSON(TypedDict):
    """``exit_status`` in a :class:`State`."""

    code: int
    signal: Optional[int]
    oom_killed: bool


class State(TypedDict):
    """What ``state`` and ``list`` give for a container. ``status`` is ``"creating"``,
    ``"created"``, ``"running"``, ``"paused"`` or ``"stopped"``; ``pid`` is the host pid of
    its init (0 once reaped); ``created`` is RFC 3339 (UTC)."""

    id: str
    pid: int
    status: str
    created: str
    cgroup_path: str
    rootfs: str
    exit_status: Optional[ExitStatusJSON]


class MemoryStats(TypedDict):
    """Bytes; None where the kernel does not give the value."""

    usage: Optional[int]
    max_usage: Optional[int]
    limit: Optional[int]
    cache: Optional[int]
    rss: Optional[int]


class CpuStats(TypedDict):
    """Nanoseconds and periods; None where the kernel does not give the value."""

    total_ns: Optional[int]
    user_ns: Optional[int]
    system_ns: Optional[int]
    throttled_periods: Optional[int]
    throttled_ns: Optional[int]


class PidsStats(TypedDict):
    """Processes; None where the kernel does not give the value."""

    current: Optional[int]
    limit: Optional[int]


class IoStats(TypedDict):
    """Bytes; None where the kernel does not give the value."""

    read_bytes: Optional[int]
    write_bytes: Optional[int]


class Stats(TypedDict):
    """What ``stats`` gives for a container."""

    memory: MemoryStats
    cpu: CpuStats
    pids: PidsStats
    io: IoStats
