"""Sandboxes: prepared software images extracted on the worker (``docs/contracts.rst`` §5).

A sandbox image is ``<name>.tar.gz`` holding a single top-level folder
``<name>``. It is looked up

* in filetracker, at ``/sandboxes/<name>.tar.gz`` (the client from
  :func:`sio.workers.ft.instance`), then
* at ``$SIO_SANDBOXES_URL/<name>.tar.gz`` (``http(s)://`` or ``file://`` URL,
  or a plain directory),

and extracted to ``$SIO_SANDBOXES_BASEDIR/<name>`` (default
``~/.sio-sandboxes``). Next to it the base directory holds ``.<name>.lock``
(an ``flock`` lock: shared while the sandbox is in use, exclusive while an
installed tree is replaced), ``.<name>.install.lock`` (exclusive while a
process checks, downloads and extracts: only one at a time) and
``.<name>.json`` (the source, the version, the archive's sha256, when it was
last checked).

Use it as a context manager::

    with get_sandbox("compiler-gcc.12.2.0") as sandbox:
        run(os.path.join(sandbox.path, "usr/bin/gcc"))

Entering installs the sandbox if needed and, at most every
``$SIO_SANDBOXES_CHECK_INTERVAL`` seconds (3600), checks for a newer version;
while any ``with`` block of this process uses the sandbox no upgrade happens
(other processes wait for the shared locks to go). Many processes asking at
once for a sandbox that is not installed: one of them downloads it, the
others wait and use it. A corrupt or truncated archive (gzip/tar error or a
sha256 different from a published ``<name>.tar.gz.sha256``) is fetched once
more before :class:`SandboxError` is raised. Extraction uses
:func:`tarfile.data_filter`: no member may land outside the sandbox, no
device files, no links pointing outside.

The code lives in submodules, all of it importable from here:
:mod:`~sio.workers.sandbox.lookup` (names, sources, downloads),
:mod:`~sio.workers.sandbox.extract` (safe extraction),
:mod:`~sio.workers.sandbox.locking` (this process's use locks) and
:mod:`~sio.workers.sandbox.common` (the error, the settings); this module
holds :class:`Sandbox` and :func:`get_sandbox`; :mod:`~sio.workers.sandbox.cli`
is ``sio-get-sandbox``.
"""

# This module re-exports names of its submodules (DEFAULT_CHECK_INTERVAL, main):
# ruff: noqa: F401

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator

from sio.workers.sandbox.cli import main
from sio.workers.sandbox.common import (
    DEFAULT_CHECK_INTERVAL,
    SandboxError,
    _check_interval,
    sandboxes_basedir,
)
from sio.workers.sandbox.extract import _rmtree, extract_archive
from sio.workers.sandbox.locking import _state
from sio.workers.sandbox.lookup import _NAME_RE, _fetch, _find_source, _Source

logger = logging.getLogger(__name__)

__all__ = [
    "Sandbox",
    "SandboxError",
    "get_sandbox",
    "sandboxes_basedir",
]

_ATTEMPTS = 2


class Sandbox:
    """An extracted sandbox image; see the module documentation.

    ``path`` is the sandbox root, valid inside ``with sandbox:``. Get
    instances with :func:`get_sandbox`. Entering is reentrant and thread
    safe; the sandbox stays locked (shared) until the last ``with`` block of
    this process leaves it.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
            raise ValueError(f"invalid sandbox name {name!r}")
        self.name = name
        self.basedir = sandboxes_basedir()
        self.path = os.path.join(self.basedir, name)
        self._lock_path = os.path.join(self.basedir, f".{name}.lock")
        self._meta_path = os.path.join(self.basedir, f".{name}.json")
        self._install_lock_path = os.path.join(self.basedir, f".{name}.install.lock")
        self._depth = 0
        self._depth_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Sandbox {self.name} at {self.path}>"

    # -- metadata ---------------------------------------------------------

    def metadata(self) -> dict | None:
        """The install record (``source``, ``version``, ``sha256``,
        ``installed_at``, ``checked_at``), or ``None`` if not installed."""
        try:
            with open(self._meta_path) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or not os.path.isdir(self.path):
            return None
        return meta

    def _write_meta(self, meta: dict) -> None:
        tmp = f"{self._meta_path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
        os.replace(tmp, self._meta_path)

    # -- install ------------------------------------------------------------

    def _fresh(self, meta: dict | None) -> bool:
        if meta is None:
            return False
        checked = meta.get("checked_at")
        return isinstance(checked, (int, float)) and time.time() - checked < _check_interval()

    def _update(self, use_fd: int) -> None:
        """Holding the install lock (not the use lock): install or upgrade
        if needed. Only the final swap takes the use lock exclusively, so
        users of the installed version delay an upgrade, never a check."""
        meta = self.metadata()
        if self._fresh(meta):
            return
        try:
            source = _find_source(self.name)
        except SandboxError:
            if meta is not None:
                logger.warning("sandbox %s: cannot check for a newer version; "
                               "using the installed one", self.name, exc_info=True)
                meta["checked_at"] = time.time()
                self._write_meta(meta)
                return
            raise
        if (
            meta is not None
            and meta.get("source") == source.describe()
            and meta.get("version") == source.version
        ):
            meta["checked_at"] = time.time()
            self._write_meta(meta)
            return
        self._install(source, use_fd)

    def _install(self, source: _Source, use_fd: int) -> None:
        logger.info("sandbox %s: installing from %s (version %s)",
                    self.name, source.describe(), source.version)
        last: SandboxError | None = None
        for attempt in range(_ATTEMPTS):
            if attempt:
                source = _find_source(self.name)
            work = tempfile.mkdtemp(prefix=f".{self.name}.new-", dir=self.basedir)
            try:
                archive = os.path.join(work, f"{self.name}.tar.gz")
                sha = _fetch(source, archive, self.name)
                if source.sha256 and source.sha256 != sha:
                    raise SandboxError(
                        f"sandbox {self.name}: sha256 mismatch ({sha}, published "
                        f"{source.sha256})"
                    )
                root = extract_archive(archive, self.name, os.path.join(work, "x"))
                fcntl.flock(use_fd, fcntl.LOCK_EX)  # wait for the users to leave
                try:
                    self._swap_in(root)
                    now = time.time()
                    self._write_meta({
                        "name": self.name,
                        "source": source.describe(),
                        "version": source.version,
                        "sha256": sha,
                        "installed_at": now,
                        "checked_at": now,
                    })
                finally:
                    fcntl.flock(use_fd, fcntl.LOCK_UN)
                return
            except SandboxError as exc:
                last = exc
                logger.warning("sandbox %s: attempt %d failed: %s", self.name, attempt + 1, exc)
            finally:
                _rmtree(work)
        assert last is not None
        raise last

    def _swap_in(self, root: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._meta_path)
        if os.path.lexists(self.path):
            old = tempfile.mkdtemp(prefix=f".{self.name}.old-", dir=self.basedir)
            os.rename(self.path, os.path.join(old, "tree"))
            _rmtree(old)
        os.rename(root, self.path)

    # -- context manager -------------------------------------------------------

    def _acquire(self) -> None:
        """Take the shared use lock, installing or upgrading first if due.

        Two lock files: ``.<name>.lock`` (shared by users, exclusive only for
        the swap of an upgrade) and ``.<name>.install.lock`` (serialises the
        processes that check, download and extract, so only one downloads).
        """
        os.makedirs(self.basedir, exist_ok=True)
        state = _state(self.path)
        with state.lock:
            if state.users == 0:
                fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH)
                    if not self._fresh(self.metadata()):
                        fcntl.flock(fd, fcntl.LOCK_UN)
                        with open(self._install_lock_path, "a") as install:
                            fcntl.flock(install, fcntl.LOCK_EX)
                            self._update(fd)
                        fcntl.flock(fd, fcntl.LOCK_SH)
                except BaseException:
                    os.close(fd)
                    raise
                state.fd = fd
            elif self.metadata() is None:  # pragma: no cover - removed under our feet
                raise SandboxError(f"sandbox {self.name}: {self.path} vanished while in use")
            state.users += 1

    def _release(self) -> None:
        state = _state(self.path)
        with state.lock:
            if state.users <= 0:  # entered before a fork, left in the child
                return
            state.users -= 1
            if state.users == 0 and state.fd is not None:
                fd, state.fd = state.fd, None
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def __enter__(self) -> Sandbox:
        with self._depth_lock:
            self._acquire()
            self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._depth_lock:
            if self._depth > 0:
                self._depth -= 1
                self._release()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            while self._depth > 0:
                self._depth -= 1
                self._release()


_instances: weakref.WeakValueDictionary[tuple[str, str], Sandbox] = weakref.WeakValueDictionary()
_instances_lock = threading.Lock()


def get_sandbox(name: str) -> Sandbox:
    """The :class:`Sandbox` called ``name`` (one object per name and base
    directory while it is referenced). Use it in a ``with`` statement."""
    key = (sandboxes_basedir(), name)
    with _instances_lock:
        sandbox = _instances.get(key)
        if sandbox is None:
            sandbox = Sandbox(name)
            _instances[key] = sandbox
        return sandbox


@contextlib.contextmanager
def sandbox_path(name: str) -> Iterator[str]:
    """``with sandbox_path(name) as path:`` — :func:`get_sandbox` for callers
    that only need the path."""
    with get_sandbox(name) as sandbox:
        yield sandbox.path
