"""Moving files: :func:`download`, :func:`upload`, :func:`local_source`, :func:`file_version`.

Between the job directory and the filetracker client in use
(:func:`sio.workers.ft.clients.instance`) or, as ``use_filetracker`` says, the
local filesystem. Every failure raises
:class:`~sio.workers.ft.clients.FiletrackerFailure` with a one-line message
naming the path and the server. Part of :mod:`sio.workers.ft`
(``docs/contracts.rst`` §4).
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

import requests
from filetracker.client import FiletrackerError

from sio.workers.ft.clients import FiletrackerFailure, client_url, instance
from sio.workers.ft.paths import (
    _basename,
    _local,
    _path_of,
    _target,
    _use_filetracker,
    strip_version,
)

logger = logging.getLogger(__package__)  # "sio.workers.ft", as before the split


def _describe(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "server unreachable"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    if first.startswith("HTTP/404"):
        return "no such file (HTTP 404)"
    if first.startswith("Error making HTTP request"):
        return "server unreachable"
    return first[:200]


def _failure(action: str, path: str, exc: BaseException) -> FiletrackerFailure:
    url = client_url() or "the local filetracker store"
    return FiletrackerFailure(f"cannot {action} {path} ({url}): {_describe(exc)}")


def download(
    environ: dict,
    key: str,
    dest: str | None = None,
    skip_if_exists: bool = False,
    **kwargs: Any,
) -> str:
    """Fetch the file named by ``environ[key]`` to ``dest`` and return the
    local path.

    ``dest``: a file name, a directory (an existing one, or one ending with
    ``/``) or ``None`` (the current directory); in the two latter cases the
    file keeps its base name (without ``@version``). With ``skip_if_exists``
    an existing file at ``dest`` is kept as is. The result is always a
    private copy (never a hard link into the local cache). ``kwargs`` go to
    :meth:`filetracker.client.Client.get_file` (``add_to_cache``,
    ``force_refresh``). Raises :class:`FiletrackerFailure` for a missing file
    or an unreachable server.
    """
    path = _path_of(environ, key)
    dest = _target(dest, _basename(path))
    if skip_if_exists and os.path.isfile(dest):
        return dest
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    if not _use_filetracker(path, environ):
        source = _local(path)
        if not os.path.isfile(source):
            raise FiletrackerFailure(f"cannot download {path}: no such local file {source}")
        if not (os.path.exists(dest) and os.path.samefile(source, dest)):
            shutil.copyfile(source, dest)
        return dest
    logger.debug("downloading %s to %s", path, dest)
    if os.path.lexists(dest) and not os.path.isdir(dest):
        os.unlink(dest)  # filetracker would keep an existing file newer than the version
    try:
        instance().get_file(path, os.path.abspath(dest), **kwargs)
    except (FiletrackerError, requests.exceptions.RequestException, OSError) as exc:
        raise _failure("download", path, exc) from None
    _unshare(dest)
    return dest


def local_source(environ: dict, key: str) -> str | None:
    """The absolute path of the local file ``environ[key]`` names when the
    job does not take it from filetracker (``use_filetracker`` false, or
    ``"auto"`` and a relative path); None when it comes from filetracker.

    For a caller that only *reads* the file (an exec job's input): it can
    open it in place instead of copying it with :func:`download`. Raises
    :class:`FiletrackerFailure` like :func:`download` when the file is
    missing or not a regular file.
    """
    path = _path_of(environ, key)
    if _use_filetracker(path, environ):
        return None
    source = os.path.abspath(_local(path))
    if not os.path.isfile(source):
        raise FiletrackerFailure(f"cannot download {path}: no such local file {source}")
    return source


def _unshare(path: str) -> None:
    """The local store hard-links cached files into place; give ``path`` its
    own inode so that writing to it cannot corrupt the cache."""
    st = os.lstat(path)
    if st.st_nlink <= 1:
        return
    tmp = f"{path}.sio-ft-{os.getpid()}"
    shutil.copyfile(path, tmp)
    os.chmod(tmp, st.st_mode & 0o7777)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, path)


def upload(
    environ: dict,
    key: str,
    source: str,
    dest: str | None = None,
    **kwargs: Any,
) -> str:
    """Store the local file ``source`` under ``dest`` (default
    ``environ[key]``; a name ending with ``/`` gets ``source``'s base name)
    and set ``environ[key]`` to the stored name, which is also returned.

    With filetracker the stored name is versioned (``/path@version``; an old
    version in ``dest`` is dropped, never doubled). ``kwargs`` go to
    :meth:`filetracker.client.Client.put_file` (``to_local_store``,
    ``to_remote_store``, ``compress_hint``); ``add_to_cache=False`` means
    ``to_local_store=False``.
    """
    if dest is None:
        dest = _path_of(environ, key)
    elif dest.endswith("/"):
        dest = dest + os.path.basename(source)
    if not os.path.isfile(source):
        raise FiletrackerFailure(f"cannot upload {source}: no such file")
    if not _use_filetracker(dest, environ):
        target = _local(dest)
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        if not (os.path.exists(target) and os.path.samefile(source, target)):
            shutil.copyfile(source, target)
        environ[key] = dest
        return dest
    name = strip_version(dest)
    if "add_to_cache" in kwargs:
        kwargs.setdefault("to_local_store", bool(kwargs.pop("add_to_cache")))
    logger.debug("uploading %s as %s", source, name)
    try:
        vname = instance().put_file(name, os.path.abspath(source), **kwargs)
    except (FiletrackerError, requests.exceptions.RequestException, OSError, ValueError) as exc:
        raise _failure("upload", name, exc) from None
    environ[key] = vname
    return vname


def file_version(name: str) -> int | None:
    """The newest version of ``name`` on the server (``None``: no such file).

    Raises :class:`FiletrackerFailure` when the server cannot be asked."""
    client = instance()
    try:
        if client.remote_store is not None:
            if not client.remote_store.exists(strip_version(name)):
                return None
        return client.file_version(strip_version(name))
    except (FiletrackerError, requests.exceptions.RequestException, OSError) as exc:
        raise _failure("query", name, exc) from None
