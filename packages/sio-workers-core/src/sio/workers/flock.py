"""Taking an ``flock`` without waiting: the one test of "does anybody hold
this?" that the job directories, the supervisor's slots and the stale-state
sweep share.

Every such lock belongs to an open file description, so the kernel drops it
when its holder dies: "lockable now" means "nobody alive holds it".
"""

from __future__ import annotations

import fcntl
import os


def try_lock(path: str, flags: int = os.O_RDONLY, mode: int = 0o644,
             exclusive: bool = True) -> int | None:
    """Open ``path`` (``flags`` plus ``O_NOFOLLOW | O_CLOEXEC``) and take its
    ``flock`` without waiting.

    Returns the open descriptor holding the lock (closing it releases the
    lock), or ``None`` when someone else holds it or ``path`` cannot be
    opened (missing, a symlink, no permission).
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError:
        return None
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd
