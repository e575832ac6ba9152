"""Tests of sio.workers.execute.execute()."""

from __future__ import annotations

import pytest

from sio.workers.execute import execute, noquote
from sio.workers.executors import ExecError


def test_execute_returns_code_and_stdout():
    assert execute(["echo", "a b", noquote("c   d")]) == (0, b"a b c d\n")
    assert execute("printf '1\\n2\\n'", split_lines=True) == (0, [b"1", b"2"])
    assert execute("echo x; exit 5", ignore_errors=True) == (5, b"x\n")


def test_execute_raises():
    with pytest.raises(ExecError):
        execute("exit 5")
