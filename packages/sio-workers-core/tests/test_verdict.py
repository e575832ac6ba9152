"""Unit tests of the verdict function: facts in, (result_code, result_string) out."""

from __future__ import annotations

import signal

import pytest

from sio.workers.supervisor.verdict import Facts, verdict


def exited(code: int) -> int:
    return code << 8


def killed(sig: int) -> int:
    return sig


BASE = dict(time_limit_ms=1000, real_time_limit_ms=65000, mem_limit_kib=65536,
            output_limit=1000, peak_kib=1000, cpu_ms=10)


@pytest.mark.parametrize("facts,expected", [
    (dict(wait_status=exited(0)), ("OK", "ok")),
    (dict(wait_status=exited(42)), ("RE", "program exited with code 42")),
    (dict(wait_status=exited(42), ignore_return=True), ("OK", "ok")),
    (dict(wait_status=killed(11)), ("RE", "program exited due to signal 11")),
    (dict(wait_status=killed(11), ignore_return=True), ("RE", "program exited due to signal 11")),
    (dict(wait_status=killed(signal.SIGXFSZ)), ("OLE", "output limit exceeded")),
    (dict(wait_status=exited(0), output_bytes=1001), ("OLE", "output limit exceeded")),
    (dict(wait_status=exited(0), output_bytes=1000), ("OK", "ok")),
    (dict(wait_status=killed(9), oom_kills=1), ("MLE", "memory limit exceeded")),
    (dict(wait_status=exited(0), peak_kib=65536), ("MLE", "memory limit exceeded")),
    (dict(wait_status=exited(3), peak_kib=63000), ("MLE", "memory limit exceeded")),
    (dict(wait_status=exited(3), peak_kib=60000), ("RE", "program exited with code 3")),
    (dict(wait_status=exited(0), peak_kib=63000), ("OK", "ok")),
    (dict(killed_for="cpu", cpu_ms=1001), ("TLE", "CPU time limit exceeded")),
    (dict(wait_status=exited(0), cpu_ms=1001), ("TLE", "CPU time limit exceeded")),
    (dict(killed_for="wall", cpu_ms=3), ("TLE", "wall time limit exceeded")),
    (dict(killed_for="wall", peak_kib=64000), ("TLE", "wall time limit exceeded")),
    (dict(violation="socket"), ("RV", "intercepted forbidden syscall socket")),
    (dict(violation="opening files"), ("RV", "opening files")),
    (dict(system_error="launcher: boom", oom_kills=1), ("SE", "launcher: boom")),
    (dict(), ("SE", "the program's exit status is unknown")),
])
def test_verdict(facts, expected):
    assert verdict(Facts(**{**BASE, **facts})) == expected


def test_order_ole_before_mle_before_tle_before_rv():
    f = dict(BASE, wait_status=killed(signal.SIGXFSZ), oom_kills=1, killed_for="cpu",
             violation="socket")
    assert verdict(Facts(**f))[0] == "OLE"
    f.update(wait_status=killed(9))
    assert verdict(Facts(**f))[0] == "MLE"
    f.update(oom_kills=0)
    assert verdict(Facts(**f))[0] == "TLE"
    f.update(killed_for=None, cpu_ms=1)
    assert verdict(Facts(**f))[0] == "RV"
