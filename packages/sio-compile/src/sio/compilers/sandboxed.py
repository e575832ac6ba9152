"""Running a compiler from a ``compiler-<name>.<version>`` sandbox.

The sandbox (fetched by :func:`sio.workers.sandbox.get_sandbox`) becomes
``/``; besides it only the build directory (at its own path, writable),
``/dev/null``, ``/dev/zero``, ``/dev/random``, ``/dev/urandom`` and, for
Java, ``/proc`` are visible, so a source cannot include host files such as
``/etc/passwd`` (``/etc`` is the sandbox's).

Two isolation backends, chosen by ``$SIO_COMPILER_ISOLATION``:

``bwrap`` (default where bubblewrap works)
    Mount, PID, network, IPC and UTS namespaces; the sandbox's top-level
    directories bound read-only onto an empty root that is then remounted
    read-only; no capabilities; dies with its parent. Costs a few ms.
``proot``
    PRoot with the sandbox as ``-r`` (the contract's PRootExecutor layout).
    Works without namespaces, but traces every path system call: on a VM a
    hello C++ compile is several times slower than natively. Used when
    bubblewrap is missing or cannot create namespaces.

Either way the whole process tree is killed at the limits by
:mod:`sio.compilers.process` (bubblewrap's PID namespace ends with it).

Version: the part of ``environ['compiler']`` after the first ``.``, else
``$SIO_COMPILER_<NAME>_VERSION`` (e.g. ``SIO_COMPILER_GCC_VERSION=12_2_0``),
else the class's ``default_version``, else the version of this host's
toolchain as the project's sandbox builder names it (``compiler-gcc.12_2_0``),
else plain ``compiler-<name>``. Binaries: ``$SIO_BWRAP``/``$SIO_PROOT``, else from ``PATH``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from sio.compilers.process import run_limited
from sio.workers import Failure

SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROOT_DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")
_SKIP_TOP = {"dev", "proc", "sys", "tmp", "run"}


def proot_binary() -> str:
    found = os.environ.get("SIO_PROOT") or shutil.which("proot")
    if not found:
        raise Failure("sandboxed compilers need bubblewrap or PRoot: install "
                      "'bubblewrap' or 'proot' (or set SIO_BWRAP/SIO_PROOT)")
    return found


def bwrap_binary() -> str | None:
    return os.environ.get("SIO_BWRAP") or shutil.which("bwrap")


@functools.lru_cache(maxsize=4)
def _bwrap_works(binary: str) -> bool:
    try:
        proc = run_limited(
            [binary, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent",
             "--cap-drop", "ALL", "true"],
            cwd="/", env=os.environ, time_limit=None, real_time_limit=30000,
            mem_limit=None, output_limit=4096)
    except OSError:
        return False
    return proc.ok


def isolation() -> str:
    """The backend in use: ``$SIO_COMPILER_ISOLATION``, else ``bwrap`` when
    bubblewrap is installed and can create namespaces, else ``proot``."""
    chosen = os.environ.get("SIO_COMPILER_ISOLATION", "").strip().lower()
    if chosen in ("bwrap", "proot"):
        return chosen
    if chosen:
        raise Failure(f"SIO_COMPILER_ISOLATION must be 'bwrap' or 'proot', not {chosen!r}")
    binary = bwrap_binary()
    return "bwrap" if binary and _bwrap_works(binary) else "proot"


def bwrap_command(root: Path, build: Path, argv: list[str], proc: bool) -> list[str]:
    """bubblewrap argv running ``argv`` with ``root`` as ``/`` and ``build``
    writable at its own path."""
    binary = bwrap_binary()
    if not binary:
        raise Failure("SIO_COMPILER_ISOLATION=bwrap but bubblewrap is not installed")
    cmd = [binary, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
    for entry in sorted(os.listdir(root)):
        if entry in _SKIP_TOP:
            continue
        path = root / entry
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), f"/{entry}"]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), f"/{entry}"]
    cmd += ["--dev", "/dev", "--tmpfs", "/tmp"]
    if proc:
        cmd += ["--proc", "/proc"]
    cmd += ["--bind", str(build), str(build), "--remount-ro", "/",
            "--chdir", str(build), *argv]
    return cmd


def proot_command(root: Path, build: Path, argv: list[str], binds: tuple[str, ...]) -> list[str]:
    """PRoot argv running ``argv`` with ``root`` as ``/``."""
    cmd = [proot_binary(), "-v", "-1", "-r", str(root)]
    for path in (*PROOT_DEVICES, *binds):
        if os.path.exists(path):
            cmd += ["-b", path]
    cmd += ["-b", f"{build}:{build}", "-w", str(build), *argv]
    return cmd


@functools.lru_cache(maxsize=16)
def host_image_name(family: str) -> str:
    """The image the project's sandbox builder makes for ``family`` from
    this host's toolchain (``compiler-gcc`` → ``compiler-gcc.12_2_0``), or
    ``family`` itself when that toolchain is not installed here."""
    try:
        from sio.workers.sandbox_build.recipes import RecipeError, default_name
    except ImportError:  # pragma: no cover - builder not installed
        return family
    try:
        return default_name(family)
    except (RecipeError, KeyError, OSError):
        return family


class SandboxedMixin:
    """Mixed in before a system compiler class to run it in a sandbox."""

    #: ``gcc``, ``fpc``, ``java``: the sandbox is ``compiler-<sandbox_name>[.<version>]``.
    sandbox_name: ClassVar[str] = ""
    default_version: ClassVar[str | None] = None
    #: Whether the compiler needs ``/proc`` (the JVM does).
    needs_proc: ClassVar[bool] = False

    def sandbox_image(self) -> str:
        """``compiler-<name>.<version>``; see the module documentation."""
        version = (self.version  # type: ignore[attr-defined]
                   or os.environ.get(f"SIO_COMPILER_{self.sandbox_name.upper()}_VERSION")
                   or self.default_version)
        base = f"compiler-{self.sandbox_name}"
        if version:
            return f"{base}.{version}"
        return host_image_name(base)

    @contextlib.contextmanager
    def prepare(self, ctx) -> Iterator[None]:
        from sio.workers.sandbox import get_sandbox

        ctx.data["isolation"] = isolation()
        with get_sandbox(self.sandbox_image()) as sandbox:
            ctx.sandbox_root = Path(sandbox.path)
            yield

    def wrap_command(self, argv: list[str], ctx) -> list[str]:
        if ctx.sandbox_root is None:  # pragma: no cover - prepare() sets it
            raise Failure("sandboxed compiler used outside its sandbox")
        if ctx.data.get("isolation") == "bwrap":
            return bwrap_command(ctx.sandbox_root, ctx.build_dir, argv, self.needs_proc)
        binds = ("/proc",) if self.needs_proc else ()
        return proot_command(ctx.sandbox_root, ctx.build_dir, argv, binds)

    def command_env(self, ctx) -> dict[str, str]:
        env = super().command_env(ctx)  # type: ignore[misc]
        env["PATH"] = SANDBOX_PATH
        return env
