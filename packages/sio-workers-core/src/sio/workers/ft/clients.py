"""The filetracker clients: which one is in use, and timeouts for all.

Holds :func:`instance` (the client in use), :func:`set_instance`,
:func:`init_instance` (one cached client per server URL),
:func:`using_instance`, :func:`client_url` and :class:`FiletrackerFailure`,
the error of every failed transfer. Importing it gives every HTTP request of
the :mod:`filetracker` package a timeout (``SIO_FILETRACKER_TIMEOUT``
seconds, default 60) and a remote store that prints nothing. Part of
:mod:`sio.workers.ft` (``docs/contracts.rst`` §4).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import requests
from filetracker.client import Client, FiletrackerError
from filetracker.client import remote_data_store as _rds

#: Seconds for each connect and each read of a filetracker HTTP request.
DEFAULT_TIMEOUT = 60.0


def _timeout() -> float:
    try:
        return float(os.environ.get("SIO_FILETRACKER_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


class _RequestsWithTimeout:
    """Stands in for :mod:`requests` inside filetracker's remote store so that
    every request it makes has a timeout (the package sets none)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)

    @staticmethod
    def _call(method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", _timeout())
        return requests.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._call("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> requests.Response:
        return self._call("HEAD", url, **kwargs)

    def put(self, url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        return self._call("PUT", url, data=data, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self._call("DELETE", url, **kwargs)


_rds.requests = _RequestsWithTimeout()


class _QuietRemoteDataStore(_rds.RemoteDataStore):
    """The remote store, negotiating the protocol with a timeout and without
    printing to stdout (the upstream one prints, which pollutes sio-batch)."""

    def _protocol_version(self) -> int:
        if not hasattr(self, "_protocol_ver"):
            response = requests.get(self.base_url + "/version/", timeout=_timeout())
            if response.status_code == 404:
                versions = {1}
            else:
                response.raise_for_status()
                versions = set(response.json().get("protocol_versions") or ())
            common = _rds._SUPPORTED_VERSIONS & versions
            if not common:
                raise FiletrackerError(
                    f"no common filetracker protocol (server offers {sorted(versions)})"
                )
            self._protocol_ver = max(common)
        return self._protocol_ver


class FiletrackerFailure(FiletrackerError):
    """A file could not be moved to or from filetracker (one-line message)."""


_lock = threading.Lock()
_default: Client | None = None
_by_url: dict[str, Client] = {}
_current: ContextVar[Client | None] = ContextVar("sio_ft_client", default=None)


def _cache_dir() -> str:
    return os.environ.get("FILETRACKER_DIR") or Client.DEFAULT_CACHE_DIR


def _make_client(url: str | None) -> Client:
    url = url.rstrip("/") if url else None
    remote = _QuietRemoteDataStore(url) if url else None
    return Client(remote_store=remote if remote else None, cache_dir=_cache_dir())


def instance() -> Client:
    """The filetracker client in use: the one set by :func:`using_instance`
    or :func:`set_instance`, else a process-wide singleton built from
    ``FILETRACKER_URL`` (remote) and ``FILETRACKER_DIR`` (local cache, default
    ``~/.filetracker-store``)."""
    global _default
    current = _current.get()
    if current is not None:
        return current
    with _lock:
        if _default is None:
            _default = _make_client(os.environ.get("FILETRACKER_URL"))
        return _default


def set_instance(client: Client | None) -> None:
    """Replace the process-wide client (``None``: rebuild it from the
    environment on next use)."""
    global _default
    with _lock:
        _default = client


def init_instance(url: str) -> Client:
    """The client for the server at ``url`` (one cached client per URL)."""
    key = url.rstrip("/")
    with _lock:
        client = _by_url.get(key)
        if client is None:
            client = _by_url[key] = _make_client(key)
        return client


@contextlib.contextmanager
def using_instance(client: Client) -> Iterator[Client]:
    """Make :func:`instance` return ``client`` inside the ``with`` block
    (in this thread or task only)."""
    token = _current.set(client)
    try:
        yield client
    finally:
        _current.reset(token)


def client_url(client: Client | None = None) -> str | None:
    """The server URL of ``client`` (default: :func:`instance`), or ``None``."""
    client = client or instance()
    store = getattr(client, "remote_store", None)
    return getattr(store, "base_url", None)
