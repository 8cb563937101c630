"""berth's errors: one exception class per error kind of the C ABI, all under :class:`Error`.

The numbers are ``berth_error_kind``'s and never change meaning. A kind that a newer
libberth adds, and this package does not know, arrives as a plain :class:`Error` whose
``kind`` is its number.
"""

from __future__ import annotations

from typing import ClassVar, Optional


class Error(Exception):
    """An error from berth: what failed (``op``), why (``message``) and the OS error code
    behind it (``errno``, 0 when the error did not come from the OS).

    ``str(err)`` is ``"berth <op>: <message>"``.
    """

    #: The ``berth_error_kind`` number of this class (0 for :class:`Error` itself).
    KIND: ClassVar[int] = 0

    def __init__(
        self, message: str, *, errno: int = 0, op: str = "", kind: Optional[int] = None
    ) -> None:
        super().__init__(message)
        #: The message, as libberth wrote it (UTF-8), or as this package did.
        self.message = message
        #: The OS error code (``errno`` on Linux), or 0.
        self.errno = errno
        #: The operation that failed: ``"run"``, ``"state"``, ...
        self.op = op
        #: The ``berth_error_kind`` number.
        self.kind = self.KIND if kind is None else kind

    def __str__(self) -> str:
        return f"berth {self.op}: {self.message}" if self.op else f"berth: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, errno={self.errno}, op={self.op!r})"


class InvalidArgument(Error):
    """Something malformed or out of range: a bad command or field (the message names its
    path, as in ``command.process.args``), invalid JSON, a bad signal or stream."""

    KIND = 1


class NotFound(Error):
    """No container (or detached exec) with that id exists."""

    KIND = 2


class AlreadyExists(Error):
    """A container with that id exists already."""

    KIND = 3


class InvalidState(Error):
    """The container (or the driver) is not in a state that allows the operation."""

    KIND = 4


class Unsupported(Error):
    """The driver or platform does not implement the operation or option, or libberth
    cannot be loaded."""

    KIND = 5


class Permission(Error):
    """The operating system refused for lack of privilege."""

    KIND = 6


class System(Error):
    """A system call or OS service failed (``errno`` says which error)."""

    KIND = 7


class Internal(Error):
    """A bug in berth: a broken invariant or a caught panic."""

    KIND = 8


_BY_KIND: dict[int, type[Error]] = {
    cls.KIND: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        InvalidState,
        Unsupported,
        Permission,
        System,
        Internal,
    )
}


def error_for(kind: int, message: str, errno: int, op: str) -> Error:
    """The exception for a berth_error of ``kind``."""
    cls = _BY_KIND.get(kind, Error)
    return cls(message, errno=errno, op=op, kind=kind)
