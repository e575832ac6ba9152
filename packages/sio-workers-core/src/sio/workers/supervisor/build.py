"""Build the static C launcher (``launcher.c``) from source.

The launcher is never shipped prebuilt. It is built

* at package install by ``setup.py`` (a ``build_py`` hook writes
  ``sio-launcher-<hash>`` next to this module), or
* on demand, the first time it is needed, into a per-user cache directory
  (``$SIO_LAUNCHER_CACHE`` or ``$XDG_CACHE_HOME/sio-workers``, default
  ``~/.cache/sio-workers``) — editable installs do not run build hooks.

Both places are keyed by the SHA-256 of the source, the flags and the C
library, so an edited source is rebuilt and a stale binary is never used.
The build links libseccomp statically.

The C library: **musl** (Debian's ``musl-tools``, ``musl-gcc``) when it is
installed, else glibc. A static glibc program spends ~0.5 ms of every start
in ``cpuid`` instructions (cache and CPU feature probing; each ``cpuid``
traps to the hypervisor on a VM), a static musl one does not: the launcher
starts ~0.4 ms sooner per run. ``musl-gcc`` gets the kernel's and
libseccomp's headers through a private include directory of symlinks, and
Debian's ``libseccomp.a`` (built with ``_FORTIFY_SOURCE``) its one glibc-only
symbol from a shim in ``launcher.c``. ``$SIO_LAUNCHER_LIBC`` = ``glibc`` or
``musl`` forces the choice.
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
MUSL_CFLAGS = (*CFLAGS, "-DSIO_MUSL")
_MUSL_HEADERS = {  # name in the private include dir -> host path
    "linux": "/usr/include/linux",
    "asm-generic": "/usr/include/asm-generic",
    "seccomp.h": "/usr/include/seccomp.h",
    "seccomp-syscalls.h": "/usr/include/seccomp-syscalls.h",
}


class LauncherBuildError(RuntimeError):
    """The launcher could not be built (no compiler, no libseccomp.a, ...)."""


_hash_cache: dict[tuple[int, int], str] = {}


def libc() -> str:
    """``"musl"`` or ``"glibc"``: the C library the launcher is built with."""
    forced = os.environ.get("SIO_LAUNCHER_LIBC")
    if forced in ("musl", "glibc"):
        return forced
    if shutil.which("musl-gcc") and _libseccomp_archive() and _asm_headers():
        return "musl"
    return "glibc"


def _libseccomp_archive() -> str | None:
    for directory in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"):
        path = os.path.join(directory, "libseccomp.a")
        if os.path.isfile(path):
            return path
    return None


def _asm_headers() -> str | None:
    for path in ("/usr/include/x86_64-linux-gnu/asm", "/usr/include/asm"):
        if os.path.isdir(path):
            return path
    return None


def source_hash() -> str:
    """First 16 hex digits of the SHA-256 of the source, the build flags and
    the C library."""
    st = SOURCE.stat()
    kind = libc()
    key = (st.st_mtime_ns, st.st_size, kind)
    if key in _hash_cache:
        return _hash_cache[key]
    flags = (MUSL_CFLAGS, "musl") if kind == "musl" else (CFLAGS, LIBS)
    digest = hashlib.sha256(SOURCE.read_bytes() + repr(flags).encode())
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


def _command(output: str, include_dir: str) -> list[str]:
    if libc() == "musl":
        musl = shutil.which("musl-gcc")
        seccomp = _libseccomp_archive()
        asm = _asm_headers()
        if not (musl and seccomp and asm):
            raise LauncherBuildError("musl build needs musl-gcc, libseccomp.a and the asm headers")
        for name, target in {**_MUSL_HEADERS, "asm": asm}.items():
            os.symlink(target, os.path.join(include_dir, name))
        return [musl, *MUSL_CFLAGS, "-isystem", include_dir, "-o", output, str(SOURCE), seccomp]
    cc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    if not cc:
        raise LauncherBuildError("no C compiler (gcc) found to build the launcher")
    return [cc, *CFLAGS, "-o", output, str(SOURCE), *LIBS]


def compile_launcher(dest: Path) -> Path:
    """Compile the launcher into ``dest`` atomically; raise LauncherBuildError."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".launcher-", dir=dest.parent)
    os.close(fd)
    try:
        with tempfile.TemporaryDirectory(prefix="sio-launcher-inc-") as include_dir:
            proc = subprocess.run(
                _command(tmp, include_dir),
                capture_output=True,
                text=True,
                check=False,
            )
        if proc.returncode != 0:
            raise LauncherBuildError(
                f"building the launcher with {libc()} failed (needs gcc, static glibc or "
                f"musl-tools, and libseccomp-dev):\n{proc.stderr.strip()[-2000:]}"
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
