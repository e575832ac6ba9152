"""sio-doctor: what this machine supports, and its exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sio.workers import doctor
from sio.workers.vcpu.perf import probe as perf_probe

DOCTOR = [sys.executable, "-m", "sio.workers.doctor"]


def _run(*args, env=None):
    return subprocess.run([*DOCTOR, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_report_names_every_facility_and_passes_for_supervised():
    proc = _run("--executors", "supervised,unprotected", "--build")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for head in ("namespaces:", "cgroups:", "seccomp:", "perf instruction counter:",
                 "proot:", "qemu-user:", "compilers:", "launcher: built=yes",
                 "reaper.c: built=yes", " * supervised: can run",
                 "stale-state sweep: would clear"):
        assert head in proc.stdout, head
    assert "launcher_main.c:" not in proc.stdout  # the launcher has its own line, once


def test_json_report_matches_the_machine():
    proc = _run("--json", "--executors", "unprotected")
    report = json.loads(proc.stdout)
    assert report["executors"]["unprotected"]["ok"] is True
    assert report["cgroups"]["version"] in ("v1", "v2")
    assert report["perf"]["instructions"] == perf_probe()[0]


def test_unknown_executor_is_a_usage_error():
    proc = _run("--executors", "teleport")
    assert proc.returncode == 2 and "unknown executor" in proc.stderr


def test_vcpu_needs_a_counter_the_machine_has():
    perf = _run("--executors", "vcpu", env={"SIO_INSTRUCTION_COUNTER": "perf"})
    qemu = _run("--executors", "vcpu", env={"SIO_INSTRUCTION_COUNTER": "qemu"})
    assert qemu.returncode == 0, qemu.stdout
    if perf_probe()[0]:
        assert perf.returncode == 0
    else:
        assert perf.returncode == 1 and "vcpu: CANNOT run" in perf.stdout
        assert "qemu" in perf.stdout  # it says how to fix it


def test_configured_executors_default_and_list(monkeypatch):
    monkeypatch.delenv("SIO_EXECUTORS", raising=False)
    assert doctor.configured_executors(None) == ["supervised"]
    assert doctor.configured_executors("supervised, proot") == ["supervised", "proot"]
