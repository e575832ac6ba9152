"""The ``sio-batch`` command (docs/contracts.rst §2)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

SIO_BATCH = shutil.which("sio-batch", path=os.path.dirname(sys.executable)) or "sio-batch"


def batch(environ_text, *args, extra_env=None, pythonpath=None):
    env = dict(os.environ)
    env.pop("prefilters", None)
    env.pop("postfilters", None)
    if environ_text is None:
        env.pop("environ", None)
    else:
        env["environ"] = environ_text
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env.update(extra_env or {})
    return subprocess.run(
        [SIO_BATCH, *args], env=env, capture_output=True, text=True, timeout=60
    )


def parse(stdout: str) -> dict:
    lines = stdout.splitlines()
    assert lines[0] == "--- BEGIN ENVIRON ---"
    assert lines[2] == "--- END ENVIRON ---"
    assert len(lines) == 3
    return json.loads(lines[1])


def test_ping_output_format():
    proc = batch(json.dumps({"job_type": "ping", "ping": "zażółć"}))
    assert proc.returncode == 0
    env = parse(proc.stdout)
    assert env["pong"] == "zażółć" and env["result"] == "SUCCESS"


def test_argument_overrides_job_type():
    proc = batch(json.dumps({"job_type": "nope", "ping": 3}), "ping")
    assert parse(proc.stdout)["pong"] == 3


def test_double_encoded_json():
    proc = batch(json.dumps(json.dumps({"job_type": "ping", "ping": [1]})))
    assert parse(proc.stdout)["pong"] == [1]


def test_failure_still_printed_with_exit_zero():
    proc = batch(json.dumps({"job_type": "nope"}))
    assert proc.returncode == 0
    assert parse(proc.stdout)["result"] == "FAILURE"


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"42"', "", None])
def test_garbage_input(text):
    proc = batch(text)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("sio-batch: ")


def test_filters_from_environment(plugin_dir):
    proc = batch(
        json.dumps({"job_type": "echo", "prefilters": ["pre_a"]}),
        extra_env={"prefilters": "pre_b", "postfilters": "post_a"},
        pythonpath=str(plugin_dir),
    )
    env = parse(proc.stdout)
    assert env["trace"] == ["pre_a", "pre_b", "post_a"]


def test_debug_logs_to_stderr():
    proc = batch(json.dumps({"job_type": "ping", "ping": 1, "debug": True}))
    assert parse(proc.stdout)["pong"] == 1
    assert "running job ping" in proc.stderr
