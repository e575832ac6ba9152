"""What a program's start costs this machine's CPU: the ``cpuid`` instruction.

glibc's start-up (static or dynamic) detects the CPU's features and caches
by asking ``cpuid`` a few dozen times. On a virtual machine every ``cpuid``
traps to the hypervisor (on Intel VT-x it always exits), and what the exit
costs depends on the hypervisor and its nesting: on this project's
development VM 5–13 µs, so a static C program that does nothing costs
~0.8 ms of CPU, against ~0.1 ms for the same program without libc. That
time is the program's own (after its ``exec``): it is in every C and C++
program's ``time_used`` and in every small test's cost, and no supervisor
can take it away. Without a hypervisor ``cpuid`` does not exit and costs
far less (not measured on this project's machines: run ``sio-doctor``).

:func:`measure` asks the helper ``cpuid_probe`` (``cpuid_probe.c``, linked
static against glibc like the C programs ``sio-compile`` builds): whether a
hypervisor is present and its vendor (``cpuid`` leaves 1 and 0x40000000),
the median thread CPU time of one ``cpuid`` (15 batches of 32), and the CPU
time of its own start (``cpuid_probe start``: exec and glibc's start-up,
nothing else; :func:`start_cpu_us`).
``sio-doctor`` prints :attr:`CpuidCost.summary`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
from dataclasses import dataclass

from sio.workers import native

PROBE = native.CPUID_PROBE

#: Runs of ``cpuid_probe start`` whose median CPU time is the start's cost.
STARTS = 21


class ProbeError(RuntimeError):
    """The probe could not be run or printed something else."""


@dataclass(frozen=True)
class CpuidCost:
    """``hypervisor``: the vendor string (``"KVMKVMKVM"``, ...), or None when
    the CPU says it runs on none; ``cpuid_us``: the CPU time of one
    ``cpuid``; ``start_us``: the CPU time of a static glibc program's start
    (its ``exec`` included)."""

    hypervisor: str | None
    cpuid_us: float
    start_us: float

    @property
    def summary(self) -> str:
        """One line for ``sio-doctor``."""
        where = (f"traps to the hypervisor ({self.hypervisor})" if self.hypervisor
                 else "no hypervisor")
        return (f"{self.cpuid_us:.1f} us each, {where}; a static glibc program's start "
                f"costs {self.start_us / 1000:.2f} ms of CPU here (in every C/C++ "
                f"program's time_used)")


def _parse(text: str) -> tuple[str | None, float]:
    fields = dict(line.split(" ", 1) for line in text.splitlines() if " " in line)
    try:
        vendor = fields["hypervisor"].strip()
        ns = int(fields["cpuid_ns"])
    except (KeyError, ValueError):
        raise ProbeError(f"unexpected output of cpuid_probe: {text!r}") from None
    return (None if vendor == "-" else vendor), ns / 1000


def start_cpu_us(argv: list[str], runs: int = STARTS) -> float:
    """Median CPU time (user + system, µs, from ``wait4``: its exec
    included) of ``runs`` runs of ``argv`` (an empty environment), each of
    which must exit 0."""
    samples = []
    for _ in range(runs):
        pid = os.posix_spawn(argv[0], argv, {})
        _, status, usage = os.wait4(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise ProbeError(f"{argv[0]} failed (wait status {status})")
        samples.append((usage.ru_utime + usage.ru_stime) * 1e6)
    return statistics.median(samples)


def measure(build: bool = True) -> CpuidCost:
    """Measure now (builds the probe on first use unless ``build`` is false).
    Raises :class:`ProbeError` (or :class:`~sio.workers.native.NativeBuildError`)
    when it cannot."""
    path = PROBE.path(build=build)
    if path is None:
        raise ProbeError("cpuid_probe is not built (sio-doctor --build)")
    try:
        out = subprocess.run([str(path)], capture_output=True, text=True, timeout=30,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise ProbeError(f"cpuid_probe failed: {exc}") from None
    vendor, cpuid_us = _parse(out)
    return CpuidCost(vendor, cpuid_us, start_cpu_us([str(path), "start"]))
