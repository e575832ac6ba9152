"""The ``qemu`` backend: qemu-user plus our instruction-counting TCG plugin.

A run under this backend is ``qemu-x86_64 -seed 0 -plugin PLUGIN,fd=N,limit=L
-- PROGRAM ARGS...``. The plugin keeps its counters in a shared *count area*
(a 64 KiB file created here, passed to qemu as an inherited descriptor or by
path) so the count survives a SIGKILL or a fatal guest signal; it kills qemu
itself when the instruction limit is passed and when the guest calls
fork/vfork/clone-without-threads or execve (which would escape counting).

``-seed 0`` makes the guest's ``AT_RANDOM`` bytes and ``getrandom`` output
fixed: the same binary and input give the same instruction count.
"""

from __future__ import annotations

import math
import os
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sio.workers.vcpu.plugin import PluginBuildError, build_plugin, find_qemu

#: size of the count area file (header + 1023 per-thread slots of 64 bytes)
AREA_SIZE = 65536
_HEADER = struct.Struct("<QQQIIqQ")
_MAGIC = 0x314E534E494F4953  # "SIOINSN1"
_SLOT_OFFSET = 64
_SLOT_SIZE = 64

STATE_RUNNING = 0
STATE_EXITED = 1
STATE_LIMIT = 2
STATE_FORBIDDEN = 3

#: x86-64 syscall numbers the plugin may report as forbidden
SYSCALL_NAMES = {56: "clone", 57: "fork", 58: "vfork", 59: "execve", 322: "execveat"}
#: detail the plugin reports for a guest open for writing (``noopen=1``)
DETAIL_OPENING_FILES = -1

#: Memory (KiB) that qemu itself adds to a run's cgroup peak, measured under
#: the supervisor as the cgroup peak of a trivial program under qemu (with the
#: plugin) minus the same program run natively (Debian 12, qemu 7.2): 6,250
#: KiB plus :data:`QEMU_MEMORY_LIMIT_FRACTION` of the memory limit (median
#: peaks of 6,634 / 7,072 / 9,422 / 18,636 KiB at limits of 16 / 64 / 256 /
#: 1024 MiB, against about 100 KiB natively; only the program is in the
#: cgroup, never the launcher). qemu's binary, libraries and the plugin
#: are read into the page cache by the worker before each run
#: (:func:`sio.workers.vcpu.plugin.prefetch`), so they are not charged.
QEMU_MEMORY_OVERHEAD_KIB = 6_250
#: qemu maps the guest's whole stack up front, and the native profile's stack
#: limit is the memory limit: qemu's bookkeeping for it costs 1/85 of the limit.
QEMU_MEMORY_LIMIT_FRACTION = 1 / 85
#: qemu also keeps page descriptors for the guest's memory: measured 0.6-0.7 %
#: of the guest's resident memory (about 1,700 KiB more for a 256 MiB program).
QEMU_MEMORY_GUEST_FRACTION = 1 / 150


def overhead_kib(mem_limit_kib: int) -> int:
    """KiB to add to the cgroup limit so the guest itself gets ``mem_limit_kib``."""
    share = QEMU_MEMORY_LIMIT_FRACTION + QEMU_MEMORY_GUEST_FRACTION
    return QEMU_MEMORY_OVERHEAD_KIB + math.ceil(mem_limit_kib * share)


def guest_kib(peak_kib: int, mem_limit_kib: int) -> int:
    """The program's own memory, from the run's cgroup peak (qemu included)."""
    guest = peak_kib - QEMU_MEMORY_OVERHEAD_KIB - mem_limit_kib * QEMU_MEMORY_LIMIT_FRACTION
    return max(0, int(guest / (1 + QEMU_MEMORY_GUEST_FRACTION)))


#: Wall-clock slowdown of qemu (with the plugin) against native execution,
#: measured by bench/vcpu_overhead.py (4-6x for the tight reference loop,
#: 2-4x for typical code); the default wall-clock guard of a qemu run is
#: multiplied by it.
QEMU_WALL_SLOWDOWN = 6


@dataclass(frozen=True)
class CountResult:
    """What the plugin reported for one run.

    ``state``: ``"exited"`` (the program ended by itself or by a fatal signal
    of its own: the count is exact), ``"limit"`` (killed past the instruction
    limit), ``"forbidden"`` (killed at ``forbidden_syscall``) or ``"killed"``
    (stopped from outside, e.g. OOM or the wall-clock guard: the count is
    what had been executed, not necessarily exact).
    """

    instructions: int
    state: str
    forbidden_syscall: str | None = None


class CountArea:
    """The shared count area of one qemu run.

    Create it before the run, hand :meth:`plugin_args` to qemu (via
    :meth:`argv_prefix`), read it with :meth:`read` after the run.
    """

    def __init__(self, directory: str | os.PathLike[str]):
        self.path = Path(directory) / f".sio-insn-{os.getpid()}-{id(self):x}"
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        self.fd = os.open(self.path, flags, 0o600)
        os.ftruncate(self.fd, AREA_SIZE)

    def close(self) -> None:
        """Close the descriptor and remove the file."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> CountArea:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self) -> CountResult | None:
        """The result, or ``None`` when the plugin never initialised the area."""
        data = os.pread(self.fd, AREA_SIZE, 0)
        if len(data) < _HEADER.size:
            return None
        magic, _flushed, _limit, state, nslots, detail, extra = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            return None
        nslots = min(nslots, (len(data) - _SLOT_OFFSET) // _SLOT_SIZE)
        total = extra + sum(
            struct.unpack_from("<Q", data, _SLOT_OFFSET + _SLOT_SIZE * i)[0] for i in range(nslots)
        )
        if state == STATE_LIMIT:
            return CountResult(total, "limit")
        if state == STATE_FORBIDDEN:
            if detail == DETAIL_OPENING_FILES:
                return CountResult(total, "forbidden", "opening files")
            return CountResult(total, "forbidden", SYSCALL_NAMES.get(detail, f"syscall {detail}"))
        if state == STATE_EXITED:
            return CountResult(total, "exited")
        return CountResult(total, "killed")


def plugin_args(
    *,
    fd: int | None = None,
    path: str | None = None,
    limit: int | None = None,
    allow_fork: bool = False,
    forbid_write_open: bool = False,
) -> str:
    """The ``-plugin`` option value (without the plugin path)."""
    args = []
    if fd is not None:
        args.append(f"fd={fd}")
    elif path is not None:
        if "," in path:
            raise ValueError(f"count area path must not contain ',': {path}")
        args.append(f"out={path}")
    args.append(f"limit={int(limit or 0)}")
    args.append(f"nofork={0 if allow_fork else 1}")
    args.append("noexec=1")
    args.append(f"noopen={1 if forbid_write_open else 0}")
    return ",".join(args)


def argv_prefix(
    *,
    fd: int | None = None,
    path: str | None = None,
    limit: int | None = None,
    allow_fork: bool = False,
    forbid_write_open: bool = False,
    qemu: str | None = None,
    plugin: str | os.PathLike[str] | None = None,
) -> list[str]:
    """The words to put before the program's argv to run it under counting.

    ``limit`` is in instructions (``None``/0: no limit). Raises
    ``FileNotFoundError`` when qemu-x86_64 is not installed and
    :class:`~sio.workers.vcpu.plugin.PluginBuildError` when the plugin cannot be
    built.
    """
    qemu = qemu or find_qemu()
    if not qemu:
        raise FileNotFoundError("qemu-x86_64 not found (Debian package qemu-user)")
    so = str(plugin or build_plugin())
    if "," in so:
        raise ValueError(f"plugin path must not contain ',': {so}")
    opts = plugin_args(
        fd=fd, path=path, limit=limit, allow_fork=allow_fork, forbid_write_open=forbid_write_open
    )
    return [qemu, "-seed", "0", "-plugin", f"{so},{opts}", "--"]


_probed: dict[tuple[str, str], str] = {}


def probe() -> tuple[bool, str]:
    """``(usable, text)``: does qemu-x86_64 load the plugin and count?

    Counts ``/bin/true`` under the plugin (about 30 ms); a success is
    remembered for the process.
    """
    qemu = find_qemu()
    if not qemu:
        return False, "qemu-x86_64 not found: install the Debian package qemu-user"
    try:
        so = str(build_plugin())
    except (PluginBuildError, OSError) as e:
        return False, str(e)
    if (qemu, so) in _probed:
        return True, _probed[(qemu, so)]
    with tempfile.TemporaryDirectory(prefix="sio-vcpu-probe-") as tmp, CountArea(tmp) as area:
        argv = [*argv_prefix(path=str(area.path), qemu=qemu, plugin=so), "/bin/true"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, f"{qemu} with the plugin failed to run: {e}"
        result = area.read()
    if proc.returncode != 0 or result is None or result.instructions <= 0:
        err = proc.stderr.strip().splitlines()
        return False, (
            f"{qemu} did not count with the plugin {so} (exit {proc.returncode}): "
            f"{err[-1] if err else 'no count'}"
        )
    text = f"{qemu} with the instruction-counting plugin {so} (/bin/true: {result.instructions} instructions)"
    _probed[(qemu, so)] = text
    return True, text
