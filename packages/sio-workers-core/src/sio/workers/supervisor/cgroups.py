"""cgroup v1 and v2 behind one interface: one :class:`RunCgroup` per slot.

``detect()`` picks the backend at run time:

* **v2** when a cgroup2 hierarchy with the ``memory``, ``pids`` and ``cpu``
  controllers is available to us: ``$SIO_CGROUP_ROOT`` (a delegated subtree,
  e.g. from systemd ``Delegate=yes``; processes already in it, such as the
  worker itself, are moved into its ``worker`` child so that controllers can
  be enabled for the slots) or ``/sys/fs/cgroup/sio-workers`` when
  the root hierarchy is cgroup2 and we are root. Every run gets a fresh child
  cgroup ``slot-N`` (created before, removed after the run) so that
  ``memory.peak``, ``memory.events`` (``oom_kill``) and ``cpu.stat``
  (``usage_usec``) start from zero; ``pids.max`` limits processes and
  ``cgroup.kill`` kills the tree.
* **v1** when ``memory``, ``cpuacct``, ``pids`` and ``freezer`` are mounted
  under ``/sys/fs/cgroup/<controller>``: pooled cgroups
  ``/sys/fs/cgroup/<controller>/sio-workers/slot-N`` whose counters are reset
  before every run (``memory.max_usage_in_bytes``, ``cpuacct.usage``).
  Charges left by the slot's previous run (page cache, kernel memory) are
  dropped with ``memory.force_empty`` when above 2 MiB (emptying costs
  ~0.7 ms, so smaller leftovers stay) and subtracted from the peak either
  way: the peak is the growth above the usage at the start of the run. The
  usage counts the memory cgroup's per-CPU charge batches (up to 64 pages per
  CPU), which the kernel drains lazily, so the v1 peak is precise to about
  256 KiB per CPU, either way. OOM
  kills are the difference of ``oom_kill`` in ``memory.oom_control``, and the
  tree is killed
  by freezing, SIGKILLing every member and thawing.

Both backends keep the control files they use per run open (``pread``/
``pwrite`` at offset 0) to keep the per-run bookkeeping cheap. v1 tells
whether a slot's cgroup is empty from ``pids.current`` (every task stays
charged until it is reaped) instead of listing ``cgroup.procs``; a non-zero
count starts the freeze-and-kill sweep, which lists the members.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_MOUNT = Path(os.environ.get("SIO_CGROUP_MOUNT", "/sys/fs/cgroup"))
V1_CONTROLLERS = ("memory", "cpuacct", "pids", "freezer")
V2_CONTROLLERS = ("memory", "pids", "cpu")
#: the v1 slot cgroups are <mount>/<controller>/<V1_PREFIX>/slot-N
#: (``$SIO_CGROUP_PREFIX``: workers of one machine that share slots — one
#: ``$SIO_SUPERVISOR_RUNDIR`` — must share it; tests use private ones)
V1_PREFIX = os.environ.get("SIO_CGROUP_PREFIX", "sio-workers")
UNLIMITED = None
FORCE_EMPTY_ABOVE = 2 << 20
"""v1: leftover charges (page cache) above this are dropped before a run."""


class CgroupError(RuntimeError):
    """The cgroup setup failed: the run must end SE."""


@dataclass(frozen=True)
class CgroupStats:
    """Facts measured by the cgroup after (or during) a run."""

    cpu_ns: int
    peak_bytes: int
    oom_kills: int


def _pread_text(fd: int) -> str:
    return os.pread(fd, 4096, 0).decode()


def _pwrite(fd: int, text: str) -> None:
    os.pwrite(fd, text.encode(), 0)


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _field(text: str, name: str) -> int:
    """The value of the line ``name VALUE`` of a cgroup's key-value file."""
    key = name + " "
    start = 0 if text.startswith(key) else text.find("\n" + key) + 1
    if start == 0 and not text.startswith(key):
        raise CgroupError(f"no field {name!r} in cgroup file")
    end = text.find("\n", start)
    return int(text[start + len(key):end if end >= 0 else None])


class RunCgroup:
    """The cgroup(s) of one slot. Subclasses implement one cgroup version."""

    version: str = ""

    def procs_files(self) -> list[str]:
        """``cgroup.procs`` files the launcher writes itself into."""
        raise NotImplementedError

    def procs_fds(self) -> list[int]:
        """The :meth:`procs_files` opened for writing, for a prepared
        launcher (the program writes ``0`` into each). Owned by the caller
        (close them) unless :attr:`keeps_procs_fds`."""
        fds: list[int] = []
        try:
            for path in self.procs_files():
                fds.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    keeps_procs_fds = False

    known_empty = False
    """Set after a run whose cgroup was found empty, while the slot stayed
    locked since (``slots``): the next :meth:`prepare` need not look."""

    def prepare(self, mem_limit_bytes: int | None, pids_max: int | None) -> None:
        """Set limits and reset the counters before a run."""
        raise NotImplementedError

    def cpu_ns(self) -> int:
        """CPU time (user+system) of all processes of the run so far, in ns."""
        raise NotImplementedError

    def stats(self) -> CgroupStats:
        raise NotImplementedError

    def pids(self) -> list[int]:
        """Host pids of the processes now in the cgroup."""
        raise NotImplementedError

    def has_processes(self) -> bool:
        """Whether any process (or unreaped zombie) may still be in the cgroup."""
        return bool(self.pids())

    def kill_all(self) -> None:
        """Kill every process of the run; returns when the cgroup is empty."""
        raise NotImplementedError

    def finish(self) -> None:
        """Called after the run (and after stats()); releases per-run state."""

    def close(self) -> None:
        """Close the control files kept open."""


class CgroupV1(RunCgroup):
    version = "v1"

    def __init__(self, slot: int, mount: Path = CGROUP_MOUNT, prefix: str = V1_PREFIX) -> None:
        self.dirs = {c: mount / c / prefix / f"slot-{slot}" for c in V1_CONTROLLERS}
        try:
            for d in self.dirs.values():
                d.mkdir(parents=True, exist_ok=True)
            mem = self.dirs["memory"]
            self._limit = os.open(mem / "memory.limit_in_bytes", os.O_RDWR | os.O_CLOEXEC)
            memsw = mem / "memory.memsw.limit_in_bytes"
            self._memsw = os.open(memsw, os.O_RDWR | os.O_CLOEXEC) if memsw.exists() else None
            self._peak = os.open(mem / "memory.max_usage_in_bytes", os.O_RDWR | os.O_CLOEXEC)
            self._usage = os.open(mem / "memory.usage_in_bytes", os.O_RDONLY | os.O_CLOEXEC)
            self._oom = os.open(mem / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
            self._cpu = os.open(self.dirs["cpuacct"] / "cpuacct.usage", os.O_RDWR | os.O_CLOEXEC)
            self._pids_max = os.open(self.dirs["pids"] / "pids.max", os.O_RDWR | os.O_CLOEXEC)
            self._pids_current = os.open(self.dirs["pids"] / "pids.current",
                                         os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise CgroupError(f"cgroup v1 setup failed: {exc}") from exc
        self._oom_before = 0
        self._oom_after: int | None = None
        """``oom_kill`` as the last :meth:`stats` read it (None: not since)."""
        self._baseline = 0
        self._last_limits: tuple[int | None, int | None] | None = None
        self._procs_files = [str(d / "cgroup.procs") for d in self.dirs.values()]
        self._freezer_procs = str(self.dirs["freezer"] / "cgroup.procs")
        self._procs_fds: list[int] | None = None

    def procs_files(self) -> list[str]:
        return list(self._procs_files)

    keeps_procs_fds = True

    def procs_fds(self) -> list[int]:
        # The pooled cgroups stay: their cgroup.procs files are opened once
        # (a write ignores the file position).
        if self._procs_fds is None:
            self._procs_fds = super().procs_fds()
        return self._procs_fds

    def _set_memory(self, value: str) -> None:
        # memsw must stay >= limit: try both orders.
        fds = [self._limit] + ([self._memsw] if self._memsw is not None else [])
        for order in (fds, fds[::-1]):
            try:
                for fd in order:
                    _pwrite(fd, value)
                return
            except OSError:
                continue
        raise CgroupError("cannot set the memory limit")

    def prepare(self, mem_limit_bytes: int | None, pids_max: int | None) -> None:
        try:
            known_empty = self.known_empty
            if not known_empty and self.has_processes():
                self.kill_all()
            self.known_empty = False
            usage = int(_pread_text(self._usage))
            if usage > FORCE_EMPTY_ABOVE:
                try:
                    _write(self.dirs["memory"] / "memory.force_empty", "0")
                except OSError:
                    pass
                usage = None
            if self._last_limits != (mem_limit_bytes, pids_max):
                self._last_limits = None
                self._set_memory(str(mem_limit_bytes) if mem_limit_bytes else "-1")
                _pwrite(self._pids_max, str(pids_max) if pids_max else "max")
                self._last_limits = (mem_limit_bytes, pids_max)
            _pwrite(self._peak, "0")
            _pwrite(self._cpu, "0")
            # nothing runs in the cgroup: the usage is what it was just read
            # unless it was emptied (the peak restarts from it), and the OOM
            # kills what the last run's stats saw if the slot stayed ours
            self._baseline = int(_pread_text(self._usage)) if usage is None else usage
            if known_empty and self._oom_after is not None:
                self._oom_before = self._oom_after
            else:
                self._oom_before = _field(_pread_text(self._oom), "oom_kill")
            self._oom_after = None
        except OSError as exc:
            raise CgroupError(f"cgroup v1 prepare failed: {exc}") from exc

    def cpu_ns(self) -> int:
        return int(_pread_text(self._cpu))

    def stats(self) -> CgroupStats:
        self._oom_after = _field(_pread_text(self._oom), "oom_kill")
        return CgroupStats(
            cpu_ns=self.cpu_ns(),
            peak_bytes=max(0, int(_pread_text(self._peak)) - self._baseline),
            oom_kills=self._oom_after - self._oom_before,
        )

    def pids(self) -> list[int]:
        # Opened afresh: v1 caches the pid list per open file.
        fd = os.open(self._freezer_procs, os.O_RDONLY | os.O_CLOEXEC)
        try:
            chunks = []
            while data := os.read(fd, 65536):
                chunks.append(data)
        finally:
            os.close(fd)
        return [int(x) for x in b"".join(chunks).split()]

    def has_processes(self) -> bool:
        # pids.current (kept open, one pread) counts every task charged to the
        # cgroup until it is reaped: 0 means that no process is left.
        return int(_pread_text(self._pids_current)) > 0

    def kill_all(self) -> None:
        state = self.dirs["freezer"] / "freezer.state"
        deadline = time.monotonic() + 10
        while True:
            members = self.pids()
            if not members:
                return
            _write(state, "FROZEN")
            for _ in range(200):
                if state.read_text().strip() != "FREEZING":
                    break
                time.sleep(0.0005)
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _write(state, "THAWED")
            if time.monotonic() > deadline:
                raise CgroupError("processes survive in the cgroup")
            time.sleep(0.001)

    def close(self) -> None:
        for fd in (self._limit, self._memsw, self._peak, self._usage, self._oom, self._cpu,
                   self._pids_max, self._pids_current, *(self._procs_fds or ())):
            if fd is not None:
                os.close(fd)
        self._procs_fds = None


class CgroupV2(RunCgroup):
    """One fresh cgroup per run under a delegated v2 subtree."""

    version = "v2"

    def __init__(self, slot: int, root: Path) -> None:
        self.root = root
        self.dir = root / f"slot-{slot}"

    def procs_files(self) -> list[str]:
        return [str(self.dir / "cgroup.procs")]

    def prepare(self, mem_limit_bytes: int | None, pids_max: int | None) -> None:
        try:
            if self.dir.exists():
                self.kill_all()
                self.dir.rmdir()
            self.dir.mkdir()
            _write(self.dir / "memory.max", str(mem_limit_bytes) if mem_limit_bytes else "max")
            swap = self.dir / "memory.swap.max"
            if swap.exists():
                _write(swap, "0")
            _write(self.dir / "pids.max", str(pids_max) if pids_max else "max")
            self._cpu = os.open(self.dir / "cpu.stat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise CgroupError(f"cgroup v2 prepare failed: {exc}") from exc

    def cpu_ns(self) -> int:
        return _field(_pread_text(self._cpu), "usage_usec") * 1000

    def stats(self) -> CgroupStats:
        peak_file = self.dir / "memory.peak"
        if not peak_file.exists():
            raise CgroupError("memory.peak is not available (kernel < 5.19)")
        events = (self.dir / "memory.events").read_text()
        return CgroupStats(
            cpu_ns=self.cpu_ns(),
            peak_bytes=int(peak_file.read_text()),
            oom_kills=_field(events, "oom_kill"),
        )

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.dir / "cgroup.procs").read_text().split()]
        except FileNotFoundError:
            return []

    def kill_all(self) -> None:
        kill_file = self.dir / "cgroup.kill"
        deadline = time.monotonic() + 10
        while self.pids():
            if kill_file.exists():
                _write(kill_file, "1")
            else:
                _write(self.dir / "cgroup.freeze", "1")
                for pid in self.pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                _write(self.dir / "cgroup.freeze", "0")
            if time.monotonic() > deadline:
                raise CgroupError("processes survive in the cgroup")
            time.sleep(0.001)

    def finish(self) -> None:
        try:
            os.close(self._cpu)
        except (AttributeError, OSError):
            pass
        try:
            self.kill_all()
            self.dir.rmdir()
        except OSError:
            pass


def v2_root() -> Path | None:
    """The delegated cgroup2 subtree we may use, or None."""
    explicit = os.environ.get("SIO_CGROUP_ROOT")
    candidates = [Path(explicit)] if explicit else []
    if (CGROUP_MOUNT / "cgroup.controllers").exists() and os.geteuid() == 0:
        candidates.append(CGROUP_MOUNT / "sio-workers")
    for root in candidates:
        parent = root if (root / "cgroup.controllers").exists() else root.parent
        try:
            available = (parent / "cgroup.controllers").read_text().split()
        except OSError:
            continue
        if all(c in available for c in V2_CONTROLLERS):
            enable = " ".join("+" + c for c in V2_CONTROLLERS)
            try:
                if root != parent:
                    root.mkdir(exist_ok=True)
                    _write(parent / "cgroup.subtree_control", enable)
                try:
                    _write(root / "cgroup.subtree_control", enable)
                except OSError:
                    # "No internal processes": a delegated cgroup holding the
                    # worker itself cannot enable controllers for children.
                    # Move its processes into a "worker" leaf and retry.
                    _evacuate(root)
                    _write(root / "cgroup.subtree_control", enable)
                return root
            except OSError:
                continue
    return None


def _evacuate(root: Path) -> None:
    """Move every process of ``root`` into ``root/worker`` (v2 delegation)."""
    leaf = root / "worker"
    leaf.mkdir(exist_ok=True)
    for pid in (root / "cgroup.procs").read_text().split():
        try:
            _write(leaf / "cgroup.procs", pid)
        except ProcessLookupError:
            pass


def v1_available(mount: Path = CGROUP_MOUNT) -> bool:
    return all((mount / c / "cgroup.procs").exists() for c in V1_CONTROLLERS) and (
        mount / "memory" / "memory.max_usage_in_bytes"
    ).exists()


def detect() -> str | None:
    """``"v2"``, ``"v1"`` or None (no usable cgroup hierarchy)."""
    if v2_root() is not None:
        return "v2"
    if v1_available():
        return "v1"
    return None


def open_slot_cgroup(slot: int, version: str | None = None) -> RunCgroup:
    """The cgroup of ``slot`` for the detected (or given) version."""
    version = version or detect()
    if version == "v2":
        root = v2_root()
        if root is None:
            raise CgroupError("cgroup v2 is not delegated to us")
        return CgroupV2(slot, root)
    if version == "v1":
        return CgroupV1(slot)
    raise CgroupError(
        "no usable cgroup hierarchy (need v2 with memory, pids, cpu delegated, "
        "or v1 memory, cpuacct, pids, freezer)"
    )
