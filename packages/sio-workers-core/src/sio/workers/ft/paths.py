"""Filetracker paths: versions, and whether a path is a filetracker or a local one.

``environ['use_filetracker']`` (``True``, ``False`` or ``'auto'``) decides;
local paths are relative to :func:`sio.workers.jobdir.caller_dir`. Part of
:mod:`sio.workers.ft` (``docs/contracts.rst`` §4).
"""

from __future__ import annotations

import os

from sio.workers.ft.clients import FiletrackerFailure
from sio.workers.jobdir import caller_dir


def _use_filetracker(path: str, environ: dict) -> bool:
    mode = environ.get("use_filetracker", True)
    if mode == "auto":
        return path.startswith("/")
    return bool(mode)


def _path_of(environ: dict, key: str) -> str:
    try:
        path = environ[key]
    except KeyError:
        raise FiletrackerFailure(f"the environ has no {key!r}") from None
    if not isinstance(path, str) or not path:
        raise FiletrackerFailure(f"environ[{key!r}] must be a non-empty path, got {path!r}")
    return path


def _basename(path: str) -> str:
    return os.path.basename(strip_version(path))


def strip_version(path: str) -> str:
    """``/a/b@123`` → ``/a/b`` (a name without a version is returned as is)."""
    head, sep, tail = path.rpartition("@")
    if sep and "/" not in tail and tail.lstrip("-").isdigit():
        return head
    return path


def _local(path: str) -> str:
    return os.path.join(caller_dir(), path)


def _target(dest: str | None, name: str) -> str:
    if not dest:
        return name
    if dest.endswith(os.sep) or os.path.isdir(dest):
        return os.path.join(dest, name)
    return dest
