"""Files of an exec job's directory, handled without trusting the program.

The program runs with the job directory as its working directory; where an
executor lets it write there (``unsafe-exec``), it could replace a file the
worker reads or writes later with a symlink or a FIFO (``docs/hostile.rst``
§C 23). Every file the worker reads after a run is opened here with
``O_NOFOLLOW | O_NONBLOCK`` and checked to be a regular file with ``fstat``;
a file the worker created before the run is also checked to still be the
same inode. Anything else raises :class:`UnsafeFileError`.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile

from sio.workers import Failure

ZIP_MAGIC = b"PK\x03\x04"


class UnsafeFileError(Failure):
    """A file of the job directory is not the regular file the worker expects."""


def open_regular(path: str, flags: int = os.O_RDONLY) -> int:
    """Open ``path`` without following a symlink or blocking on a FIFO and
    return the descriptor; raise :class:`UnsafeFileError` unless it is a
    regular file."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnsafeFileError(f"cannot open {os.path.basename(path)}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(f"{os.path.basename(path)} is not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def clear_path(path: str) -> str:
    """Remove whatever is at ``path`` (file, symlink, FIFO, directory tree)
    without following symlinks, so that a file can be written there safely;
    return ``path``."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        shutil.rmtree(path)
    except PermissionError:
        if not os.path.isdir(path) or os.path.islink(path):
            raise
        shutil.rmtree(path)
    return path


def create_output(path: str) -> int:
    """Create ``path`` afresh (read-write) for a program's output; anything
    already there is removed first (never followed)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(path, flags, 0o644)
    except FileExistsError:
        clear_path(path)
        return os.open(path, flags, 0o644)


def check_same_file(path: str, fd: int) -> None:
    """Raise :class:`UnsafeFileError` unless ``path`` is still the regular
    file open as ``fd`` (not replaced, not a symlink)."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise UnsafeFileError(f"{os.path.basename(path)} disappeared: {exc.strerror}") from None
    mine = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (mine.st_dev, mine.st_ino):
        raise UnsafeFileError(f"{os.path.basename(path)} was replaced during the run")


def is_zip(path: str) -> bool:
    """Whether ``path`` starts like a zip archive."""
    fd = open_regular(path)
    try:
        return os.pread(fd, len(ZIP_MAGIC), 0) == ZIP_MAGIC
    finally:
        os.close(fd)


def unpack_single_member_zip(path: str) -> str:
    """Replace the zip archive at ``path`` by the content of its only member.

    Returns the member's name. A zip with no member, several members, a
    directory member, an encrypted member or a corrupt archive raises
    :class:`~sio.workers.Failure` saying so. The member's name is never used
    as a path.
    """
    packed = path + ".zip"
    os.replace(path, packed)
    try:
        with zipfile.ZipFile(packed) as archive:
            members = archive.infolist()
            if len(members) != 1:
                names = ", ".join(m.filename for m in members[:5])
                raise Failure(
                    f"in_file is a zip archive with {len(members)} members"
                    + (f" ({names}{', ...' if len(members) > 5 else ''})" if names else "")
                    + "; expected exactly one"
                )
            member = members[0]
            if member.is_dir():
                raise Failure(f"in_file is a zip archive whose only member is a directory: {member.filename}")
            if member.flag_bits & 0x1:
                raise Failure(f"in_file is a zip archive with an encrypted member: {member.filename}")
            fd = create_output(path)
            with archive.open(member) as src, os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            return member.filename
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise Failure(f"in_file looks like a zip archive but cannot be unpacked: {exc}") from None
    finally:
        os.unlink(packed)
