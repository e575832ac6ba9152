"""Deterministic time by instruction counting: backends, calibration, probing.

Two backends count the user-mode instructions of a run:

``perf``
    the CPU's retired-instruction counter (:mod:`sio.workers.vcpu.perf`);
    needs a PMU: bare metal or a VM with the PMU passed through.
``qemu``
    qemu-user with our TCG plugin (:mod:`sio.workers.vcpu.qemu`); any x86-64
    machine, VMs included; 2-5x slower; native programs only.

Both count x86-64 instructions, so one constant turns them into virtual
time: :data:`INSTRUCTIONS_PER_MS` (2·10⁹ per second, the contract's
2,000,000 per ms). The reference loop ``tests/vcpu/ref_loop.c`` executes
2·10⁹ instructions and reads 1000 ms on both backends (plus the few
hundred thousand instructions of process start-up). The backend is chosen by
:func:`choose_backend`; :func:`probe_backends` tells ``sio-doctor`` what works.
"""

from __future__ import annotations

import os

#: Virtual time: instructions per millisecond, for the perf backend.
INSTRUCTIONS_PER_MS = 2_000_000
#: Same for the qemu backend. qemu counts the same x86-64 instructions the
#: CPU retires (one per executed guest instruction; a ``rep``-prefixed string
#: instruction counts once per iteration under qemu), so the constant is the
#: same; bench/vcpu_check.sh prints the measured perf/qemu ratio.
QEMU_INSTRUCTIONS_PER_MS = 2_000_000

BACKENDS = ("perf", "qemu")
ENV_VAR = "SIO_INSTRUCTION_COUNTER"
DEFAULT_BACKEND = "perf"

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "ENV_VAR",
    "INSTRUCTIONS_PER_MS",
    "QEMU_INSTRUCTIONS_PER_MS",
    "BackendError",
    "choose_backend",
    "instructions_per_ms",
    "instructions_to_ms",
    "ms_to_instructions",
    "probe_backend",
    "probe_backends",
]


class BackendError(ValueError):
    """An unknown backend name was configured."""


def choose_backend(backend: str | None = None) -> str:
    """The backend to use: the argument, else ``$SIO_INSTRUCTION_COUNTER``, else ``perf``.

    Raises :class:`BackendError` for a name that is not a backend.
    """
    name = backend if backend else os.environ.get(ENV_VAR, "").strip() or DEFAULT_BACKEND
    name = name.lower()
    if name not in BACKENDS:
        source = "backend argument" if backend else ENV_VAR
        raise BackendError(f"unknown instruction counter {name!r} ({source}); use one of: perf, qemu")
    return name


def instructions_per_ms(backend: str) -> int:
    """Calibration constant of ``backend``."""
    return QEMU_INSTRUCTIONS_PER_MS if backend == "qemu" else INSTRUCTIONS_PER_MS


def instructions_to_ms(instructions: int, backend: str = "perf") -> int:
    """Virtual time in whole ms (rounded down) of ``instructions``."""
    return int(instructions) // instructions_per_ms(backend)


def ms_to_instructions(ms: int | float, backend: str = "perf") -> int:
    """Instruction limit equivalent to ``ms`` of virtual time."""
    return int(ms * instructions_per_ms(backend))


def probe_backend(backend: str) -> tuple[bool, str]:
    """``(usable, text)`` for one backend; never raises for a known name.

    ``perf``: opens (and closes) the instruction counter. ``qemu``: finds
    ``qemu-x86_64``, builds (or finds) the plugin and counts ``/bin/true``
    with it once per process.
    """
    if backend == "perf":
        from sio.workers.vcpu import perf

        return perf.probe()
    if backend == "qemu":
        from sio.workers.vcpu import qemu

        return qemu.probe()
    raise BackendError(f"unknown instruction counter {backend!r}")


def probe_backends() -> dict:
    """What ``sio-doctor`` prints about instruction counting.

    Returns ``{"configured": NAME or error text, "configured_ok": bool,
    "backends": {"perf": {"ok": bool, "detail": str}, "qemu": {...}}}``;
    ``configured_ok`` is False when the configured backend (argument-less:
    ``$SIO_INSTRUCTION_COUNTER`` or perf) cannot work here.
    """
    backends = {}
    for name in BACKENDS:
        ok, detail = probe_backend(name)
        backends[name] = {"ok": ok, "detail": detail}
    try:
        configured = choose_backend()
        configured_ok = backends[configured]["ok"]
    except BackendError as e:
        configured, configured_ok = str(e), False
    return {"configured": configured, "configured_ok": configured_ok, "backends": backends}
