"""Interacting with Filetracker (``docs/contracts.rst`` §4).

Jobs name their input and output files with keys of the environ; these
helpers move the files between the job directory and a filetracker server
(the real :mod:`filetracker` package) or, when ``environ['use_filetracker']``
says so, the local filesystem:

* ``True`` (default): every path is a filetracker path (``/dir/name`` or the
  versioned ``/dir/name@version``);
* ``False``: every path is a local path, relative paths being relative to
  :func:`sio.workers.jobdir.caller_dir` (the directory ``run()`` was called
  from, not the temporary job directory);
* ``'auto'``: filetracker only for absolute paths.

A missing remote file or an unreachable server raises
:class:`FiletrackerFailure` whose one-line message names the path and the
URL; every HTTP request has a timeout (``SIO_FILETRACKER_TIMEOUT`` seconds,
default 60, for each connect and each read), so nothing hangs.

The code lives in submodules, all of it importable from here:
:mod:`~sio.workers.ft.clients` (the clients, timeouts, the error),
:mod:`~sio.workers.ft.paths` (versions, local or filetracker paths),
:mod:`~sio.workers.ft.transfer` (:func:`download`, :func:`upload`, ...) and
:mod:`~sio.workers.ft.server` (``sio-run-filetracker``). Patching a name
here affects the callers that look it up here (``ft.download(...)``); a call
made inside the package looks the name up in the submodule making it (e.g.
``instance`` in :mod:`~sio.workers.ft.transfer`): patch it there.
"""

# This module re-exports the names of its submodules:
# ruff: noqa: F401

from __future__ import annotations

from filetracker.client import FiletrackerError
from filetracker.utils import split_name

from sio.workers.ft.clients import (
    DEFAULT_TIMEOUT,
    FiletrackerFailure,
    _make_client,
    client_url,
    init_instance,
    instance,
    set_instance,
    using_instance,
)
from sio.workers.ft.paths import strip_version
from sio.workers.ft.server import (
    FiletrackerServer,
    _answers,
    launch_filetracker_server,
    run_filetracker_main,
    start_filetracker_server,
)
from sio.workers.ft.transfer import download, file_version, local_source, upload

# Also importable from here, as before the split, but not in __all__ (as
# before): FiletrackerError, DEFAULT_TIMEOUT, local_source,
# start_filetracker_server, run_filetracker_main, _make_client, _answers.
__all__ = [
    "FiletrackerFailure",
    "FiletrackerServer",
    "download",
    "init_instance",
    "instance",
    "launch_filetracker_server",
    "set_instance",
    "upload",
    "using_instance",
    "client_url",
    "file_version",
    "split_name",
    "strip_version",
]
