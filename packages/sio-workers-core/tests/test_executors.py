"""Tests of sio.workers.executors: Unprotected, DetailedUnprotected, Sandbox."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from sio.workers.executors import (
    DetailedUnprotectedExecutor,
    ExecError,
    SandboxExecutor,
    UnprotectedExecutor,
    noquote,
)
from sio.workers.executors.base import normalize_command, resolve_limits, shell_join

PROGRAMS = Path(__file__).parent / "programs"


@pytest.fixture
def prog(build_c):
    return lambda name: str(build_c(PROGRAMS / f"{name}.c"))


def run(command, **kw):
    with UnprotectedExecutor() as ex:
        return ex(command, **kw)


def detailed(command, **kw):
    with DetailedUnprotectedExecutor() as ex:
        return ex(command, **kw)


def test_quoting_and_noquote():
    assert shell_join(["echo", "a b", noquote("$X"), "$X"]) == "echo 'a b' $X '$X'"
    assert normalize_command("echo $X") == ["echo $X"]
    assert isinstance(normalize_command("x")[0], noquote)
    out = run(["echo", "a  b", noquote("$X"), "$X"], env={"X": 5}, capture_output=True)
    assert out["stdout"] == b"a  b 5 $X\n"
    out = run("echo $X | tr 5 6", env={"X": 5}, capture_output=True)
    assert out["stdout"] == b"6\n"


def test_locale_and_env():
    out = run("echo $LC_ALL $LANGUAGE $FOO", env={"FOO": 1.5}, capture_output=True)
    assert out["stdout"] == b"en_US.UTF-8 en_US.UTF-8 1.5\n"


def test_capture_split_forward(tmp_path):
    renv = run("printf 'a\\nb\\n'; echo err >&2", capture_output=True, split_lines=True)
    assert renv["stdout"] == [b"a", b"b"] and renv["return_code"] == 0
    assert isinstance(renv["real_time_used"], int)
    renv = run("echo out; echo err >&2", capture_output=True, forward_stderr=True)
    assert sorted(renv["stdout"].split()) == [b"err", b"out"]
    with open(tmp_path / "o", "w") as out, open(tmp_path / "e", "w") as err:
        run("echo out; echo err >&2", stdout=out, stderr=err)
    assert (tmp_path / "o").read_text() == "out\n"
    assert (tmp_path / "e").read_text() == "err\n"
    sink = io.StringIO()
    run("echo via-pipe", stdout=sink)
    assert sink.getvalue() == "via-pipe\n"
    (tmp_path / "in").write_text("from stdin\n")
    with open(tmp_path / "in") as fin:
        assert run(["cat"], stdin=fin, capture_output=True)["stdout"] == b"from stdin\n"


def test_output_limit_truncates():
    renv = run("head -c 100000 /dev/zero", capture_output=True, output_limit=1000)
    assert renv["stdout"] == b"\0" * 1000 and renv["return_code"] == 0


def test_ignore_errors():
    with pytest.raises(ExecError) as info:
        run("exit 3")
    assert info.value.return_code == 3 and info.value.command == ["exit 3"]
    assert run("exit 3", ignore_errors=True)["return_code"] == 3
    assert run("exit 3", extra_ignore_errors=(3,))["return_code"] == 3
    with pytest.raises(ExecError):
        run("exit 4", extra_ignore_errors=(3,))


def test_wall_limit_kills_sleeper():
    renv = run(["sleep", "30"], real_time_limit=300, ignore_errors=True)
    assert renv["real_time_killed"] is True
    assert renv["return_code"] == -9
    assert renv["real_time_used"] < 10000


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _running(exe: str) -> list[int]:
    """Live processes (host pids) running the binary ``exe``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/exe") == exe and _alive(int(entry)):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_wall_limit_kills_forked_children(prog, tmp_path):
    pids_file = tmp_path / "pids"
    exe = prog("exec_forker")
    with open(pids_file, "w") as out:
        renv = run([exe, "3"], stdout=out, real_time_limit=500, ignore_errors=True)
    assert renv["real_time_killed"]
    # the pids the program saw (its own pid namespace's, where there is one)
    assert len(pids_file.read_text().split()) == 3
    # gone when the run returns: the reaper kills and reaps the whole run first
    assert _running(os.path.realpath(exe)) == []


def test_children_left_behind_are_killed_when_the_command_ends(prog, tmp_path):
    exe = prog("exec_forker")
    script = f"{exe} 2 > /dev/null & {exe} 1 > /dev/null & setsid sleep 60 & echo started"
    renv = run(script, capture_output=True, real_time_limit=20000)
    assert renv["return_code"] == 0 and renv["stdout"] == b"started\n"
    assert "real_time_killed" not in renv
    assert renv["real_time_used"] < 10000
    assert _running(os.path.realpath(exe)) == []


def test_time_limit_sets_default_wall_limit():
    renv = run(["sleep", "30"], time_limit=200, ignore_errors=True)
    assert renv["real_time_killed"] is True


def test_flood_stderr_while_capturing_stdout(prog):
    collected = io.BytesIO()
    renv = run([prog("exec_flood_stderr")], capture_output=True, stderr=collected,
               real_time_limit=60000)
    assert renv["stdout"] == b"done\n"
    assert len(collected.getvalue()) >= 100000000
    renv = run([prog("exec_flood_stderr")], capture_output=True, forward_stderr=True,
               output_limit=10, real_time_limit=60000)
    assert renv["stdout"] == b"e" * 10 and renv["return_code"] == 0


def test_limits_from_environ():
    environ = {"exec_time_limit": 100, "exec_real_time_limit": None, "exec_mem_limit": "2048"}
    limits = resolve_limits({"time_limit": 5000, "real_time_limit": 7}, environ, "exec_")
    assert limits == {"time_limit": 100, "real_time_limit": None, "mem_limit": 2048,
                      "output_limit": None}
    renv = run("sleep 0.2", environ={"x_real_time_limit": 50}, environ_prefix="x_",
               real_time_limit=60000, ignore_errors=True)
    assert renv.get("real_time_killed") is True
    renv = run("sleep 0.2", environ={"x_real_time_limit": None}, environ_prefix="x_",
               real_time_limit=50)
    assert "real_time_killed" not in renv and renv["return_code"] == 0


def test_mem_limit_is_an_rlimit(prog):
    renv = run([prog("exec_alloc30")], mem_limit=16 * 1024, ignore_errors=True)
    assert renv["return_code"] == 3
    assert run([prog("exec_alloc30")], mem_limit=256 * 1024)["return_code"] == 0


def test_signals_are_reset_in_child():
    renv = run("grep -E '^Sig(Ign|Blk)' /proc/self/status", capture_output=True)
    masks = dict(line.split(b":\t") for line in renv["stdout"].splitlines())
    standard = (1 << 31) - 1  # signals 1..31 (SIGPIPE, SIGXFSZ, ...)
    assert int(masks[b"SigIgn"], 16) & standard == 0
    assert int(masks[b"SigBlk"], 16) & standard == 0


def test_bad_inputs(tmp_path):
    with pytest.raises(ExecError, match="not found"):
        run(["/nonexistent/program"])
    script = tmp_path / "noexec"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(ExecError, match="not executable"):
        run([str(script)])
    closed = open(os.devnull)
    closed.close()
    with pytest.raises(ExecError, match="stdin is closed"):
        run(["true"], stdin=closed)
    with open(tmp_path / "ro", "w"):
        pass
    with open(tmp_path / "ro") as readonly, pytest.raises(ExecError, match="stdout is not"):
        run(["true"], stdout=readonly)
    with pytest.raises(ExecError, match="empty"):
        run([])
    renv = detailed(["/nonexistent/program"])
    assert renv["result_code"] == "RE" and renv["return_code"] == 127


def test_detailed_verdicts(prog):
    renv = detailed([prog("exec_exit42")])
    assert (renv["result_code"], renv["result_string"]) == ("RE", "program exited with code 42")
    assert renv["exit_signal"] is None and renv["return_code"] == 42
    renv = detailed([prog("exec_segv")])
    assert (renv["result_code"], renv["result_string"]) == ("RE", "program exited due to signal 11")
    assert renv["exit_signal"] == 11
    renv = detailed([prog("exec_fpe")])
    assert renv["result_string"] == "program exited due to signal 8"
    renv = detailed([prog("exec_busy")], time_limit=300)
    assert renv["result_code"] == "TLE" and renv["time_used"] > 0
    renv = detailed(["true"])
    assert (renv["result_code"], renv["result_string"]) == ("OK", "ok")
    assert renv["num_syscalls"] == 0 and set(renv["measurement"]) == {"time", "memory"}


def test_detailed_time_matches_rusage(prog):
    renv = detailed([prog("exec_cpu1s")], capture_output=True)
    own_ms = int(renv["stdout"]) / 1000
    assert renv["result_code"] == "OK"
    assert abs(renv["time_used"] - own_ms) <= 10


def test_detailed_memory(prog):
    renv = detailed([prog("exec_alloc30")])
    assert renv["result_code"] == "OK"
    assert renv["measurement"]["memory"] == "rusage-maxrss"
    # the program's own peak: 30 MiB and its libc, not the worker's ~20 MiB more
    assert 30 * 1024 <= renv["mem_used"] < 34 * 1024


def test_detailed_memory_of_a_small_program_is_small(prog):
    renv = detailed([prog("exec_exit42")])
    assert renv["result_code"] == "RE" and renv["return_code"] == 42
    assert renv["mem_used"] < 4 * 1024


def test_detailed_wall_limit_kills_background_children_and_reports(tmp_path):
    start = time.monotonic()
    renv = detailed("sleep 30 & exec sleep 20", real_time_limit=300)
    assert time.monotonic() - start < 5
    assert renv["result_code"] == "TLE" and renv["real_time_killed"] is True
    assert renv["exit_signal"] == 9 and renv["measurement"]["memory"] == "rusage-maxrss"


class DirSandbox:
    """A sandbox prepared by the test: a directory with bin/ and lib/."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.entered = 0

    def __enter__(self):
        self.entered += 1
        return self

    def __exit__(self, *exc):
        self.entered -= 1


def test_sandbox_executor(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib").mkdir()
    tool = tmp_path / "bin" / "tool"
    tool.write_text('#!/bin/sh\necho "tool $1 $LD_LIBRARY_PATH"\n')
    tool.chmod(0o755)
    sandbox = DirSandbox(tmp_path)
    with SandboxExecutor(sandbox) as ex:
        assert sandbox.entered == 1 and ex.path == str(tmp_path) == ex.rpath
        renv = ex(["bin/tool", "x"], capture_output=True, env={"LD_LIBRARY_PATH": "/q"})
        assert renv["stdout"] == f"tool x {tmp_path}/lib:/q\n".encode()
        renv = ex("tool y", capture_output=True, env={"PATH": "/usr/bin:/bin"})
        assert renv["stdout"].startswith(b"tool y")
    assert sandbox.entered == 0


def test_detailed_command_hiding_in_the_reapers_group_still_ends_tle(tmp_path):
    # The command moves itself into the reaper's process group, out of reach
    # of a kill of its own group: the reaper kills the whole run at the wall
    # limit anyway, and reports the command's own figures.
    script = "import os, time; os.setpgid(0, os.getsid(0)); time.sleep(30)"
    start = time.monotonic()
    renv = detailed(["python3", "-c", script], real_time_limit=300)
    assert time.monotonic() - start < 5
    assert renv["result_code"] == "TLE" and renv["real_time_killed"] is True
    assert renv["measurement"]["memory"] == "rusage-maxrss"
