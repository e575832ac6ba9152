"""``SandboxExecutor``: run programs delivered in a sandbox (no isolation)."""

from __future__ import annotations

import os
from typing import Any

from sio.workers.executors.base import noquote
from sio.workers.executors.unprotected import UnprotectedExecutor

__all__ = ["SandboxExecutor"]


class SandboxExecutor(UnprotectedExecutor):
    """Runs programs from a sandbox, like :class:`UnprotectedExecutor`.

    ``sandbox``: a sandbox name (looked up with
    :func:`sio.workers.sandbox.get_sandbox` when entering) or an object with
    a ``path`` attribute that is a context manager (a
    :class:`~sio.workers.sandbox.Sandbox`). While entered, a relative first
    command element is resolved inside the sandbox (unless the call passes
    ``use_path=True``), and ``PATH``/``LD_LIBRARY_PATH`` are prefixed with
    the sandbox's ``bin``/``usr/bin`` and ``lib``/``usr/lib`` dirs. The sandbox
    gives no isolation: it is just a part of the file system.
    """

    def __init__(self, sandbox: Any) -> None:
        super().__init__()
        self._spec = sandbox
        self.sandbox: Any = None if isinstance(sandbox, str) else sandbox

    @property
    def path(self) -> str:
        """The real, absolute path of the sandbox root."""
        if self.sandbox is None:
            raise RuntimeError("SandboxExecutor must be entered first")
        return os.path.abspath(str(self.sandbox.path))

    @property
    def rpath(self) -> str:
        """The sandbox root as seen by the command (the same as :attr:`path`)."""
        return self.path

    def __enter__(self) -> SandboxExecutor:
        if self.sandbox is None:
            from sio.workers.sandbox import get_sandbox

            self.sandbox = get_sandbox(self._spec)
        self.sandbox.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        sandbox = self.sandbox
        if isinstance(self._spec, str):
            self.sandbox = None
        if sandbox is not None:
            sandbox.__exit__(exc_type, exc, tb)

    def _dirs(self, names: tuple[str, ...]) -> list[str]:
        return [os.path.join(self.path, n) for n in names if os.path.isdir(os.path.join(self.path, n))]

    def _execute(self, command: list[str] | str, **options: Any) -> dict[str, Any]:
        use_path = options.pop("use_path", False)
        if isinstance(command, list) and command and not use_path:
            first = command[0]
            if not os.path.isabs(first) and not isinstance(first, noquote):
                command = [os.path.join(self.path, first), *command[1:]]
        env = dict(options.get("env") or {})
        for var, names in (("PATH", ("bin", "usr/bin")), ("LD_LIBRARY_PATH", ("lib", "usr/lib"))):
            dirs = self._dirs(names)
            if env.get(var):
                dirs.append(env[var])
            if dirs:
                env[var] = os.pathsep.join(dirs)
        options["env"] = env
        return super()._execute(command, **options)
