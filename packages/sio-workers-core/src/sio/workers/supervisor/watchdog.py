"""The watchdog: what the worker does while a run's program runs.

Contract:

* :class:`CpuClock` is the clock that measures and limits ``time_used``
  (by default the run cgroup's CPU time); the watchdog polls it;
* :func:`_watch` reads the status pipe until the launcher's final line or
  its EOF, polling the wall clock and the CPU clock, and sleeps at most the
  remaining CPU budget divided by the clock's rate. It says which limit
  fired and kills nothing itself;
* :func:`_kill` ends a run whose limit fired: SIGKILL to the launcher (the
  namespace init dies by ``PR_SET_PDEATHSIG``, the kernel kills the pid
  namespace), then a freeze-and-kill sweep of the run's cgroup;
* :func:`_drain` reads what the status pipe still has, for a bounded time.

The status lines themselves are :mod:`.protocol`'s.
"""

from __future__ import annotations

import math
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sio.workers import job_waits
from sio.workers.supervisor.cgroups import CgroupStats, RunCgroup
from sio.workers.supervisor.protocol import _final_line

if TYPE_CHECKING:
    from sio.workers.supervisor.supervisor import RunSpec


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
        return _cpus_of_this_thread()

    def final_ms(self, stats: CgroupStats) -> int:
        return round(stats.cpu_ns / 1e6)

    def failure(self) -> str | None:
        """A reason why the measurement is invalid (the run ends SE), or None."""
        return None


class _Affinity(threading.local):
    read_at = -1.0
    cpus = 1.0


_affinity = _Affinity()


def _cpus_of_this_thread() -> float:
    """How many CPUs this thread (and what it starts) may run on: its
    affinity mask, read again at most every 0.1 s (a system call a run
    otherwise)."""
    now = time.monotonic()
    if now - _affinity.read_at >= 0.1:
        _affinity.cpus = float(len(os.sched_getaffinity(0)) or 1)
        _affinity.read_at = now
    return _affinity.cpus


def _watch(
    spec: RunSpec,
    status_r: int,
    chunks: list[bytes],
    start: float,
    on_ready: Callable[[], None] | None = None,
    event_fd: int | None = None,
) -> tuple[str | None, bool]:
    """Wait for the final status line or the status pipe's EOF.

    Returns ``(killed_for, final)``: ``killed_for`` is ``"cpu"``/``"wall"``
    when a limit fired, ``final`` whether the final line arrived. With
    ``on_ready``, the program's ``ready`` line (launcher option ``-W``) is
    taken out of ``chunks`` and ``on_ready()`` called once. With
    ``event_fd`` (a serving launcher's eventfd, written after every status
    line; ``status_r`` is then non-blocking), the wait is for the eventfd and
    the pipe's hang-up only: a line written to the pipe wakes nobody.
    """
    if spec.prepare_during_run:  # else nothing else of the worker's meanwhile
        job_waits.a_wait_begins()  # the worker's background work runs now
    poller = None
    if event_fd is not None:
        poller = select.poll()
        poller.register(event_fd, select.POLLIN)
        poller.register(status_r, 0)  # POLLHUP (the init died) only
    real_limit = spec.real_time_limit_ms
    cpu_limit = spec.time_limit_ms if spec.clock.enforce else None
    rate = spec.clock.max_rate()
    first = True
    while True:
        timeout = 0.5
        if real_limit is not None:
            remaining = real_limit - (time.monotonic() - start) * 1000
            if remaining < 0:
                return "wall", False
            timeout = min(timeout, remaining / 1000)
        if cpu_limit is not None:
            # The first wait needs no reading of the clock: the program has
            # used no CPU time before it started, and the clock cannot run
            # faster than its rate.
            used = 0.0 if first else spec.clock.used_ms()
            if used > cpu_limit:
                return "cpu", False
            timeout = min(timeout, max((cpu_limit - used) / rate / 1000, 0.001))
        first = False
        if poller is None:
            ready = select.select([status_r], [], [], max(timeout, 0.0005))[0]
        else:
            ready = poller.poll(math.ceil(max(timeout, 0.0005) * 1000))
            if ready:
                try:
                    os.read(event_fd, 8)
                except BlockingIOError:
                    pass
        if ready:
            try:
                data = os.read(status_r, 4096)
            except BlockingIOError:
                continue  # an event with nothing (yet) on the pipe
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
