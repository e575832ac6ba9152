"""sio.workers.sandbox: fetching, upgrading, locking and safe extraction."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from sio.workers import ft
from sio.workers import sandbox as sb
from sio.workers.sandbox import common, extract


def make_image(path: Path, name: str, files: dict[str, str]) -> Path:
    """Write ``<name>.tar.gz`` with a folder ``<name>`` holding ``files``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{rel}")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    path.mkdir(parents=True, exist_ok=True)
    out = path / f"{name}.tar.gz"
    out.write_bytes(buf.getvalue())
    return out


def evil_image(path: Path, name: str, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        member.size = len(data) if member.isreg() else 0
        tar.addfile(member, io.BytesIO(data) if member.isreg() else None)
    path.mkdir(parents=True, exist_ok=True)
    out = path / f"{name}.tar.gz"
    out.write_bytes(buf.getvalue())
    return out


class _Server:
    """A static HTTP server on 127.0.0.1 counting GETs per path, able to
    serve a truncated copy of a file a given number of times."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.gets: collections.Counter[str] = collections.Counter()
        self.truncate: dict[str, int] = {}
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.gets[self.path] += 1
                if server.truncate.get(self.path, 0) > 0:
                    server.truncate[self.path] -= 1
                    data = (root / self.path.lstrip("/")).read_bytes()
                    half = data[: len(data) // 2]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(half)))
                    self.end_headers()
                    self.wfile.write(half)
                    return
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolated base dir; no filetracker server (an empty local store)."""
    monkeypatch.setenv("SIO_SANDBOXES_BASEDIR", str(tmp_path / "base"))
    monkeypatch.setenv("FILETRACKER_DIR", str(tmp_path / "ft-local"))
    monkeypatch.delenv("FILETRACKER_URL", raising=False)
    monkeypatch.delenv("SIO_SANDBOXES_CHECK_INTERVAL", raising=False)
    with ft.using_instance(ft._make_client(None)):
        yield tmp_path


@pytest.fixture
def http_images(env, monkeypatch):
    server = _Server(env / "www")
    (env / "www").mkdir(exist_ok=True)
    monkeypatch.setenv("SIO_SANDBOXES_URL", server.url)
    yield server
    server.close()


def _bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, (st.st_atime + 10, st.st_mtime + 10))


def test_from_http_and_upgrade(http_images, env, monkeypatch):
    make_image(env / "www", "tiny", {"version": "1"})
    with sb.get_sandbox("tiny") as sandbox:
        assert sandbox.path == str(env / "base" / "tiny")
        assert Path(sandbox.path, "version").read_text() == "1"
    meta = sb.Sandbox("tiny").metadata()
    digest = hashlib.sha256((env / "www" / "tiny.tar.gz").read_bytes()).hexdigest()
    assert meta["sha256"] == digest and meta["source"].startswith("http:")

    make_image(env / "www", "tiny", {"version": "2"})
    _bump_mtime(env / "www" / "tiny.tar.gz")
    with sb.get_sandbox("tiny") as sandbox:  # checked less than an hour ago
        assert Path(sandbox.path, "version").read_text() == "1"
    monkeypatch.setenv("SIO_SANDBOXES_CHECK_INTERVAL", "0")
    with sb.get_sandbox("tiny") as sandbox:
        assert Path(sandbox.path, "version").read_text() == "2"
    assert http_images.gets["/tiny.tar.gz"] == 2
    with sb.get_sandbox("tiny"):  # same version: checked, not downloaded
        pass
    assert http_images.gets["/tiny.tar.gz"] == 2


def test_from_filetracker_preferred_and_upgraded(sio_filetracker, env, monkeypatch):
    monkeypatch.setenv("SIO_SANDBOXES_URL", (env / "www").as_uri())
    make_image(env / "www", "ftbox", {"from": "url"})
    environ: dict = {}
    ft.upload(environ, "img", str(make_image(env / "ft", "ftbox", {"from": "filetracker"})),
              "/sandboxes/ftbox.tar.gz")
    with sb.get_sandbox("ftbox") as sandbox:
        assert Path(sandbox.path, "from").read_text() == "filetracker"
    assert sb.Sandbox("ftbox").metadata()["source"] == "filetracker:/sandboxes/ftbox.tar.gz"

    time.sleep(1.1)  # filetracker versions are seconds
    ft.upload(environ, "img", str(make_image(env / "ft", "ftbox", {"from": "filetracker 2"})),
              "/sandboxes/ftbox.tar.gz")
    monkeypatch.setenv("SIO_SANDBOXES_CHECK_INTERVAL", "0")
    with sb.get_sandbox("ftbox") as sandbox:
        assert Path(sandbox.path, "from").read_text() == "filetracker 2"


def test_sio_get_sandbox_prints_paths(http_images, env):
    make_image(env / "www", "one", {"a": "1"})
    make_image(env / "www", "two", {"b": "2"})
    exe = os.path.join(os.path.dirname(sys.executable), "sio-get-sandbox")
    proc = subprocess.run([exe, "one", "two"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(env / "base" / "one"), str(env / "base" / "two")]
    proc = subprocess.run([exe, "absent"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "absent" in proc.stderr and http_images.url in proc.stderr


def test_truncated_download_is_fetched_again(http_images, env):
    make_image(env / "www", "trunc", {"ok": "yes"})
    http_images.truncate["/trunc.tar.gz"] = 1
    with sb.get_sandbox("trunc") as sandbox:
        assert Path(sandbox.path, "ok").read_text() == "yes"
    assert http_images.gets["/trunc.tar.gz"] == 2


def test_corrupt_archive_fails_cleanly(http_images, env):
    (env / "www" / "bad.tar.gz").write_bytes(b"\x1f\x8b\x08\x00garbage" * 100)
    with pytest.raises(sb.SandboxError, match="corrupt archive"), sb.get_sandbox("bad"):
        pass
    assert http_images.gets["/bad.tar.gz"] == 2  # tried again once
    assert not (env / "base" / "bad").exists()
    assert sb.Sandbox("bad").metadata() is None
    leftovers = [p.name for p in (env / "base").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_published_sha256_mismatch(http_images, env):
    make_image(env / "www", "summed", {"x": "1"})
    (env / "www" / "summed.tar.gz.sha256").write_text("0" * 64 + "  summed.tar.gz\n")
    with pytest.raises(sb.SandboxError, match="sha256 mismatch"), sb.get_sandbox("summed"):
        pass
    good = hashlib.sha256((env / "www" / "summed.tar.gz").read_bytes()).hexdigest()
    (env / "www" / "summed.tar.gz.sha256").write_text(good + "  summed.tar.gz\n")
    with sb.get_sandbox("summed") as sandbox:
        assert Path(sandbox.path, "x").read_text() == "1"


def _member(name, kind, **attrs):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


@pytest.mark.parametrize("member", [
    _member("evil/../../escaped", tarfile.REGTYPE),
    _member("/abs/escaped", tarfile.REGTYPE),
    _member("other/file", tarfile.REGTYPE),
    _member("evil/passwd", tarfile.SYMTYPE, linkname="/etc/passwd"),
    _member("evil/up", tarfile.SYMTYPE, linkname="../../../../etc"),
    _member("evil/hard", tarfile.LNKTYPE, linkname="/etc/passwd"),
    _member("evil/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
], ids=["dotdot", "absolute", "outside-top", "abs-symlink", "up-symlink", "hardlink",
        "device"])
def test_malicious_archive_refused(http_images, env, member):
    evil_image(env / "www", "evil", member, b"pwned")
    with pytest.raises(sb.SandboxError, match="unsafe|outside|corrupt"), sb.get_sandbox("evil"):
        pass
    assert not (env / "base" / "evil").exists()
    assert not (env / "escaped").exists() and not Path("/abs/escaped").exists()
    for path in env.rglob("*"):
        if path.is_file() and "www" not in path.parts:
            assert path.read_bytes() != b"pwned" or path.name.endswith(".tar.gz")


def test_relative_links_inside_are_kept(http_images, env):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, kind, extra in [("ok", tarfile.DIRTYPE, {}), ("ok/bin", tarfile.DIRTYPE, {}),
                                  ("ok/bin/sh", tarfile.SYMTYPE, {"linkname": "dash"})]:
            tar.addfile(_member(name, kind, mode=0o755, **extra))
    (env / "www" / "ok.tar.gz").write_bytes(buf.getvalue())
    with sb.get_sandbox("ok") as sandbox:
        assert os.readlink(os.path.join(sandbox.path, "bin/sh")) == "dash"


def test_invalid_names():
    for name in ["../x", "a/b", "", ".hidden", "x/../y"]:
        with pytest.raises(ValueError):
            sb.get_sandbox(name)


def test_not_found_names_both_places(env, monkeypatch):
    monkeypatch.delenv("SIO_SANDBOXES_URL", raising=False)
    with pytest.raises(sb.SandboxError) as info, sb.get_sandbox("nowhere"):
        pass
    assert "/sandboxes/nowhere.tar.gz" in str(info.value)
    assert "SIO_SANDBOXES_URL" in str(info.value)


def test_in_use_sandbox_is_not_upgraded_in_process(http_images, env, monkeypatch):
    make_image(env / "www", "busy", {"v": "1"})
    monkeypatch.setenv("SIO_SANDBOXES_CHECK_INTERVAL", "0")
    with sb.get_sandbox("busy") as outer:
        make_image(env / "www", "busy", {"v": "2"})
        _bump_mtime(env / "www" / "busy.tar.gz")
        with sb.Sandbox("busy") as inner:  # a second object: no deadlock
            assert Path(inner.path, "v").read_text() == "1"
        assert Path(outer.path, "v").read_text() == "1"
    with sb.get_sandbox("busy") as again:
        assert Path(again.path, "v").read_text() == "2"


def test_threads_first_use_one_download(http_images, env):
    make_image(env / "www", "threads", {"t": "x"})
    results, errors = [], []

    def use():
        try:
            with sb.Sandbox("threads") as s:
                results.append(Path(s.path, "t").read_text())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == [] and results == ["x"] * 6
    assert http_images.gets["/threads.tar.gz"] == 1


_CHILD = """
import sys
from sio.workers.sandbox import get_sandbox
with get_sandbox(sys.argv[1]) as s:
    print(s.path, open(s.path + "/data").read())
"""


def test_concurrent_first_use_from_8_processes(http_images, env):
    make_image(env / "www", "crowd", {"data": "z" * 200_000})
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, "crowd"], env=dict(os.environ),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(8)]
    outs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
        assert out.split() == [str(env / "base" / "crowd"), "z" * 200_000]
    assert http_images.gets["/crowd.tar.gz"] == 1


_HOLDER = """
import sys, time
from sio.workers.sandbox import get_sandbox
with get_sandbox("held") as s:
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_upgrade_waits_for_other_processes(http_images, env, monkeypatch):
    make_image(env / "www", "held", {"v": "1"})
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert holder.stdout.readline().strip() == "holding"
        make_image(env / "www", "held", {"v": "2"})
        _bump_mtime(env / "www" / "held.tar.gz")
        monkeypatch.setenv("SIO_SANDBOXES_CHECK_INTERVAL", "0")
        done = threading.Event()
        seen = []

        def upgrade():
            with sb.get_sandbox("held") as s:
                seen.append(Path(s.path, "v").read_text())
            done.set()

        worker = threading.Thread(target=upgrade)
        worker.start()
        assert not done.wait(1.5)  # blocked by the holder's shared lock
        assert Path(env / "base" / "held" / "v").read_text() == "1"
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(60) == 0
        worker.join(60)
        assert seen == ["2"]
    finally:
        with contextlib.suppress(Exception):
            holder.kill()
            holder.wait()


def test_metadata_file(http_images, env):
    make_image(env / "www", "meta", {"m": "1"})
    with sb.get_sandbox("meta"):
        pass
    meta = json.loads((env / "base" / ".meta.json").read_text())
    assert set(meta) >= {"source", "version", "sha256", "installed_at", "checked_at"}


def test_progress_is_quiet_without_terminal(capsys):
    bar = common._progress(10, "x")
    bar.update(5)
    bar.close()
    assert capsys.readouterr().err == ""


def test_damaged_install_is_reinstalled(http_images, env):
    make_image(env / "www", "fragile", {"f": "1"})
    with sb.get_sandbox("fragile") as sandbox:
        path = Path(sandbox.path)
    extract._rmtree(str(path))  # e.g. removed by hand or a crash mid-swap
    with sb.get_sandbox("fragile") as sandbox:
        assert Path(sandbox.path, "f").read_text() == "1"
    assert http_images.gets["/fragile.tar.gz"] == 2


def test_corrupt_archive_in_filetracker(sio_filetracker, env, monkeypatch):
    monkeypatch.delenv("SIO_SANDBOXES_URL", raising=False)
    good = make_image(env / "ft", "junk", {"a": "b"}).read_bytes()
    (env / "junk.tar.gz").write_bytes(good[: len(good) // 2])
    ft.upload({}, "img", str(env / "junk.tar.gz"), "/sandboxes/junk.tar.gz")
    with pytest.raises(sb.SandboxError, match="corrupt archive"), sb.get_sandbox("junk"):
        pass
    assert sb.Sandbox("junk").metadata() is None
