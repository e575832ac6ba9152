"""The verdict: ONE pure function from measured facts to (result_code, result_string).

Rules (docs/contracts.rst §3.1, the first that applies wins):

``SE``
    the supervisor itself failed (``facts.system_error``); never a guess.
``OLE``
    the program was killed by ``SIGXFSZ`` (``RLIMIT_FSIZE`` = the output
    limit + 1 byte), or its output file is larger than the limit (it caught or
    ignored ``SIGXFSZ``: the first byte over the limit was still written).
``MLE``
    the cgroup OOM-killed a process of the run, or the peak memory reached the
    limit, or the program ended abnormally (non-zero exit or a signal) with a
    peak within 5 % of the limit (an allocation failure turned into an exit).
``TLE``
    the CPU time of the whole tree exceeded the limit (``CPU time limit
    exceeded``) or the wall-clock limit fired (``wall time limit exceeded``).
``RV``
    a forbidden operation was intercepted: ``intercepted forbidden syscall
    NAME``, or ``opening files`` (the plain profile's write opens).
``RE``
    killed by a signal: ``program exited due to signal N``; a non-zero exit:
    ``program exited with code N`` (not with ``ignore_return``, which affects
    exit codes only: a signal death is always RE).
``OK``
    ``ok``.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

MLE_MARGIN = 0.95


@dataclass
class Facts:
    """What the supervisor measured. Units: ms, KiB, bytes.

    Read-only by contract (derive a changed copy with
    :func:`dataclasses.replace`); not ``frozen``, whose ``__init__`` sets each
    of the fourteen fields through ``object.__setattr__`` and costs about
    2 µs more on every run.
    """

    wait_status: int | None = None
    """Raw ``wait`` status of the program; None when it produced none."""
    cpu_ms: int = 0
    wall_ms: int = 0
    peak_kib: int = 0
    oom_kills: int = 0
    output_bytes: int = 0
    time_limit_ms: int | None = None
    real_time_limit_ms: int | None = None
    mem_limit_kib: int | None = None
    output_limit: int | None = None
    killed_for: str | None = None
    """``"cpu"`` or ``"wall"`` when the watchdog killed the run."""
    violation: str | None = None
    """Name of an intercepted forbidden syscall, or ``"opening files"``."""
    system_error: str | None = None
    ignore_return: bool = False


def exit_code(facts: Facts) -> int | None:
    st = facts.wait_status
    return os.waitstatus_to_exitcode(st) if st is not None and os.WIFEXITED(st) else None


def exit_signal(facts: Facts) -> int | None:
    st = facts.wait_status
    return os.WTERMSIG(st) if st is not None and os.WIFSIGNALED(st) else None


def verdict(facts: Facts) -> tuple[str, str]:
    """Map ``facts`` to ``(result_code, result_string)`` (see the module doc)."""
    if facts.system_error:
        return "SE", facts.system_error
    code = exit_code(facts)
    sig = exit_signal(facts)
    if sig == signal.SIGXFSZ or (
        facts.output_limit is not None and facts.output_bytes > facts.output_limit
    ):
        return "OLE", "output limit exceeded"
    limit = facts.mem_limit_kib
    if facts.oom_kills > 0 or (limit is not None and facts.peak_kib >= limit):
        return "MLE", "memory limit exceeded"
    if (
        limit is not None
        and facts.killed_for is None
        and (sig is not None or (code or 0) != 0)
        and facts.peak_kib >= MLE_MARGIN * limit
    ):
        return "MLE", "memory limit exceeded"
    if facts.killed_for == "cpu" or (
        facts.time_limit_ms is not None and facts.cpu_ms > facts.time_limit_ms
    ):
        return "TLE", "CPU time limit exceeded"
    if facts.killed_for == "wall":
        return "TLE", "wall time limit exceeded"
    if facts.violation:
        if facts.violation == "opening files":
            return "RV", "opening files"
        return "RV", f"intercepted forbidden syscall {facts.violation}"
    if sig is not None:
        return "RE", f"program exited due to signal {sig}"
    if code is None:
        return "SE", "the program's exit status is unknown"
    if code != 0 and not facts.ignore_return:
        return "RE", f"program exited with code {code}"
    return "OK", "ok"
