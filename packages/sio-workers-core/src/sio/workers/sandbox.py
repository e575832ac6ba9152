"""Sandboxes: prepared software images extracted on the worker (``contracts.md`` §5).

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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

logger = logging.getLogger(__name__)

__all__ = [
    "Sandbox",
    "SandboxError",
    "get_sandbox",
    "sandboxes_basedir",
]

DEFAULT_CHECK_INTERVAL = 3600.0
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_HTTP_TIMEOUT = 60.0
_ATTEMPTS = 2


class SandboxError(RuntimeError):
    """A sandbox could not be found, downloaded or extracted."""


def sandboxes_basedir() -> str:
    """``$SIO_SANDBOXES_BASEDIR`` or ``~/.sio-sandboxes`` (absolute)."""
    base = os.environ.get("SIO_SANDBOXES_BASEDIR") or os.path.join("~", ".sio-sandboxes")
    return os.path.abspath(os.path.expanduser(base))


def _check_interval() -> float:
    try:
        return float(os.environ.get("SIO_SANDBOXES_CHECK_INTERVAL", DEFAULT_CHECK_INTERVAL))
    except ValueError:
        return DEFAULT_CHECK_INTERVAL


def _interactive() -> bool:
    return sys.stderr is not None and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


def _progress(total: int | None, desc: str, unit: str = "B") -> Any:
    """A tqdm bar on a terminal, a no-op object otherwise."""
    if _interactive():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B",
                    leave=False, file=sys.stderr)

    class _Quiet:
        def update(self, n: int = 1) -> None:
            pass

        def close(self) -> None:
            pass

    return _Quiet()


# ----------------------------------------------------------------- sources ---


@dataclass
class _Source:
    """Where an image comes from and which version is there."""

    kind: str  # "filetracker" | "http" | "file"
    location: str  # filetracker path, URL or local path
    version: str
    sha256: str | None = None  # published checksum, when there is one

    def describe(self) -> str:
        return f"{self.kind}:{self.location}"


def _filetracker_source(name: str) -> _Source | None:
    from sio.workers import ft

    path = f"/sandboxes/{name}.tar.gz"
    try:
        client = ft.instance()
    except Exception as exc:  # no filetracker configured at all
        logger.debug("no filetracker client: %s", exc)
        return None
    try:
        if client.remote_store is not None:
            version = ft.file_version(path)
        elif client.local_store is not None and client.local_store.exists(path):
            version = client.local_store.file_version(path)
        else:
            version = None
    except ft.FiletrackerFailure as exc:
        logger.warning("sandbox %s: filetracker lookup failed: %s", name, exc)
        return None
    if version is None:
        return None
    return _Source("filetracker", path, str(version), _filetracker_sha256(path))


def _filetracker_sha256(path: str) -> str | None:
    from sio.workers import ft

    with tempfile.TemporaryDirectory(prefix="sio-sandbox-sum-") as tmp:
        environ = {"f": path + ".sha256"}
        try:
            if ft.file_version(environ["f"]) is None:
                return None
            text = open(ft.download(environ, "f", os.path.join(tmp, "sum"),
                                    add_to_cache=False)).read()
        except (ft.FiletrackerFailure, OSError):
            return None
    return _parse_sum(text)


def _parse_sum(text: str) -> str | None:
    word = text.split()[0].lower() if text.split() else ""
    return word if re.fullmatch(r"[0-9a-f]{64}", word) else None


def _url_base() -> str | None:
    return os.environ.get("SIO_SANDBOXES_URL") or None


def _url_source(name: str) -> _Source | None:
    base = _url_base()
    if not base:
        return None
    url = base.rstrip("/") + f"/{name}.tar.gz"
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme in ("http", "https"):
        import requests

        try:
            response = requests.head(url, allow_redirects=True, timeout=_HTTP_TIMEOUT)
        except requests.RequestException as exc:
            raise SandboxError(f"sandbox {name}: cannot reach {url}: {exc}") from None
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise SandboxError(f"sandbox {name}: {url} answered HTTP {response.status_code}")
        headers = response.headers
        version = "|".join(
            headers.get(h, "") for h in ("ETag", "Last-Modified", "Content-Length")
        )
        sha = None
        try:
            sums = requests.get(url + ".sha256", timeout=_HTTP_TIMEOUT)
            if sums.status_code == 200:
                sha = _parse_sum(sums.text)
        except requests.RequestException:
            pass
        return _Source("http", url, version, sha)
    path = urllib.parse.urlsplit(url).path if scheme == "file" else url
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    sha = None
    with contextlib.suppress(OSError):
        sha = _parse_sum(open(path + ".sha256").read())
    return _Source("file", path, f"{st.st_mtime_ns}|{st.st_size}", sha)


def _find_source(name: str) -> _Source:
    source = _filetracker_source(name) or _url_source(name)
    if source is None:
        from sio.workers import ft

        where = [f"filetracker {ft.client_url() or '(local store)'} /sandboxes/{name}.tar.gz"]
        where.append(
            f"$SIO_SANDBOXES_URL={_url_base()}" if _url_base() else "$SIO_SANDBOXES_URL (unset)"
        )
        raise SandboxError(f"sandbox {name} not found in " + " nor ".join(where))
    return source


def _fetch(source: _Source, dest: str, name: str) -> str:
    """Download ``source`` to ``dest``; return the sha256 of what arrived."""
    digest = hashlib.sha256()
    import requests

    if source.kind == "filetracker":
        from sio.workers import ft

        client = ft.instance()
        try:
            if client.remote_store is None:
                ft.download({"f": source.location}, "f", dest, add_to_cache=False)
                with open(dest, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        digest.update(chunk)
                return digest.hexdigest()
            try:
                total = int(client.file_size(source.location))
            except Exception:  # only for the progress bar
                total = None
            stream, _ = client.remote_store.get_stream(source.location)
            with open(dest, "wb") as out:
                written = _copy(stream, out, digest, total, name)
        except (ft.FiletrackerError, OSError, ValueError,
                requests.RequestException) as exc:
            raise SandboxError(f"sandbox {name}: cannot download {source.location} "
                               f"from filetracker {ft.client_url()}: {exc}") from None
        if total and written != total:
            raise SandboxError(f"sandbox {name}: truncated download ({written} of {total} bytes)")
        return digest.hexdigest()
    if source.kind == "file":
        with open(source.location, "rb") as src, open(dest, "wb") as out:
            _copy(src, out, digest, os.fstat(src.fileno()).st_size, name)
        return digest.hexdigest()
    try:
        with requests.get(source.location, stream=True, timeout=_HTTP_TIMEOUT) as response:
            response.raise_for_status()
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with open(dest, "wb") as out:
                raw = response.raw
                raw.decode_content = True
                written = _copy(raw, out, digest, total, name)
            if total is not None and written != total:
                raise SandboxError(
                    f"sandbox {name}: truncated download ({written} of {total} bytes)"
                )
    except requests.RequestException as exc:
        raise SandboxError(f"sandbox {name}: cannot download {source.location}: {exc}") from None
    return digest.hexdigest()


def _copy(src: IO[bytes], out: IO[bytes], digest: Any, total: int | None, name: str) -> int:
    bar = _progress(total, f"download {name}")
    written = 0
    try:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            bar.update(len(chunk))
    finally:
        bar.close()
    return written


# -------------------------------------------------------------- extraction ---


def extract_archive(archive: str, name: str, into: str) -> str:
    """Safely extract ``archive`` (a ``<name>.tar.gz``) under the directory
    ``into`` and return the path of its top-level folder ``<name>``.

    Raises :class:`SandboxError` for a corrupt archive, a member outside
    ``<name>/``, or anything :func:`tarfile.data_filter` refuses (absolute
    or ``..`` paths, links pointing outside, device files).
    """
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()  # reads it all: detects truncation early
            bar = _progress(len(members), f"extract {name}", unit="file")
            try:
                for member in members:
                    parts = [p for p in member.name.split("/") if p not in ("", ".")]
                    if not parts or parts[0] != name:
                        raise SandboxError(
                            f"sandbox {name}: member {member.name!r} is outside the "
                            f"top-level folder {name}/"
                        )
                    tar.extract(member, into, filter="data")
                    bar.update()
            finally:
                bar.close()
    except tarfile.FilterError as exc:
        raise SandboxError(f"sandbox {name}: unsafe archive: {exc}") from None
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise SandboxError(f"sandbox {name}: corrupt archive: {exc}") from None
    root = os.path.join(into, name)
    if not os.path.isdir(root):
        raise SandboxError(f"sandbox {name}: the archive has no folder {name}/")
    return root


# ------------------------------------------------------------------- locks ---


class _NameState:
    """Per-process bookkeeping of one sandbox: the flock fd and its users."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.fd: int | None = None


_states: dict[str, _NameState] = {}
_states_lock = threading.Lock()


def _state(key: str) -> _NameState:
    with _states_lock:
        state = _states.get(key)
        if state is None:
            state = _states[key] = _NameState()
        return state


def _after_fork_in_child() -> None:
    # The child must not keep (or release) the parent's locks: close its
    # copies of the descriptors (the parent's lock stays) and start afresh.
    global _states_lock
    for state in _states.values():
        if state.fd is not None:
            with contextlib.suppress(OSError):
                os.close(state.fd)
    _states.clear()
    _states_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


# ----------------------------------------------------------------- sandbox ---


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


def _rmtree(path: str) -> None:
    def onerror(func: Any, p: str, exc: Any) -> None:  # read-only dirs from the image
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o755)
            os.chmod(p, 0o755)
            func(p)

    shutil.rmtree(path, onerror=onerror)


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


def main(argv: list[str] | None = None) -> int:
    """``sio-get-sandbox NAME...``: install the sandboxes, print their paths."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="sio-get-sandbox",
        description="Download and extract sandboxes (from filetracker "
        "/sandboxes/NAME.tar.gz or $SIO_SANDBOXES_URL) and print their paths.",
    )
    parser.add_argument("names", nargs="+", metavar="NAME")
    parser.add_argument("-f", "--force-check", action="store_true",
                        help="check for a newer version now")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.force_check:
        os.environ["SIO_SANDBOXES_CHECK_INTERVAL"] = "0"
    status = 0
    for name in args.names:
        try:
            with get_sandbox(name) as sandbox:
                print(sandbox.path, flush=True)
        except (SandboxError, ValueError) as exc:
            print(f"sio-get-sandbox: {exc}", file=sys.stderr)
            status = 1
    return status
