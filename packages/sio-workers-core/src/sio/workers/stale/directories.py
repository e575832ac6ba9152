"""Directories that dead jobs left: job directories, count areas and
half-installed sandboxes.

Each kind of directory is held by a live user with an ``flock``, which the
kernel drops when the user dies, so "stale" means "lockable now":

* job directories ``<tempdir>/sio-job-*`` (an exclusive lock on the directory
  while its job runs; creators hold ``<tempdir>/.sio-job-dirs.lock`` shared
  from ``mkdtemp`` until their directory is locked, a sweep holds it
  exclusive — see :mod:`sio.workers.jobdir`);
* instruction-count areas ``<tempdir>/sio-vcpu-*`` (an exclusive lock on the
  directory while its run lives; :mod:`sio.workers.vcpu.run`);
* a sandbox's half-done install or upgrade ``<basedir>/.<name>.new-*`` /
  ``.<name>.old-*`` (made and removed under ``.<name>.install.lock``;
  :mod:`sio.workers.sandbox`).

A stale directory is emptied safely while its lock is held: every process
working in it is killed, every mount inside it unmounted (``rmtree`` would
walk into a bind mount and delete its source's files), then it is removed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from sio.workers import mounts
from sio.workers.flock import try_lock
from sio.workers.jobdir import _CREATION_LOCK as JOB_DIRS_CREATION_LOCK
from sio.workers.jobdir import JOB_DIR_PREFIX
from sio.workers.stale import processes
from sio.workers.stale.report import Report

VCPU_AREA_PREFIX = "sio-vcpu-"
_SANDBOX_PARTIAL = re.compile(r"^\.(?P<name>.+)\.(new|old)-[^/]+$")


def _flock(path: str, directory: bool = False) -> int | None:
    """An exclusive ``flock`` on ``path`` taken without waiting (a missing
    lock file is created), or ``None``."""
    if directory:
        return try_lock(path, os.O_RDONLY | os.O_DIRECTORY)
    return try_lock(path, os.O_RDONLY | (0 if os.path.exists(path) else os.O_CREAT))


@contextmanager
def _held(fd: int | None) -> Iterator[int | None]:
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def empty_and_remove(path: str, kind: str, report: Report, dry_run: bool) -> None:
    """Kill the processes working in ``path``, unmount what is mounted in
    it, remove it (the caller holds its lock)."""
    for _ in range(50):  # a forking leftover may start more meanwhile
        killed = processes.kill(processes.pids_inside(path), dry_run)
        report.processes += killed
        if not killed or dry_run:
            break
    unmounted, failed = mounts.unmount_inside(path, dry_run)
    report.mounts += unmounted
    if failed:
        report.problems += [f"cannot unmount {m}; {path} stays" for m in failed]
        return
    if mounts.mounts_inside(path) and not dry_run:
        report.problems.append(f"{path} still has mounts inside; it stays")
        return
    if not dry_run:
        shutil.rmtree(path, ignore_errors=True)
        if os.path.lexists(path):
            report.problems.append(f"cannot remove {path}")
            return
    report.directories.append(f"{kind} {path}")


def _entries(parent: str, prefix: str) -> list[str]:
    try:
        with os.scandir(parent) as it:
            return sorted(e.path for e in it if e.name.startswith(prefix) and
                          e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def clear_job_directories(report: Report, dry_run: bool = False,
                          parent: str | None = None) -> None:
    """Stale job directories and count areas in ``parent`` (the temporary
    directory)."""
    parent = parent or tempfile.gettempdir()
    creation = _flock(os.path.join(parent, JOB_DIRS_CREATION_LOCK))
    with _held(creation):
        if creation is None and os.path.exists(os.path.join(parent, JOB_DIRS_CREATION_LOCK)):
            # someone is between mkdtemp and locking their directory right
            # now: their directory is not locked yet, so no sweep now
            report.problems.append(f"job directories in {parent}: busy, not swept now")
        else:
            for path in _entries(parent, JOB_DIR_PREFIX):
                with _held(_flock(path, directory=True)) as fd:
                    if fd is not None:
                        empty_and_remove(path, "job directory", report, dry_run)
    for path in _entries(parent, VCPU_AREA_PREFIX):
        with _held(_flock(path, directory=True)) as fd:
            if fd is not None:
                empty_and_remove(path, "count area", report, dry_run)


def clear_sandbox_partials(report: Report, dry_run: bool = False,
                           basedir: str | None = None) -> None:
    """Half-installed sandbox trees whose install lock nobody holds."""
    if basedir is None:
        from sio.workers.sandbox import sandboxes_basedir

        basedir = sandboxes_basedir()
    try:
        names = os.listdir(basedir)
    except OSError:
        return
    for entry in sorted(names):
        match = _SANDBOX_PARTIAL.match(entry)
        path = os.path.join(basedir, entry)
        if not match or not os.path.isdir(path) or os.path.islink(path):
            continue
        lock = os.path.join(basedir, f".{match['name']}.install.lock")
        with _held(_flock(lock)) as fd:
            if fd is not None:
                empty_and_remove(path, "half-installed sandbox", report, dry_run)
