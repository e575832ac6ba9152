"""Spawn, watch and account one supervised run.

:func:`supervise` is the whole life of a run:

1. take a free slot (uid + pooled cgroup, :mod:`.slots`), reset its cgroup
   and set the memory and pids limits;
2. ``os.posix_spawn`` the static launcher (the worker never forks itself)
   with the program's stdin/stdout/stderr and a status pipe on fd 3;
3. watch: wall clock and the run's CPU clock (by default the cgroup's CPU
   time of the whole tree), sleeping adaptively (never longer than the
   remaining CPU budget divided by the number of CPUs), and kill the whole
   tree when a limit is passed (SIGKILL to the launcher → the namespace init
   dies by ``PR_SET_PDEATHSIG`` → the kernel kills the pid namespace; then a
   final freeze-and-kill sweep of the cgroup);
4. collect the facts (status line of the launcher, cgroup CPU, peak memory,
   OOM kills, output size) into :class:`~.verdict.Facts`.

Nothing here decides a verdict: :func:`~.verdict.verdict` does.
"""

from __future__ import annotations

import functools
import math
import os
import resource
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sio.workers.supervisor import build, prepared
from sio.workers.supervisor.cgroups import CgroupError, CgroupStats, RunCgroup
from sio.workers.supervisor.slots import (
    Slot,
    SlotsExhausted,
    acquire_slot,
    netns_fd,
    root_mountpoint,
)
from sio.workers.supervisor.verdict import Facts

#: how far behind the real-time limit the launcher kills a run by itself
#: (launcher option ``-T``) when the watchdog has not: a hung worker
LAUNCHER_WALL_MARGIN_MS = 500
SYSTEM_LINKS_OR_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_RESETTABLE_SIGNALS = tuple(
    s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)
)


@dataclass(frozen=True)
class Profile:
    """A seccomp + resource profile of the launcher."""

    name: str
    seccomp: str
    """Launcher profile: ``native``, ``python``, ``jvm`` or ``none``."""
    pids: int
    """Default pids limit (processes + threads) of the program."""
    nofile: int
    stack_is_memory: bool
    """RLIMIT_STACK = 2 × the memory limit (native) instead of 8 MiB."""
    extra_ro: tuple[str, ...] = ()


PROFILES = {
    "native": Profile("native", "native", pids=64, nofile=64, stack_is_memory=True),
    "python": Profile("python", "python", pids=64, nofile=256, stack_is_memory=False),
    "jvm": Profile("jvm", "jvm", pids=512, nofile=1024, stack_is_memory=False,
                   extra_ro=("/etc/java-17-openjdk", "/etc/java-21-openjdk",
                             "/etc/java-25-openjdk")),
}


class CpuClock:
    """The clock that measures and limits ``time_used``.

    The default is the CPU time (user+system) of every process and thread in
    the run's cgroup. Subclasses (the VCPU executor) replace it, e.g. with an
    instruction counter: ``used_ms`` is polled by the watchdog, ``final_ms``
    gives ``time_used``; ``enforce = False`` leaves enforcement to the program's
    wrapper (the watchdog then only polls the wall clock).
    """

    name = "cgroup-cpu"
    enforce = True
    final_at_report = True
    """Whether the measurement is complete once the namespace init reports
    (the program's processes are gone); False keeps the worker waiting for
    the launcher's own exit too (a counter inherited by the launcher is only
    complete when every process holding it has exited)."""

    hold_at_exec = False
    """Whether the program is held just before its exec until :meth:`attach`
    has been called with its host pid (a counter that must start exactly at
    the program's exec and count none of the launcher's work)."""

    def start(self, cgroup: RunCgroup) -> None:
        self.cgroup = cgroup

    def attach(self, pid: int) -> bool:
        """Called with the program's host pid while it is held before its
        exec (only when :attr:`hold_at_exec`); False = do not run it (the
        reason is :meth:`failure`'s)."""
        return True

    def used_ms(self) -> float:
        return self.cgroup.cpu_ns() / 1e6

    def max_rate(self) -> float:
        """Upper bound of clock ms per wall ms (for sleeping in the watchdog)."""
        return float(len(os.sched_getaffinity(0)) or 1)

    def final_ms(self, stats: CgroupStats) -> int:
        return round(stats.cpu_ns / 1e6)

    def failure(self) -> str | None:
        """A reason why the measurement is invalid (the run ends SE), or None."""
        return None


@dataclass
class RunSpec:
    """What to run and how. Units: ms, KiB, bytes. ``None`` = no limit."""

    argv: list[str]
    """The program's argv; ``argv[0]`` is also the program unless ``executable``."""
    env: dict[str, str]
    stdin: int
    stdout: int
    stderr: int
    time_limit_ms: int | None
    real_time_limit_ms: int | None
    mem_limit_kib: int | None
    output_limit: int | None
    profile: Profile = PROFILES["native"]
    plain_open: bool = True
    cwd: str = "/tmp"
    binds: list[tuple[str, str, bool]] = field(default_factory=list)
    """Extra ``(host_path, inside_path, read_only)`` bind mounts."""
    pids_limit: int | None = None
    tmp_kib: int | None = None
    tmp_inodes: int = 4096
    mem_overhead_kib: int = 0
    """Added to the cgroup limit and subtracted from the peak (a wrapper's memory)."""
    clock: CpuClock = field(default_factory=CpuClock)
    ignore_return: bool = False
    namespaces: bool = True
    executable: str | None = None
    """Host path of the file to exec (opened before the namespaces are made)."""
    prepare_during_run: bool = True
    """Start the next run's launcher (:mod:`.prepared`) while this program
    runs; False: only after it has ended (nothing else of ours runs
    meanwhile, for ``cpu-exec``)."""


@dataclass
class RunOutcome:
    facts: Facts
    measurement: dict[str, str]
    cgroup_version: str | None = None
    rusage_cpu_ms: float | None = None
    """user+system CPU of the program's processes from ``wait4`` in the
    namespace init (a cross-check of the cgroup clock); for a run killed by
    the worker, the launcher's reaped tree."""


@functools.lru_cache(maxsize=1)
def _system_binds_cached() -> tuple[tuple[str, ...], tuple[tuple[str, str, bool], ...]]:
    links, binds = _system_binds()
    return tuple(links), tuple(binds)


def _system_binds() -> tuple[list[str], list[tuple[str, str, bool]]]:
    links, binds = [], [("/usr", "/usr", True)]
    for path in SYSTEM_LINKS_OR_DIRS:
        if os.path.islink(path):
            links.append(path)
        elif os.path.isdir(path):
            binds.append((path, path, True))
    return links, binds


def _run_args(spec: RunSpec, slot: Slot) -> list[str]:
    """The launcher options of the run itself (all but the root's)."""
    args = []
    for procs in slot.cgroup.procs_files():
        args += ["-c", procs]
    args += ["-u", str(slot.uid), "-g", str(slot.gid)]
    if spec.namespaces and slot.netns:
        args += ["-n", slot.netns]
    rl = []
    if spec.output_limit is not None:
        # One byte more than the limit: output of exactly the limit is fine,
        # anything over it is stopped with SIGXFSZ as soon as it is written.
        fsize = spec.output_limit + 1
        rl.append((resource.RLIMIT_FSIZE, fsize, fsize))
    rl.append((resource.RLIMIT_CORE, 0, 0))
    rl.append((resource.RLIMIT_NOFILE, spec.profile.nofile, spec.profile.nofile))
    rl.append((resource.RLIMIT_MEMLOCK, 0, 0))
    rl.append((resource.RLIMIT_MSGQUEUE, 0, 0))
    if spec.profile.stack_is_memory and spec.mem_limit_kib:
        # Twice the memory limit: the cgroup stops a deep stack first (MLE),
        # whatever order the program touches it in.
        stack = 2 * spec.mem_limit_kib * 1024
        rl.append((resource.RLIMIT_STACK, stack, stack))
    else:
        rl.append((resource.RLIMIT_STACK, 8 << 20, 8 << 20))
    if spec.time_limit_ms is not None and spec.clock.enforce:
        # A per-process backstop only: the watchdog kills the tree first.
        soft = math.ceil(spec.time_limit_ms / 1000) + 1
        rl.append((resource.RLIMIT_CPU, soft, soft + 1))
    for res, soft, hard in rl:
        args += ["-r", f"{res}:{soft}:{hard}"]
    if spec.real_time_limit_ms is not None:
        # The launcher's own wall limit: a backstop behind the watchdog, so
        # that a hung worker cannot keep the run alive.
        args += ["-T", str(spec.real_time_limit_ms + LAUNCHER_WALL_MARGIN_MS)]
    args += ["-w", spec.cwd, "-s", spec.profile.seccomp]
    if spec.plain_open:
        args.append("-o")
    return args


def _root_args(spec: RunSpec) -> tuple[str, ...]:
    """The launcher options that shape the new root (``-M``, ``-l``, ``-b``):
    the key of a prepared launcher. Empty without namespaces."""
    if not spec.namespaces:
        return ()
    links, fixed = _system_binds_cached()
    binds = list(fixed)
    for path in spec.profile.extra_ro:
        if os.path.isdir(path):
            binds.append((path, path, True))
    binds += spec.binds
    args = ["-M", str(root_mountpoint())]
    for link in links:
        args += ["-l", link]
    for src, dst, ro in binds:
        args += ["-b", f"{src}:{dst}:{'ro' if ro else 'rw'}"]
    return tuple(args)


def _root_key(spec: RunSpec, root_args: tuple[str, ...]) -> tuple[str, ...]:
    """What a prepared launcher must match to serve ``spec``: the root's
    options and the identity of each per-run bind source (a sandbox updated
    meanwhile is a new directory: a root prepared with the old one, now
    deleted, must not serve)."""
    idents = []
    for src, _, _ in spec.binds:
        try:
            st = os.stat(src)
        except OSError:
            return ()  # the launcher will report it
        idents.append(f"{st.st_dev}:{st.st_ino}")
    return (*root_args, *idents)


def _tmp_arg(spec: RunSpec) -> str:
    """The ``-t`` value: the private ``/tmp``'s size (KiB) and inodes."""
    tmp_kib = spec.tmp_kib or spec.mem_limit_kib or 65536
    return f"{tmp_kib}:{spec.tmp_inodes}"


def _launcher_args(spec: RunSpec, slot: Slot) -> list[str]:
    """The whole command line options of a launcher started for the run."""
    if not spec.namespaces:
        return [*_run_args(spec, slot), "-N"]
    return [*_run_args(spec, slot), *_root_args(spec), "-t", _tmp_arg(spec)]


def _parse_status(
    text: str,
) -> tuple[int | None, str | None, str | None, int | None, int | None, int | None]:
    """``(wait_status, violation, error, wall_ns, maxrss_kib, cpu_us)`` from
    the launcher's status line."""
    lines = text.strip().splitlines()
    errors = [line for line in lines if line.startswith("error ")]
    line = errors[0] if errors else (lines[-1] if lines else "")
    kind, _, rest = line.partition(" ")
    if kind == "exit":
        st, wall, *more = rest.split()
        maxrss = int(more[0]) if more else None
        cpu_us = int(more[1]) if len(more) > 1 else None
        return int(st), None, None, int(wall), maxrss, cpu_us
    if kind == "rv":
        name, _, wall = rest.rpartition(" ")
        return None, name, None, int(wall), None, None
    if kind == "error":
        return None, None, rest, None, None, None
    return None, None, None, None, None, None


def _output_size(fd: int) -> int:
    try:
        st = os.fstat(fd)
    except OSError:
        return 0
    import stat as stat_mod

    return st.st_size if stat_mod.S_ISREG(st.st_mode) else 0


def _measurement(spec: RunSpec, version: str | None) -> dict[str, str]:
    return {"time": spec.clock.name, "memory": "cgroup-peak", "cgroup": version or "none"}


def supervise(spec: RunSpec) -> RunOutcome:
    """Run ``spec`` under the supervisor and return the measured facts.

    Never raises for problems of the run; a failure of the supervisor itself is
    reported as ``Facts.system_error`` (the verdict becomes ``SE``).
    """

    def se(reason: str, version: str | None = None) -> RunOutcome:
        return RunOutcome(
            Facts(system_error=reason, mem_limit_kib=spec.mem_limit_kib),
            _measurement(spec, version),
            version,
        )

    _reap_finished()
    if os.geteuid() != 0:
        return se("the supervisor needs root (namespaces, cgroups, per-slot uids)")
    try:
        launcher = str(build.launcher_path())
    except (build.LauncherBuildError, OSError) as exc:
        return se(f"launcher unavailable: {exc}")
    try:
        with acquire_slot(launcher) as slot:
            return _run_in_slot(spec, launcher, slot)
    except (CgroupError, SlotsExhausted) as exc:
        return se(str(exc))


def _run_in_slot(spec: RunSpec, launcher: str, slot: Slot) -> RunOutcome:
    cgroup = slot.cgroup
    version = cgroup.version
    mem_limit = spec.mem_limit_kib
    limit_bytes = (mem_limit + spec.mem_overhead_kib) * 1024 if mem_limit else None
    pids = spec.pids_limit or spec.profile.pids
    cgroup.prepare(limit_bytes, pids)  # the launcher and its init stay outside
    spec.clock.start(cgroup)
    root_args = _root_args(spec)
    root_key = _root_key(spec, root_args) if root_args else ()
    prep = prepared.take(root_key) if root_key else None
    started: _Started | str | None = None
    if prep is not None:
        started = _start_prepared(spec, slot, prep)
        if not isinstance(started, tuple):
            prepared.discard(prep)
    if started is None:
        started = _start_launcher(spec, slot, launcher)
    if isinstance(started, str):
        cgroup.finish()
        return RunOutcome(Facts(system_error=started, mem_limit_kib=spec.mem_limit_kib),
                          _measurement(spec, version), version)
    pid, status_r, go_w, start = started
    # The next run's launcher: started while this program runs (the worker
    # only waits then), or after the run (see prepared's docs).
    prepare_now = spec.prepare_during_run and not spec.clock.hold_at_exec
    if root_key and prepare_now:
        prepared.prepare_next(launcher, root_args, root_key, _tmp_arg(spec), _unreaped)

    def release_program() -> None:
        """The program is held before its exec: attach the clock, let it go."""
        nonlocal go_w
        pids = cgroup.pids()
        try:
            if len(pids) == 1 and spec.clock.attach(pids[0]):
                os.write(go_w, b"1")
        finally:
            os.close(go_w)  # without the byte: the program exits unrun
            go_w = None

    killed_for = None
    chunks: list[bytes] = []
    rusage = None
    try:
        killed_for, final = _watch(spec, status_r, chunks, start,
                                   release_program if go_w is not None else None)
        if killed_for:
            _kill(pid, cgroup)
            _drain(status_r, chunks, 2.0)
        if final and not killed_for and spec.clock.final_at_report:
            # The namespace is empty (see the launcher's status protocol):
            # its teardown and the launcher's exit need not delay the verdict.
            wait_status = _reap_later(pid)
        else:
            _, wait_status, rusage = os.wait4(pid, 0)
    finally:
        os.close(status_r)
        if go_w is not None:
            os.close(go_w)
    wall_ms = round((time.monotonic() - start) * 1000)
    cgroup_error = None
    try:
        if cgroup.has_processes():
            cgroup.kill_all()
        stats = cgroup.stats()
    except (CgroupError, OSError) as exc:
        cgroup_error = f"cgroup accounting failed: {exc}"
        stats = CgroupStats(0, 0, 0)
    finally:
        cgroup.finish()
    st, violation, error, wall_ns, maxrss_kib, program_cpu_us = _parse_status(
        b"".join(chunks).decode(errors="replace")
    )
    if wall_ns is not None and not killed_for:
        wall_ms = round(wall_ns / 1e6)
        if _launcher_killed_for_wall(spec, st, wall_ms):
            killed_for = "wall"
    if error:
        system_error = f"supervisor: {error}"
    elif cgroup_error:
        system_error = cgroup_error
    elif st is None and violation is None and killed_for is None:
        system_error = f"the launcher ended without a status (wait status {wait_status})"
    else:
        system_error = spec.clock.failure()
    peak_kib = max(0, stats.peak_bytes // 1024 - spec.mem_overhead_kib)
    if maxrss_kib and not spec.mem_overhead_kib:
        # The v1 peak is precise to the per-CPU charge batches (cgroups.py):
        # never report less than the program's own peak RSS (wait4 in the
        # namespace init). Not with a wrapper (qemu), whose RSS is its own.
        peak_kib = max(peak_kib, maxrss_kib)
    facts = Facts(
        wait_status=st,
        cpu_ms=spec.clock.final_ms(stats),
        wall_ms=wall_ms,
        peak_kib=peak_kib,
        oom_kills=stats.oom_kills,
        output_bytes=_output_size(spec.stdout),
        time_limit_ms=spec.time_limit_ms,
        real_time_limit_ms=spec.real_time_limit_ms,
        mem_limit_kib=mem_limit,
        output_limit=spec.output_limit,
        killed_for=killed_for,
        violation=violation,
        system_error=system_error,
        ignore_return=spec.ignore_return,
    )
    if program_cpu_us is not None:
        rusage_cpu_ms = program_cpu_us / 1000
    elif rusage is not None:
        rusage_cpu_ms = (rusage.ru_utime + rusage.ru_stime) * 1000
    else:
        rusage_cpu_ms = None
    if root_key and not prepare_now:
        prepared.prepare_next(launcher, root_args, root_key, _tmp_arg(spec), _unreaped)
    return RunOutcome(facts, _measurement(spec, version), version, rusage_cpu_ms=rusage_cpu_ms)


_Started = tuple[int, int, "int | None", float]
"""``(launcher pid, status pipe's read end, go pipe's write end, start time)``."""


def _start_launcher(spec: RunSpec, slot: Slot, launcher: str) -> _Started | str:
    """``posix_spawn`` a launcher for the run; a reason (str) if it cannot."""
    executable = spec.executable or spec.argv[0]
    argv = [launcher, *_launcher_args(spec, slot), "--", executable, *spec.argv]
    status_r, status_w = os.pipe()
    child_fds = [spec.stdin, spec.stdout, spec.stderr, status_w]
    go_w = None
    if spec.clock.hold_at_exec:
        go_r, go_w = os.pipe()
        child_fds.append(go_r)
        argv.insert(1, "-W")
    fds = [os.dup(fd) for fd in child_fds]
    actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)]
    start = time.monotonic()
    try:
        pid = os.posix_spawn(
            launcher,
            argv,
            spec.env,
            file_actions=actions,
            setsigdef=_RESETTABLE_SIGNALS,
            setsigmask=(),
        )
    except OSError as exc:
        os.close(status_r)
        if go_w is not None:
            os.close(go_w)
        return f"cannot start the launcher: {exc}"
    finally:
        for fd in (*fds, *child_fds[3:]):
            os.close(fd)
    return pid, status_r, go_w, start


def _start_prepared(spec: RunSpec, slot: Slot, prep: prepared.Prepared) -> _Started | str | None:
    """Send the run to a prepared launcher (:mod:`.prepared`). None when it
    is gone (the caller discards it and starts its own); a reason (str)
    when the run cannot start at all."""
    executable = spec.executable or spec.argv[0]
    # The network namespace and the cgroups come as descriptors.
    args = _drop_option(_drop_option(_run_args(spec, slot), "-n"), "-c")
    opened: list[int] = []
    go_r = go_w = None
    try:
        try:
            exe = os.open(executable, os.O_PATH | os.O_CLOEXEC)
        except OSError as exc:
            return f"supervisor: open program {executable}: {exc.strerror}"
        opened.append(exe)
        fds = [spec.stdin, spec.stdout, spec.stderr, exe]
        if spec.namespaces and slot.netns:
            fds.append(netns_fd(slot.netns))
            args += ["-n", "netns"]
        if spec.clock.hold_at_exec:
            go_r, go_w = os.pipe()
            fds.append(go_r)
            args.append("-W")
        procs = slot.cgroup.procs_fds()
        if not slot.cgroup.keeps_procs_fds:
            opened += procs
        fds += procs
        args += ["-c", "cgroup"] * len(procs)
        if _aslr_off():
            args.append("-A")  # a launcher started now would inherit it
        tmp = _tmp_arg(spec)
        if tmp != prep.tmp:
            args += ["-t", tmp]
        for name, value in spec.env.items():
            args += ["-e", f"{name}={value}"]
        args += ["--", executable, *spec.argv]
        start = time.monotonic()
        if not prepared.send_run(prep, args, fds):
            if go_w is not None:
                os.close(go_w)
                go_w = None
            return None
        result = (prep.pid, prep.status_r, go_w, start)
        go_w = None
        return result
    except OSError as exc:
        return f"cannot start the run: {exc}"
    finally:
        for fd in opened:
            os.close(fd)
        if go_r is not None:
            os.close(go_r)
        if go_w is not None:
            os.close(go_w)


_ADDR_NO_RANDOMIZE = 0x0040000


@functools.lru_cache(maxsize=1)
def _personality() -> Callable[[int], int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).personality
    except (OSError, AttributeError):
        return None


def _aslr_off() -> bool:
    """Whether this thread runs with address-space randomisation off
    (``personality``, inherited by what it spawns; see
    :func:`sio.workers.vcpu.clocks.no_aslr`)."""
    personality = _personality()
    persona = personality(0xFFFFFFFF) if personality is not None else -1
    return persona >= 0 and persona & _ADDR_NO_RANDOMIZE != 0


def _drop_option(args: list[str], option: str) -> list[str]:
    """``args`` without every ``option VALUE`` pair."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        else:
            out.append(arg)
    return out


_unreaped: set[int] = set()
"""Launchers that reported a final status line but had not exited yet."""


def _reap_later(pid: int) -> int | None:
    """Reap ``pid`` if it has exited, else leave it to :func:`_reap_finished`."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    if done:
        return status
    _unreaped.add(pid)
    return None


def _reap_finished() -> None:
    """Reap the launchers left by earlier runs (each exits right after its
    final status line; none is waited for)."""
    for pid in list(_unreaped):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid  # reaped elsewhere
        if done:
            _unreaped.discard(pid)


def _launcher_killed_for_wall(spec: RunSpec, wait_status: int | None, wall_ms: int) -> bool:
    """Whether the launcher's backstop (``-T``) ended the run: SIGKILLed
    past the real-time limit while the watchdog did not fire."""
    return (
        spec.real_time_limit_ms is not None
        and wait_status is not None
        and os.WIFSIGNALED(wait_status)
        and os.WTERMSIG(wait_status) == signal.SIGKILL
        and wall_ms >= spec.real_time_limit_ms
    )


def _final_line(chunks: list[bytes]) -> bool:
    """Whether the namespace init's final line (``exit``/``rv``) has arrived."""
    text = b"".join(chunks)
    if not text.endswith(b"\n"):
        return False
    last = text.rstrip(b"\n").rpartition(b"\n")[2]
    return last.startswith((b"exit ", b"rv "))


def _watch(
    spec: RunSpec,
    status_r: int,
    chunks: list[bytes],
    start: float,
    on_ready: Callable[[], None] | None = None,
) -> tuple[str | None, bool]:
    """Wait for the final status line or the status pipe's EOF.

    Returns ``(killed_for, final)``: ``killed_for`` is ``"cpu"``/``"wall"``
    when a limit fired, ``final`` whether the final line arrived. With
    ``on_ready``, the program's ``ready`` line (launcher option ``-W``) is
    taken out of ``chunks`` and ``on_ready()`` called once.
    """
    real_limit = spec.real_time_limit_ms
    cpu_limit = spec.time_limit_ms if spec.clock.enforce else None
    rate = spec.clock.max_rate()
    while True:
        timeout = 0.5
        if real_limit is not None:
            remaining = real_limit - (time.monotonic() - start) * 1000
            if remaining < 0:
                return "wall", False
            timeout = min(timeout, remaining / 1000)
        if cpu_limit is not None:
            used = spec.clock.used_ms()
            if used > cpu_limit:
                return "cpu", False
            timeout = min(timeout, max((cpu_limit - used) / rate / 1000, 0.001))
        ready, _, _ = select.select([status_r], [], [], max(timeout, 0.0005))
        if ready:
            data = os.read(status_r, 4096)
            if not data:
                return None, False
            chunks.append(data)
            if on_ready is not None and b"ready\n" in (text := b"".join(chunks)):
                chunks[:] = [text.replace(b"ready\n", b"", 1)]
                on_ready()
                on_ready = None
            if _final_line(chunks):
                return None, True


def _kill(pid: int, cgroup: RunCgroup) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    cgroup.kill_all()


def _drain(fd: int, chunks: list[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return
        data = os.read(fd, 4096)
        if not data:
            return
        chunks.append(data)
