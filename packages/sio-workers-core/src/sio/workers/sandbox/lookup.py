"""Finding and fetching sandbox images: names, filetracker, URLs, downloads.

An image ``<name>.tar.gz`` is looked up in filetracker at
``/sandboxes/<name>.tar.gz`` (the client from :func:`sio.workers.ft.instance`),
then at ``$SIO_SANDBOXES_URL/<name>.tar.gz`` (``http(s)://`` or ``file://``
URL, or a plain directory), with its published ``<name>.tar.gz.sha256`` when
there is one; :func:`_fetch` downloads it and returns the sha256 of what
arrived. Part of :mod:`sio.workers.sandbox` (``docs/contracts.rst`` §5).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import urllib.parse
from dataclasses import dataclass
from typing import IO, Any

from sio.workers.sandbox.common import SandboxError, _progress

logger = logging.getLogger(__package__)  # "sio.workers.sandbox", as before the split

#: What a sandbox name may be (``..`` is refused besides).
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_HTTP_TIMEOUT = 60.0


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
