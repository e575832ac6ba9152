"""Slots: one per concurrent supervised run on the machine.

Slot ``N`` owns

* the unprivileged host uid and gid ``$SIO_SUPERVISOR_UID_BASE + N``
  (default base 61000; these ids must belong to no user of the host),
* a pooled cgroup (:func:`sio.workers.supervisor.cgroups.open_slot_cgroup`),
* a pooled, empty network namespace bound at
  ``$SIO_SUPERVISOR_RUNDIR/netns/slot-N`` (creating a network namespace per
  run costs ~0.4 ms; nothing can change the pooled one because every profile
  forbids creating sockets, and its loopback stays down),
* a lock file ``$SIO_SUPERVISOR_RUNDIR/slots/slot-N.lock`` (default
  ``/run/sio-workers``) held with ``flock`` for the whole run, so slots are
  exclusive across processes and threads of the machine.

There are ``$SIO_SUPERVISOR_SLOTS`` slots (default 64). A run takes the first
free one. A process keeps the lock of ONE slot after its run while it has no
other idle one, and its next run takes that slot with no system call (a
process's runs are one after another in a judge); a forked child forgets it
(the parent still holds it).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sio.workers.envkey import env_key, env_names
from sio.workers.supervisor.cgroups import RunCgroup, open_slot_cgroup


def uid_base() -> int:
    return int(os.environ.get("SIO_SUPERVISOR_UID_BASE", "61000"))


def slot_count() -> int:
    return int(os.environ.get("SIO_SUPERVISOR_SLOTS", "64"))


def run_dir() -> Path:
    return Path(os.environ.get("SIO_SUPERVISOR_RUNDIR", "/run/sio-workers"))


_made_dirs: set[Path] = set()


def _ensure_dir(path: Path, mode: int) -> Path:
    if path not in _made_dirs:
        path.mkdir(parents=True, exist_ok=True, mode=mode)
        _made_dirs.add(path)
    return path


_root_mountpoints: dict[tuple[object, ...], Path] = {}


_RUNDIR = env_names("SIO_SUPERVISOR_RUNDIR")


def root_mountpoint() -> Path:
    """An empty host directory the launcher mounts the new root's tmpfs on."""
    key = env_key(_RUNDIR)
    path = _root_mountpoints.get(key)
    if path is None:
        path = _root_mountpoints[key] = _ensure_dir(run_dir() / "root", 0o755)
    return path


@dataclass
class Slot:
    index: int
    uid: int
    gid: int
    cgroup: RunCgroup
    netns: str | None


class SlotsExhausted(RuntimeError):
    """Every slot is in use."""


_cgroups: dict[int, RunCgroup] = {}
_netns_ready: dict[tuple[str | None, int], str] = {}
_cgroups_lock = threading.Lock()


def _slot_cgroup(index: int) -> RunCgroup:
    with _cgroups_lock:
        cg = _cgroups.get(index)
        if cg is None:
            cg = _cgroups[index] = open_slot_cgroup(index)
        return cg


def slot_netns(index: int, launcher: str) -> str | None:
    """Path of the slot's pooled network namespace (created on first use).

    Returns None when it cannot be made; the launcher then creates a fresh
    network namespace per run.
    """
    cache_key = (os.environ.get("SIO_SUPERVISOR_RUNDIR"), index)
    key = _netns_ready.get(cache_key)
    if key is not None:
        return key
    path = run_dir() / "netns" / f"slot-{index}"
    key = str(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not _is_netns(path):
        subprocess.run([launcher, "-K", key], capture_output=True, check=False)
    if _is_netns(path):
        _netns_ready[cache_key] = key
        return key
    return None


_devnull_fd: int | None = None


def devnull_fd() -> int:
    """``/dev/null`` opened read-write (close-on-exec), once per process."""
    global _devnull_fd
    with _cgroups_lock:
        if _devnull_fd is None:
            _devnull_fd = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        return _devnull_fd


_netns_fds: dict[str, int] = {}


def netns_fd(path: str) -> int:
    """A descriptor of the pooled network namespace bound at ``path``, kept
    open for the process (a prepared launcher's program joins it)."""
    with _cgroups_lock:
        fd = _netns_fds.get(path)
        if fd is None:
            fd = _netns_fds[path] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        return fd


_favor_checked: dict[str | None, bool] = {}


def favor_dynmods(launcher: str) -> bool | None:
    """Make joining a cgroup never wait for an RCU grace period (once per
    process; the setting is machine-wide and lasts while the mount does).

    Each run's program joins its cgroup(s); the kernel takes its cgroup-wide
    thread-group lock for writing, which by default may wait for a grace
    period: a few joins in a hundred then take several ms. While any cgroup
    hierarchy is mounted with ``favordynmods`` (Linux >= 6.0) the lock stays
    in the mode where writers never wait (and ``fork``/``exit`` take a
    slightly slower path). We mount an empty named v1 hierarchy with it at
    ``$SIO_SUPERVISOR_RUNDIR/favordynmods``; nothing is ever put in it.

    Returns True when it is in place, False when the kernel refused (old
    kernel, named hierarchies disabled), None when turned off with
    ``SIO_CGROUP_FAVORDYNMODS=0``.
    """
    if os.environ.get("SIO_CGROUP_FAVORDYNMODS", "1") == "0":
        return None
    rundir = os.environ.get("SIO_SUPERVISOR_RUNDIR")
    done = _favor_checked.get(rundir)
    if done is None:
        path = _ensure_dir(run_dir() / "favordynmods", 0o755)
        if not _is_mountpoint(path):
            subprocess.run([launcher, "-F", str(path)], capture_output=True, check=False)
        done = _favor_checked[rundir] = _is_mountpoint(path)
    return done


def _is_mountpoint(path: Path) -> bool:
    try:
        return os.stat(path).st_dev != os.stat(path.parent).st_dev
    except OSError:
        return False


def _is_netns(path: Path) -> bool:
    return _is_mountpoint(path)


_lock_paths: dict[tuple[str | None, int], str] = {}


def _lock_files() -> Callable[[int], str]:
    """index -> path of the slot's lock file (the strings are built once)."""
    rundir = os.environ.get("SIO_SUPERVISOR_RUNDIR")

    def path(index: int) -> str:
        found = _lock_paths.get((rundir, index))
        if found is None:
            lock_dir = _ensure_dir(run_dir() / "slots", 0o700)
            found = _lock_paths[(rundir, index)] = str(lock_dir / f"slot-{index}.lock")
        return found

    return path


def slot_lock_path(index: int) -> str:
    """The lock file of slot ``index`` (its directory is created)."""
    return _lock_files()(index)


_idle_lock = threading.Lock()
_idle: tuple[tuple[object, ...], int, Slot] | None = None
"""The slot this process holds between runs: (its settings, lock fd, slot)."""
_SETTINGS = env_names("SIO_SUPERVISOR_RUNDIR", "SIO_SUPERVISOR_UID_BASE", "SIO_SUPERVISOR_SLOTS")


def _settings(launcher: str | None) -> tuple[object, ...]:
    """What a kept slot must still match: the run directory, uid base and
    number of slots, and whether it was taken with a launcher (its network
    namespace)."""
    return (*env_key(_SETTINGS), bool(launcher))


def _take_idle(settings: tuple[object, ...]) -> tuple[int, Slot] | None:
    global _idle
    with _idle_lock:
        idle, _idle = _idle, None
    if idle is None:
        return None
    if idle[0] == settings:
        return idle[1], idle[2]
    _unlock(idle[1], idle[2])
    return None


def _unlock(fd: int, slot: Slot) -> None:
    slot.cgroup.known_empty = False  # others may run in it from now on
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _release(settings: tuple[object, ...], fd: int, slot: Slot) -> None:
    """After a run: keep the slot for this process's next run, or unlock it."""
    global _idle
    with _idle_lock:
        if _idle is None:
            _idle = (settings, fd, slot)
            return
    _unlock(fd, slot)


def _forget_idle_in_child() -> None:
    """After ``fork``: the parent's kept slot is not ours (closing our copy
    of its descriptor leaves the parent's lock)."""
    global _idle
    if _idle is not None:
        os.close(_idle[1])
        _idle = None


os.register_at_fork(after_in_child=_forget_idle_in_child)


class SlotLease:
    """A slot held from ``__enter__`` (which returns it) to ``__exit__``: the
    one this process kept after its last run, else the first free one.

    A class rather than a ``@contextmanager`` generator: it is entered on
    every run, and a generator's set-up and teardown cost a few
    microseconds more than this.
    """

    __slots__ = ("_launcher", "_held")

    def __init__(self, launcher: str | None = None) -> None:
        self._launcher = launcher
        self._held: tuple[tuple[object, ...], int, Slot] | None = None

    def __enter__(self) -> Slot:
        if self._held is not None:
            raise RuntimeError("a SlotLease is entered once at a time")
        settings = _settings(self._launcher)
        taken = _take_idle(settings) or _lock_free(self._launcher)
        fd, slot = taken
        self._held = (settings, fd, slot)
        return slot

    def __exit__(self, *exc_info: object) -> None:
        held, self._held = self._held, None
        if held is not None:
            _release(*held)


def acquire_slot(launcher: str | None = None) -> SlotLease:
    """Hold a free slot for the duration of the ``with`` block (see
    :class:`SlotLease`); :class:`SlotsExhausted` when all are busy."""
    return SlotLease(launcher)


def _lock_free(launcher: str | None) -> tuple[int, Slot]:
    """Lock the first free slot: its lock file's descriptor and the slot."""
    lock_files = _lock_files()
    if launcher:
        favor_dynmods(launcher)
    count = slot_count()
    for index in range(count):
        fd = os.open(lock_files(index), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            uid = uid_base() + index
            netns = slot_netns(index, launcher) if launcher else None
            return fd, Slot(index=index, uid=uid, gid=uid, cgroup=_slot_cgroup(index),
                            netns=netns)
        except BaseException:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise
    raise SlotsExhausted(f"all {count} supervisor slots are busy")
