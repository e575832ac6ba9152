"""Unprotected execution: :func:`run_command`, :class:`UnprotectedExecutor`,
:class:`DetailedUnprotectedExecutor`.

How a command runs (no isolation, for trusted programs):

* ``/bin/sh -c GATE; COMMAND`` is started with :func:`os.posix_spawn` (no
  ``preexec_fn``, no fork of the Python process) in a new session (so the
  process group can be killed as a whole), with every signal disposition
  reset to the default and an empty signal mask (Python ignores ``SIGPIPE``
  and ``SIGXFSZ``; the program must not inherit that);
* a list command without shell control operators is ``exec``-ed by the
  shell, so the waited process is the program itself (exit status, signal
  and rusage are its own); a string is run as a script (a signal death
  then shows as the shell's exit code ``128 + N``);
* the shell first waits on a gate pipe; meanwhile the rlimits are set on it
  with :func:`resource.prlimit` (``RLIMIT_CPU`` = ``ceil(time_limit / 1000)``
  s soft, +1 s hard; ``RLIMIT_AS`` = ``mem_limit`` KiB) and then the gate is
  opened, so the command always starts limited;
* the wall-clock limit (``real_time_limit``, default ``2 × time_limit``)
  kills the whole process group with ``SIGKILL``;
* with ``rusage=True`` (:class:`DetailedUnprotectedExecutor`) the shell is
  started by ``sio-reaper`` (``reaper.c``, a small static helper built from
  source like the supervisor's launcher), which holds the gate, forks the
  command into a process group of its own and reports its wait status and
  rusage: a process spawned by the worker itself would inherit the worker's
  peak RSS as the start of its ``ru_maxrss``; forked from the reaper it
  reports its own peak. The wall-clock limit then kills the command's group
  and the reaper reports what the kernel counted up to the kill;
* outputs are drained with a selector (never a deadlock, whatever the
  program writes to which stream); the captured output keeps at most
  ``output_limit`` bytes, the rest is read and dropped.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import logging
import math
import os
import resource
import selectors
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sio.workers.executors.base import BaseExecutor, ExecError, noquote, shell_join
from sio.workers.native import REAPER, NativeBuildError

__all__ = ["DetailedUnprotectedExecutor", "UnprotectedExecutor", "run_command"]

logger = logging.getLogger(__name__)

SHELL = "/bin/sh"
_GATE_FD = 3
_GATE = f"read _sio_gate <&{_GATE_FD} || exit 125\nexec {_GATE_FD}<&-\n"
_ALL_SIGNALS = [s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)]
_CHUNK = 65536
_REPORT_FD = 4

def reaper_path() -> Path | None:
    """The reaper binary, built on first use; ``None`` when it cannot be built
    (``DetailedUnprotectedExecutor`` then reports an upper bound)."""
    try:
        return REAPER.path()
    except (NativeBuildError, OSError) as exc:
        logger.warning("sio-reaper unavailable, mem_used is an upper bound: %s", exc)
        return None


@dataclass
class Usage:
    """What :func:`run_command` reports with ``rusage=True`` (``_rusage``):
    seconds of user and system CPU, peak RSS in KiB, and whether the figures
    are the command's own (``exact``) or the spawned process's, whose peak
    RSS starts at the worker's."""

    ru_utime: float
    ru_stime: float
    ru_maxrss: int
    exact: bool


def _fd_of(stream: Any, name: str, writable: bool) -> int | None:
    """The file descriptor of ``stream`` (checked for the access mode), or
    ``None`` when the stream has no descriptor (data is then copied)."""
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


class _Sink:
    """Where a pipe's data goes: captured (up to ``limit``) or copied to a
    file-like object without a descriptor."""

    def __init__(self, target: Any = None, limit: int | None = None) -> None:
        self.target = target
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0

    def feed(self, data: bytes) -> None:
        if self.target is None:
            if self.limit is not None:
                data = data[: max(0, self.limit - self.size)]
            if data:
                self.chunks.append(data)
                self.size += len(data)
        elif isinstance(self.target, io.TextIOBase) or not hasattr(self.target, "buffer") and (
            "b" not in getattr(self.target, "mode", "b")
        ):
            self.target.write(data.decode("utf-8", errors="replace"))
        else:
            self.target.write(data)

    def value(self) -> bytes:
        return b"".join(self.chunks)


_CONTROL = set(";&|\n()`")


def _is_simple(command: list[str] | str) -> bool:
    """Whether ``command`` is one simple command (no shell control operators
    in its :class:`~sio.workers.executors.base.noquote` parts), so the shell
    can ``exec`` it."""
    if isinstance(command, str) or not command or isinstance(command[0], noquote):
        return False
    return not any(isinstance(p, noquote) and _CONTROL & set(p) for p in command)


def _rlimits(pid: int, time_limit: int | None, mem_limit: int | None) -> None:
    if time_limit is not None:
        seconds = max(1, math.ceil(time_limit / 1000))
        resource.prlimit(pid, resource.RLIMIT_CPU, (seconds, seconds + 1))
    if mem_limit is not None:
        size = mem_limit * 1024
        resource.prlimit(pid, resource.RLIMIT_AS, (size, size))


def run_command(
    command: list[str] | str,
    *,
    env: dict[str, str],
    stdin: Any = None,
    stdout: Any = None,
    stderr: Any = None,
    capture_output: bool = False,
    split_lines: bool = False,
    forward_stderr: bool = False,
    output_limit: int | None = None,
    mem_limit: int | None = None,
    time_limit: int | None = None,
    real_time_limit: int | None = None,
    rusage: bool = False,
    **_ignored: Any,
) -> dict[str, Any]:
    """Run ``command`` (a list, see :func:`~sio.workers.executors.base.shell_join`,
    or a shell string) through ``/bin/sh -c`` as described in the module doc.

    Returns the renv: ``return_code`` (exit code, or ``-N`` after signal
    ``N``), ``real_time_used`` (ms), ``stdout`` when captured,
    ``real_time_killed`` (only when the wall limit fired) and, with
    ``rusage=True``, ``_status`` (the wait status) and ``_rusage``.
    Raises :class:`ExecError` for unusable streams.
    """
    script = shell_join(command)
    if _is_simple(command):
        # the program replaces the shell: its own exit status, signal and rusage
        script = "exec " + script
    if real_time_limit is None and time_limit is not None:
        real_time_limit = 2 * time_limit
    stack = contextlib.ExitStack()
    with stack:
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        stack.callback(os.close, devnull)
        actions: list[tuple] = []
        readers: dict[int, _Sink] = {}
        child_ends: list[int] = []

        def pipe_for(sink: _Sink) -> int:
            r, w = os.pipe()
            readers[r] = sink
            child_ends.append(w)
            return w

        in_fd = devnull if stdin is None else _fd_of(stdin, "stdin", writable=False)
        if in_fd is None:
            raise ExecError("stdin has no file descriptor")
        capture = _Sink(limit=output_limit) if capture_output else None
        if capture is not None:
            out_fd = pipe_for(capture)
        elif stdout is None:
            out_fd = devnull
        else:
            out_fd = _fd_of(stdout, "stdout", writable=True)
            if out_fd is None:
                out_fd = pipe_for(_Sink(stdout))
        if forward_stderr:
            err_fd = out_fd
        elif stderr is None:
            err_fd = devnull
        else:
            err_fd = _fd_of(stderr, "stderr", writable=True)
            if err_fd is None:
                err_fd = pipe_for(_Sink(stderr))
        gate_r, gate_w = os.pipe()
        child_ends.append(gate_r)
        stack.callback(lambda: [os.close(fd) for fd in child_ends])
        for target, fd in ((0, in_fd), (1, out_fd), (2, err_fd), (_GATE_FD, gate_r)):
            actions.append((os.POSIX_SPAWN_DUP2, fd, target))
        reaper = reaper_path() if rusage else None
        report: _Sink | None = None
        if reaper is not None:
            report = _Sink()
            actions.append((os.POSIX_SPAWN_DUP2, pipe_for(report), _REPORT_FD))
            program, argv = str(reaper), [str(reaper), str(_REPORT_FD), SHELL, script]
        else:
            program, argv = SHELL, [SHELL, "-c", _GATE + script]
        start = time.monotonic()
        try:
            pid = os.posix_spawn(
                program,
                argv,
                env,
                file_actions=actions,
                setsid=True,
                setsigmask=(),
                setsigdef=_ALL_SIGNALS,
            )
        except OSError as exc:
            os.close(gate_w)
            for fd in readers:
                os.close(fd)
            raise ExecError(f"cannot start {program}: {exc}", command=command) from None
        for fd in child_ends:
            os.close(fd)
        child_ends.clear()
        groups = _Groups(pid, report)
        try:
            try:
                _rlimits(pid, time_limit, mem_limit)
                with contextlib.suppress(BrokenPipeError):
                    os.write(gate_w, b"\n")
            finally:
                os.close(gate_w)
            status, usage, killed = _wait(pid, readers, start, real_time_limit, groups)
        except BaseException:
            groups.kill_all()
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            raise
        finally:
            for fd in readers:
                os.close(fd)
        elapsed = time.monotonic() - start
    if report is not None:
        reported = _reaper_result(report.value(), command)
        if reported is not None:
            status, usage = reported
        elif killed:
            # The command left its process group (for the reaper's own) and
            # outlived the wall limit: the last resort killed both. Its own
            # figures are lost; the reaper's stand in, marked inexact.
            usage = Usage(usage.ru_utime, usage.ru_stime, int(usage.ru_maxrss), exact=False)
        else:
            raise ExecError(
                "sio-reaper ended without reporting the command's status", command=command
            )
    else:
        usage = Usage(usage.ru_utime, usage.ru_stime, int(usage.ru_maxrss), exact=False)
    renv: dict[str, Any] = {
        "return_code": os.waitstatus_to_exitcode(status),
        "real_time_used": int(elapsed * 1000),
    }
    if killed:
        renv["real_time_killed"] = True
    if capture is not None:
        data = capture.value()
        if split_lines:
            lines = data.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            renv["stdout"] = lines
        else:
            renv["stdout"] = data
    if rusage:
        renv["_status"] = status
        renv["_rusage"] = usage
    return renv


class _Groups:
    """The process groups of a run: the spawned process's (its session) and,
    under the reaper, the command's own (learnt from the report)."""

    def __init__(self, pid: int, report: _Sink | None) -> None:
        self.pid = pid
        self.report = report

    def command_group(self) -> int | None:
        if self.report is None:
            return self.pid
        first = self.report.value().split(b"\n", 1)[0].split()
        if len(first) == 2 and first[0] == b"pid":
            return int(first[1])
        return None

    def kill_command(self) -> None:
        """The wall limit: kill the command and everything in its group."""
        group = self.command_group()
        if group is None:  # the reaper has not forked yet: stop it instead
            group = self.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)

    def kill_all(self) -> None:
        for group in {self.pid, self.command_group() or self.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


def _reaper_result(text: bytes, command: Any) -> tuple[int, Usage] | None:
    for line in text.decode(errors="replace").splitlines():
        parts = line.split()
        if parts[:1] == ["exit"] and len(parts) == 5:
            status, utime, stime, maxrss = (int(x) for x in parts[1:])
            return status, Usage(utime / 1e6, stime / 1e6, maxrss, exact=True)
        if parts[:1] == ["error"]:
            raise ExecError(f"sio-reaper failed: {line[6:]}", command=command)
    return None


_REAPER_GRACE = 1.0
"""Seconds the reaper gets to report after the wall limit killed the command."""


def _wait(
    pid: int,
    readers: dict[int, _Sink],
    start: float,
    real_time_limit: int | None,
    groups: _Groups,
) -> tuple[int, Any, bool]:
    """Drain ``readers`` and wait for ``pid``; kill the command's group at the
    deadline (and, should the reaper not end by itself, everything after
    :data:`_REAPER_GRACE` more seconds)."""
    pidfd = os.pidfd_open(pid)
    sel = selectors.DefaultSelector()
    try:
        sel.register(pidfd, selectors.EVENT_READ)
        for fd in readers:
            sel.register(fd, selectors.EVENT_READ)
        deadline = None if real_time_limit is None else start + real_time_limit / 1000
        result = None
        killed = False
        last_resort = False
        open_readers = len(readers)
        while result is None or open_readers:
            timeout = None
            if deadline is not None:
                timeout = max(0.0, deadline - time.monotonic())
            events = sel.select(timeout)
            if not events and deadline is not None and time.monotonic() >= deadline:
                if last_resort:
                    groups.kill_all()
                    deadline = None
                    continue
                # the wall limit: the program (if still running) and everything in its group
                if result is None:
                    killed = True
                groups.kill_command()
                last_resort = groups.report is not None
                deadline = time.monotonic() + _REAPER_GRACE if last_resort else None
                continue
            for key, _ in events:
                fd = key.fd
                if fd == pidfd:
                    sel.unregister(pidfd)
                    _, status, usage = os.wait4(pid, 0)
                    result = (status, usage)
                    continue
                try:
                    data = os.read(fd, _CHUNK)
                except OSError as exc:
                    if exc.errno == errno.EINTR:
                        continue
                    data = b""
                if data:
                    readers[fd].feed(data)
                else:
                    sel.unregister(fd)
                    open_readers -= 1
        return result[0], result[1], killed
    finally:
        sel.close()
        os.close(pidfd)


class UnprotectedExecutor(BaseExecutor):
    """Runs commands with no isolation (see the module doc): rlimits,
    a wall-clock limit on the process group, capture without deadlocks."""


class DetailedUnprotectedExecutor(UnprotectedExecutor):
    """:class:`UnprotectedExecutor` plus a verdict and measurements.

    Adds to the renv: ``time_used`` (user CPU ms from ``wait4`` rusage),
    ``mem_used`` (``ru_maxrss`` KiB, the command's own peak RSS as measured
    by ``sio-reaper``; should the reaper be impossible to build, an upper
    bound starting at the worker's peak, said so in ``measurement``),
    ``num_syscalls`` (0: not counted), ``exit_signal`` (or ``None``),
    ``result_code``/``result_string``: ``TLE`` ("time limit exceeded") when
    CPU ≥ ``time_limit`` or the wall limit fired, ``RE`` ("program exited due
    to signal N" / "program exited with code N"), else ``OK`` ("ok").
    ``measurement`` = ``{"time": "rusage-user", "memory": "rusage-maxrss"}``
    (or ``"rusage-maxrss-upper-bound"``). A non-zero exit is a verdict, never an
    :class:`~sio.workers.executors.base.ExecError`.
    """

    raise_on_error = False

    def _execute(self, command: list[str] | str, **options: Any) -> dict[str, Any]:
        options["rusage"] = True
        renv = super()._execute(command, **options)
        status = renv.pop("_status")
        usage: Usage = renv.pop("_rusage")
        time_used = int(usage.ru_utime * 1000)
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        renv.update(
            time_used=time_used,
            mem_used=usage.ru_maxrss,
            num_syscalls=0,
            exit_signal=signum,
            measurement={
                "time": "rusage-user",
                "memory": "rusage-maxrss" if usage.exact else "rusage-maxrss-upper-bound",
            },
        )
        time_limit = options.get("time_limit")
        if renv.get("real_time_killed") or (time_limit is not None and time_used >= time_limit):
            renv.update(result_code="TLE", result_string="time limit exceeded")
        elif signum is not None:
            renv.update(result_code="RE", result_string=f"program exited due to signal {signum}")
        elif renv["return_code"]:
            renv.update(
                result_code="RE", result_string=f"program exited with code {renv['return_code']}"
            )
        else:
            renv.update(result_code="OK", result_string="ok")
        return renv
