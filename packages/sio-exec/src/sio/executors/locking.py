"""The machine-wide lock that keeps ``cpu-exec`` timings undisturbed.

``cpu-exec`` measures real CPU time, so on one machine at most one such run
may happen at a time and no other job may run beside it (``docs/contracts.rst``
§6.2). Every exec-family job therefore holds a lock on one lock file for its
whole duration: ``cpu-exec`` an *exclusive* one, every other job a *shared*
one. Shared holders run side by side; an exclusive holder waits until no one
else holds the lock, and blocks newcomers while it runs.

The lock is :func:`fcntl.flock` on the file named by the environment variable
``SIO_EXEC_LOCK_FILE``, by default ``/run/lock/sio-workers-exec.lock`` (or
``<tempdir>/sio-workers-exec.lock`` where ``/run/lock`` is not writable). A
``flock`` belongs to an open file description, so it works across worker
processes (Celery's prefork pool, several workers on one machine) and is
released by the kernel when a holder dies. All workers of one machine must
see the same lock file.

Other job packages may take the shared lock too, with
``with job_lock(exclusive=False): ...``.

The exclusive holder also keeps this process's job directories' thread
quiet (:func:`sio.workers.jobdir.quiet`): no directory is made ahead and no
lock closed while it runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import tempfile
from collections.abc import Iterator

from sio.workers import jobdir

LOCK_ENV = "SIO_EXEC_LOCK_FILE"
DEFAULT_LOCK_DIR = "/run/lock"
LOCK_NAME = "sio-workers-exec.lock"


def lock_path() -> str:
    """The lock file in use (see the module documentation)."""
    configured = os.environ.get(LOCK_ENV)
    if configured:
        return configured
    return _default_lock_path(DEFAULT_LOCK_DIR, tempfile.gettempdir())


@functools.lru_cache(maxsize=4)
def _default_lock_path(lock_dir: str, tempdir: str) -> str:
    """Decided once per process (every job asks): a worker does not see
    ``/run/lock`` come or go while it serves."""
    if os.path.isdir(lock_dir) and os.access(lock_dir, os.W_OK):
        return os.path.join(lock_dir, LOCK_NAME)
    return os.path.join(tempdir, LOCK_NAME)


@contextlib.contextmanager
def job_lock(exclusive: bool) -> Iterator[str]:
    """Hold the machine-wide lock (exclusive or shared) while in the block.

    Blocks until the lock is granted; yields the lock file's path.
    """
    path = lock_path()
    # Read-only is enough for flock, so workers under other users share it.
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        with jobdir.quiet() if exclusive else contextlib.nullcontext():
            yield path
    finally:
        os.close(fd)  # releases the lock


def clear_stale_lock(report, dry_run: bool = False) -> None:
    """The ``sio.stale`` cleaner of this lock (see :mod:`sio.workers.stale`).

    The lock itself cannot go stale (the kernel drops a dead holder's
    ``flock``), but its file can be made unusable — replaced by a symlink
    (opened with ``O_NOFOLLOW``, so every exec job would fail), a directory
    or a FIFO. Such a file is removed (it is made afresh by the next job);
    a regular file is left alone, held or not.
    """
    import shutil
    import stat

    path = lock_path()
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISREG(st.st_mode):
        return
    kind = "symlink" if stat.S_ISLNK(st.st_mode) else (
        "directory" if stat.S_ISDIR(st.st_mode) else "special file")
    if not dry_run:
        try:
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError as exc:
            report.problems.append(f"cpu-exec lock {path} is a {kind}: {exc}")
            return
    report.locks.append(f"{path} (was a {kind})")
