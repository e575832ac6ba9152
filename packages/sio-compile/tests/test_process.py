"""The compiler process runner: argv without a shell, wall-clock kill of the
whole tree, output capped and floods stopped."""

from __future__ import annotations

import os
import sys
import time

import pytest

from sio.compilers.process import FLOOD_MINIMUM, run_limited

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def _run(argv, **kw):
    opts = {"cwd": "/", "env": ENV, "time_limit": 10000, "real_time_limit": 10000,
            "mem_limit": None, "output_limit": 5120}
    opts.update(kw)
    return run_limited(argv, **opts)


def test_arguments_are_not_interpreted_by_a_shell(tmp_path):
    result = _run(["echo", "$(touch PWNED)", "`id`", ";", "rm -rf ~"], cwd=tmp_path)
    assert result.ok
    assert result.output == b"$(touch PWNED) `id` ; rm -rf ~\n"
    assert not (tmp_path / "PWNED").exists()


def _running(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_wall_limit_kills_the_whole_tree():
    marker = f"{60 + os.getpid() % 1000 / 1000:.3f}"  # a sleep only this test runs
    script = f"sleep {marker} & (setsid sleep {marker} &); wait"
    start = time.monotonic()
    result = _run(["/bin/sh", "-c", script], real_time_limit=500)
    assert result.killed == "real_time"
    assert time.monotonic() - start < 30
    assert _running(marker) == []


def test_a_missing_compiler_is_an_error_not_a_verdict(tmp_path):
    with pytest.raises(FileNotFoundError):
        _run(["no-such-compiler-anywhere"])
    with pytest.raises(FileNotFoundError):
        _run(["./missing"], cwd=tmp_path)
    (tmp_path / "plain").write_text("not a program")
    with pytest.raises(PermissionError):
        _run(["./plain"], cwd=tmp_path)


def test_runs_in_the_given_directory(tmp_path):
    result = _run(["pwd"], cwd=tmp_path)
    assert result.ok and result.output == f"{tmp_path}\n".encode()


def test_output_is_capped_and_a_flood_stopped():
    code = "import sys\nwhile True: sys.stdout.write('w' * 4096)"
    result = _run([sys.executable, "-c", code], output_limit=100)
    assert result.killed == "output"
    assert result.output == b"w" * 100
    assert result.output_size > FLOOD_MINIMUM


def test_cpu_and_memory_limits():
    result = _run([sys.executable, "-c", "while True: pass"], time_limit=1000)
    assert result.return_code in (-24, -9)  # SIGXCPU, then SIGKILL at the hard limit
    result = _run([sys.executable, "-c", "x = bytearray(512 << 20)"], mem_limit=200 * 1024)
    assert result.return_code != 0 and b"MemoryError" in result.output
