"""The file system under the job directories, and what it costs a test.

Every test makes files in a job directory (:mod:`sio.workers.jobdir`, under
:func:`tempfile.gettempdir`: ``$TMPDIR`` or ``/tmp``): the directory itself,
the program's output, copies of downloaded files. How dear a new file is
depends on that file system, and one case is a trap: an **ext4 without a
journal**. There the kernel's inode allocator skips every inode freed in
the last 60 seconds, or 360 while the block of the inode table holding it
is dirty (``recently_deleted`` in ``fs/ext4/ialloc.c``), one buffer lookup
each. A judge frees inodes at a high rate (a directory and an output a
test), so each new file steps over the minutes' worth before it: measured
on a 2-vCPU VM, a ``mkdir`` or a file create cost 15–25 µs of CPU after a
``sync`` and 110–150 µs (up to 0.4 ms in a busy hour) while files written
recently waited for writeback (``docs/exec.rst``).

:func:`describe` tells which file system holds a directory: its mountpoint,
type and device, and for ext4 whether it has a journal (``/proc/fs/jbd2``
lists the journals of mounted file systems as ``<device>-<inode>``), with
advice for the journal-less case. ``sio-doctor`` prints it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from sio.workers.mounts import unescape_mountinfo

#: Advice for job directories on a journal-less ext4.
NO_JOURNAL_ADVICE = (
    "ext4 without a journal: each new file steps over the inodes freed in the last "
    "1-6 minutes (0.1-0.4 ms a file on a busy judge); put TMPDIR on a tmpfs "
    "(memory for the jobs' files) or on a journaled file system"
)


@dataclass
class FileSystem:
    """The file system holding a directory."""

    path: str
    """The directory asked about (resolved)."""
    mountpoint: str
    fstype: str
    source: str
    """The mount's source (``/dev/vda``, ``tmpfs``, ``overlay``)."""
    device: str | None
    """The kernel's name of its block device (``vda``, ``nvme0n1p2``);
    ``None`` for a file system on none (tmpfs, overlay)."""
    journal: bool | None
    """ext4 only: whether it has a journal (``None``: not ext4, or unknown)."""

    @property
    def summary(self) -> str:
        """One line: type, device, mountpoint and, for ext4, the journal."""
        where = self.device or self.source
        text = self.fstype if where == self.fstype else f"{self.fstype} on {where}"
        text += f" (mounted at {self.mountpoint})"
        if self.fstype == "ext4":
            text += {True: ", journal", False: ", NO journal", None: ", journal unknown"}[
                self.journal
            ]
        return text

    @property
    def advice(self) -> str | None:
        """What an operator should know, or ``None``."""
        if self.fstype == "ext4" and self.journal is False:
            return NO_JOURNAL_ADVICE
        return None


def mount_of(path: str, mountinfo: str) -> tuple[str, str, str, str] | None:
    """``(mountpoint, fstype, major:minor, source)`` of the mount holding
    ``path`` (already resolved) in ``mountinfo`` (the text of
    ``/proc/self/mountinfo``): the deepest mountpoint above it, the last one
    mounted where several are stacked. ``None`` when no line fits."""
    best: tuple[str, str, str, str] | None = None
    for line in mountinfo.splitlines():
        head, sep, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if not sep or len(fields) < 5 or len(rest) < 2:
            continue
        mountpoint = unescape_mountinfo(fields[4])
        inside = path == mountpoint or path.startswith(mountpoint.rstrip("/") + "/")
        if inside and (best is None or len(mountpoint) >= len(best[0])):
            best = (mountpoint, rest[0], fields[2], unescape_mountinfo(rest[1]))
    return best


def block_device_name(major_minor: str, sys_dev_block: str = "/sys/dev/block") -> str | None:
    """The kernel's name of block device ``major:minor`` (``253:0`` →
    ``vda``), or ``None`` when it is no block device."""
    try:
        return os.path.basename(os.readlink(os.path.join(sys_dev_block, major_minor)))
    except OSError:
        return None


def has_journal(device: str, jbd2_dir: str = "/proc/fs/jbd2") -> bool | None:
    """Whether the ext4 on ``device`` has a journal: ``/proc/fs/jbd2`` holds
    ``<device>-<journal inode>`` for each mounted journal. ``None`` when the
    kernel does not show it (no ``/proc/fs/jbd2``: no jbd2 at all, or no
    procfs)."""
    try:
        names = os.listdir(jbd2_dir)
    except FileNotFoundError:
        return False if os.path.isdir("/proc/fs") else None
    except OSError:
        return None
    return any(name.rpartition("-")[0] == device for name in names)


def describe(path: str | None = None) -> FileSystem | None:
    """The file system holding ``path`` (default: the job directories'
    parent, :func:`tempfile.gettempdir`); ``None`` when it cannot be told."""
    path = os.path.realpath(path or tempfile.gettempdir())
    try:
        with open("/proc/self/mountinfo") as f:
            found = mount_of(path, f.read())
    except OSError:
        return None
    if found is None:
        return None
    mountpoint, fstype, major_minor, source = found
    device = block_device_name(major_minor)
    journal = has_journal(device) if fstype == "ext4" and device else None
    return FileSystem(path, mountpoint, fstype, source, device, journal)
