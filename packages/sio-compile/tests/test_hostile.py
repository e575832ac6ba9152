"""Hostile sources (docs/hostile.rst §G 42-48) against the system compilers:
each ends CE within its limits, quickly, and the job itself is fine."""

from __future__ import annotations

import time

import pytest

TIGHT = {"compilation_time_limit": 5000, "compilation_real_time_limit": 10000,
         "compilation_mem_limit": 256 * 1024}


@pytest.mark.parametrize("source", [
    "nasty_dev_random.cpp",
    "nasty_templates.cpp",
    "nasty_constexpr.cpp",
    "nasty_warnings.cpp",
    "nasty_self_include.cpp",
])
def test_hostile_source_is_ce_within_limits(compile_job, source):
    start = time.monotonic()
    env = compile_job(source, compiler="system-cpp", **TIGHT)
    elapsed = time.monotonic() - start
    assert env["result_code"] == "CE"
    assert env["compiler_output"]
    assert len(env["compiler_output"].encode()) <= 5120
    # the wall-clock limit bounds every compilation (generous margin for a busy machine)
    assert elapsed < 10 + 30


def test_dev_random_stops_at_the_wall_limit(compile_job):
    # with memory to spare, only the wall-clock limit can stop an endless device
    env = compile_job("nasty_dev_random.cpp", compiler="system-cpp",
                      compilation_real_time_limit=1500, compilation_mem_limit=None)
    assert env["result_code"] == "CE"
    assert env["compiler_output"]


def test_endless_output_is_truncated_to_the_limit(compile_job):
    env = compile_job("nasty_self_include.cpp", compiler="system-cpp",
                      compilation_output_limit=1000, **TIGHT)
    assert env["result_code"] == "CE"
    assert len(env["compiler_output"].encode()) <= 1000


def test_etc_passwd_system_compiler_is_ce(compile_job):
    # documented: a system compiler can read host files and may quote them
    env = compile_job("nasty_etc_passwd.cpp", compiler="system-cpp")
    assert env["result_code"] == "CE"


SIZE_LIMIT = 5 * 1024 * 1024


def test_250mb_executable_is_refused(compile_job, tmp_path):
    env = compile_job("nasty_250mb.cpp", compiler="system-cpp",
                      compilation_result_size_limit=SIZE_LIMIT)
    assert env["result_code"] == "CE"
    assert env["compiler_output"] == "Compiled file size limit exceeded."
    assert not (tmp_path / "out").exists()


def test_4_9mb_executable_compiles_and_runs(compile_job, run_artefact, tmp_path):
    env = compile_job("extreme_4_9mb.cpp", compiler="system-cpp",
                      compilation_result_size_limit=SIZE_LIMIT)
    assert env["result_code"] == "OK", env["compiler_output"]
    assert 4 * 1024 * 1024 < (tmp_path / "out").stat().st_size <= SIZE_LIMIT
    assert run_artefact(env).stdout == "0\n"


def test_python_parser_bombs_are_ce(compile_job, tmp_path):
    nested = tmp_path / "nested.py"
    nested.write_text("x = " + "(" * 5000 + "1" + ")" * 5000 + "\n")
    nul = tmp_path / "nul.py"
    nul.write_bytes(b"print(1)\x00\n")
    for source in (nested, nul):
        env = compile_job(source, compiler="system-python", **TIGHT)
        assert env["result_code"] == "CE"
        assert env["compiler_output"]
