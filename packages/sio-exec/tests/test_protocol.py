"""The custom checker protocol parsing (docs/contracts.rst §6.2)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from sio.executors.checker import CheckerError, parse_checker_output, parse_percentage


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", Fraction(42)),
        ("42.5", Fraction(85, 2)),
        ("1/3", Fraction(1, 3)),
        ("", Fraction(100)),
        ("  100  ", Fraction(100)),
        ("0", Fraction(0)),
        ("33.333", Fraction(33333, 1000)),
    ],
)
def test_percentages(text, value):
    assert parse_percentage(text) == value


@pytest.mark.parametrize("text", ["abc", "-5", "1/0", "101", "1e2", "42%", "nan", "3/2/1", "0x10", "½"])
def test_bad_percentages_are_checker_errors(text):
    with pytest.raises(CheckerError):
        parse_percentage(text)


def test_ok_with_comment_and_fraction():
    result = parse_checker_output(b"OK\nnearly\n1/3\n")
    assert result.result_code == "OK"
    assert result.result_string == "nearly"
    assert result.percentage == Fraction(1, 3)
    env: dict = {}
    result.apply(env)
    assert env["result_percentage_fraction"] == [1, 3]
    assert env["result_percentage"] == pytest.approx(100 / 300)


def test_ok_alone_means_full_points_and_keeps_result_string():
    result = parse_checker_output(b"OK\n")
    assert (result.result_code, result.result_string, result.percentage) == ("OK", None, 100)
    env = {"result_string": "ok"}
    result.apply(env)
    assert env == {
        "result_code": "OK",
        "result_string": "ok",
        "result_percentage": 100.0,
        "result_percentage_fraction": [100, 1],
    }


def test_crlf_lines():
    result = parse_checker_output(b"OK\r\ngood\r\n42.5\r\n")
    assert result.result_code == "OK"
    assert result.result_string == "good"
    assert result.percentage == Fraction(85, 2)


@pytest.mark.parametrize("first", [b"WRONG", b"ok", b"OKAY", b"", b"\xff"])
def test_anything_but_ok_is_wa(first):
    result = parse_checker_output(first + b"\nbad answer\n100\n")
    assert result.result_code == "WA"
    assert result.result_string == "bad answer"
    assert result.percentage == 0


def test_wa_ignores_the_percentage_line():
    assert parse_checker_output(b"WRONG\nx\ngarbage\n").result_code == "WA"


def test_ok_with_garbage_percentage_is_checker_error():
    with pytest.raises(CheckerError, match="unparsable percentage"):
        parse_checker_output(b"OK\nfine\nlots\n")


def test_comment_is_utf8_safe_and_bounded():
    result = parse_checker_output(b"WRONG\n" + b"\xff\x00" + "ż".encode() * 2000 + b"\n")
    text = result.result_string
    assert len(text.encode("utf-8")) <= 1024
    assert "\x00" not in text
    assert text.startswith("\ufffd\ufffd")
