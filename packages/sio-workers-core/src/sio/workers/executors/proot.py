"""``PRootExecutor``: run commands with a sandbox as the root (``proot``).

PRoot (https://proot-me.github.io) mimics ``chroot`` plus ``mount --bind``
without privileges. During a call:

* ``sandbox.path`` becomes ``/``;
* the current directory (the job directory) is visible as itself and as
  ``/tmp``, and is the working directory;
* ``sandbox.path`` stays visible under its own path;
* ``/dev/null``, ``/dev/zero``, ``/dev/random`` and ``/dev/urandom`` are
  bound from the host (compilers and shells need them); the host's ``/proc``
  only with ``bind_proc=True`` (the JVM needs it, e.g. for ``$ORIGIN``;
  it would let an ``#include "/proc/1/environ"`` leak the environment of
  host processes into compiler messages);
* if the sandbox has no ``/bin/sh`` or no ``/lib``, the ones of the
  ``proot-sandbox`` image are bound there (or the host's when that image
  cannot be had).

Nothing else of the host is visible. This is *not* a security boundary
(``proot`` runs as the calling user and can be escaped by a hostile
program): it gives trusted tools, like sandboxed compilers, a predictable
root. Untrusted programs run under the supervisor.

The command runs as ``/bin/sh -c COMMAND`` inside the new root, so
redirections in ``noquote`` parts work relative to the job directory.
Extra call argument: ``proot_options`` (a list of strings), passed to
``proot`` after the generated options. ``proot`` itself is Debian's
(``PATH``) or, when the host has none, the one of the ``proot-sandbox``
image, started through that image's dynamic loader.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
from typing import Any

from sio.workers.executors.base import BaseExecutor, shell_join
from sio.workers.sandbox import Sandbox, SandboxError, get_sandbox

PROOT_SANDBOX = "proot-sandbox"
_DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")


def _host_proot() -> str | None:
    return shutil.which("proot")


def _sandbox_proot(root: str) -> list[str]:
    """argv prefix running the proot of a ``proot-sandbox`` tree."""
    loader = os.path.join(root, "lib64", "ld-linux-x86-64.so.2")
    libdirs = [os.path.join(root, "usr/lib/x86_64-linux-gnu"), os.path.join(root, "usr/lib")]
    binary = os.path.join(root, "usr", "bin", "proot")
    if not os.path.exists(loader):
        return [binary]
    return [os.path.realpath(loader), "--library-path", ":".join(libdirs), binary]


def needs_basics(root: str) -> bool:
    """Whether a tree lacks ``/bin/sh`` or ``/lib`` (then basic ones are bound)."""
    return not (os.path.lexists(os.path.join(root, "bin", "sh"))
                and os.path.lexists(os.path.join(root, "lib")))


def basic_binds(root: str, basics: str | None) -> list[tuple[str, str]]:
    """``(host path, guest path)`` pairs giving ``root`` a ``/bin/sh`` and
    libraries, taken from the tree ``basics`` (a proot-sandbox) or the host."""
    source = basics or "/"
    binds = []
    if not os.path.lexists(os.path.join(root, "bin", "sh")):
        sh = os.path.realpath(os.path.join(source, "bin", "sh"))
        if basics and not sh.startswith(os.path.realpath(basics)):
            sh = os.path.realpath(os.path.join(basics, "usr", "bin", "dash"))
        binds.append((sh, "/bin/sh"))
    if not os.path.lexists(os.path.join(root, "lib")):
        for lib in ("lib", "lib64"):
            host = os.path.realpath(os.path.join(source, lib))
            if os.path.isdir(host):
                binds.append((host, "/" + lib))
    return binds


def proot_argv(root: str, cwd: str, binds: list[tuple[str, str]] = (),
               options: list[str] = (), proot: list[str] | None = None,
               bind_proc: bool = False) -> list[str]:
    """The argv prefix running a command under proot with ``root`` as ``/``."""
    if proot is None:
        found = _host_proot()
        if found is None:
            raise SandboxError("proot is not installed (apt-get install proot) "
                               "and no proot-sandbox was given")
        proot = [found]
    argv = [*proot, "-r", root, "-w", cwd]
    pairs = [(cwd, "/tmp"), (cwd, cwd), (root, root)]
    pairs += [(d, d) for d in _DEVICES if os.path.exists(d)]
    if bind_proc:
        pairs.append(("/proc", "/proc"))
    pairs += list(binds)
    for host, guest in pairs:
        argv += ["-b", f"{host}:{guest}"]
    return argv + [str(o) for o in options]


class PRootExecutor(BaseExecutor):
    """Runs commands inside a sandbox with ``proot`` (see the module doc).

    ``sandbox`` is a sandbox name or a :class:`~sio.workers.sandbox.Sandbox`;
    ``bind_proc`` binds the host's ``/proc`` (needed by Java).
    Use it as a context manager: entering gets (and locks) the sandbox.
    """

    def __init__(self, sandbox: str | Sandbox, bind_proc: bool = False) -> None:
        super().__init__()
        self.bind_proc = bind_proc
        self.sandbox = get_sandbox(sandbox) if isinstance(sandbox, str) else sandbox
        self._stack: contextlib.ExitStack | None = None
        self._binds: list[tuple[str, str]] = []
        self._proot: list[str] | None = None

    @property
    def path(self) -> str:
        """Real, absolute path to the sandbox root."""
        return self.sandbox.path

    @property
    def rpath(self) -> str:
        """The sandbox root as seen by the command: ``/``."""
        return "/"

    def __enter__(self) -> PRootExecutor:
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(self.sandbox)
            basics = None
            host_proot = _host_proot()
            if needs_basics(self.sandbox.path) or host_proot is None:
                with contextlib.suppress(SandboxError):
                    if self.sandbox.name != PROOT_SANDBOX:
                        basics = stack.enter_context(get_sandbox(PROOT_SANDBOX)).path
                    else:
                        basics = self.sandbox.path
            if host_proot is not None:
                self._proot = [host_proot]
            elif basics is not None:
                self._proot = _sandbox_proot(basics)
            else:
                raise SandboxError("proot is not installed and proot-sandbox is unavailable")
            self._binds = basic_binds(self.sandbox.path, basics)
            super().__enter__()
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            super().__exit__(*exc)
        finally:
            if self._stack is not None:
                stack, self._stack = self._stack, None
                stack.close()

    def wrap(self, command: str, proot_options: list[str] | None = None) -> str:
        """The shell command line running ``command`` (a shell string)
        inside the sandbox."""
        if self._stack is None:
            raise RuntimeError("PRootExecutor must be used in a with statement")
        argv = proot_argv(self.sandbox.path, os.getcwd(), self._binds,
                          list(proot_options or ()), self._proot, self.bind_proc)
        return " ".join(shlex.quote(a) for a in [*argv, "/bin/sh", "-c", command])

    def _execute(self, command: list[str] | str, **options: Any) -> dict[str, Any]:
        """Wrap the shell line of ``command`` in proot and run it with the
        default (unprotected) hook of :class:`BaseExecutor`."""
        proot_options = options.pop("proot_options", None)
        return super()._execute(self.wrap(shell_join(command), proot_options), **options)
