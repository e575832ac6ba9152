"""Build the static C launcher (``launcher.c``) from source.

The launcher is never shipped prebuilt. It is built

* at package install by ``setup.py`` (a ``build_py`` hook writes
  ``sio-launcher-<hash>`` next to this module), or
* on demand, the first time it is needed, into a per-user cache directory
  (``$SIO_LAUNCHER_CACHE`` or ``$XDG_CACHE_HOME/sio-workers``, default
  ``~/.cache/sio-workers``) — editable installs do not run build hooks.

Both places are keyed by the SHA-256 of the source, so an edited source is
rebuilt and a stale binary is never used. The build links libseccomp
statically (``-static ... -l:libseccomp.a``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("launcher.c")
CFLAGS = ("-O2", "-Wall", "-static")
LIBS = ("-l:libseccomp.a",)


class LauncherBuildError(RuntimeError):
    """The launcher could not be built (no compiler, no libseccomp.a, ...)."""


_hash_cache: dict[tuple[int, int], str] = {}


def source_hash() -> str:
    """First 16 hex digits of the SHA-256 of the source and the build flags."""
    st = SOURCE.stat()
    key = (st.st_mtime_ns, st.st_size)
    if key in _hash_cache:
        return _hash_cache[key]
    digest = hashlib.sha256(SOURCE.read_bytes() + repr((CFLAGS, LIBS)).encode())
    _hash_cache[key] = digest.hexdigest()[:16]
    return _hash_cache[key]


def binary_name() -> str:
    return f"sio-launcher-{source_hash()}"


def cache_dir() -> Path:
    explicit = os.environ.get("SIO_LAUNCHER_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sio-workers"


def compile_launcher(dest: Path) -> Path:
    """Compile the launcher into ``dest`` atomically; raise LauncherBuildError."""
    cc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    if not cc:
        raise LauncherBuildError("no C compiler (gcc) found to build the launcher")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".launcher-", dir=dest.parent)
    os.close(fd)
    try:
        proc = subprocess.run(
            [cc, *CFLAGS, "-o", tmp, str(SOURCE), *LIBS],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise LauncherBuildError(
                "building the launcher failed (needs gcc, static glibc and "
                f"libseccomp-dev):\n{proc.stderr.strip()[-2000:]}"
            )
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def installed_launcher() -> Path | None:
    """The launcher built at install time, when it matches the source."""
    path = Path(__file__).with_name(binary_name())
    return path if os.access(path, os.X_OK) else None


def cached_launcher() -> Path | None:
    path = cache_dir() / binary_name()
    return path if os.access(path, os.X_OK) else None


_found: dict[tuple[str, str], Path] = {}
"""(binary_name(), the variables cache_dir() reads) -> the launcher found
(re-checked with one ``access`` per call)."""


def launcher_path(build: bool = True) -> Path | None:
    """Path of an up-to-date launcher; build it into the cache if allowed.

    Returns None only when ``build`` is False and none is built. The answer is
    remembered per source hash (a changed source still means a new binary).
    """
    name = binary_name()
    env = os.environ
    key = (name, f"{env.get('SIO_LAUNCHER_CACHE')}|{env.get('XDG_CACHE_HOME')}|{env.get('HOME')}")
    known = _found.get(key)
    if known is not None and os.access(known, os.X_OK):
        return known
    found = installed_launcher() or cached_launcher()
    if found:
        _found[key] = found
    if found or not build:
        return found
    dest = cache_dir() / binary_name()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.access(dest, os.X_OK):
            return dest
        compile_launcher(dest)
        for old in dest.parent.glob("sio-launcher-*"):
            if old != dest:  # stale builds of older sources (running copies are unaffected)
                old.unlink(missing_ok=True)
        _found[key] = dest
        return dest
