"""The file system under the job directories, and what a new file costs there.

Every test makes files in a job directory (:mod:`sio.workers.jobdir`, under
:func:`tempfile.gettempdir`: ``$TMPDIR`` or ``/tmp``): the directory itself,
the program's output, copies of downloaded files. What a new file costs
depends on that file system and on its history. One case is known to be
dear: on an **ext4 without a journal** the kernel's inode allocator skips
every inode freed in the last 60 seconds, or 360 while the block of the
inode table holding it is dirty (``recently_deleted`` in
``fs/ext4/ialloc.c``), one buffer lookup each. On this project's 2-vCPU VMs
(a long-used 264 GB root file system, much of it full) a ``mkdir`` or a file
create cost 15–25 µs of CPU after a ``sync`` and 110–150 µs (up to 0.4 ms in
a busy hour) while files written recently waited for writeback; a fresh
512 MB journal-less image after 60 000 freed inodes and 200 files waiting
for writeback did not show it (18 and 13 µs), so the kind of file system
alone does not tell (``docs/exec.rst``).

:func:`describe` therefore says both: which file system holds a directory
(mountpoint, type, device, and for ext4 whether it has a journal:
``/proc/fs/jbd2`` lists the journals of mounted file systems as
``<device>-<inode>``) and what a new directory and a new file cost there now
(:func:`new_file_cost_us`, measured), with advice when that is dear.
``sio-doctor`` prints it; a Celery worker logs it once ready.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass

from sio.workers.mounts import unescape_mountinfo

#: Median CPU microseconds of a new file or directory above which the job
#: directories' file system is called dear (a tmpfs: ~5 µs, a quiet ext4:
#: 12–25 µs; a test makes at least two).
DEAR_US = 50.0

#: Added to the advice when the dear file system is an ext4 without a journal.
NO_JOURNAL_ADVICE = (
    "an ext4 without a journal, whose inode allocator skips every inode freed in the "
    "last 1-6 minutes"
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
    new_file_us: float | None = None
    """Median CPU microseconds of a new directory or file there, measured
    (:func:`new_file_cost_us`); ``None``: not measured."""

    @property
    def summary(self) -> str:
        """One line: type, device, mountpoint, for ext4 the journal, and
        the measured cost of a new file."""
        where = self.device or self.source
        text = self.fstype if where == self.fstype else f"{self.fstype} on {where}"
        text += f" (mounted at {self.mountpoint})"
        if self.fstype == "ext4":
            text += {True: ", journal", False: ", NO journal", None: ", journal unknown"}[
                self.journal
            ]
        if self.new_file_us is not None:
            text += f"; a new file or directory costs {self.new_file_us:.0f} us of CPU now"
        return text

    @property
    def advice(self) -> str | None:
        """What an operator should know (a new file measured dear), or ``None``."""
        if self.new_file_us is None or self.new_file_us <= DEAR_US:
            return None
        why = f" ({NO_JOURNAL_ADVICE})" if self.fstype == "ext4" and self.journal is False else ""
        return (
            f"that is dear{why}, and every test makes at least two: put TMPDIR on a tmpfs "
            f"(~5 us; memory for the jobs' files)"
            + (" or on a journaled file system" if why else "")
        )


def new_file_cost_us(directory: str, count: int = 32) -> float | None:
    """Median CPU microseconds (this thread's) of making a directory and a
    file in it, ``count`` of each, in a private directory made in
    ``directory`` and removed after; ``None`` when ``directory`` is not
    writable."""
    try:
        probe = tempfile.mkdtemp(prefix=".sio-fs-probe-", dir=directory)
    except OSError:
        return None
    samples: list[float] = []
    try:
        for i in range(count):
            sub = os.path.join(probe, str(i))
            begin = time.thread_time()
            os.mkdir(sub)
            made = time.thread_time()
            fd = os.open(os.path.join(sub, "f"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            samples += [made - begin, time.thread_time() - made]
            os.close(fd)
    except OSError:
        pass
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    return statistics.median(samples) * 1e6 if samples else None


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


def describe(path: str | None = None, measure: bool = True) -> FileSystem | None:
    """The file system holding ``path`` (default: the job directories'
    parent, :func:`tempfile.gettempdir`), with what a new file costs there
    now unless not ``measure``; ``None`` when it cannot be told."""
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
    cost = new_file_cost_us(path) if measure else None
    return FileSystem(path, mountpoint, fstype, source, device, journal, cost)
