"""Pure helpers: renv normalisation, limits, exec_info, inwer verdicts."""

from __future__ import annotations

import pytest

from sio.executors import common, inwer
from sio.workers import Failure
from sio.workers.environ import LimitError


def test_normalise_keeps_verdict_and_bounds_string():
    renv = {"result_code": "RE", "result_string": "x" * 5000 + "\x00", "time_used": 12,
            "mem_used": 300, "real_time_used": 20, "return_code": 1}
    out = common.normalise_renv(renv)
    assert out["result_code"] == "RE"
    assert len(out["result_string"].encode()) == 1024
    assert (out["time_used"], out["mem_used"], out["num_syscalls"], out["real_time_used"]) == (
        12, 300, 0, 20)


@pytest.mark.parametrize(
    ("renv", "code", "text"),
    [
        ({"return_code": 0}, "OK", "ok"),
        ({"return_code": 3}, "RE", "program exited with code 3"),
        ({"return_code": -9}, "RE", "program exited due to signal 9"),
        ({}, "SE", "the executor reported no result"),
        ({"result_code": "XYZ", "result_string": "?"}, "SE", "unknown verdict 'XYZ' from the executor: ?"),
    ],
)
def test_normalise_derives_missing_verdicts(renv, code, text):
    out = common.normalise_renv(renv)
    assert (out["result_code"], out["result_string"]) == (code, text)


def test_exec_limits_defaults_and_overrides():
    assert common.exec_limits({}) == {
        "time_limit": 30000, "mem_limit": 65536, "output_limit": 50 * 1024 * 1024}
    limits = common.exec_limits({"exec_time_limit": "1500", "exec_real_time_limit": None,
                                 "exec_mem_limit": 1024.0})
    assert limits == {"time_limit": 1500, "mem_limit": 1024,
                      "output_limit": 50 * 1024 * 1024, "real_time_limit": None}
    with pytest.raises(LimitError, match="exec_output_limit"):
        common.exec_limits({"exec_output_limit": True})


def test_exec_info_forms():
    assert common.program_for(common.exec_info_of({})).command == ["./exe"]
    java = common.program_for(common.exec_info_of(
        {"exec_info": {"mode": "java", "main_class": "a.B", "preferred_filename": "../x/B.jar"}}))
    assert (java.filename, java.command, java.profile) == ("B.jar", ["java", "-cp", "B.jar", "a.B"], "java")
    py = common.program_for(common.exec_info_of({"exec_info": {"mode": "python"}}))
    assert py.command[1:] == ["-I", "prog.pyz"] and py.profile == "python"
    with pytest.raises(Failure, match="main_class"):
        common.exec_info_of({"exec_info": {"mode": "java"}})
    with pytest.raises(Failure, match="object"):
        common.exec_info_of({"exec_info": "executable"})


@pytest.mark.parametrize(
    ("code", "rc", "stdout", "expected"),
    [
        ("OK", 0, ["OK", "fine"], ("OK", "OK")),
        ("OK", 0, ["WRONG"], ("WA", "WRONG")),
        ("RE", 1, ["WRONG", "why"], ("WA", "WRONG")),
        ("RE", 1, [], ("WA", "verifier exited with code 1 without a message")),
        ("RE", 2, ["OK"], ("RE", "run string")),
        ("RE", -11, ["OK"], ("RE", "run string")),
        ("TLE", None, [], ("TLE", "run string")),
    ],
)
def test_inwer_verdicts(code, rc, stdout, expected):
    result = {"result_code": code, "result_string": "run string"}
    assert inwer.verdict(result, rc, stdout) == expected
