"""The one way an unprotected process runs: :func:`run_command`.

Every command that no supervisor isolates — :class:`UnprotectedExecutor`
and the executors built on it, :func:`sio.workers.execute.execute`, the
compilers (system and sandboxed: their bubblewrap or PRoot is the command)
— is started here, so limits, capture, the wall-clock limit, measurement
and kill-on-death have one implementation:

* the worker ``posix_spawn``\\ s ``sio-reaper`` (``reaper.c``, a small static
  helper built from source like the supervisor's launcher; the worker never
  forks itself) in a new session, with every signal disposition reset and
  an empty mask (Python ignores ``SIGPIPE`` and ``SIGXFSZ``; a program must
  not inherit that);
* the reaper dies with the worker (``PR_SET_PDEATHSIG``) and, as root,
  runs the command under a watcher that is pid 1 of a pid namespace of its
  own: when the worker dies (SIGKILL, OOM kill, a pool process killed), the
  reaper dies, the watcher dies, and the kernel kills every process of the
  run — also one that forked, ``setsid``-ed or double-forked. Where no pid
  namespace can be made (not root), the reaper is a child subreaper and the
  command dies with it, but what the command forked may outlive a dead
  worker; ``sio-doctor`` says which holds here (:func:`pid_namespace_works`);
* the watcher, not the worker, enforces the wall-clock limit
  (``real_time_limit``, default ``2 × time_limit``): at the limit it kills
  the whole run. When the command ends, whatever it left running is killed
  too: no process outlives its run. The worker keeps a last-resort deadline
  (the limit + :data:`REAPER_GRACE`) at which it kills the reaper;
* rlimits are set in the command just before its exec: ``RLIMIT_CPU`` =
  ``ceil(time_limit / 1000)`` s soft, +1 s hard; ``RLIMIT_AS`` =
  ``mem_limit`` KiB; with the extra options ``file_size_limit`` (bytes,
  ``RLIMIT_FSIZE``) and ``core_limit`` (bytes, ``RLIMIT_CORE``);
* a list command of plain elements (no :class:`noquote`) is executed
  directly, looked up in ``PATH`` like a shell's simple command (a name the
  ``PATH`` lacks runs as a shell builtin, or exits 127 with the shell's
  message); anything else runs as ``/bin/sh -c SCRIPT`` (``exec``-ing the
  program when the script is one simple command, so the waited process is
  the program itself: its own exit status, signal and rusage);
* the command's exit status and rusage come from ``wait4`` in the watcher,
  a small static process: a process spawned by the worker itself would
  inherit the worker's peak RSS as the start of its ``ru_maxrss``;
* outputs are drained with a selector (never a deadlock, whatever the
  program writes to which stream); the captured output keeps at most
  ``output_limit`` bytes, the rest is read and dropped; with the extra
  option ``output_kill_limit`` the run is killed once the captured stream
  carried more than that many bytes (a compiler flooding its messages).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import resource
import selectors
import signal
import time
from dataclasses import dataclass
from typing import Any

from sio.workers.executors.command import ExecError, noquote, shell_join
from sio.workers.executors.streams import Sink, stream_fd
from sio.workers.native import REAPER, NativeBuildError

__all__ = ["REAPER_GRACE", "Usage", "pid_namespace_works", "reaper_path", "run_command"]

SHELL = "/bin/sh"
_REPORT_FD = 3
_ALL_SIGNALS = [s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)]
_CHUNK = 65536
_CONTROL = set(";&|\n()`")

#: Seconds past the wall-clock limit after which the worker itself kills a
#: reaper that has not ended the run (it never should: the reaper enforces
#: the limit). Without a wall-clock limit there is no such deadline.
REAPER_GRACE = 1.0


@dataclass
class Usage:
    """What :func:`run_command` reports with ``rusage=True`` (``_rusage``):
    seconds of user and system CPU, peak RSS in KiB, and whether the figures
    are the command's own (``exact``) or, when the worker had to kill the
    reaper, the reaper's."""

    ru_utime: float
    ru_stime: float
    ru_maxrss: int
    exact: bool


def reaper_path() -> str:
    """The ``sio-reaper`` binary, built on first use. Raises
    :class:`ExecError` when it cannot be built (no C compiler)."""
    try:
        return str(REAPER.path())
    except (NativeBuildError, OSError) as exc:
        raise ExecError(f"sio-reaper cannot be built, so no command can run: {exc}") from None


@functools.lru_cache(maxsize=1)
def pid_namespace_works() -> bool:
    """Whether unprotected runs get a pid namespace of their own here (every
    process of a run then dies with the worker); probed once with a real
    run."""
    renv = run_command(["true"], env={"PATH": "/usr/bin:/bin"}, rusage=True)
    return bool(renv.get("_pidns"))


def _is_simple(command: list[str] | str) -> bool:
    """Whether ``command`` is one simple command (no shell control operators
    in its :class:`noquote` parts), so the shell can ``exec`` it."""
    if isinstance(command, str) or not command or isinstance(command[0], noquote):
        return False
    return not any(isinstance(p, noquote) and _CONTROL & set(p) for p in command)


def _argv(command: list[str] | str) -> list[str]:
    """What the reaper executes: the list itself when no element needs the
    shell, else ``/bin/sh -c SCRIPT``."""
    if isinstance(command, list) and command and not any(isinstance(p, noquote) for p in command):
        return [str(p) for p in command]
    script = shell_join(command)
    if _is_simple(command):
        script = "exec " + script
    return [SHELL, "-c", script]


def _rlimit_args(
    time_limit: int | None,
    mem_limit: int | None,
    file_size_limit: int | None,
    core_limit: int | None,
) -> list[str]:
    limits: list[tuple[int, int, int]] = []
    if time_limit is not None:
        seconds = max(1, math.ceil(time_limit / 1000))
        limits.append((resource.RLIMIT_CPU, seconds, seconds + 1))
    if mem_limit is not None:
        limits.append((resource.RLIMIT_AS, mem_limit * 1024, mem_limit * 1024))
    if file_size_limit is not None:
        limits.append((resource.RLIMIT_FSIZE, file_size_limit, file_size_limit))
    if core_limit is not None:
        limits.append((resource.RLIMIT_CORE, core_limit, core_limit))
    args: list[str] = []
    for res, soft, hard in limits:
        args += ["-r", f"{res}:{soft}:{hard}"]
    return args


@dataclass
class _Report:
    status: int
    usage: Usage
    timed_out: bool
    pidns: bool


def _parse_report(text: bytes, command: Any) -> _Report | None:
    for line in text.decode(errors="replace").splitlines():
        parts = line.split()
        if parts[:1] == ["exit"] and len(parts) == 7:
            status, utime, stime, maxrss, timed_out, pidns = (int(x) for x in parts[1:])
            usage = Usage(utime / 1e6, stime / 1e6, maxrss, exact=True)
            return _Report(status, usage, bool(timed_out), bool(pidns))
        if parts[:1] == ["error"]:
            raise ExecError(f"sio-reaper failed: {line[6:]}", command=command)
    return None


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
    file_size_limit: int | None = None,
    core_limit: int | None = None,
    output_kill_limit: int | None = None,
    rusage: bool = False,
    cwd: str | os.PathLike[str] | None = None,
    **_ignored: Any,
) -> dict[str, Any]:
    """Run ``command`` (a list, see :func:`~sio.workers.executors.command.shell_join`,
    or a shell string) as described in the module doc.

    Returns the renv: ``return_code`` (exit code, or ``-N`` after signal
    ``N``), ``real_time_used`` (ms), ``stdout`` when captured (and
    ``stdout_size``, every byte the stream carried), ``real_time_killed``
    (only when the wall limit fired), ``output_killed`` (only when
    ``output_kill_limit`` fired) and, with ``rusage=True``, ``_status`` (the
    wait status), ``_rusage`` (:class:`Usage`) and ``_pidns``. Raises
    :class:`ExecError` for unusable streams or when the reaper fails.
    """
    argv = _argv(command)
    if real_time_limit is None and time_limit is not None:
        real_time_limit = 2 * time_limit
    reaper = reaper_path()
    options = ["-p", str(os.getpid())]
    if real_time_limit is not None:
        options += ["-T", str(real_time_limit)]
    if cwd is not None:
        options += ["-C", os.fspath(cwd)]
    options += _rlimit_args(time_limit, mem_limit, file_size_limit, core_limit)
    with contextlib.ExitStack() as stack:
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        stack.callback(os.close, devnull)
        readers: dict[int, Sink] = {}
        child_ends: list[int] = []
        stack.callback(lambda: [os.close(fd) for fd in child_ends])

        def pipe_for(sink: Sink) -> int:
            r, w = os.pipe()
            readers[r] = sink
            child_ends.append(w)
            return w

        in_fd = devnull if stdin is None else stream_fd(stdin, "stdin", writable=False)
        if in_fd is None:
            raise ExecError("stdin has no file descriptor")
        capture = Sink(limit=output_limit) if capture_output else None
        if capture is not None:
            out_fd = pipe_for(capture)
        elif stdout is None:
            out_fd = devnull
        else:
            out_fd = stream_fd(stdout, "stdout", writable=True)
            if out_fd is None:
                out_fd = pipe_for(Sink(stdout))
        if forward_stderr:
            err_fd = out_fd
        elif stderr is None:
            err_fd = devnull
        else:
            err_fd = stream_fd(stderr, "stderr", writable=True)
            if err_fd is None:
                err_fd = pipe_for(Sink(stderr))
        report = Sink()
        report_fd = pipe_for(report)
        actions = [
            (os.POSIX_SPAWN_DUP2, fd, target)
            for target, fd in ((0, in_fd), (1, out_fd), (2, err_fd), (_REPORT_FD, report_fd))
        ]
        start = time.monotonic()
        try:
            pid = os.posix_spawn(
                reaper,
                [reaper, *options, "--", *argv],
                env,
                file_actions=actions,
                setsid=True,
                setsigmask=(),
                setsigdef=_ALL_SIGNALS,
            )
        except OSError as exc:
            for fd in readers:
                os.close(fd)
            raise ExecError(f"cannot start {reaper}: {exc}", command=command) from None
        for fd in child_ends:
            os.close(fd)
        child_ends.clear()
        deadline = None
        if real_time_limit is not None:
            deadline = start + real_time_limit / 1000 + REAPER_GRACE
        try:
            status, usage, killed_for = _wait(
                pid, readers, deadline, capture if output_kill_limit is not None else None,
                output_kill_limit,
            )
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            raise
        finally:
            for fd in readers:
                os.close(fd)
        elapsed = time.monotonic() - start
    parsed = _parse_report(report.value(), command)
    timed_out = killed_for == "wall"
    pidns = False
    if parsed is not None:
        status, timed_out, pidns = parsed.status, parsed.timed_out or timed_out, parsed.pidns
        exact = parsed.usage
    elif killed_for is not None:
        # The worker killed the reaper (the last-resort deadline or the
        # output kill limit): the run died with it, its own figures with it.
        status = signal.SIGKILL
        exact = Usage(usage.ru_utime, usage.ru_stime, int(usage.ru_maxrss), exact=False)
    else:
        raise ExecError(
            "sio-reaper ended without reporting the command's status "
            f"({os.waitstatus_to_exitcode(status)})",
            command=command,
        )
    renv: dict[str, Any] = {
        "return_code": os.waitstatus_to_exitcode(status),
        "real_time_used": int(elapsed * 1000),
    }
    if timed_out:
        renv["real_time_killed"] = True
    if killed_for == "output":
        renv["output_killed"] = True
    if capture is not None:
        data = capture.value()
        renv["stdout_size"] = capture.size
        if split_lines:
            lines = data.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            renv["stdout"] = lines
        else:
            renv["stdout"] = data
    if rusage:
        renv["_status"] = status
        renv["_rusage"] = exact
        renv["_pidns"] = pidns
    return renv


def _wait(
    pid: int,
    readers: dict[int, Sink],
    deadline: float | None,
    watched: Sink | None,
    kill_limit: int | None,
) -> tuple[int, Any, str | None]:
    """Drain ``readers`` and wait for the reaper ``pid``. Kills the reaper
    (and so the run) at ``deadline`` or once ``watched`` carried more than
    ``kill_limit`` bytes. Returns ``(wait status, the reaper's rusage,
    "wall" | "output" | None)``."""
    pidfd = os.pidfd_open(pid)
    sel = selectors.DefaultSelector()
    killed_for: str | None = None

    def kill(reason: str) -> None:
        nonlocal killed_for, deadline
        if killed_for is None:
            killed_for = reason
        deadline = None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    try:
        sel.register(pidfd, selectors.EVENT_READ)
        for fd in readers:
            sel.register(fd, selectors.EVENT_READ)
        result = None
        open_readers = len(readers)
        while result is None or open_readers:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            events = sel.select(timeout)
            if not events and deadline is not None and time.monotonic() >= deadline:
                if result is not None:
                    break  # the reaper is gone; something it could not kill holds a pipe
                kill("wall")
                continue
            for key, _ in events:
                fd = key.fd
                if fd == pidfd:
                    sel.unregister(pidfd)
                    _, status, usage = os.wait4(pid, 0)
                    result = (status, usage)
                    # every process of the run is gone by now (the reaper
                    # reaps them all before it ends): what is left in the
                    # pipes comes at once, or never
                    deadline = time.monotonic() + REAPER_GRACE
                    continue
                try:
                    data = os.read(fd, _CHUNK)
                except OSError as exc:
                    if exc.errno == errno.EINTR:
                        continue
                    data = b""
                if data:
                    sink = readers[fd]
                    sink.feed(data)
                    if sink is watched and kill_limit is not None and sink.size > kill_limit:
                        kill("output")
                else:
                    sel.unregister(fd)
                    open_readers -= 1
        return result[0], result[1], killed_for
    finally:
        sel.close()
        os.close(pidfd)
