"""Inputs of the compile job: archive, extra files, limits from the environ,
shell metacharacters, the ``sio-compile`` command."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sio.compilers import cli
from sio.workers.runner import run


def _archive(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archived/archlib.h", "#define ARCHIVED_VALUE 7\n")
        zf.writestr("../escaped.h", "#define ESCAPED 1\n")
        zf.writestr("/absolute.h", "#define ABSOLUTE 1\n")
        link = zipfile.ZipInfo("link.h")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    return path


def test_archive_members_inside_are_used_escaping_ones_skipped(
        compile_job, run_artefact, tmp_path):
    archive = _archive(tmp_path / "lib.zip")
    env = compile_job("archive_user.c", compiler="system-c", additional_archive=str(archive))
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == "archived 7\n"
    assert sorted(env["skipped_archive_members"]) == ["../escaped.h", "/absolute.h", "link.h"]
    assert "../escaped.h" in env["compiler_output"]
    assert not (tmp_path / "escaped.h").exists()
    assert not Path("/absolute.h").exists()


def test_not_a_zip_is_a_failure(tmp_path, sources):
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"not a zip")
    env = run({"job_type": "compile", "source_file": str(sources / "hello.c"),
               "out_file": str(tmp_path / "out"), "use_filetracker": False,
               "additional_archive": str(bogus)})
    assert env["result"] == "FAILURE"
    assert "additional_archive" in env["exception"]


def test_extra_files_are_placed_by_name(compile_job, run_artefact, tmp_path, sources):
    header = tmp_path / "stored-under-another-name"
    shutil.copy(sources / "lib.h", header)
    # extra_files: {name in the build directory: path}
    env = compile_job("use_lib.c", compiler="system-c",
                      extra_files={"lib.h": str(header)},
                      additional_sources=[str(sources / "lib.c")])
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == "answer 42\n"


def test_output_limit_from_environ(compile_job):
    env = compile_job("nasty_self_include.cpp", compiler="system-cpp",
                      compilation_output_limit=100)
    assert env["result_code"] == "CE"
    assert 0 < len(env["compiler_output"].encode()) <= 100


def test_warnings_are_kept_for_ok(compile_job):
    env = compile_job("warnings.c", compiler="system-c", extra_compilation_args="-Wall")
    assert env["result_code"] == "OK"
    assert "unused_a" in env["compiler_output"]


def test_limits_from_environ(compile_job):
    # a string limit is accepted, a tiny memory limit makes the compiler fail
    env = compile_job("hello.cpp", compiler="system-cpp", compilation_time_limit="30000",
                      compilation_mem_limit=4096)
    assert env["result_code"] == "CE"
    env = compile_job("hello.cpp", compiler="system-cpp", compilation_time_limit=None,
                      compilation_real_time_limit=None, compilation_mem_limit=None)
    assert env["result_code"] == "OK"


def test_bad_limit_is_a_failure_naming_the_key(tmp_path, sources):
    env = run({"job_type": "compile", "source_file": str(sources / "hello.c"),
               "out_file": str(tmp_path / "out"), "use_filetracker": False,
               "compilation_mem_limit": -5})
    assert env["result"] == "FAILURE"
    assert "compilation_mem_limit" in env["exception"]


def test_result_size_limit_from_environ(compile_job):
    env = compile_job("hello.c", compiler="system-c", compilation_result_size_limit=1000)
    assert env["result_code"] == "CE"
    assert env["compiler_output"] == "Compiled file size limit exceeded."


# Not a lone "|": gcc's driver itself reads that argument as a pipe between
# the commands it runs (no shell involved), so its messages depend on which
# of its helpers ends first.
METACHARS = ["; rm -rf ~", "$(touch PWNED1)", "`touch PWNED2`", "a b", "&&", "a|b"]


def test_shell_metacharacters_in_arguments_are_plain(compile_job, run_artefact, tmp_path):
    greeting = '$(touch PWNED3) `touch PWNED4`; rm -rf ~ | cat && "x"'
    escaped = greeting.replace("\\", "\\\\").replace('"', '\\"')
    env = compile_job("macro_user.c", compiler="system-c",
                      extra_compilation_args=[f'-DGREETING="{escaped}"'])
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == greeting + "\n"
    # each metacharacter argument is a (missing) input file: a clear CE
    env = compile_job("hello.c", compiler="system-c", extra_compilation_args=METACHARS)
    assert env["result_code"] == "CE"
    assert "rm -rf ~" in env["compiler_output"]
    for name in ("PWNED1", "PWNED2", "PWNED3", "PWNED4"):
        assert not (tmp_path / name).exists()
        assert not Path(name).exists()
    assert Path.home().is_dir()


def test_shell_metacharacters_in_file_names(compile_job, run_artefact, tmp_path, sources):
    weird = tmp_path / "-rf ; $(touch PWNED5) `id` & x"
    weird.mkdir()
    src = weird / "-hello; rm -rf ~.c"
    shutil.copy(sources / "hello.c", src)
    lib = weird / "-lib $(touch PWNED6).c"
    shutil.copy(sources / "lib.c", lib)
    header = weird / "lib.h"
    shutil.copy(sources / "lib.h", header)
    env = compile_job(src, additional_sources=[str(lib)], additional_includes=str(header),
                      out_file=str(weird / "-out $(x)"))
    assert env["compiler"] == "default-c"
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == "Hello from C\n"
    assert not list(tmp_path.rglob("PWNED*"))


def test_cli_prints_the_environ(tmp_path, sources, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(sources / "hello.cpp", "hello.cpp")
    assert cli.main(["hello.cpp", "hello.e", "cpp", "-O0"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["compiler"] == "default-cpp"
    assert env["extra_compilation_args"] == ["-O0"]
    assert env["result_code"] == "OK"
    assert os.path.getsize("hello.e") > 0
    shutil.copy(sources / "error.c", "error.c")
    assert cli.main(["error.c", "error.e", "system-gcc"]) == 1
    env = json.loads(capsys.readouterr().out)
    assert env["result_code"] == "CE" and env["compiler"] == "system-gcc"


def test_cli_console_script_usage():
    script = Path(sys.executable).parent / "sio-compile"
    proc = subprocess.run([str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "SOURCE OUTPUT" in proc.stderr


@pytest.mark.parametrize("value", [{"c": 5}, 7])
def test_bad_option_form_is_a_failure(tmp_path, sources, value):
    env = run({"job_type": "compile", "source_file": str(sources / "hello.c"),
               "out_file": str(tmp_path / "out"), "use_filetracker": False,
               "extra_compilation_args": value})
    assert env["result"] == "FAILURE"
    assert "extra_compilation_args" in env["exception"]
