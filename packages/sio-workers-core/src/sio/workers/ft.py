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
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import requests
from filetracker.client import Client, FiletrackerError
from filetracker.client import remote_data_store as _rds
from filetracker.utils import split_name

from sio.workers.jobdir import caller_dir

logger = logging.getLogger(__name__)

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
]

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


# ------------------------------------------------------------------ clients ---

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


# ------------------------------------------------------------ file helpers ---


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


__all__ += ["client_url", "file_version", "split_name", "strip_version"]


# ------------------------------------------------------------------ server ---


def _answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/version/", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # something is serving there
    except (OSError, ValueError):
        return False


class FiletrackerServer:
    """A filetracker server started by :func:`launch_filetracker_server`."""

    def __init__(self, url: str, process: subprocess.Popen) -> None:
        self.url = url
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 3.0) -> None:
        """Stop the server: SIGTERM (gunicorn's graceful shutdown), and after
        ``timeout`` seconds SIGKILL to its whole process group (an idle
        gevent worker sometimes ignores the graceful shutdown for 30 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def __enter__(self) -> FiletrackerServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_filetracker_server(
    url: str,
    directory: str,
    workers: int = 2,
    log: str | None = None,
    ready_timeout: float = 60.0,
) -> FiletrackerServer:
    """Start ``filetracker-server`` for ``url`` storing in ``directory`` (in
    its own session, not daemonised) and return once it answers."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.port:
        raise ValueError(f"need an http://HOST:PORT URL, got {url!r}")
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    server = shutil.which("filetracker-server", path=env["PATH"]) or "filetracker-server"
    listen = os.environ.get("FILETRACKER_LISTEN_ADDR") or parts.hostname or "127.0.0.1"
    cmd = [server, "-d", directory, "-p", str(parts.port), "-l", listen, "-D",
           "--workers", str(workers)]
    if log:
        cmd += ["-L", log]
    os.makedirs(directory, exist_ok=True)
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        if log:
            out.close()
    handle = FiletrackerServer(url, proc)
    deadline = time.monotonic() + ready_timeout
    while not _answers(url, timeout=1.0):
        if proc.poll() is not None:
            raise RuntimeError(f"filetracker-server exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            handle.stop()
            raise RuntimeError(f"filetracker-server did not answer at {url}")
        time.sleep(0.1)
    return handle


def launch_filetracker_server() -> FiletrackerServer | None:
    """Start a filetracker server for ``FILETRACKER_PUBLIC_URL`` unless one
    already answers there; return once it answers.

    Returns the started server (call :meth:`FiletrackerServer.stop` to stop
    it) or ``None`` when nothing was started (no URL set, or a server is
    already running). The server stores files in ``FILETRACKER_SERVER_DIR``
    (default ``~/.sio-filetracker-server``), listens on the URL's host (or
    ``FILETRACKER_LISTEN_ADDR``) and logs to ``<dir>/server.log``.
    """
    url = os.environ.get("FILETRACKER_PUBLIC_URL")
    if not url or _answers(url):
        return None
    directory = os.environ.get("FILETRACKER_SERVER_DIR") or os.path.expanduser(
        "~/.sio-filetracker-server"
    )
    return start_filetracker_server(
        url, directory, log=os.path.join(directory, "server.log")
    )


def run_filetracker_main(argv: list[str] | None = None) -> int:
    """``sio-run-filetracker [--foreground]``: :func:`launch_filetracker_server`.

    Without ``--foreground`` the server keeps running in the background
    (its pid is printed); with it, the command waits and stops the server on
    SIGINT/SIGTERM."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="sio-run-filetracker",
        description="Start a filetracker server at $FILETRACKER_PUBLIC_URL "
        "unless one answers there.",
    )
    parser.add_argument("--foreground", action="store_true",
                        help="stay in the foreground; stop the server on Ctrl-C/SIGTERM")
    args = parser.parse_args(argv)
    if not os.environ.get("FILETRACKER_PUBLIC_URL"):
        print("sio-run-filetracker: FILETRACKER_PUBLIC_URL is not set", file=sys.stderr)
        return 2
    try:
        server = launch_filetracker_server()
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"sio-run-filetracker: {exc}", file=sys.stderr)
        return 1
    if server is None:
        print(f"a filetracker server already answers at {os.environ['FILETRACKER_PUBLIC_URL']}")
        return 0
    print(f"filetracker server started at {server.url} (pid {server.pid})", flush=True)
    if not args.foreground:
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set() and server.process.poll() is None:
        stop.wait(0.5)
    server.stop()
    return 0
