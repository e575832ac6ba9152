"""Supervisor clocks that measure ``time_used`` in instructions.

They plug into :class:`sio.workers.supervisor.watchdog.CpuClock` (the
supervisor calls ``start`` right before it spawns the run, from the spawning
thread, and ``final_ms``/``failure`` after the run). Both set ``enforce =
False``: the instruction limit is enforced by the counter itself (the qemu
plugin, the perf overflow watcher), so the supervisor's CPU-time rlimit and
CPU polling are off and only the wall-clock guard remains.

``time_used`` is ``instructions // INSTRUCTIONS_PER_MS`` (whole ms, rounded
down as sio2jail did): the 1-second reference loop reads 1000 ms. A run
killed by the counter is a TLE whatever it reads (the verdict does not
depend on the rounding).
"""

from __future__ import annotations

import os
import signal

from sio.workers.supervisor import build
from sio.workers.supervisor.cgroups import CgroupStats, RunCgroup
from sio.workers.supervisor.persona import ADDR_NO_RANDOMIZE, no_aslr
from sio.workers.supervisor.supervisor import CpuClock
from sio.workers.vcpu import INSTRUCTIONS_PER_MS, QEMU_INSTRUCTIONS_PER_MS, perf, plugin
from sio.workers.vcpu.qemu import CountArea, CountResult

__all__ = ["ADDR_NO_RANDOMIZE", "PerfClock", "QemuClock", "no_aslr"]

def _ms(instructions: int, per_ms: int) -> int:
    return int(instructions) // per_ms


class QemuClock(CpuClock):
    """``time_used`` from the qemu plugin's count area."""

    name = "instructions-qemu"
    enforce = False

    def __init__(self, area: CountArea):
        self.area = area
        self.result: CountResult | None = None
        #: the run's raw cgroup peak (KiB), qemu included
        self.peak_kib: int | None = None

    def start(self, cgroup: RunCgroup) -> None:
        super().start(cgroup)
        # the supervisor has just reset the cgroup: qemu's files go into the
        # page cache now, charged to the worker, not to the run
        qemu_path = plugin.find_qemu()
        if qemu_path:
            plugin.prefetch((*plugin.qemu_files(qemu_path), str(plugin.plugin_path())))

    def used_ms(self) -> float:
        result = self.area.read()
        return result.instructions / QEMU_INSTRUCTIONS_PER_MS if result else 0.0

    def max_rate(self) -> float:
        return 1.0

    def final_ms(self, stats: CgroupStats) -> int:
        self.peak_kib = stats.peak_bytes // 1024
        self.result = self.area.read()
        return _ms(self.result.instructions, QEMU_INSTRUCTIONS_PER_MS) if self.result else 0

    def failure(self) -> str | None:
        # the supervisor asks for failure() before final_ms()
        if self.result is None:
            self.result = self.area.read()
        if self.result is None:
            return (
                "the qemu instruction counter did not start (qemu-x86_64 or its plugin "
                "failed to load; the program's stderr has qemu's message)"
            )
        return None


class PerfClock(CpuClock):
    """``time_used`` from the hardware instruction counter.

    The launcher holds the program just before its exec (every namespace,
    cgroup, rlimit, credential and the seccomp filter already in place);
    :meth:`attach` then opens the counter on that process, ``enable_on_exec``:
    it counts from the program's first instruction, in the program and its
    threads and children only, never in the launcher. ``limit_instructions``
    is enforced by the overflow watcher, which kills the run's cgroup.
    """

    name = "instructions-perf"
    enforce = False
    hold_at_exec = True

    def __init__(self, limit_instructions: int | None, event: tuple[int, int] = perf.INSTRUCTIONS):
        self.counter = perf.PerfCounter(
            limit_instructions, self._kill, event=event, target=self._program_pid
        )
        self.error: str | None = None
        self.result: perf.PerfResult | None = None
        self._open = False

    def attach(self, pid: int) -> bool:
        try:
            self.counter.open_for(pid)
        except perf.CounterError as e:
            self.error = str(e)
            return False
        self._open = True
        return True

    def _program_pids(self) -> list[int]:
        """Processes of the run's cgroup except one still running the
        launcher's image (the program joins the cgroup just before its exec)."""
        launcher = build.launcher_path(build=False)
        launcher_exe = os.path.realpath(launcher) if launcher else None
        pids = []
        for pid in self.cgroup.pids():
            try:
                if launcher_exe and os.readlink(f"/proc/{pid}/exe") == launcher_exe:
                    continue
            except OSError:
                continue
            pids.append(pid)
        return pids

    def _program_pid(self) -> int | None:
        pids = self._program_pids()
        return pids[0] if pids else None

    def _kill(self) -> None:
        # called from the watcher thread while the supervisor's thread waits
        # for the launcher
        for pid in self._program_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def used_ms(self) -> float:
        return 0.0

    def max_rate(self) -> float:
        return 1.0

    def final_ms(self, stats: CgroupStats) -> int:
        self.close()
        return _ms(self.result.instructions, INSTRUCTIONS_PER_MS) if self.result else 0

    def close(self) -> None:
        """Read and release the counter (idempotent)."""
        if not self._open:
            return
        self._open = False
        try:
            self.counter.__exit__(None, None, None)
            self.result = self.counter.result
        except perf.CounterError as e:
            self.error = str(e)

    def failure(self) -> str | None:
        self.close()
        if self.error:
            return self.error
        if self.result is None:
            return "the instruction counter produced no result"
        return None
