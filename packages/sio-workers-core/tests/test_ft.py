"""sio.workers.ft against a real filetracker server on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from sio.workers import ft, jobdir, runner
from sio.workers.sandbox_build.pytest_plugin import free_port


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def test_round_trip_versioned_names(sio_filetracker, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = _write(tmp_path / "src.txt", "first")
    environ = {"out": "/round/trip.txt"}
    vname = ft.upload(environ, "out", src)
    assert environ["out"] == vname
    name, version = ft.split_name(vname)
    assert name == "/round/trip.txt" and isinstance(version, int)

    # Uploading again under the versioned name must not nest versions.
    time.sleep(1.1)  # versions are seconds since the epoch
    _write(tmp_path / "src.txt", "second")
    vname2 = ft.upload(environ, "out", "src.txt")
    assert vname2.count("@") == 1 and ft.strip_version(vname2) == "/round/trip.txt"
    assert ft.split_name(vname2)[1] > version

    # Unversioned name → the newest content; dest=None keeps the base name.
    path = ft.download({"f": "/round/trip.txt"}, "f")
    assert path == "trip.txt" and open(path).read() == "second"
    # A directory as dest; the versioned name.
    os.mkdir("d")
    path = ft.download({"f": vname2}, "f", "d")
    assert path == os.path.join("d", "trip.txt") and open(path).read() == "second"
    # Filetracker keeps only the newest version: the old one is a failure.
    with pytest.raises(ft.FiletrackerFailure, match="not available"):
        ft.download({"f": vname}, "f", "old.txt", force_refresh=True)


def test_download_to_nested_dest_and_skip_if_exists(sio_filetracker, tmp_path):
    environ = {"in": "/inputs/a.in"}
    ft.upload(environ, "in", _write(tmp_path / "a", "input data"))
    dest = tmp_path / "x" / "y" / "a.in"
    assert ft.download(environ, "in", str(dest)) == str(dest)
    assert dest.read_text() == "input data"
    dest.write_text("local edit")
    ft.download(environ, "in", str(dest), skip_if_exists=True)
    assert dest.read_text() == "local edit"
    ft.download(environ, "in", str(dest))
    assert dest.read_text() == "input data"


def test_cache_hit_serves_versioned_name_without_server(tmp_path, monkeypatch,
                                                      sio_filetracker_server):
    """A versioned file once downloaded comes from the local cache, even when
    the server is gone (here: a client of a dead URL sharing the cache)."""
    monkeypatch.setenv("FILETRACKER_DIR", str(tmp_path / "cache"))
    live = ft._make_client(sio_filetracker_server.url)
    with ft.using_instance(live):
        environ = {"f": "/cached/file"}
        vname = ft.upload(environ, "f", _write(tmp_path / "s", "cached"),
                          to_local_store=False)
        ft.download(environ, "f", str(tmp_path / "one"))  # fills the cache
    dead = ft._make_client(f"http://127.0.0.1:{free_port()}")
    with ft.using_instance(dead):
        out = ft.download({"f": vname}, "f", str(tmp_path / "two"))
        assert open(out).read() == "cached"
        with pytest.raises(ft.FiletrackerFailure):  # unversioned: must ask the server
            ft.download({"f": "/cached/file"}, "f", str(tmp_path / "three"))


def test_missing_file_names_path_and_url(sio_filetracker, tmp_path):
    with pytest.raises(ft.FiletrackerFailure) as info:
        ft.download({"f": "/no/such/file"}, "f", str(tmp_path / "x"))
    message = str(info.value)
    assert "/no/such/file" in message and ft.client_url() in message
    assert "404" in message and "\n" not in message


def test_dead_server_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("FILETRACKER_DIR", str(tmp_path / "cache"))
    url = f"http://127.0.0.1:{free_port()}"
    with ft.using_instance(ft.init_instance(url)):
        start = time.monotonic()
        with pytest.raises(ft.FiletrackerFailure) as info:
            ft.download({"f": "/x/y"}, "f", str(tmp_path / "y"))
        assert "/x/y" in str(info.value) and url in str(info.value)
        assert "unreachable" in str(info.value)
        with pytest.raises(ft.FiletrackerFailure):
            ft.upload({"f": "/x/y"}, "f", _write(tmp_path / "z", "z"))
        assert time.monotonic() - start < 30  # generous: only "no hang"


def test_init_instance_caches_per_url():
    a = ft.init_instance("http://127.0.0.1:1/")
    assert ft.init_instance("http://127.0.0.1:1") is a
    assert ft.init_instance("http://127.0.0.1:2") is not a
    with ft.using_instance(a):
        assert ft.instance() is a
    assert ft.instance() is not a


def test_local_mode_is_relative_to_caller_dir(tmp_path, monkeypatch):
    """use_filetracker False: paths are local, relative to the directory
    run() was called from, while the job runs in its own directory."""
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "input.txt", "local input")
    with jobdir._job_directory() as job_dir:
        environ = {"use_filetracker": False, "in": "input.txt", "out": "results/out.txt"}
        path = ft.download(environ, "in", "copy.txt")
        assert os.path.join(job_dir, path) == os.path.join(os.getcwd(), "copy.txt")
        assert open(path).read() == "local input"
        _write("produced", "output")
        assert ft.upload(environ, "out", "produced") == "results/out.txt"
        assert environ["out"] == "results/out.txt"
        with pytest.raises(ft.FiletrackerFailure, match="missing.txt"):
            ft.download({"use_filetracker": False, "f": "missing.txt"}, "f")
    assert (tmp_path / "results" / "out.txt").read_text() == "output"


def test_auto_mode(sio_filetracker, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "rel.txt", "relative")
    environ = {"use_filetracker": "auto", "a": "/auto/abs.txt", "r": "rel.txt"}
    vname = ft.upload(environ, "a", "rel.txt")  # absolute → filetracker
    assert "@" in vname and environ["a"] == vname
    os.mkdir("sub")
    assert open(ft.download(environ, "r", "sub/")).read() == "relative"  # local
    assert open(ft.download(environ, "a", "sub/")).read() == "relative"
    assert os.path.exists("sub/abs.txt")


def test_runner_turns_missing_file_into_failure(sio_filetracker_server, plugin_with_ft_job,
                                                tmp_path, monkeypatch):
    monkeypatch.setenv("FILETRACKER_DIR", str(tmp_path / "cache"))
    environ = runner.run({"job_type": "ft-fetch", "filetracker_url": sio_filetracker_server.url,
                          "in_file": "/does/not/exist"})
    assert environ["result"] == "FAILURE"
    assert "/does/not/exist" in environ["exception"]
    assert sio_filetracker_server.url in environ["exception"]


@pytest.fixture
def plugin_with_ft_job(tmp_path, monkeypatch):
    (tmp_path / "sio_ft_test_job.py").write_text(
        "from sio.workers import ft\n"
        "def run(environ):\n"
        "    ft.download(environ, 'in_file', 'in')\n"
        "    return environ\n"
    )
    info = tmp_path / "sio_ft_test_job-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sio-ft-test-job\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[sio.jobs]\nft-fetch = sio_ft_test_job:run\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("sio_ft_test_job", None)


def test_launch_filetracker_server(tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("FILETRACKER_PUBLIC_URL", url)
    monkeypatch.setenv("FILETRACKER_SERVER_DIR", str(tmp_path / "srv"))
    server = ft.launch_filetracker_server()
    assert server is not None
    try:
        assert ft._answers(url)
        assert ft.launch_filetracker_server() is None  # already running
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable),
                                            "sio-run-filetracker")],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "already answers" in proc.stdout
    finally:
        server.stop()
    assert server.process.poll() is not None
    assert not ft._answers(url)
    assert (tmp_path / "srv" / "server.log").exists()


def test_launch_without_url_does_nothing(monkeypatch):
    monkeypatch.delenv("FILETRACKER_PUBLIC_URL", raising=False)
    assert ft.launch_filetracker_server() is None
