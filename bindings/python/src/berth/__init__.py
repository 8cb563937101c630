"""berth: run containers in-process, from Python, through libberth's C ABI.

>>> import berth
>>> with berth.Driver() as driver:
...     status = driver.run({
...         "id": "hello",
...         "rootfs": "/srv/busybox",
...         "process": {"args": ["/bin/echo", "hello"]},
...     }, stdout=sys.stdout)
>>> status.code
0

A :class:`Driver` runs containers (``run``, ``create``/``start``/``wait``/``delete``,
``exec``, ``kill``, ``pause``/``resume``, ``resize``, ``update``, ``state``, ``stats``,
``list``, and ``run_async``/``wait_async`` for asyncio). Commands are dicts in the wire form
of berth's ``docs/command.md``. Errors are :class:`Error` and its subclasses, one per error
kind of the C ABI. The wheel carries ``libberth.so.1`` and its ``berth-init`` helper; the
host needs libseccomp (``libseccomp2`` on Debian) and root.
"""

from .driver import Driver, HasFileno, Stream, abi_version, library_path, version
from .errors import (
    AlreadyExists,
    Error,
    Internal,
    InvalidArgument,
    InvalidState,
    NotFound,
    Permission,
    System,
    Unsupported,
)
from .types import Command, ExitStatus, Mount, Process, Resources, State, Stats

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "Command",
    "Driver",
    "Error",
    "ExitStatus",
    "HasFileno",
    "Internal",
    "InvalidArgument",
    "InvalidState",
    "Mount",
    "NotFound",
    "Permission",
    "Process",
    "Resources",
    "State",
    "Stats",
    "Stream",
    "System",
    "Unsupported",
    "__version__",
    "abi_version",
    "library_path",
    "version",
]
