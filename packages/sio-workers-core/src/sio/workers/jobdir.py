"""Job directories: where a job runs, and where ``run()`` was called from.

:func:`sio.workers.runner.run` runs each job, one at a time per process
(``_job_lock``), in a fresh directory made here (``sio-job-*`` in
:func:`tempfile.gettempdir`): the current directory while the job runs,
held with an :func:`fcntl.flock` so that a sweep
(:func:`sweep_job_directories`) removes only the directories of dead
processes, and removed afterwards (``docs/contracts.rst`` §2). The file system work a job
need not wait for — closing a removed directory's lock, making the next
job's directory ahead — is done by a thread of its own
(:mod:`sio.workers.jobdir_keeper`). Job code asks
for it with :func:`current_job_dir`, and for the directory ``run()`` was
called from with :func:`caller_dir`.

This module imports only foundations of :mod:`sio.workers` (``mounts``,
``flock``, ``jobdir_keeper``), so any module (:mod:`sio.workers.ft` among
them) can use it without importing the runner.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar

from sio.workers import mounts
from sio.workers.flock import try_lock
from sio.workers.jobdir_keeper import DirectoryKeeper

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
    removed = empty = 0
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
                    if not os.listdir(fd):
                        empty += 1  # made ahead, or its job had put nothing in it
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed += 1
                finally:
                    os.close(fd)
    except OSError:  # an unreadable temporary directory: nothing to sweep
        return removed
    finally:
        os.close(lock)
    if removed > empty:
        logger.warning("removed %d job directories left by dead processes in %s "
                       "(%d of them empty)", removed, parent, empty)
    elif removed:
        logger.info("removed %d empty job directories left by dead processes in %s",
                    removed, parent)
    return removed


def _make_job_directory(parent: str) -> tuple[str, int | None]:
    """A new job directory in ``parent`` and the descriptor that locks it
    while its job runs (``None`` only where the directory cannot be opened,
    e.g. no descriptor is left). Sweeps first, at most every
    :data:`SWEEP_INTERVAL` seconds per process."""
    global _last_sweep
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


_keeper = DirectoryKeeper(_make_job_directory)
os.register_at_fork(before=_keeper.before_fork, after_in_child=_keeper.after_fork_in_child)
atexit.register(_keeper.discard_ahead)
#: Whether this process has run a job (from the second on, each job's start
#: has the next one's directory made ahead).
_ran_a_job = False


def _forget_jobs_in_child() -> None:
    global _ran_a_job
    _ran_a_job = False


os.register_at_fork(after_in_child=_forget_jobs_in_child)


def discard_ahead() -> None:
    """Remove the job directory made ahead for this process's next job, if
    any: for a process that runs no more jobs and does not exit through
    :mod:`atexit` (Celery's pool processes, at their shutdown)."""
    _keeper.discard_ahead()


def quiet() -> contextlib.AbstractContextManager[None]:
    """A context in which the job directories' thread does nothing (it
    finishes the task it is on first): for a job that measures real CPU
    time alone on the machine."""
    return _keeper.quiet()


def ahead_enabled() -> bool:
    """Whether job directories are made ahead (``$SIO_JOB_DIR_AHEAD``,
    default ``1``; ``0`` makes each at its job's start)."""
    return os.environ.get("SIO_JOB_DIR_AHEAD", "1") != "0"


def _take_job_directory() -> tuple[str, int | None]:
    """This job's directory and its lock: the one made ahead, else a new
    one; from the second job of a process on, the next one is asked for."""
    global _ran_a_job
    parent = tempfile.gettempdir()
    taken = _keeper.take(parent)
    path, lock = taken if taken is not None else _make_job_directory(parent)
    if _ran_a_job and ahead_enabled():
        _keeper.make_ahead(parent)
    _ran_a_job = True
    return path, lock


@contextlib.contextmanager
def _job_directory() -> Iterator[str]:
    previous = os.getcwd()
    path, dir_lock = _take_job_directory()
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
                    _keeper.close(dir_lock)
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

