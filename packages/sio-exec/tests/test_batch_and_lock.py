"""The jobs through sio-batch, and cpu-exec's exclusivity across processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

from sio.executors import locking
from sio.workers import runner


def _batch(environ: dict, cwd) -> dict:
    exe = shutil.which("sio-batch") or os.path.join(os.path.dirname(sys.executable), "sio-batch")
    proc = subprocess.run(
        [exe],
        env=dict(os.environ, environ=json.dumps(environ)),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == runner.BEGIN_MARKER and lines[2] == runner.END_MARKER
    return json.loads(lines[1])


def test_exec_through_sio_batch(program, tmp_path):
    (tmp_path / "in").write_bytes(b"2 2\n")
    (tmp_path / "hint").write_bytes(b"4\n")
    base = {"use_filetracker": False, "in_file": "in", "hint_file": "hint", "check_output": True}
    env = _batch({"job_type": "exec", "exe_file": program("sum"), **base}, tmp_path)
    assert env["result_code"] == "OK", env
    env = _batch({"job_type": "exec", "exe_file": program("sum_wrong"), **base}, tmp_path)
    assert env["result_code"] == "WA"
    env = _batch({"job_type": "cpu-exec", "exe_file": program("spin"), **base,
                  "exec_time_limit": 200}, tmp_path)
    assert env["result_code"] == "TLE"


def test_ingen_inwer_through_sio_batch(program, tmp_path, unprotected):
    env = _batch({"job_type": "ingen", "use_filetracker": False, "exe_file": program("ingen"),
                  "re_string": r"gen1\.in", "collected_files_path": "tests"}, tmp_path)
    assert env["collected_files"] == {"gen1.in": "tests/gen1.in"}
    env = _batch({"job_type": "inwer", "use_filetracker": False, "exe_file": program("inwer"),
                  "in_file": "tests/gen1.in"}, tmp_path)
    assert env["result_code"] == "OK", env


_HOLDER = """
import sys, time
from sio.executors import locking
with locking.job_lock(False):
    print("locked", flush=True)
    time.sleep(float(sys.argv[1]))
    print(time.monotonic(), flush=True)
"""


def test_cpu_exec_waits_for_other_jobs(job, program):
    """A job of another process holds the shared lock; cpu-exec starts only
    after it is released."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, "1.5"], stdout=subprocess.PIPE, text=True,
        env=dict(os.environ),
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        env = job("cpu-exec", {"exe_file": program("sum"), "in_file": b"1 1\n"})
        finished = time.monotonic()
        released = float(holder.stdout.readline())
    finally:
        holder.wait(30)
    assert env["result_code"] == "OK", env.get("exception")
    assert finished > released
    assert os.path.exists(locking.lock_path())
