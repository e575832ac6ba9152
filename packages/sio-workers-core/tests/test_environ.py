"""sio.workers.environ: JSON safety and limits."""

from __future__ import annotations

import pytest

from sio.workers.environ import LimitError, get_limit, parse_limit, to_jsonable, utf8_safe


def test_to_jsonable_nested():
    value = {1: (b"a\xff", {"x"}), "f": float("inf"), "l": [bytearray(b"z")]}
    assert to_jsonable(value) == {"1": ["a\ufffd", ["x"]], "f": None, "l": ["z"]}


def test_utf8_safe_cuts_on_character_boundary():
    text = utf8_safe("żółw".encode() + b"\xff\x00", limit=5)
    assert text == "żó"
    assert utf8_safe(b"a\x00b") == "a\ufffdb"
    assert len(utf8_safe(b"\xff" * 2000, limit=1024).encode()) <= 1024


@pytest.mark.parametrize(
    "value, expected", [(None, None), (0, 0), (10, 10), (10.0, 10), (" 7 ", 7)]
)
def test_parse_limit_accepts(value, expected):
    assert parse_limit("x", value) == expected


@pytest.mark.parametrize("value", ["abc", -1, 1.5, True, [1], float("nan")])
def test_parse_limit_rejects(value):
    with pytest.raises(LimitError, match="exec_time_limit"):
        parse_limit("exec_time_limit", value)


def test_get_limit_with_prefix_default_and_none():
    environ = {"exec_time_limit": 1000, "exec_mem_limit": None}
    assert get_limit(environ, "exec_", "time_limit", 5) == 1000
    assert get_limit(environ, "exec_", "mem_limit", 5) is None
    assert get_limit(environ, "exec_", "output_limit", 5) == 5
    assert get_limit(None, "exec_", "output_limit", 7) == 7
    with pytest.raises(KeyError):
        get_limit(environ, "exec_", "output_limit")
