"""The ``perf`` backend: the CPU's retired-instruction counter via ``perf_event_open``.

The counter (``PERF_TYPE_HARDWARE``/``PERF_COUNT_HW_INSTRUCTIONS``, user mode
only: ``exclude_kernel``, ``exclude_hv``) is opened by the worker,
``disabled`` with ``inherit`` and ``enable_on_exec``, on the program's own
process while the launcher holds it just before its exec (launcher option
``-W``: namespaces, cgroup, rlimits, credentials and the seccomp filter are
all in place by then). It starts counting at the program's exec, and every
thread and child the program makes inherits it; none of the launcher's
instructions is counted. After the run every inherited count has been
folded into the worker's descriptor (each at its task's exit), which is read
once (with ``time_enabled`` and ``time_running``: a multiplexed, hence
scaled, count is an ``SE``, never an estimate). :meth:`PerfCounter.__enter__`
opens it on the calling thread instead, for what that thread spawns.

Limit: the event has ``sample_period`` = ceil(limit / 256) (at least 10**5);
each overflow in any thread of the run (one period of instructions done by
that thread) queues one real-time signal to a watcher thread of the worker
(``F_SETOWN_EX`` + ``F_SETSIG``: the kernel routes the overflows of inherited
events to the parent event's owner). When only one more overflow is needed to
reach the limit, the watcher *arms* the kernel: it makes the program's
process the owner and ``SIGKILL`` the signal, so the overflow that completes
the limit kills the program in the kernel, at most ``256 * period - limit``
(< 256) instructions past it. If the watcher is too late to arm (it has one
period of the program's run to do so), the overflow reaches it and it calls
the kill callback: past the limit by its wake-up latency.

Where the counter cannot be opened, :func:`open_error` explains why and how to
fix it; the caller ends the job ``SE`` with that text. The backend never falls
back to CPU time.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import signal
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

SYS_perf_event_open = 298  # x86-64
PERF_TYPE_HARDWARE = 0
PERF_COUNT_HW_INSTRUCTIONS = 1
PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_TASK_CLOCK = 1
#: the event counted: (type, config)
INSTRUCTIONS = (PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS)
#: task clock in ns: a software event with the same mechanics, for tests of
#: the inheritance and overflow machinery on machines without a PMU
TASK_CLOCK = (PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK)
PERF_COUNT_SW_PAGE_FAULTS = 2
#: user-mode page faults: a software event as deterministic as instructions
#: for a static program with ASLR off, for tests of *what* is counted
PAGE_FAULTS = (PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS)
PERF_FORMAT_TOTAL_TIME_ENABLED = 1
PERF_FORMAT_TOTAL_TIME_RUNNING = 2
PERF_FLAG_FD_CLOEXEC = 8

_DISABLED = 1 << 0
_INHERIT = 1 << 1
_EXCLUDE_KERNEL = 1 << 5
_EXCLUDE_HV = 1 << 6
_ENABLE_ON_EXEC = 1 << 12

_ATTR = struct.Struct("<IIQQQQQII")  # PERF_ATTR_SIZE_VER0 (64 bytes) + padding
_ATTR_SIZE = 64

F_SETSIG = 10
F_SETOWN_EX = 15
F_OWNER_TID = 0
F_OWNER_PID = 1
PARANOID_PATH = "/proc/sys/kernel/perf_event_paranoid"

#: minimum overflow period (instructions)
MIN_PERIOD = 100_000
#: limit / LIMIT_DIVISOR is the overflow period
LIMIT_DIVISOR = 256


class CounterError(RuntimeError):
    """The instruction counter cannot be used; ``str()`` is the SE reason."""


def _attr(period: int = 0, event: tuple[int, int] = INSTRUCTIONS) -> ctypes.Array:
    flags = _DISABLED | _INHERIT | _EXCLUDE_KERNEL | _EXCLUDE_HV | _ENABLE_ON_EXEC
    read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING
    raw = _ATTR.pack(
        event[0], _ATTR_SIZE, event[1], period, 0,
        read_format, flags, 1 if period else 0, 0,
    )
    return ctypes.create_string_buffer(raw.ljust(_ATTR_SIZE, b"\0"), _ATTR_SIZE)


def _perf_event_open(
    period: int = 0, event: tuple[int, int] = INSTRUCTIONS, pid: int = 0
) -> int:
    """The counter for ``pid`` (0: the calling thread), disabled until its
    next exec, inherited by its future threads and children."""
    attr = _attr(period, event)
    fd = _libc.syscall(SYS_perf_event_open, attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return fd


def paranoid_level() -> int | None:
    """``kernel.perf_event_paranoid``, or ``None`` when unreadable."""
    try:
        with open(PARANOID_PATH) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def open_error(err: int, paranoid: int | None = None) -> str:
    """Human explanation (with the fix) of ``perf_event_open`` failing with ``err``."""
    fix_qemu = (
        "use the qemu backend instead: VCPUExecutor(backend='qemu') or "
        "SIO_INSTRUCTION_COUNTER=qemu (deterministic, 2-6x slower)"
    )
    name = errno.errorcode.get(err, str(err))
    if err in (errno.ENOENT, errno.ENODEV, errno.EOPNOTSUPP):
        return (
            f"perf_event_open(PERF_COUNT_HW_INSTRUCTIONS) failed with {name}: this CPU "
            "exposes no hardware instruction counter (no PMU; typical of virtual machines "
            f"whose hypervisor does not pass the PMU through); {fix_qemu}"
        )
    if err in (errno.EACCES, errno.EPERM):
        if paranoid is not None and paranoid > 2:
            return (
                f"perf_event_open failed with {name}: kernel.perf_event_paranoid is "
                f"{paranoid}; allow user-mode counting with "
                "`sysctl -w kernel.perf_event_paranoid=2` (or give the worker CAP_PERFMON), "
                f"or {fix_qemu}"
            )
        return (
            f"perf_event_open failed with {name} although kernel.perf_event_paranoid is "
            f"{paranoid}: the syscall is blocked, most likely by a container's seccomp "
            "profile (docker: --security-opt seccomp=<profile allowing perf_event_open> "
            f"or --cap-add PERFMON); or {fix_qemu}"
        )
    if err == errno.ENOSYS:
        return (
            "perf_event_open is not implemented by this kernel (CONFIG_PERF_EVENTS "
            f"missing) or blocked with ENOSYS by a seccomp filter; {fix_qemu}"
        )
    return f"perf_event_open(PERF_COUNT_HW_INSTRUCTIONS) failed with {name}; {fix_qemu}"


def probe() -> tuple[bool, str]:
    """``(usable, text)``: can this thread open the instruction counter?"""
    try:
        fd = _perf_event_open()
    except OSError as e:
        return False, open_error(e.errno, paranoid_level())
    os.close(fd)
    return True, "hardware instruction counter available (perf_event_open)"


@dataclass(frozen=True)
class PerfResult:
    """``instructions`` counted; ``limit_hit`` when the watcher killed the run."""

    instructions: int
    limit_hit: bool


class PerfCounter:
    """Count the user-mode instructions of one process (from its next exec)
    or of the processes this thread spawns.

    Use::

        with PerfCounter(limit, kill) as counter:   # opens; raises CounterError
            run = spawn_and_wait(...)                # spawned from THIS thread
        result = counter.result                      # read at exit

    Spawn exactly one run inside the block and from the same thread (the
    counter follows the thread's children). Or ``counter.open_for(pid)`` on a
    process about to exec, then ``counter.__exit__()`` after it (and its
    children) ended, as the supervisor does. ``target()`` returns the pid of
    the program to SIGKILL at the limit (or None); ``kill`` is called once,
    from the watcher thread, when the limit is reached and the kernel did not
    kill the program already. ``event`` is for tests only
    (:data:`TASK_CLOCK` exercises the same code without a PMU).
    """

    def __init__(
        self,
        limit: int | None = None,
        kill: Callable[[], None] | None = None,
        event: tuple[int, int] = INSTRUCTIONS,
        target: Callable[[], int | None] | None = None,
    ):
        self.event = event
        self.limit = int(limit) if limit else 0
        self.kill = kill
        self.target = target
        self.period = max(MIN_PERIOD, -(-self.limit // LIMIT_DIVISOR)) if self.limit else 0
        self.armed_pid: int | None = None
        self.fd = -1
        self.result: PerfResult | None = None
        self._overflows = 0
        self._limit_hit = False
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._signo = signal.SIGRTMIN + 7
        self._watcher_tid = 0
        self._ready = threading.Event()

    def __enter__(self) -> PerfCounter:
        return self.open_for(0)

    def open_for(self, pid: int) -> PerfCounter:
        """Open the counter on process ``pid`` (0: this thread, whose children
        spawned afterwards inherit it); it starts counting at ``pid``'s next
        exec. Release it with :meth:`__exit__`. Raises :class:`CounterError`."""
        if self.limit:
            self._watcher = threading.Thread(target=self._watch, name="sio-perf-watch", daemon=True)
            self._watcher.start()
            self._ready.wait()
        try:
            self.fd = _perf_event_open(self.period, self.event, pid)
        except OSError as e:
            self._shutdown()
            raise CounterError(open_error(e.errno, paranoid_level())) from None
        if self.limit:
            owner = struct.pack("<ii", F_OWNER_TID, self._watcher_tid)
            fcntl.fcntl(self.fd, F_SETOWN_EX, owner)
            fcntl.fcntl(self.fd, F_SETSIG, self._signo)
            flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
            fcntl.fcntl(self.fd, fcntl.F_SETFL, flags | os.O_ASYNC)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.fd >= 0:
                self.result = self._read()
        finally:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
            self._shutdown()

    def _read(self) -> PerfResult:
        data = os.read(self.fd, 24)
        value, enabled, running = struct.unpack("<QQQ", data)
        if running < enabled:
            raise CounterError(
                "the instruction counter was multiplexed with other perf events "
                f"(ran {running} of {enabled} ns): the count would be an estimate; "
                "stop other perf users on this machine"
            )
        return PerfResult(value, self._limit_hit or bool(self.limit and value >= self.limit))

    def _watch(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {self._signo})
        self._watcher_tid = threading.get_native_id()
        self._ready.set()
        while not self._stop.is_set():
            info = signal.sigtimedwait({self._signo}, 0.05)
            if info is None:
                continue
            self._overflows += 1
            if not self._limit_hit and self._overflows * self.period >= self.limit:
                self._limit_hit = True
                if self.kill is not None:
                    self.kill()
            elif self.armed_pid is None and (self._overflows + 1) * self.period >= self.limit:
                self._arm()

    def _arm(self) -> None:
        """Let the kernel SIGKILL the program at the next overflow."""
        pid = self.target() if self.target is not None else None
        if not pid:
            return
        # The owner first, the signal second: in between, an overflow sends
        # the program one harmless real-time signal. The other order would,
        # for that instant, make the kernel SIGKILL the worker's own thread.
        try:
            fcntl.fcntl(self.fd, F_SETOWN_EX, struct.pack("<ii", F_OWNER_PID, pid))
        except OSError:
            return
        try:
            fcntl.fcntl(self.fd, F_SETSIG, signal.SIGKILL)
        except OSError:
            # Overflows would now signal the program with the watcher's
            # signal: give them back to the watcher.
            owner = struct.pack("<ii", F_OWNER_TID, self._watcher_tid)
            fcntl.fcntl(self.fd, F_SETOWN_EX, owner)
            return
        self.armed_pid = pid

    def _shutdown(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None
