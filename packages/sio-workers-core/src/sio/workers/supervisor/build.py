"""The supervisor's static C launcher, built from source.

Its sources are ``launcher_main.c`` (options, the status-line protocol,
prepared mode's go message), ``launcher_ns.c`` (the root),
``launcher_limits.c`` (cgroups, rlimits, credentials),
``launcher_seccomp.c`` (the profiles) and ``launcher_run.c`` (the namespace
init and the program), sharing ``launcher.h``, whose header comment is the
launcher's protocol.

The launcher is never shipped prebuilt. It is built

* at package install by ``setup.py`` (a ``build_py`` hook writes
  ``sio-launcher-<hash>`` next to this module), or
* on demand, the first time it is needed, into a per-user cache directory
  (``$SIO_LAUNCHER_CACHE`` or ``$XDG_CACHE_HOME/sio-workers``, default
  ``~/.cache/sio-workers``) — editable installs do not run build hooks.

Both places are keyed by the SHA-256 of every source and the header, the
flags and the C library (musl where installed, else glibc: see
:class:`sio.workers.native.Launcher`), so an edited source is rebuilt and a
stale binary is never used. :data:`SOURCE` is the main source (the
installed binary lies next to it), :data:`SOURCES` every file hashed. This module is the launcher's API for the rest
of the supervisor; the building itself is :mod:`sio.workers.native`'s.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sio.workers.envkey import env_key, env_names
from sio.workers.native import _PATH_INPUTS, LAUNCHER, NativeBuildError

_ENV_INPUTS = env_names(*_PATH_INPUTS, LAUNCHER.cache_env)

SOURCE = LAUNCHER.source
SOURCES = LAUNCHER.inputs


class LauncherBuildError(NativeBuildError):
    """The launcher could not be built (no compiler, no libseccomp.a, ...)."""


def libc() -> str:
    """``"musl"`` or ``"glibc"``: the C library the launcher is built with."""
    return LAUNCHER.libc()


def source_hash() -> str:
    """First 16 hex digits of the SHA-256 of the sources, the header, the flags
    and the C library."""
    return LAUNCHER.source_hash()


def binary_name() -> str:
    return LAUNCHER.binary_name()


def cache_dir() -> Path:
    return LAUNCHER.cache_dir()


def compile_launcher(dest: Path) -> Path:
    """Compile the launcher into ``dest`` atomically; raise LauncherBuildError."""
    try:
        return LAUNCHER.compile(dest)
    except NativeBuildError as exc:
        raise LauncherBuildError(
            f"building the launcher with {libc()} failed (needs libseccomp-dev and "
            f"musl-tools or static glibc): {exc}"
        ) from None


def installed_launcher() -> Path | None:
    """The launcher built at install time, when it matches the source."""
    return LAUNCHER.installed()


def cached_launcher() -> Path | None:
    return LAUNCHER.cached()


_RECHECK_S = 1.0
_recent: dict[tuple[bytes | str | bool | None, ...], tuple[float, Path, str]] = {}


def launcher_path(build: bool = True) -> Path | None:
    """Path of an up-to-date launcher; build it into the cache if allowed.

    Returns None only when ``build`` is False and none is built. The answer is
    remembered per source hash (a changed source still means a new binary).
    Every run looks the launcher up: an answer is trusted for
    :data:`_RECHECK_S` seconds while the binary is there (the sources'
    ``stat`` calls cost more than the rest of a served run's set-up in the
    worker), then checked again.
    """
    key = (*env_key(_ENV_INPUTS), build)
    now = time.monotonic()
    recent = _recent.get(key)
    if recent is not None and now - recent[0] < _RECHECK_S and os.access(recent[2], os.X_OK):
        return recent[1]
    try:
        found = LAUNCHER.path(build)
    except LauncherBuildError:
        raise
    except NativeBuildError as exc:
        raise LauncherBuildError(f"building the launcher with {libc()} failed: {exc}") from None
    if found is not None:
        _recent[key] = (now, found, str(found))
    return found
