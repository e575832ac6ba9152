"""Commands and their errors: :class:`noquote`, :class:`ExecError`,
:func:`normalize_command`, :func:`shell_join`, :func:`describe_return_code`.

The lowest room of :mod:`sio.workers.executors`: it imports nothing of the
package, so every executor and the process runner
(:mod:`sio.workers.executors.process`) build on it without import circles.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from typing import Any

__all__ = ["ExecError", "describe_return_code", "normalize_command", "noquote", "shell_join"]


class noquote(str):  # noqa: N801 -- the public name of the original API
    """A command element passed to the shell verbatim (not quoted).

    ``["echo", noquote("$HOME"), noquote(">"), "a file"]`` runs
    ``echo $HOME > 'a file'``.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"noquote({str.__repr__(self)})"


class ExecError(RuntimeError):
    """The command failed (non-zero exit) or could not be run at all.

    Attributes: ``command`` (what was asked for: the normalised list or the
    shell string), ``return_code`` (``None`` when the command never ran), and
    ``renv`` (the renv of the failed run, or ``None``).
    """

    def __init__(
        self,
        message: str,
        command: Any = None,
        return_code: int | None = None,
        renv: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.command = command
        self.return_code = return_code
        self.renv = renv


def normalize_command(command: str | Iterable[Any]) -> list[str]:
    """Return the command as a list of ``str``/:class:`noquote` elements.

    A string becomes ``[noquote(command)]``; a list or tuple is copied, its
    non-string elements (numbers, paths) converted with :func:`os.fspath` or
    ``str``. An empty command raises :class:`ExecError`.
    """
    if isinstance(command, str):
        parts: list[str] = [command if isinstance(command, noquote) else noquote(command)]
    elif isinstance(command, bytes):
        parts = [noquote(command.decode())]
    else:
        parts = []
        for part in command:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, os.PathLike):
                parts.append(os.fsdecode(os.fspath(part)))
            elif isinstance(part, bytes):
                parts.append(os.fsdecode(part))
            else:
                parts.append(str(part))
    if not parts or all(not p.strip() for p in parts):
        raise ExecError(f"empty command: {command!r}", command=command)
    return parts


def shell_join(command: str | Iterable[Any]) -> str:
    """The shell command line of ``command``: elements shell-quoted with
    :func:`shlex.quote` unless they are :class:`noquote`, joined by spaces.

    A string is returned unchanged (it is one :class:`noquote` element).
    """
    if isinstance(command, str):
        return str(command)
    return " ".join(
        str(p) if isinstance(p, noquote) else shlex.quote(p) for p in normalize_command(command)
    )


def describe_return_code(code: int | None) -> str:
    """A human description of a renv's ``return_code``."""
    if code is None:
        return "no exit status"
    if code < 0:
        return f"signal {-code}"
    hint = {126: " (not executable)", 127: " (command not found)"}.get(code, "")
    return f"exit code {code}{hint}"
