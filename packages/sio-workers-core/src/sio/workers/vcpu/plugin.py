"""Build and locate the qemu instruction-counting plugin (``insn_plugin.c``).

The plugin is a :class:`~sio.workers.native.NativeHelper`: compiled from the
source shipped with this package at install (``setup.py``), or on first use
into the per-user cache (``$SIO_NATIVE_CACHE``, default
``~/.cache/sio-workers/native``), keyed by the hash of the source and flags.
Building needs ``gcc`` (``$CC``); the result is written atomically, so
concurrent workers may build at the same time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sio.workers.native import PLUGIN, NativeBuildError

SOURCE = PLUGIN.source


class PluginBuildError(RuntimeError):
    """The plugin could not be compiled (the message says why)."""


def source_hash() -> str:
    """First 16 hex digits of the SHA-256 of the plugin source and flags."""
    return PLUGIN.source_hash()


_built: Path | None = None


def build_plugin() -> Path:
    """Return the path of the compiled plugin, compiling it first if needed.

    Raises :class:`PluginBuildError` when no compiler is found or compilation
    fails.
    """
    global _built
    if _built is not None and _built.exists():
        return _built
    try:
        _built = PLUGIN.path()
    except (NativeBuildError, OSError) as exc:
        raise PluginBuildError(f"the qemu instruction-counting plugin: {exc}") from None
    return _built


def plugin_path() -> Path:
    """Path of the compiled plugin (built first if needed)."""
    return build_plugin()


_qemu_files: dict[str, tuple[str, ...]] = {}


def qemu_files(qemu: str) -> tuple[str, ...]:
    """``qemu`` and the shared libraries it loads (from ``ldd``; cached)."""
    if qemu not in _qemu_files:
        files = [qemu]
        try:
            out = subprocess.run(["ldd", qemu], capture_output=True, text=True, check=False).stdout
        except OSError:
            out = ""
        for line in out.splitlines():
            parts = line.split()
            for word in parts:
                if word.startswith("/") and os.path.isfile(word):
                    files.append(word)
                    break
        _qemu_files[qemu] = tuple(dict.fromkeys(files))
    return _qemu_files[qemu]


def prefetch(paths: tuple[str, ...] | list[str]) -> None:
    """Bring ``paths`` into the page cache from the calling process.

    Pages a run reads first are charged to the run's cgroup (and dropped when
    the pooled cgroup is reset): qemu's own binary and libraries would then
    count as the program's memory. Read ahead by the worker they are charged
    to the worker instead.
    """
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(fd)


def find_qemu() -> str | None:
    """Path of ``qemu-x86_64`` (``$SIO_QEMU`` overrides), or ``None``."""
    explicit = os.environ.get("SIO_QEMU")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("qemu-x86_64")
