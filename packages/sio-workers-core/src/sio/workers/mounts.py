"""Mounts of the host's mount namespace that lie inside a given directory.

A stale directory is removed only after every mount inside it is gone:
``shutil.rmtree`` walks into a mounted file system, and a bind mount would
let it delete the files of the bind's source. Unmounting is lazy
(``MNT_DETACH``): a busy mount leaves the tree at once and goes when its last
user does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

MNT_DETACH = 2


def unescape_mountinfo(field: str) -> str:
    """A field of ``/proc/self/mountinfo`` as the path it names (the kernel
    writes space, tab, newline and backslash as ``\\ooo``)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mountpoints() -> list[str]:
    """Every mountpoint of our mount namespace (``/proc/self/mountinfo``)."""
    try:
        with open("/proc/self/mountinfo") as f:
            return [unescape_mountinfo(line.split()[4]) for line in f if len(line.split()) > 4]
    except OSError:
        return []


def mounts_inside(directory: str) -> list[str]:
    """Mountpoints in ``directory`` or below it (``directory`` itself
    included), deepest first."""
    directory = os.path.realpath(directory).rstrip("/")
    found = {m for m in mountpoints() if m == directory or m.startswith(directory + "/")}
    return sorted(found, key=lambda m: m.count("/"), reverse=True)


_libc = None


def unmount(path: str) -> None:
    """Detach the mount at ``path`` (raises ``OSError``)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)


def unmount_inside(directory: str, dry_run: bool = False) -> tuple[list[str], list[str]]:
    """Unmount everything inside ``directory``; returns ``(unmounted,
    failures)`` (with ``dry_run``: what would be unmounted)."""
    done, failed = [], []
    # A mountpoint may be stacked several times: repeat until none is left.
    for _ in range(16):
        found = mounts_inside(directory)
        if not found:
            break
        if dry_run:
            return found, []
        for mountpoint in found:
            try:
                unmount(mountpoint)
                done.append(mountpoint)
            except OSError as exc:
                failed.append(f"{mountpoint}: {exc.strerror}")
        if failed:
            break
    return done, failed
