"""Build and locate the qemu instruction-counting plugin (``insn_plugin.c``).

The plugin is compiled from the source shipped with this package, once per
source version, into a per-user cache directory keyed by the source's hash:
``$SIO_VCPU_CACHE`` or ``$XDG_CACHE_HOME/sio-workers/vcpu`` or
``~/.cache/sio-workers/vcpu``. Building needs ``gcc`` (``$CC``); the result is
written atomically, so concurrent workers may build at the same time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("insn_plugin.c")


class PluginBuildError(RuntimeError):
    """The plugin could not be compiled (the message says why)."""


def cache_dir() -> Path:
    """Directory that holds built plugins (created on demand)."""
    explicit = os.environ.get("SIO_VCPU_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sio-workers" / "vcpu"


def source_hash() -> str:
    """First 16 hex digits of the SHA-256 of the plugin source."""
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]


def plugin_path() -> Path:
    """Path the plugin for the current source has (or will have) in the cache."""
    return cache_dir() / f"insn_plugin-{source_hash()}.so"


def build_plugin(force: bool = False) -> Path:
    """Return the path of the compiled plugin, compiling it first if needed.

    Raises :class:`PluginBuildError` when no compiler is found or compilation
    fails.
    """
    target = plugin_path()
    if target.exists() and not force:
        return target
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not cc:
        raise PluginBuildError("no C compiler (gcc) to build the qemu instruction-counting plugin")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".insn_plugin-", suffix=".so", dir=target.parent)
    os.close(fd)
    cmd = [cc, "-shared", "-fPIC", "-O2", "-Wall", "-pthread", "-o", tmp, str(SOURCE)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise PluginBuildError(
                f"building the qemu plugin failed ({' '.join(cmd)}): {proc.stderr.strip()[:2000]}"
            )
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


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
