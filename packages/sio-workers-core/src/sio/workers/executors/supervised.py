"""``SupervisedExecutor``: run an untrusted program under the secure supervisor.

Contract: docs/contracts.rst §3.1–§3.2 (see also ``docs/supervisor.rst``).

Usage::

    with SupervisedExecutor() as ex:
        renv = ex(["./solution"], stdin=fin, stdout=fout,
                  time_limit=1000, mem_limit=65536)

Constructor: ``SupervisedExecutor(allow_local_open=False,
use_program_return_code=False, **kwargs)``. Extra constructor kwargs become
defaults of every call (e.g. ``profile="jvm"``).

Call kwargs (beyond the common ones of :class:`BaseExecutor`):

``ignore_return``
    a non-zero exit code is not RE (a signal death still is).
``profile``
    ``"native"`` (default: C, C++, Pascal — one process, threads allowed and
    counted, any process creation is RV), ``"python"`` (like native; opening
    files for writing fails with EACCES instead of RV), ``"jvm"`` (threads,
    ``exec`` allowed, memory limited by the cgroup only).
``java_sandbox=NAME``
    run ``java`` (a relative first argument) from that sandbox
    (:func:`sio.workers.sandbox.get_sandbox`), bound read-only into the
    program's root; implies ``profile="jvm"``. With ``profile="jvm"`` and no
    ``java_sandbox``, the system JVM (``java`` on ``PATH``) is used.
``pids_limit``
    processes + threads of the run (default 64; 512 for the JVM).
``prepare_during_run``
    start the next run's sandbox while this program runs (default True;
    ``docs/supervisor.rst``, "Prepared launchers"); False waits until the
    run has ended, so that nothing else of the worker's runs meanwhile
    (``cpu-exec``).

What the program sees: a read-only root with ``/usr`` (and the ``/bin``,
``/lib*`` links), ``/dev/{null,zero,urandom}``, its own ``/proc``, a private
``/tmp`` (a tmpfs as large as the memory limit, charged to it, at most 4096
inodes) which is its working directory — with ``allow_local_open=True``
the job directory (the current directory of the caller) is bound read-only
at its own path and is the working directory instead. The program itself is
opened by the supervisor before the namespaces are made, so it need not be
visible. Its environment is exactly ``env`` (empty by default) plus
``LC_ALL`` and ``LANGUAGE`` (``en_US.UTF-8``) — never the worker's own.

``allow_local_open=False`` (the plain profile): the job directory is not
visible at all, and opening any file for writing (``O_WRONLY``/``O_RDWR``/
``O_CREAT``/``O_TRUNC``/``O_APPEND``, ``creat``) is ``RV opening files``. Read
opens are allowed — the dynamic loader needs them — but only public system
files exist in the program's root. ``allow_local_open=True``: files of the
job directory can be read (the directory is made ``o+rx``; each file keeps its
own mode), ``/tmp`` can be written, the job directory cannot.

Commands: a list of plain strings is exec'ed directly (no shell). A command
with ``noquote`` parts (or a string) is split with :mod:`shlex` and exec'ed
directly when it is a simple command; shell syntax (pipes, redirections,
``;``, ``$``, globs...) is refused with ``SE``: a shell cannot run under the
native profile (it forks and execs).

The renv: ``return_code`` (0 when the supervisor worked; the program's exit
code with ``use_program_return_code``), ``result_code``, ``result_string``,
``time_used`` (ms, user+system CPU of the whole tree from the cgroup),
``mem_used`` (KiB, the cgroup's peak), ``real_time_used`` (ms),
``num_syscalls`` (always 0: the supervisor does not count syscalls),
``exit_signal`` (or None), ``measurement``, ``real_time_killed`` (True when
the wall limit fired), ``stdout`` with ``capture_output`` (``bytes``, or a
list of ``bytes`` lines with ``split_lines``; at most ``output_limit`` bytes).

Errors: as for every executor, a non-zero ``return_code`` raises
:class:`~sio.workers.executors.base.ExecError` unless ``ignore_errors``:
that happens only for ``SE`` (``return_code`` 1; the renv is on the
exception) or, with ``use_program_return_code``, for a non-zero exit of the
program. Verdicts (RE, TLE, ...) are never exceptions.

Defaults when a limit is not given (or None): memory 64 MiB, CPU 30 s, output
50 MiB, wall ``64 × time_limit + 1000`` ms.

Extension hooks (used by ``VCPUExecutor``, which subclasses this class)
-------------------------------------------------------------------------
Each gets the :class:`RunContext` of the call and may be overridden:

:meth:`SupervisedExecutor._wrapper_argv`
    argv to prefix to the program's (e.g. ``["qemu-x86_64", "-plugin",
    "/path/libinsn.so,outfile=/tmp/count"]``). The wrapper runs inside the
    same isolation, as the exec'ed file; the program then must be visible
    inside: the context's ``program`` path is bound read-only at its own path
    when a wrapper is used (add more with :meth:`_extra_binds`).
:meth:`SupervisedExecutor._profile`
    the :class:`~sio.workers.supervisor.supervisor.Profile` to use (a
    wrapper such as qemu may need another one).
:meth:`SupervisedExecutor._make_clock`
    a :class:`~sio.workers.supervisor.watchdog.CpuClock` replacing the
    cgroup CPU clock: its ``used_ms()`` is polled by the watchdog against
    ``time_limit`` (set ``enforce = False`` when the wrapper stops itself),
    ``final_ms()`` gives ``time_used``, ``name`` goes to
    ``measurement["time"]``, ``failure()`` a reason for SE (e.g. the counter
    file is missing).
:meth:`SupervisedExecutor._memory_overhead_kib`
    KiB added to the cgroup limit and subtracted from ``mem_used`` (the
    wrapper's own memory).
:meth:`SupervisedExecutor._extra_binds`
    extra ``(host_path, inside_path, read_only)`` bind mounts.
:meth:`SupervisedExecutor._finish_renv`
    last look at the renv (the outcome and the context are passed).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from typing import Any

from sio.workers.executors.base import BaseExecutor, noquote
from sio.workers.supervisor.slots import devnull_fd
from sio.workers.supervisor.supervisor import (
    PROFILES,
    CpuClock,
    Profile,
    RunOutcome,
    RunSpec,
    supervise,
)
from sio.workers.supervisor.verdict import exit_code, exit_signal, verdict

DEFAULT_MEM_LIMIT_KIB = 64 * 1024
DEFAULT_TIME_LIMIT_MS = 30_000
DEFAULT_OUTPUT_LIMIT = 50 * 1024 * 1024
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
"""Where a bare program name is looked up (unless ``env`` has a PATH)."""
SHELL_SPECIALS = set("|&;<>()$`*?[]{}~\n")


class UnsupportedCommand(ValueError):
    """The command cannot be run without a shell."""


@dataclass
class RunContext:
    """One call of the executor, as the hooks see it."""

    argv: list[str]
    """The program's argv (argv[0] as given)."""
    program: str
    """Absolute host path of the program."""
    job_dir: str
    time_limit_ms: int
    real_time_limit_ms: int
    mem_limit_kib: int
    output_limit: int
    profile_name: str
    env: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    """The remaining call kwargs."""


def _is_noquote(part: Any) -> bool:
    return type(part).__name__ == "noquote" or isinstance(part, noquote)


def command_argv(command: Any) -> list[str]:
    """The argv to exec for a BaseExecutor-style command (see the module doc).

    Raises :class:`UnsupportedCommand` for shell syntax in ``noquote`` parts.
    """
    if isinstance(command, bytes):
        command = command.decode()
    if isinstance(command, str) and not _is_noquote(command):
        command = noquote(command)  # a string is one noquote element
    if _is_noquote(command):
        command = [command]
    parts = [p.decode() if isinstance(p, bytes) else p for p in command]
    if not any(_is_noquote(p) for p in parts):
        argv = [str(p) for p in parts]
    else:
        for p in parts:
            if _is_noquote(p) and SHELL_SPECIALS & set(str(p)):
                raise UnsupportedCommand(
                    f"shell syntax is not supported by the supervisor: {str(p)!r}"
                )
        argv = shlex.split(
            " ".join(str(p) if _is_noquote(p) else shlex.quote(str(p)) for p in parts)
        )
    if not argv:
        raise UnsupportedCommand("empty command")
    return argv


def _limit(value: Any, default: int) -> int:
    return default if value is None else int(value)


class SupervisedExecutor(BaseExecutor):
    """Runs programs under the secure supervisor (docs/contracts.rst §3.1)."""

    def __init__(self, allow_local_open: bool = False, use_program_return_code: bool = False,
                 **kwargs: Any) -> None:
        super().__init__()
        self.allow_local_open = allow_local_open
        self.use_program_return_code = use_program_return_code
        self.defaults = kwargs

    def __call__(self, command: Any, env: Any = None, **kwargs: Any) -> dict[str, Any]:
        """As :meth:`BaseExecutor.__call__`, but ``env=None`` means an empty
        environment (plus ``LC_ALL``/``LANGUAGE``), never the worker's own."""
        return super().__call__(command, env={} if env is None else env, **kwargs)

    def _execute(self, command: Any, **options: Any) -> dict[str, Any]:
        """The BaseExecutor hook: see :meth:`run_supervised`."""
        return self.run_supervised(command, **options)

    # ---- hooks for subclasses (see the module docstring) ----

    def _wrapper_argv(self, ctx: RunContext) -> list[str]:
        return []

    def _profile(self, ctx: RunContext) -> Profile:
        return PROFILES[ctx.profile_name]

    def _make_clock(self, ctx: RunContext) -> CpuClock:
        return CpuClock()

    def _memory_overhead_kib(self, ctx: RunContext) -> int:
        return 0

    def _extra_binds(self, ctx: RunContext) -> list[tuple[str, str, bool]]:
        return []

    def _finish_renv(self, renv: dict[str, Any], outcome: RunOutcome, ctx: RunContext) -> None:
        pass

    # ---- the run ----

    def _resolve_program(self, name: str, env: dict[str, str]) -> str:
        if "/" in name:
            return os.path.abspath(name)
        found = shutil.which(name, path=env.get("PATH") or DEFAULT_PATH)
        return os.path.abspath(found) if found else os.path.abspath(name)

    def run_supervised(self, command: Any, **kw: Any) -> dict[str, Any]:
        """Run ``command``; return the renv (never raises for the program's faults)."""
        kw = {**self.defaults, **kw}
        env = dict(kw.pop("env", None) or {})
        try:
            argv = command_argv(command)
        except UnsupportedCommand as exc:
            return _se_renv(str(exc))
        java_sandbox = kw.pop("java_sandbox", None)
        profile_name = kw.pop("profile", None) or ("jvm" if java_sandbox else "native")
        if profile_name not in PROFILES:
            return _se_renv(f"unknown supervisor profile {profile_name!r}")
        with contextlib.ExitStack() as stack:
            binds: list[tuple[str, str, bool]] = []
            if java_sandbox:
                from sio.workers.sandbox import get_sandbox

                sandbox = stack.enter_context(get_sandbox(java_sandbox))
                sb_path = str(sandbox.path)
                binds.append((sb_path, sb_path, True))
                if "/" not in argv[0]:
                    for candidate in ("bin/" + argv[0], "usr/bin/" + argv[0]):
                        if os.path.exists(os.path.join(sb_path, candidate)):
                            argv[0] = os.path.join(sb_path, candidate)
                            break
            time_limit = _limit(kw.pop("time_limit", None), DEFAULT_TIME_LIMIT_MS)
            real_limit = kw.pop("real_time_limit", None)
            real_limit = 64 * time_limit + 1000 if real_limit is None else int(real_limit)
            ctx = RunContext(
                argv=argv,
                program=self._resolve_program(argv[0], env),
                job_dir=os.getcwd(),
                time_limit_ms=time_limit,
                real_time_limit_ms=real_limit,
                mem_limit_kib=_limit(kw.pop("mem_limit", None), DEFAULT_MEM_LIMIT_KIB),
                output_limit=_limit(kw.pop("output_limit", None), DEFAULT_OUTPUT_LIMIT),
                profile_name=profile_name,
                env={str(k): str(v) for k, v in env.items()},
                options=kw,
            )
            return self._run(ctx, binds, stack)

    def _run(self, ctx: RunContext, binds: list[tuple[str, str, bool]],
             stack: contextlib.ExitStack) -> dict[str, Any]:
        kw = ctx.options
        capture = kw.get("capture_output", False)
        devnull = devnull_fd()
        stdin = _fd_of(kw.get("stdin"), devnull)
        if capture:
            capture_file = stack.enter_context(tempfile.TemporaryFile())
            stdout = capture_file.fileno()
        else:
            stdout = _fd_of(kw.get("stdout"), devnull)
        stderr = stdout if kw.get("forward_stderr") else _fd_of(kw.get("stderr"), devnull)
        wrapper = self._wrapper_argv(ctx)
        binds = binds + self._extra_binds(ctx)
        if wrapper:
            binds.append((ctx.program, ctx.program, True))
        cwd = "/tmp"
        if self.allow_local_open and ctx.job_dir != "/":
            _make_traversable(ctx.job_dir)
            binds.append((ctx.job_dir, ctx.job_dir, True))
            cwd = ctx.job_dir
        if wrapper:
            executable = self._resolve_program(wrapper[0], {})
            argv = [*wrapper, ctx.program, *ctx.argv[1:]]
        else:
            executable, argv = ctx.program, ctx.argv
        spec = RunSpec(
            argv=argv,
            executable=executable,
            env=ctx.env,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            time_limit_ms=ctx.time_limit_ms,
            real_time_limit_ms=ctx.real_time_limit_ms,
            mem_limit_kib=ctx.mem_limit_kib,
            output_limit=ctx.output_limit,
            profile=self._profile(ctx),
            plain_open=not self.allow_local_open,
            cwd=cwd,
            binds=binds,
            pids_limit=kw.get("pids_limit"),
            mem_overhead_kib=self._memory_overhead_kib(ctx),
            clock=self._make_clock(ctx),
            ignore_return=bool(kw.get("ignore_return", False)),
            prepare_during_run=bool(kw.get("prepare_during_run", True)),
        )
        outcome = supervise(spec)
        renv = self._renv(outcome, ctx)
        if capture:
            capture_file.seek(0)
            data = capture_file.read(ctx.output_limit)
            if kw.get("split_lines"):
                lines = data.split(b"\n")
                renv["stdout"] = lines[:-1] if lines and lines[-1] == b"" else lines
            else:
                renv["stdout"] = data
        self._finish_renv(renv, outcome, ctx)
        return renv

    def _renv(self, outcome: RunOutcome, ctx: RunContext) -> dict[str, Any]:
        facts = outcome.facts
        code, text = verdict(facts)
        program_code = exit_code(facts)
        if self.use_program_return_code:
            return_code = program_code if program_code is not None else -1
        else:
            return_code = 0 if code != "SE" else 1
        sig = exit_signal(facts)
        renv = {
            "return_code": return_code,
            "result_code": code,
            "result_string": text,
            "time_used": facts.cpu_ms,
            "mem_used": facts.peak_kib,
            "real_time_used": facts.wall_ms,
            "num_syscalls": 0,
            "exit_signal": sig if sig != signal.SIGKILL or not facts.killed_for else None,
            "measurement": outcome.measurement,
        }
        if facts.killed_for == "wall":
            renv["real_time_killed"] = True
        return renv


def _make_traversable(path: str) -> None:
    """Let the slot's uid list and enter the job directory (o+rx).

    Job directories are made with mode 0700 (``mkdtemp``); the program, running
    as another uid, could not read anything in them. Only the directory's own
    mode is changed: files keep theirs (``0600`` files stay unreadable).
    """
    mode = os.stat(path).st_mode
    if mode & 0o005 != 0o005:
        os.chmod(path, (mode & 0o7777) | 0o005)


def _fd_of(stream: Any, default: int) -> int:
    if stream is None:
        return default
    if isinstance(stream, int):
        return stream
    return stream.fileno()


def _se_renv(reason: str) -> dict[str, Any]:
    return {
        "return_code": 1,
        "result_code": "SE",
        "result_string": reason,
        "time_used": 0,
        "mem_used": 0,
        "real_time_used": 0,
        "num_syscalls": 0,
        "exit_signal": None,
        "measurement": {"time": "none", "memory": "none"},
    }
