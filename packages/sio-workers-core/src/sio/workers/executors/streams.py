"""Where a run's standard streams come from and go to.

:func:`stream_fd` turns what a caller passed as ``stdin``/``stdout``/
``stderr`` (an ``int`` descriptor, a file object, or an object without a
descriptor) into a descriptor checked for its access mode; :class:`Sink` is
where the data read from a pipe goes: captured up to a limit, or copied into
a file-like object that has no descriptor.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
from typing import Any

from sio.workers.executors.command import ExecError

__all__ = ["Sink", "stream_fd"]


def stream_fd(stream: Any, name: str, writable: bool) -> int | None:
    """The file descriptor of ``stream`` (checked for the access mode), or
    ``None`` when the stream has no descriptor (data is then copied through
    a pipe and a :class:`Sink`). Raises :class:`ExecError` for a closed or
    wrongly opened stream."""
    if isinstance(stream, int):
        fd = stream
    else:
        if getattr(stream, "closed", False):
            raise ExecError(f"{name} is closed")
        try:
            fd = stream.fileno()
        except (io.UnsupportedOperation, AttributeError):
            return None
        except ValueError as exc:
            raise ExecError(f"{name} is closed: {exc}") from None
        if writable:
            with contextlib.suppress(Exception):
                stream.flush()
    try:
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError as exc:
        raise ExecError(f"{name} is not an open file: {exc}") from None
    if writable and mode == os.O_RDONLY:
        raise ExecError(f"{name} is not open for writing")
    if not writable and mode == os.O_WRONLY:
        raise ExecError(f"{name} is not open for reading")
    return fd


class Sink:
    """Where a pipe's data goes: captured (at most ``limit`` bytes kept, the
    rest counted and dropped) or copied to ``target``, a file-like object
    without a descriptor (text or binary). ``size`` counts every byte fed."""

    def __init__(self, target: Any = None, limit: int | None = None) -> None:
        self.target = target
        self.limit = limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.size = 0

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        if self.target is None:
            if self.limit is not None:
                data = data[: max(0, self.limit - self.kept)]
            if data:
                self.chunks.append(data)
                self.kept += len(data)
        elif isinstance(self.target, io.TextIOBase) or not hasattr(self.target, "buffer") and (
            "b" not in getattr(self.target, "mode", "b")
        ):
            self.target.write(data.decode("utf-8", errors="replace"))
        else:
            self.target.write(data)

    def value(self) -> bytes:
        return b"".join(self.chunks)
