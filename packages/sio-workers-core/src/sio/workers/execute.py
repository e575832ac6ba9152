"""``execute()``: run a command without isolation and return its output."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sio.workers.executors import UnprotectedExecutor, noquote

__all__ = ["execute", "noquote"]


def execute(command: str | Iterable[Any], **kwargs: Any) -> tuple[int, Any]:
    """Run ``command`` with :class:`~sio.workers.executors.UnprotectedExecutor`
    (``capture_output=True``; other keyword arguments as for executors) and
    return ``(return_code, stdout)`` (``bytes``, or a list of lines with
    ``split_lines=True``). Raises
    :class:`~sio.workers.executors.ExecError` on failure unless ignored."""
    kwargs["capture_output"] = True
    with UnprotectedExecutor() as executor:
        renv = executor(command, **kwargs)
    return renv["return_code"], renv["stdout"]
