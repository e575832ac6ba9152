"""Custom checkers through the exec job: protocol, broken checkers, untrusted."""

from __future__ import annotations

import pytest

SUM_IN = b"1 2\n"


def _check(job, program, hint: bytes, checker="chk_script", **keys):
    files = {
        "exe_file": program("sum"),
        "in_file": SUM_IN,
        "hint_file": hint,
        "chk_file": program(checker),
    }
    keys.setdefault("checker_time_limit", 2000)
    return job("exec", files, check_output=True, **keys)


@pytest.mark.parametrize(
    ("script", "fraction"),
    [
        (b"0\nOK\nnice\n42\n", [42, 1]),
        (b"0\nOK\nnice\n42.5\n", [85, 2]),
        (b"0\nOK\nnice\n1/3\n", [1, 3]),
        (b"0\nOK\nnice\n\n", [100, 1]),
        (b"0\nOK\nnice", [100, 1]),
    ],
)
def test_percentages(job, program, script, fraction, unprotected):
    env = _check(job, program, script)
    assert env["result"] == "SUCCESS", env.get("exception")
    assert env["result_code"] == "OK"
    assert env["result_string"] == "nice"
    assert env["result_percentage_fraction"] == fraction
    assert env["result_percentage"] == pytest.approx(fraction[0] / fraction[1])


def test_real_checker_reads_in_out_hint(job, program, unprotected):
    env = _check(job, program, b"cmp\n")
    assert env["result_code"] == "OK", env.get("exception")
    assert env["result_string"] == "ok"  # empty comment keeps the run's string


def test_wrong_answer(job, program, unprotected):
    env = _check(job, program, b"1\nWRONG\ntoo small\n")
    assert env["result_code"] == "WA"
    assert env["result_string"] == "too small"
    assert env["result_percentage_fraction"] == [0, 1]


def _assert_checker_error(env, *words):
    assert env["result"] == "FAILURE"
    assert env["result_code"] == "SE"
    assert "CheckerError" in env["exception"]
    for word in words:
        assert word in env["exception"]


def test_exit_code_two_is_checker_error(job, program, unprotected):
    _assert_checker_error(_check(job, program, b"2\nOK\n\n100\n"), "code 2")


def test_unparsable_percentage_is_checker_error(job, program, unprotected):
    _assert_checker_error(_check(job, program, b"0\nOK\nfine\nplenty\n"), "unparsable")


def test_silent_checker_is_checker_error(job, program, unprotected):
    _assert_checker_error(_check(job, program, b"0\n"), "without printing")


def test_crashing_checker_is_checker_error(job, program, unprotected):
    _assert_checker_error(_check(job, program, b"x\n", checker="chk_crash"), "signal")


def test_looping_checker_is_checker_error(job, program, unprotected):
    env = _check(job, program, b"x\n", checker="spin", checker_time_limit=300)
    _assert_checker_error(env)


def test_untrusted_checker_reads_only_its_files(job, program):
    env = _check(job, program, b"x\n", checker="chk_snoop", untrusted_checker=True)
    assert env["result_code"] == "OK", env.get("exception")
    assert env["result_string"] == "confined"


def test_untrusted_checker_protocol(job, program):
    env = _check(job, program, b"0\nOK\nhalf\n1/2\n", untrusted_checker=True)
    assert env["result_code"] == "OK", env.get("exception")
    assert env["result_percentage_fraction"] == [1, 2]


def test_long_comment_is_bounded(job, program, unprotected):
    env = _check(job, program, b"1\nWRONG\n" + "ż".encode() * 3000 + b"\n")
    assert env["result_code"] == "WA"
    assert len(env["result_string"].encode("utf-8")) <= 1024


def test_untrusted_checker_exit_two_is_checker_error(job, program):
    env = _check(job, program, b"2\nOK\n", untrusted_checker=True)
    _assert_checker_error(env, "code 2")


def test_untrusted_checker_wrong_answer(job, program):
    env = _check(job, program, b"1\nWRONG\nno\n", untrusted_checker=True)
    assert env["result_code"] == "WA", env.get("exception")
    assert env["result_string"] == "no"


def test_untrusted_looping_checker_is_checker_error(job, program):
    env = _check(job, program, b"x\n", checker="spin", checker_time_limit=300,
                 untrusted_checker=True)
    _assert_checker_error(env, "TLE")
