"""The machine-wide cpu-exec lock, across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sio.executors import locking

_HOLDER = """
import sys, time
from sio.executors import locking
exclusive = sys.argv[1] == "x"
with locking.job_lock(exclusive):
    print("start", time.monotonic(), flush=True)
    time.sleep(float(sys.argv[2]))
    print("end", time.monotonic(), flush=True)
"""


def _run(tmp_path, plan, hold_s=0.6):
    """Start one holder process per (name, exclusive, delay before the next)."""
    env = dict(os.environ, **{locking.LOCK_ENV: str(tmp_path / "exec.lock")})
    procs = {}
    for name, exclusive, delay in plan:
        procs[name] = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, "x" if exclusive else "s", str(hold_s)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        time.sleep(delay)
    spans = {}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        spans[name] = [float(line.split()[1]) for line in out.splitlines()]
    return spans


def _overlap(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_exclusive_waits_for_shared(tmp_path):
    spans = _run(tmp_path, [("shared", False, 0.4), ("cpu", True, 0)])
    assert not _overlap(spans["shared"], spans["cpu"])


def test_shared_waits_for_exclusive(tmp_path):
    spans = _run(tmp_path, [("cpu", True, 0.4), ("shared", False, 0)])
    assert not _overlap(spans["shared"], spans["cpu"])


def test_two_exclusive_never_overlap(tmp_path):
    spans = _run(tmp_path, [("cpu1", True, 0.4), ("cpu2", True, 0)])
    assert not _overlap(spans["cpu1"], spans["cpu2"])


def test_shared_holders_run_together(tmp_path):
    spans = _run(tmp_path, [("a", False, 0.1), ("b", False, 0)], hold_s=3)
    assert _overlap(spans["a"], spans["b"])


def test_lock_path_is_configurable(tmp_path, monkeypatch):
    monkeypatch.setenv(locking.LOCK_ENV, str(tmp_path / "x.lock"))
    with locking.job_lock(True) as path:
        assert path == str(tmp_path / "x.lock")


def test_the_exclusive_lock_keeps_the_job_directories_thread_quiet(tmp_path, monkeypatch):
    """While cpu-exec holds the lock, no job directory is made ahead and no
    lock closed by this process's thread (sio.workers.jobdir_keeper)."""
    from sio.workers import jobdir

    monkeypatch.setenv(locking.LOCK_ENV, str(tmp_path / "exec.lock"))
    with locking.job_lock(exclusive=True):
        assert jobdir._keeper._quiet == 1
    assert jobdir._keeper._quiet == 0
    with locking.job_lock(exclusive=False):
        assert jobdir._keeper._quiet == 0
