"""The judging demo (scripts/demo.py) end to end on the embedded broker."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest


def test_demo_judges_the_example_problem(repo_root):
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    if importlib.util.find_spec("sio.executors.exec_jobs") is None:
        pytest.skip("sio-exec is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    proc = subprocess.run(
        [sys.executable, str(repo_root / "scripts" / "demo.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=280,
        cwd=repo_root,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{proc.stderr}"
    rows = {line.split()[0]: line.split() for line in out.splitlines() if ".cpp" in line}
    assert rows["sum.cpp"][1::2][:4] == ["OK", "OK", "OK", "OK"]
    assert rows["sum_wa.cpp"][1::2][:4] == ["OK", "OK", "OK", "WA"]
    assert rows["sum_tle.cpp"][1::2][:4] == ["OK", "OK", "TLE", "TLE"]
    assert "all verdicts as expected" in out
    assert "worker stopped" in out
