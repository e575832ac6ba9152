"""Spawn, watch and account one supervised run.

:func:`supervise` is the whole life of a run:

1. take a free slot (uid + pooled cgroup, :mod:`.slots`), reset its cgroup
   and set the memory and pids limits;
2. ``os.posix_spawn`` the static launcher (the worker never forks itself)
   with the program's stdin/stdout/stderr and a status pipe on fd 3, or send
   the run to a launcher prepared during the previous run (:mod:`.spawn`,
   :mod:`.prepared`; the command line is :mod:`.protocol`'s);
3. watch: wall clock and the run's CPU clock (by default the cgroup's CPU
   time of the whole tree), sleeping adaptively (never longer than the
   remaining CPU budget divided by the number of CPUs), and kill the whole
   tree when a limit is passed (SIGKILL to the launcher → the namespace init
   dies by ``PR_SET_PDEATHSIG`` → the kernel kills the pid namespace; then a
   final freeze-and-kill sweep of the cgroup) (:mod:`.watchdog`);
4. collect the facts (status line of the launcher, cgroup CPU, peak memory,
   OOM kills, output size) into :class:`~.verdict.Facts`.

Nothing here decides a verdict: :func:`~.verdict.verdict` does.

Contract of this module: :func:`supervise` never raises for problems of the
run; :class:`RunSpec`, :class:`RunOutcome`, :class:`Profile` and
:data:`PROFILES` are the supervisor's public API, with :class:`CpuClock`
(defined in :mod:`.watchdog`). The names of the run's steps that it
re-exports are looked up here by :func:`supervise` (tests patch
``supervisor._watch`` or ``supervisor._start_prepared`` in this module).
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field

from sio.workers.supervisor import build, persona, prepared
from sio.workers.supervisor.cgroups import CgroupError, CgroupStats

# LAUNCHER_WALL_MARGIN_MS and _final_line: only re-exported (tests import them from here)
from sio.workers.supervisor.protocol import (  # noqa: F401
    LAUNCHER_WALL_MARGIN_MS,
    _final_line,
    _launcher_killed_for_wall,
    _parse_status,
    _root_args,
    _root_key,
    _tmp_arg,
)
from sio.workers.supervisor.slots import Slot, SlotsExhausted, acquire_slot
from sio.workers.supervisor.spawn import (
    _reap_finished,
    _reap_later,
    _start_launcher,
    _start_prepared,
    _Started,
    _unreaped,
)
from sio.workers.supervisor.verdict import Facts
from sio.workers.supervisor.watchdog import CpuClock, _drain, _kill, _watch


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


def _output_size(fd: int) -> int:
    try:
        st = os.fstat(fd)
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


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
    aslr_off = persona.aslr_off()
    if root_key:
        # a serving launcher keeps the filter of its first run for all its
        # runs (launcher.h): it serves only runs of the same filter
        root_key = (*root_key, *prepared.filter_key(spec.profile.seccomp, spec.plain_open,
                                                     aslr_off, spec.namespaces, slot))
    prep = prepared.take(root_key) if root_key else None
    started: _Started | str | None = None
    server = None  # a serving launcher (prepared.py) that runs this program
    if prep is not None:
        started = _start_prepared(spec, slot, prep, aslr_off=aslr_off)
        if not isinstance(started, tuple):
            prepared.discard(prep)
        elif prep.serving:
            server = prep
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
    if root_key and prepare_now and server is None:
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
    keep_server = False
    try:
        killed_for, final = _watch(spec, status_r, chunks, start,
                                   release_program if go_w is not None else None,
                                   server.event_fd if server is not None else None)
        if killed_for:
            _kill(pid, cgroup)
            _drain(status_r, chunks, 2.0)
        if server is not None and final and not killed_for and spec.clock.final_at_report:
            # It serves the next run: nothing of this one is left in it.
            wait_status = None
            keep_server = True
        elif final and not killed_for and spec.clock.final_at_report:
            # The namespace is empty (see the launcher's status protocol):
            # its teardown and the launcher's exit need not delay the verdict.
            wait_status = _reap_later(pid)
        else:
            if server is not None and final:
                # a serving launcher does not exit by itself after a run
                _kill(pid, cgroup)
            _, wait_status, rusage = os.wait4(pid, 0)
    finally:
        os.close(status_r)
        if go_w is not None:
            os.close(go_w)
        if server is not None:
            if keep_server:
                prepared.keep(server)
            else:
                server.close()  # killed or failed: it is gone (and reaped)
                # the thread's next run of this root need not start its own
                prepared.prepare_next(launcher, root_args, root_key, _tmp_arg(spec), _unreaped)
    wall_ms = round((time.monotonic() - start) * 1000)
    cgroup_error = None
    try:
        if cgroup.has_processes():
            cgroup.kill_all()
        stats = cgroup.stats()
        cgroup.known_empty = True
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
    if root_key and not prepare_now and server is None:
        prepared.prepare_next(launcher, root_args, root_key, _tmp_arg(spec), _unreaped)
    return RunOutcome(facts, _measurement(spec, version), version, rusage_cpu_ms=rusage_cpu_ms)

