"""Pytest fixtures for tests that need filetracker or sandbox images.

Registered as a ``pytest11`` plugin by sio-workers-core, so every test suite
of the repository can use them:

``sio_filetracker_server`` (session)
    A real ``filetracker-server`` on 127.0.0.1 (a free port, a temporary
    directory); a :class:`sio.workers.ft.FiletrackerServer` with ``url``.
``sio_filetracker`` (function)
    A client of that server (own cache dir) installed as
    :func:`sio.workers.ft.instance` for the test; restored afterwards.
``sio_sandbox_images`` (session)
    ``export(*names) -> Path``: builds the images (cached across runs in
    ``~/.cache/sio-workers/images``) and puts ``<name>.tar.gz`` into one
    session directory, which it returns.
``sio_sandboxes`` (function)
    ``use(*names) -> dict[name, path]``: makes the images available through
    ``SIO_SANDBOXES_URL=file://…`` with a session-wide
    ``SIO_SANDBOXES_BASEDIR`` (each image is extracted once per session),
    installs them and returns their extracted paths. Filetracker is not
    consulted (an empty local store), so the host's filetracker settings do
    not matter.

Example (sio-compile)::

    def test_gcc_in_sandbox(sio_sandboxes):
        from sio.workers.sandbox_build import default_name
        name = default_name("compiler-gcc")          # compiler-gcc.12_2_0
        root = sio_sandboxes(name)[name]             # .../compiler-gcc.12_2_0
        assert os.path.exists(os.path.join(root, "usr/bin/gcc"))
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sio_filetracker_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real filetracker server on 127.0.0.1 for the session (``.url``)."""
    from sio.workers import ft

    base = tmp_path_factory.mktemp("ft-server")
    server = ft.start_filetracker_server(
        f"http://127.0.0.1:{free_port()}", str(base / "store"), workers=1,
        log=str(base / "server.log"),
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sio_filetracker(sio_filetracker_server: Any, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A client of ``sio_filetracker_server`` installed as ``ft.instance()``."""
    from filetracker.client import Client

    from sio.workers import ft

    monkeypatch.setenv("FILETRACKER_DIR", str(tmp_path / "ft-cache"))
    client = ft._make_client(sio_filetracker_server.url)
    assert isinstance(client, Client)
    previous = ft.clients._default
    ft.set_instance(client)
    try:
        with ft.using_instance(client):
            yield client
    finally:
        ft.set_instance(previous)


@pytest.fixture(scope="session")
def sio_sandbox_images(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``export(*names) -> dir`` holding ``<name>.tar.gz`` of built images."""
    from sio.workers.sandbox_build import export_images

    out = tmp_path_factory.mktemp("sandbox-images")

    def export(*names: str) -> Path:
        return export_images(list(names), out)

    return export


@pytest.fixture(scope="session")
def _sio_sandboxes_basedir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandboxes")


@pytest.fixture
def sio_sandboxes(sio_sandbox_images: Callable[..., Path], _sio_sandboxes_basedir: Path,
                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                  ) -> Iterator[Callable[..., dict[str, str]]]:
    """``use(*names) -> {name: path}``: built images, installed as sandboxes."""
    from sio.workers import ft
    from sio.workers.sandbox import get_sandbox

    monkeypatch.setenv("SIO_SANDBOXES_BASEDIR", str(_sio_sandboxes_basedir))
    monkeypatch.delenv("FILETRACKER_URL", raising=False)
    monkeypatch.setenv("FILETRACKER_DIR", str(tmp_path / "ft-empty"))
    previous = ft.clients._default
    ft.set_instance(None)

    def use(*names: str) -> dict[str, str]:
        directory = sio_sandbox_images(*names)
        monkeypatch.setenv("SIO_SANDBOXES_URL", directory.as_uri())
        paths = {}
        for name in names:
            with get_sandbox(name) as sandbox:
                paths[name] = sandbox.path
        return paths

    try:
        with ft.using_instance(ft.instance()):
            yield use
    finally:
        ft.set_instance(previous)
