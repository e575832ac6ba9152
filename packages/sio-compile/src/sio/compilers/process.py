"""Running one compiler command under limits, through the executors.

A compiler command is run by :func:`sio.workers.executors.process.run_command`
— the one process runner of sio-workers, under
:class:`~sio.workers.executors.UnprotectedExecutor` — with the compiler's own
fixed environment (:meth:`~sio.compilers.base.Compiler.command_env`; an
executor would set its own locale), so compiles get the same limits,
capture, wall-clock limit and kill-on-death as every other run: the whole
process tree (driver, ``cc1plus``, ``as``, ``ld``, bubblewrap or PRoot and
their tracees) is killed when the wall-clock limit fires or the worker dies.
What compilers add here:

* the command is an argv list executed directly (shell metacharacters in
  arguments and file names stay plain text), and a program that does not
  exist or cannot be executed is a worker-side error (``OSError``), never a
  compile error of the submission;
* stdout and stderr are captured interleaved, up to ``output_limit`` bytes;
  the rest is drained, and once the compiler wrote more than
  ``max(FLOOD_MINIMUM, FLOOD_FACTOR * output_limit)`` bytes it is flooding
  and the run is stopped;
* no core dumps; every file written is capped at ``file_size_limit`` bytes.

Limits: ``time_limit`` is CPU ms per process (``RLIMIT_CPU``),
``real_time_limit`` wall ms for the whole run, ``mem_limit`` KiB of address
space per process (``RLIMIT_AS``, ``None`` for runtimes like the JVM that
reserve address space), ``file_size_limit`` bytes per written file
(``RLIMIT_FSIZE``).
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sio.workers.executors.command import ExecError
from sio.workers.executors.process import run_command

#: Messages beyond the output limit are read and dropped; after this many
#: bytes in all the compiler is considered to be flooding and is killed.
FLOOD_FACTOR = 64
FLOOD_MINIMUM = 1 << 20


@dataclass
class RunResult:
    """What happened to one command."""

    return_code: int | None
    """Exit code; ``-N`` when killed by signal ``N``."""
    output: bytes
    """stdout and stderr interleaved, at most ``output_limit`` bytes."""
    output_size: int
    """Bytes the command wrote in all (including dropped ones)."""
    killed: str | None
    """``"real_time"`` or ``"output"`` when we killed the run, else ``None``."""
    real_time_used: int
    """Wall-clock ms."""

    @property
    def ok(self) -> bool:
        return self.return_code == 0 and self.killed is None


def _check_executable(program: str, cwd: str, env: Mapping[str, str]) -> None:
    """Raise ``OSError`` unless ``program`` can be executed (looked up in the
    ``PATH`` of ``env`` when it has no slash, like ``execvp``)."""
    if "/" in program:
        path = os.path.join(cwd, program)
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, "no such file", program)
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            raise PermissionError(errno.EACCES, "not executable", program)
    elif shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        raise FileNotFoundError(errno.ENOENT, "not found in PATH", program)


def run_limited(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str],
    time_limit: int | None,
    real_time_limit: int | None,
    mem_limit: int | None,
    output_limit: int | None,
    file_size_limit: int | None = None,
) -> RunResult:
    """Run ``argv`` (no shell) in ``cwd`` and return a :class:`RunResult`.
    Never raises for a failing command; raises ``OSError`` when the program
    cannot be started at all."""
    argv = [os.fspath(a) for a in argv]
    cwd = os.fspath(cwd)
    if not argv:
        raise FileNotFoundError(errno.ENOENT, "empty command")
    _check_executable(argv[0], cwd, env)
    flood = None if output_limit is None else max(FLOOD_MINIMUM, FLOOD_FACTOR * output_limit)
    try:
        renv = run_command(
            argv,
            env=dict(env),
            capture_output=True,
            forward_stderr=True,
            output_limit=output_limit,
            time_limit=time_limit,
            real_time_limit=real_time_limit,
            mem_limit=mem_limit,
            file_size_limit=file_size_limit,
            core_limit=0,
            output_kill_limit=flood,
            cwd=cwd,
        )
    except ExecError as exc:
        raise OSError(errno.EIO, str(exc)) from exc
    killed = None
    if renv.get("output_killed"):
        killed = "output"
    elif renv.get("real_time_killed"):
        killed = "real_time"
    return RunResult(
        return_code=renv["return_code"],
        output=renv["stdout"],
        output_size=renv["stdout_size"],
        killed=killed,
        real_time_used=renv["real_time_used"],
    )
