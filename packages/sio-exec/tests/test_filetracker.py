"""An exec job with files in a real filetracker server."""

from __future__ import annotations

import socket

import pytest

from sio.workers import ft, runner


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def filetracker(tmp_path, monkeypatch):
    """A filetracker server on 127.0.0.1 (stopped afterwards) and its URL;
    the client cache lives under tmp_path."""
    monkeypatch.setenv("FILETRACKER_DIR", str(tmp_path / "cache"))
    url = f"http://127.0.0.1:{_free_port()}"
    server = ft.start_filetracker_server(url, str(tmp_path / "store"), workers=1)
    try:
        yield url
    finally:
        server.stop()


def test_exec_with_filetracker_and_out_file_upload(filetracker, program, tmp_path):
    (tmp_path / "in").write_bytes(b"20 22\n")
    (tmp_path / "hint").write_bytes(b"42\n")
    with ft.using_instance(ft.init_instance(filetracker)):
        refs: dict = {}
        ft.upload(refs, "exe", program("sum"), "/exe/sum")
        ft.upload(refs, "in", str(tmp_path / "in"), "/tests/1.in")
        ft.upload(refs, "hint", str(tmp_path / "hint"), "/tests/1.out")
    env = runner.run({
        "job_type": "exec",
        "filetracker_url": filetracker,
        "exe_file": refs["exe"],
        "in_file": refs["in"],
        "hint_file": refs["hint"],
        "check_output": True,
        "out_file": "/outputs/1.out",
        "upload_out": True,
    })
    assert env["result"] == "SUCCESS", env.get("exception")
    assert env["result_code"] == "OK"
    assert env["out_file"].startswith("/outputs/1.out@")
    with ft.using_instance(ft.init_instance(filetracker)):
        got = ft.download({"f": env["out_file"]}, "f", str(tmp_path / "got"))
    assert open(got, "rb").read() == b"42\n"


def test_missing_remote_file_is_a_failure(filetracker, program):
    env = runner.run({
        "job_type": "exec",
        "filetracker_url": filetracker,
        "exe_file": "/exe/none",
        "in_file": "/tests/none.in",
    })
    assert env["result"] == "FAILURE"
    assert "/tests/none.in" in env["exception"] or "/exe/none" in env["exception"]


def test_cached_inputs_survive_programs_and_checkers(filetracker, program, tmp_path):
    """In and hint may stay hard links into the client's cache: neither a
    program nor a (trusted, unprotected) checker writing to its files may
    change what the cache holds."""
    (tmp_path / "in").write_bytes(b"20 22\n")
    (tmp_path / "hint").write_bytes(b"42\n")
    with ft.using_instance(ft.init_instance(filetracker)):
        refs: dict = {}
        ft.upload(refs, "sum", program("sum"), "/exe/sum")
        ft.upload(refs, "scribble", program("scribble"), "/exe/scribble")
        ft.upload(refs, "in", str(tmp_path / "in"), "/tests/1.in")
        ft.upload(refs, "hint", str(tmp_path / "hint"), "/tests/1.out")

    def job(exe: str, **keys) -> dict:
        env = runner.run({
            "job_type": "exec", "filetracker_url": filetracker, "exe_file": refs[exe],
            "in_file": refs["in"], "hint_file": refs["hint"], "check_output": True, **keys,
        })
        assert env["result"] == "SUCCESS", env.get("exception")
        return env

    assert job("sum")["result_code"] == "OK"  # fills the cache
    assert job("sum", chk_file=refs["scribble"])["result_code"] == "OK"
    assert job("scribble")["result_code"] == "RV"
    env = job("sum")
    assert (env["result_code"], env["result_string"]) == ("OK", "ok")
    cached = {p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file()}
    assert {b"20 22\n", b"42\n"} <= cached and b"9 9\n" not in cached
