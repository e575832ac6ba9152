"""Finding and killing processes that dead workers left behind.

Two marks identify a leftover process of a run without asking whoever
started it (who may be dead):

* its real uid is a supervisor slot's uid (``$SIO_SUPERVISOR_UID_BASE + N``,
  which belongs to no user of the host) while no live process holds that
  slot's lock;
* its working directory, root or executable lies inside a directory that
  no live job holds (a stale job directory, a stale count area).

Everything here reads ``/proc`` afresh; a process that ends meanwhile is
simply skipped.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator


def all_pids() -> Iterator[int]:
    """Every pid in ``/proc`` but our own."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            yield int(entry)


def real_uid(pid: int) -> int | None:
    """The real uid of ``pid`` (``None`` when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _paths(pid: int) -> list[str]:
    paths = []
    for link in ("cwd", "root", "exe"):
        try:
            paths.append(os.readlink(f"/proc/{pid}/{link}"))
        except OSError:
            pass
    return paths


def _inside(path: str, directory: str) -> bool:
    path = path.removesuffix(" (deleted)")
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def pids_with_uid(uid: int) -> list[int]:
    """Processes whose real uid is ``uid``."""
    return [pid for pid in all_pids() if real_uid(pid) == uid]


def pids_inside(directory: str) -> list[int]:
    """Processes working in ``directory`` (their cwd, root or executable is
    in it)."""
    directory = os.path.realpath(directory)
    return [pid for pid in all_pids() if any(_inside(p, directory) for p in _paths(pid))]


def kill(pids: list[int], dry_run: bool = False) -> list[int]:
    """SIGKILL each of ``pids`` (none with ``dry_run``); returns those that
    existed."""
    found = []
    for pid in pids:
        try:
            os.kill(pid, 0 if dry_run else signal.SIGKILL)
            found.append(pid)
        except (ProcessLookupError, PermissionError):
            pass
    return found
