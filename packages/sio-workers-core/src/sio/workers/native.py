"""Small native helpers built from the C sources shipped with the package.

A :class:`NativeHelper` names its C sources (one, or a main source and
more), the private headers they include, and how to compile them. The
binary is never shipped prebuilt; it is looked up

* next to the (main) source, where ``setup.py``'s ``build_py`` hook writes it at
  install (``<stem>-<hash><suffix>``), then
* in a per-user cache (``$SIO_NATIVE_CACHE``, else
  ``$XDG_CACHE_HOME/sio-workers/native``, default
  ``~/.cache/sio-workers/native``), where it is built on first use (editable
  installs do not run build hooks).

Both names carry a hash of every source and header and of the compiler
flags, so an edited source or header is rebuilt and a stale binary is never
used. Building is atomic and
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


def cache_dir(env_var: str = "SIO_NATIVE_CACHE", subdir: str = "native") -> Path:
    """Where helpers built on first use are kept: ``$<env_var>``, else
    ``$XDG_CACHE_HOME/sio-workers/<subdir>`` (``~/.cache`` by default)."""
    explicit = os.environ.get(env_var)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sio-workers" / subdir


@dataclass(frozen=True)
class NativeHelper:
    """C sources compiled into one binary.

    ``source`` is the main source: the binary is installed next to it and
    named after it (unless ``name``); ``extra_sources`` are compiled and
    linked with it (in that order, after it) and ``headers`` are the private
    headers they include (not compiled). Every source and header is part of
    :meth:`source_hash`, so editing any of them names a new binary.
    ``flags`` go before the output, ``libs`` after the sources; ``suffix`` is
    the binary's extension (``""`` or ``".so"``); ``cache_env``/
    ``cache_subdir`` where :func:`cache_dir` puts builds made on first use.
    Subclasses change how the compiler is called with :meth:`command` and
    :meth:`build_key`.
    """

    source: Path
    flags: tuple[str, ...] = ("-O2", "-Wall")
    libs: tuple[str, ...] = ()
    suffix: str = ""
    name: str = ""
    cache_env: str = "SIO_NATIVE_CACHE"
    cache_subdir: str = "native"
    extra_sources: tuple[Path, ...] = ()
    headers: tuple[Path, ...] = ()
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def sources(self) -> tuple[Path, ...]:
        """Every C source compiled, the main one first."""
        return (self.source, *self.extra_sources)

    @property
    def inputs(self) -> tuple[Path, ...]:
        """Every file the binary is built from: the sources, then the headers."""
        return (*self.sources, *self.headers)

    def _stamp(self) -> tuple[int, ...]:
        """``(mtime_ns, size)`` of every input: what remembered answers depend on."""
        stamp: list[int] = []
        for path in self.inputs:
            st = os.stat(path)
            stamp += (st.st_mtime_ns, st.st_size)
        return tuple(stamp)

    def build_key(self) -> str:
        """What besides the sources decides the binary (part of its name)."""
        return repr((self.flags, self.libs))

    def command(self, output: str, workdir: str) -> list[str]:
        """The compiler's argv writing ``output``; ``workdir`` is a private
        temporary directory for the build."""
        cc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
        if not cc:
            raise NativeBuildError(f"no C compiler (gcc) found to build {self.source.name}")
        return [cc, *self.flags, "-o", output, *map(str, self.sources), *self.libs]

    def source_hash(self) -> str:
        """First 16 hex digits of the SHA-256 of every input and :meth:`build_key`.

        The main source's bytes come first; each further source and header
        adds its name, its length and its bytes (a helper of one source
        hashes as it always did: its source, then the build key).
        """
        extra = self.build_key()
        key = ("hash", *self._stamp(), extra)
        if key not in self._memo:
            digest = hashlib.sha256(self.source.read_bytes())
            for path in self.inputs[1:]:
                data = path.read_bytes()
                digest.update(b"\0%s\0%d\0" % (path.name.encode(), len(data)) + data)
            digest.update(extra.encode())
            self._memo[key] = digest.hexdigest()[:16]
        return self._memo[key]

    def binary_name(self) -> str:
        return f"{self.name or self.source.stem}-{self.source_hash()}{self.suffix}"

    def cache_dir(self) -> Path:
        return cache_dir(self.cache_env, self.cache_subdir)

    def _usable(self, path: Path) -> bool:
        return os.access(path, os.R_OK if self.suffix else os.X_OK)

    def installed(self) -> Path | None:
        """The binary built at install time, when it matches the source."""
        path = self.source.with_name(self.binary_name())
        return path if self._usable(path) else None

    def cached(self) -> Path | None:
        """The binary built on first use, when it matches the source."""
        path = self.cache_dir() / self.binary_name()
        return path if self._usable(path) else None

    def compile(self, dest: Path) -> Path:
        """Compile into ``dest`` atomically; raise :class:`NativeBuildError`."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.source.stem}-", dir=dest.parent)
        os.close(fd)
        try:
            with tempfile.TemporaryDirectory(prefix="sio-native-") as workdir:
                proc = subprocess.run(
                    self.command(tmp, workdir), capture_output=True, text=True, check=False
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

        Returns ``None`` only when ``build`` is false and none is built. The
        answer is remembered per binary name and cache directory (one
        ``access`` per call re-checks it); the launcher is looked up once per
        run, so the common case is a ``stat`` of each source and header, a
        dictionary lookup and that ``access``.
        """
        fast = ("fast", *self._stamp(),
                *(os.environ.get(v) for v in _PATH_INPUTS), os.environ.get(self.cache_env))
        known = self._memo.get(fast)
        if known is not None and self._usable(known):
            return known
        found = self._path(build)
        if found is not None:
            self._memo[fast] = found
        return found

    def _path(self, build: bool) -> Path | None:
        name = self.binary_name()
        key = ("path", name, str(self.cache_dir()))
        known = self._memo.get(key)
        if known is not None and self._usable(known):
            return known
        found = self.installed() or self.cached()
        if found or not build:
            if found:
                self._memo[key] = found
            return found
        dest = self.cache_dir() / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest.parent / ".build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self._usable(dest):
                self.compile(dest)
                stem = self.name or self.source.stem
                for old in dest.parent.glob(f"{stem}-*{self.suffix}"):
                    if old != dest:  # builds of older sources (running copies are unaffected)
                        old.unlink(missing_ok=True)
        self._memo[key] = dest
        return dest


_HERE = Path(__file__).resolve().parent

_PATH_INPUTS = ("PATH", "HOME", "XDG_CACHE_HOME", "SIO_LAUNCHER_LIBC")
"""Environment variables that can change which binary :meth:`NativeHelper.path`
finds (the libc probe, the cache directory)."""


@dataclass(frozen=True)
class Launcher(NativeHelper):
    """The supervisor's static launcher (``supervisor/launcher_*.c``, one
    responsibility each, sharing ``launcher.h``, whose header comment is the
    launcher's protocol).

    Linked against **musl** (Debian's ``musl-tools``) when ``musl-gcc`` is
    installed, else static glibc: a static glibc program spends ~0.5 ms of
    every start in ``cpuid`` instructions (cache and CPU feature probing;
    each traps to the hypervisor on a VM), a static musl one does not, and
    the launcher starts once per run. ``musl-gcc`` gets the kernel's and
    libseccomp's headers through a private directory of symlinks, and
    Debian's ``libseccomp.a`` (built with ``_FORTIFY_SOURCE``) its one
    glibc-only symbol from a shim in ``launcher_main.c``. ``$SIO_LAUNCHER_LIBC`` =
    ``glibc`` or ``musl`` forces the choice. libseccomp is linked statically.
    """

    musl_flags: tuple[str, ...] = ("-O2", "-Wall", "-static", "-DSIO_MUSL")

    def libc(self) -> str:
        """``"musl"`` or ``"glibc"``: the C library the launcher is built with."""
        forced = os.environ.get("SIO_LAUNCHER_LIBC")
        if forced in ("musl", "glibc"):
            return forced
        # Asked on every run: the answer is remembered per $PATH (an
        # installed or removed musl-gcc is seen by the next process).
        key = ("libc", os.environ.get("PATH"))
        if key not in self._memo:
            musl = shutil.which("musl-gcc") and _libseccomp_archive() and _asm_headers()
            self._memo[key] = "musl" if musl else "glibc"
        return self._memo[key]

    def build_key(self) -> str:
        if self.libc() == "musl":
            return repr((self.musl_flags, "musl"))
        return repr((self.flags, self.libs))

    def command(self, output: str, workdir: str) -> list[str]:
        if self.libc() != "musl":
            return super().command(output, workdir)
        musl, seccomp, asm = shutil.which("musl-gcc"), _libseccomp_archive(), _asm_headers()
        if not (musl and seccomp and asm):
            raise NativeBuildError("a musl build needs musl-gcc, libseccomp.a and asm headers")
        for name, target in {**_MUSL_HEADERS, "asm": asm}.items():
            os.symlink(target, os.path.join(workdir, name))
        return [musl, *self.musl_flags, "-isystem", workdir, "-o", output,
                *map(str, self.sources), seccomp]


_MUSL_HEADERS = {  # name in the private include dir -> host path
    "linux": "/usr/include/linux",
    "asm-generic": "/usr/include/asm-generic",
    "seccomp.h": "/usr/include/seccomp.h",
    "seccomp-syscalls.h": "/usr/include/seccomp-syscalls.h",
}


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


_SUPERVISOR = _HERE / "supervisor"

LAUNCHER = Launcher(
    _SUPERVISOR / "launcher_main.c",
    extra_sources=tuple(_SUPERVISOR / f"launcher_{part}.c"
                        for part in ("ns", "limits", "seccomp", "run")),
    headers=(_SUPERVISOR / "launcher.h",),
    flags=("-O2", "-Wall", "-static"),
    libs=("-l:libseccomp.a",),
    name="sio-launcher",
    cache_env="SIO_LAUNCHER_CACHE",
    cache_subdir="",
)
"""The supervisor's launcher (see :mod:`sio.workers.supervisor.build`)."""

@dataclass(frozen=True)
class StaticHelper(NativeHelper):
    """A static helper started once per run, linked against **musl** when
    ``musl-gcc`` is installed (a static glibc start costs ~0.5 ms of
    ``cpuid`` traps on a VM, see :class:`Launcher`), else static glibc.
    ``$SIO_LAUNCHER_LIBC=glibc`` forces glibc for it too."""

    musl_flags: tuple[str, ...] = ("-O2", "-Wall", "-static")

    def libc(self) -> str:
        """``"musl"`` or ``"glibc"``: the C library the helper is built with."""
        if os.environ.get("SIO_LAUNCHER_LIBC") == "glibc" or not shutil.which("musl-gcc"):
            return "glibc"
        return "musl"

    def build_key(self) -> str:
        return repr((self.musl_flags, "musl")) if self.libc() == "musl" else super().build_key()

    def command(self, output: str, workdir: str) -> list[str]:
        if self.libc() != "musl":
            return super().command(output, workdir)
        return [shutil.which("musl-gcc") or "musl-gcc", *self.musl_flags, "-o", output,
                *map(str, self.sources), *self.libs]


REAPER = StaticHelper(_HERE / "executors" / "reaper.c", flags=("-O2", "-Wall", "-static"))
"""``sio-reaper``, used by :class:`~sio.workers.executors.DetailedUnprotectedExecutor`."""

PLUGIN = NativeHelper(
    _HERE / "vcpu" / "insn_plugin.c",
    flags=("-shared", "-fPIC", "-O2", "-Wall", "-pthread"),
    suffix=".so",
)
"""The qemu TCG plugin counting guest instructions (the ``qemu`` vCPU backend)."""

CPUID_PROBE = NativeHelper(_HERE / "cpuid_probe.c", flags=("-O2", "-Wall", "-static"))
"""What ``cpuid`` and a static glibc program's start cost here
(:mod:`sio.workers.cpuid_cost`); static glibc on purpose: a musl build would
not show glibc's start-up."""

BUILT_AT_INSTALL = (LAUNCHER, REAPER, PLUGIN, CPUID_PROBE)
"""What ``setup.py`` builds into the installed package, next to each source."""
