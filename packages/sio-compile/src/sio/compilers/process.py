"""Running one compiler command under limits, without a shell.

Compilers need three things a generic executor does not promise: the
command is an argv list executed directly (shell metacharacters in arguments
and file names stay plain text), the whole process tree (driver, ``cc1plus``,
``as``, ``ld``, PRoot and its tracees) is killed when the wall-clock limit
fires, and the compiler's messages are captured up to a limit while the rest
is drained (and the run stopped when a compiler floods its output).

Limits: ``time_limit`` is CPU ms per process (``RLIMIT_CPU``),
``real_time_limit`` wall ms for the whole run, ``mem_limit`` KiB of address
space per process (``RLIMIT_AS``, ``None`` for runtimes like the JVM that
reserve address space), ``file_size_limit`` bytes per written file
(``RLIMIT_FSIZE``).
"""

from __future__ import annotations

import math
import os
import resource
import select
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


def _limits(time_limit: int | None, mem_limit: int | None,
            file_size_limit: int | None):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if time_limit is not None:
            seconds = max(1, math.ceil(time_limit / 1000))
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
        if mem_limit is not None:
            size = mem_limit * 1024
            resource.setrlimit(resource.RLIMIT_AS, (size, size))
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE,
                               (file_size_limit, file_size_limit))

    return apply


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_limited(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike,
    env: Mapping[str, str],
    time_limit: int | None,
    real_time_limit: int | None,
    mem_limit: int | None,
    output_limit: int | None,
    file_size_limit: int | None = None,
) -> RunResult:
    """Run ``argv`` (no shell) in its own session and return a
    :class:`RunResult`. Never raises for a failing command; raises ``OSError``
    when the program cannot be started at all."""
    argv = [os.fspath(a) for a in argv]
    start = time.monotonic()
    deadline = None if real_time_limit is None else start + real_time_limit / 1000
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
        preexec_fn=_limits(time_limit, mem_limit, file_size_limit),  # noqa: PLW1509
    )
    flood = None
    if output_limit is not None:
        flood = max(FLOOD_MINIMUM, FLOOD_FACTOR * output_limit)
    kept = bytearray()
    size = 0
    killed: str | None = None
    fd = proc.stdout.fileno()
    poller = select.poll()  # not select(): fds above 1024 in long-lived workers
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    try:
        while True:
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                killed = "real_time"
                break
            if not poller.poll(None if timeout is None else max(1, int(timeout * 1000))):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            size += len(chunk)
            if output_limit is None or len(kept) < output_limit:
                room = len(chunk) if output_limit is None else output_limit - len(kept)
                kept += chunk[:room]
            if flood is not None and size > flood:
                killed = "output"
                break
        if killed is None:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                killed = "real_time"
    finally:
        _kill_group(proc.pid)
        proc.wait()
        proc.stdout.close()
    return RunResult(
        return_code=proc.returncode,
        output=bytes(kept),
        output_size=size,
        killed=killed,
        real_time_used=int((time.monotonic() - start) * 1000),
    )
