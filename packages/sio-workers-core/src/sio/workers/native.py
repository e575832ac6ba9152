"""Small native helpers built from the C sources shipped with the package.

A :class:`NativeHelper` names a source file and how to compile it. The
binary is never shipped prebuilt; it is looked up

* next to the source, where ``setup.py``'s ``build_py`` hook writes it at
  install (``<stem>-<hash><suffix>``), then
* in a per-user cache (``$SIO_NATIVE_CACHE``, else
  ``$XDG_CACHE_HOME/sio-workers/native``, default
  ``~/.cache/sio-workers/native``), where it is built on first use (editable
  installs do not run build hooks).

Both names carry a hash of the source and the compiler flags, so an edited
source is rebuilt and a stale binary is never used. Building is atomic and
serialised by a lock file, so concurrent workers may ask at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


class NativeBuildError(RuntimeError):
    """A helper could not be built (no compiler, a missing library, ...)."""


def cache_dir() -> Path:
    """Where helpers built on first use are kept."""
    explicit = os.environ.get("SIO_NATIVE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sio-workers" / "native"


@dataclass(frozen=True)
class NativeHelper:
    """One C source compiled into one binary.

    ``flags`` go before the output, ``libs`` after the source; ``suffix`` is
    the binary's extension (``""`` or ``".so"``).
    """

    source: Path
    flags: tuple[str, ...] = ("-O2", "-Wall")
    libs: tuple[str, ...] = ()
    suffix: str = ""
    _hash: dict = field(default_factory=dict, compare=False, repr=False)

    def source_hash(self) -> str:
        """First 16 hex digits of the SHA-256 of the source and the flags."""
        st = self.source.stat()
        key = (st.st_mtime_ns, st.st_size)
        if key not in self._hash:
            data = self.source.read_bytes() + repr((self.flags, self.libs)).encode()
            self._hash.clear()
            self._hash[key] = hashlib.sha256(data).hexdigest()[:16]
        return self._hash[key]

    def binary_name(self) -> str:
        return f"{self.source.stem}-{self.source_hash()}{self.suffix}"

    def installed(self) -> Path | None:
        """The binary built at install time, when it matches the source."""
        path = self.source.with_name(self.binary_name())
        return path if os.access(path, os.R_OK) else None

    def cached(self) -> Path | None:
        path = cache_dir() / self.binary_name()
        return path if os.access(path, os.R_OK) else None

    def compile(self, dest: Path) -> Path:
        """Compile into ``dest`` atomically; raise :class:`NativeBuildError`."""
        cc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
        if not cc:
            raise NativeBuildError(f"no C compiler (gcc) found to build {self.source.name}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.source.stem}-", dir=dest.parent)
        os.close(fd)
        try:
            proc = subprocess.run(
                [cc, *self.flags, "-o", tmp, str(self.source), *self.libs],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise NativeBuildError(
                    f"building {self.source.name} failed:\n{proc.stderr.strip()[-2000:]}"
                )
            os.chmod(tmp, 0o755)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return dest

    def path(self, build: bool = True) -> Path | None:
        """Path of an up-to-date binary, built into the cache if allowed.

        Returns ``None`` only when ``build`` is false and none is built.
        """
        found = self.installed() or self.cached()
        if found or not build:
            return found
        dest = cache_dir() / self.binary_name()
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest.parent / ".build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if os.access(dest, os.R_OK):
                return dest
            self.compile(dest)
            for old in dest.parent.glob(f"{self.source.stem}-*{self.suffix}"):
                if old != dest:  # builds of older sources (running copies are unaffected)
                    old.unlink(missing_ok=True)
            return dest


_HERE = Path(__file__).resolve().parent

REAPER = NativeHelper(_HERE / "executors" / "reaper.c", flags=("-O2", "-Wall", "-static"))
"""``sio-reaper``, used by :class:`~sio.workers.executors.DetailedUnprotectedExecutor`."""

PLUGIN = NativeHelper(
    _HERE / "vcpu" / "insn_plugin.c",
    flags=("-shared", "-fPIC", "-O2", "-Wall", "-pthread"),
    suffix=".so",
)
"""The qemu TCG plugin counting guest instructions (the ``qemu`` vCPU backend)."""

BUILT_AT_INSTALL = (REAPER, PLUGIN)
"""What ``setup.py`` builds into the installed package."""
