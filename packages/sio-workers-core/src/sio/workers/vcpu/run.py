"""One run under instruction counting: the state ``VCPUExecutor`` keeps per call.

:class:`CountedRun` holds what the supervisor hooks of
:class:`sio.workers.executors.vcpu.VCPUExecutor` need:

1. :meth:`CountedRun.refusal` — a reason to end ``SE`` without running
   (backend unavailable, a JVM under qemu);
2. :meth:`CountedRun.open_area`, :meth:`CountedRun.plugin_path`,
   :meth:`CountedRun.make_clock` — the qemu count area, the plugin, the clock;
3. :meth:`CountedRun.finish` — the facts corrected from the counter
   (instruction limit → TLE, forbidden syscall seen by the plugin → RV, the
   guest's own memory) and ``measurement`` naming the backend;
4. :meth:`CountedRun.close` — remove the count area.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import shutil
import tempfile

from sio.workers import vcpu
from sio.workers.supervisor.supervisor import RunOutcome
from sio.workers.vcpu import perf, plugin, qemu
from sio.workers.vcpu.clocks import PerfClock, QemuClock

#: the perf event counted; tests set :data:`sio.workers.vcpu.perf.TASK_CLOCK`
#: to exercise the perf path on machines without a PMU
PERF_EVENT = perf.INSTRUCTIONS

#: result_string of a TLE decided by the instruction counter
TLE_INSTRUCTIONS = "time limit exceeded (instructions)"

_JVM_MARKER = b"libjli.so"  # the Java launcher's library (a DT_NEEDED string)


def wall_guard_ms(time_limit_ms: int, backend: str) -> int:
    """Default wall-clock guard: ``64 × time_limit + 1000``, × qemu's slowdown under qemu."""
    guard = 64 * time_limit_ms + 1000
    return guard * qemu.QEMU_WALL_SLOWDOWN if backend == "qemu" else guard


def is_jvm(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a Java launcher (by name or by linking ``libjli``)."""
    name = os.path.basename(os.fspath(path))
    if name in ("java", "javaw", "jshell") or name.startswith("java-"):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
    except OSError:
        return False
    return _JVM_MARKER in head


class CountedRun:
    """One run under instruction counting with ``backend`` (``perf``/``qemu``)."""

    def __init__(self, backend: str, area_parent: str | None = None):
        self.backend = backend
        self.area_parent = area_parent
        self.clock: PerfClock | QemuClock | None = None
        self._area: qemu.CountArea | None = None
        self._area_dir: str | None = None
        self._area_lock: int | None = None
        self.counter_killed = False

    # -- 1 ---------------------------------------------------------------
    def refusal(self, program: str, jvm: bool = False) -> str | None:
        """Why this run must end ``SE`` before it starts, or ``None``."""
        if self.backend == "qemu" and (jvm or is_jvm(program)):
            return (
                "the qemu instruction counter runs native programs only (C, C++, Pascal): "
                "a JIT such as the JVM is not deterministic under it; use the perf backend "
                "(a machine with hardware counters) or a CPU-time executor for Java"
            )
        ok, detail = vcpu.probe_backend(self.backend)
        if not ok:
            return f"instruction counter '{self.backend}' unavailable: {detail}"
        return None

    # -- 2 ---------------------------------------------------------------
    def open_area(self) -> qemu.CountArea:
        """The count area of this run (created on first call)."""
        if self._area is None:
            # the run's unprivileged uid writes the area through a bind mount;
            # its host directory is 0700, so nothing else reaches it
            self._area_dir = tempfile.mkdtemp(prefix="sio-vcpu-", dir=self.area_parent)
            # held while the run lives: a worker starting up removes only the
            # areas nobody holds (sio.workers.stale)
            self._area_lock = os.open(self._area_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            fcntl.flock(self._area_lock, fcntl.LOCK_EX)
            self._area = qemu.CountArea(self._area_dir)
            os.chmod(self._area.path, 0o666)
        return self._area

    def plugin_path(self) -> str:
        """Host path of the compiled plugin."""
        return str(plugin.build_plugin())

    def make_clock(self, limit_instructions: int | None) -> PerfClock | QemuClock:
        """The supervisor clock of this run (``limit`` enforced by the counter)."""
        if self.backend == "qemu":
            self.clock = QemuClock(self.open_area())
        else:
            self.clock = PerfClock(limit_instructions, event=PERF_EVENT)
        return self.clock

    # -- 3 ---------------------------------------------------------------
    def finish(self, outcome: RunOutcome, mem_limit_kib: int | None) -> RunOutcome:
        """Facts and measurement corrected for the counter."""
        facts = outcome.facts
        changes: dict = {}
        instructions = None
        if isinstance(self.clock, QemuClock):
            result = self.clock.result or (self._area.read() if self._area else None)
            if result is not None:
                instructions = result.instructions
                if result.state == "limit" and facts.killed_for is None:
                    changes["killed_for"] = "cpu"
                elif result.state == "forbidden" and facts.violation is None:
                    # as the supervisor reports its own interceptions: no exit status
                    changes["violation"] = result.forbidden_syscall
                    changes["wait_status"] = None
            if self.clock.peak_kib is not None and mem_limit_kib is not None:
                changes["peak_kib"] = qemu.guest_kib(self.clock.peak_kib, mem_limit_kib)
        elif isinstance(self.clock, PerfClock):
            self.clock.close()
            result = self.clock.result
            if result is not None:
                instructions = result.instructions
                if result.limit_hit and facts.killed_for is None:
                    changes["killed_for"] = "cpu"
        if changes.get("killed_for") == "cpu":
            self.counter_killed = True
        measurement = dict(outcome.measurement)
        measurement["time"] = f"instructions-{self.backend}"
        if instructions is not None:
            measurement["instructions"] = instructions
        return dataclasses.replace(
            outcome, facts=dataclasses.replace(facts, **changes), measurement=measurement
        )

    def fix_renv(self, renv: dict, outcome: RunOutcome) -> None:
        """A TLE decided by the counter says so in ``result_string``."""
        if renv.get("result_code") == "TLE" and outcome.facts.killed_for != "wall":
            renv["result_string"] = TLE_INSTRUCTIONS

    # -- 4 ---------------------------------------------------------------
    def close(self) -> None:
        """Release the counter and remove the count area (idempotent)."""
        if isinstance(self.clock, PerfClock):
            self.clock.close()
        if self._area is not None:
            self._area.close()
            self._area = None
        if self._area_dir is not None:
            shutil.rmtree(self._area_dir, ignore_errors=True)
            self._area_dir = None
        if self._area_lock is not None:
            os.close(self._area_lock)
            self._area_lock = None

    def __enter__(self) -> CountedRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "CountedRun",
    "TLE_INSTRUCTIONS",
    "is_jvm",
    "wall_guard_ms",
]
