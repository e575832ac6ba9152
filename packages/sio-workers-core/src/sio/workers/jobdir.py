"""Job directories: where a job runs, and where ``run()`` was called from.

:func:`sio.workers.runner.run` runs each job, one at a time per process
(``_job_lock``), in a fresh directory made here (``sio-job-*`` in
:func:`tempfile.gettempdir`): the current directory while the job runs,
held with an :func:`fcntl.flock` so that a sweep
(:func:`sweep_job_directories`) removes only the directories of dead
processes, and removed afterwards (``docs/contracts.rst`` §2; the lock's
descriptor, whose close is when the file system frees the removed
directory, is closed by a thread of its own: :class:`_LateCloser`). Job code asks
for it with :func:`current_job_dir`, and for the directory ``run()`` was
called from with :func:`caller_dir`.

This module imports nothing from :mod:`sio`, so any module
(:mod:`sio.workers.ft` among them) can use it without importing the runner.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar

from sio.workers import mounts
from sio.workers.flock import try_lock

# The records keep the logger name they had before this room left the runner.
logger = logging.getLogger("sio.workers.runner")

#: The working directory is process-wide, so jobs run one at a time per
#: process; parallelism comes from processes (Celery's prefork pool).
_job_lock = threading.RLock()

_current_job_dir: ContextVar[str | None] = ContextVar("sio_job_dir", default=None)
_caller_dir: ContextVar[str | None] = ContextVar("sio_caller_dir", default=None)


def current_job_dir() -> str:
    """The directory of the job now running (the current directory outside a job)."""
    return _current_job_dir.get() or os.getcwd()


def caller_dir() -> str:
    """The working directory ``run()`` was called from (the current directory
    outside a job). Local paths with ``use_filetracker: false`` are relative
    to it."""
    return _caller_dir.get() or os.getcwd()


#: Prefix of job directories (in :func:`tempfile.gettempdir`).
JOB_DIR_PREFIX = "sio-job-"
#: Lock file beside the job directories: creators hold it shared from
#: ``mkdtemp`` until their directory is locked, a sweep holds it exclusive.
_CREATION_LOCK = ".sio-job-dirs.lock"
#: Seconds between two sweeps of one process (the first job of a process
#: always sweeps).
SWEEP_INTERVAL = 60.0
_last_sweep: float | None = None


def _forget_sweep_in_child() -> None:
    global _last_sweep
    _last_sweep = None


os.register_at_fork(after_in_child=_forget_sweep_in_child)


def _lock_dir(path: str) -> int | None:
    """An open descriptor of directory ``path`` holding an exclusive
    ``flock`` (kept while its job runs; the kernel drops it when the process
    dies), or ``None`` when ``path`` cannot be locked now."""
    return try_lock(path, os.O_RDONLY | os.O_DIRECTORY)


def _open_creation_lock(parent: str) -> int | None:
    path = os.path.join(parent, _CREATION_LOCK)
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        try:
            return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError:
            continue
    return None


def sweep_job_directories(parent: str | None = None) -> int:
    """Remove the job directories in ``parent`` (default: the temporary
    directory) that no running job holds: those of processes that died
    without removing them (SIGKILL, the OOM killer). Returns how many were
    removed (0 also when the sweep was skipped because another process was
    creating a job directory or sweeping at that moment)."""
    return _sweep(parent or tempfile.gettempdir()) or 0


def _sweep(parent: str) -> int | None:
    """:func:`sweep_job_directories`; ``None`` when skipped."""
    lock = _open_creation_lock(parent)
    if lock is None:
        return None
    removed = 0
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return None
        with os.scandir(parent) as entries:
            for entry in entries:
                if not entry.name.startswith(JOB_DIR_PREFIX):
                    continue
                fd = _lock_dir(entry.path)
                if fd is None:  # its job is running (or it is not ours to open)
                    continue
                try:
                    if mounts.mounts_inside(entry.path):
                        # rmtree would walk into the mount; the stale-state
                        # sweep at a worker's start unmounts first
                        logger.warning("job directory %s has mounts inside: left for "
                                       "sio-clear-stale", entry.path)
                        continue
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed += 1
                finally:
                    os.close(fd)
    except OSError:  # an unreadable temporary directory: nothing to sweep
        return removed
    finally:
        os.close(lock)
    if removed:
        logger.warning("removed %d job directories left by dead processes in %s",
                       removed, parent)
    return removed


def _make_job_directory() -> tuple[str, int | None]:
    """A new job directory and the descriptor that locks it while its job
    runs (``None`` only where the directory cannot be opened, e.g. no
    descriptor is left). Sweeps first, at most every :data:`SWEEP_INTERVAL`
    seconds per process."""
    global _last_sweep
    parent = tempfile.gettempdir()
    now = time.monotonic()
    if (_last_sweep is None or now - _last_sweep >= SWEEP_INTERVAL) and _sweep(
        parent
    ) is not None:
        _last_sweep = now
    lock = _open_creation_lock(parent)
    try:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_SH)  # no sweep between mkdtemp and our lock
        path = tempfile.mkdtemp(prefix=JOB_DIR_PREFIX, dir=parent)
        return path, _lock_dir(path)
    finally:
        if lock is not None:
            os.close(lock)


class _LateCloser:
    """Closes the lock descriptors of removed job directories off the job's
    path, in a thread of its own.

    Once a job directory is removed (no name is left), closing the last
    descriptor of it is when the file system frees its inode: about 0.2 ms
    on ext4, as long as the rest of a small job. The lock protects nothing
    any more (nobody can find the directory), so the job need not wait: the
    closing thread does it while the next job runs (its program runs, the
    worker waits; the thread needs the GIL only between two closes). A
    forked child closes its copies of what was queued itself.
    """

    def __init__(self) -> None:
        self._fds: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def close(self, fd: int) -> None:
        self._fds.put(fd)
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="sio-jobdir-closer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            fd = self._fds.get()
            try:
                os.close(fd)
            except OSError:
                pass

    def after_fork_in_child(self) -> None:
        self._thread = None
        self._lock = threading.Lock()
        while True:
            try:
                fd = self._fds.get_nowait()
            except queue.Empty:
                return
            try:
                os.close(fd)
            except OSError:
                pass

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued descriptor is closed (tests)."""
        deadline = time.monotonic() + timeout
        while not self._fds.empty() and time.monotonic() < deadline:
            time.sleep(0.001)


_late_closer = _LateCloser()
os.register_at_fork(after_in_child=_late_closer.after_fork_in_child)


@contextlib.contextmanager
def _job_directory() -> Iterator[str]:
    previous = os.getcwd()
    path, dir_lock = _make_job_directory()
    token = _current_job_dir.set(path)
    caller_token = _caller_dir.set(previous)
    try:
        os.chdir(path)
        yield path
    finally:
        _current_job_dir.reset(token)
        _caller_dir.reset(caller_token)
        try:
            os.chdir(previous)
        finally:
            removed = _remove_job_directory(path, dir_lock)
            if dir_lock is not None:
                if removed:
                    _late_closer.close(dir_lock)
                else:
                    os.close(dir_lock)  # not removed: the lock stays until now


def _remove_job_directory(path: str, dir_fd: int | None = None) -> bool:
    """Remove the job directory and everything in it (never following a
    symlink); return whether it is gone. One holding only files (an exec
    job's ``exe`` and ``out``) is emptied through ``dir_fd`` (the directory
    itself, open: no path is looked up twice), anything else (a
    subdirectory) is left to :func:`shutil.rmtree`."""
    try:
        if dir_fd is not None:
            for name in os.listdir(dir_fd):
                os.unlink(name, dir_fd=dir_fd)  # a symlink itself, never its target
        os.rmdir(path)
        return True
    except OSError:
        pass
    shutil.rmtree(path, ignore_errors=True)
    return not os.path.lexists(path)

