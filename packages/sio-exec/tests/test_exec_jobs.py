"""Exec jobs through the job interface (sio.workers.runner.run)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

SUM_IN = b"1 2\n"
SUM_HINT = b"3\n"


def _exec(job, program, name, job_type="exec", in_data=SUM_IN, hint=SUM_HINT, **keys):
    files = {"exe_file": program(name), "in_file": in_data}
    if hint is not None:
        files["hint_file"] = hint
        keys.setdefault("check_output", True)
    return job(job_type, files, **keys)


def _assert_figures(env):
    for key in ("time_used", "mem_used", "num_syscalls", "real_time_used"):
        assert isinstance(env[key], int) and env[key] >= 0, key
    assert len(env["result_string"].encode("utf-8")) <= 1024


def test_ok(job, program):
    env = _exec(job, program, "sum")
    assert env["result"] == "SUCCESS", env.get("exception")
    assert env["result_code"] == "OK"
    assert env["result_percentage"] == 100.0
    assert env["result_percentage_fraction"] == [100, 1]
    assert env["real_time_used"] > 0 and env["mem_used"] > 0
    _assert_figures(env)


def test_wa(job, program):
    env = _exec(job, program, "sum_wrong")
    assert env["result_code"] == "WA"
    assert env["result_string"] == 'line 1: expected "3", got "4"'
    assert env["result_percentage"] == 0
    assert env["result_percentage_fraction"] == [0, 1]


def test_tle(job, program):
    env = _exec(job, program, "spin", exec_time_limit=300)
    assert env["result_code"] == "TLE"
    assert env["time_used"] >= 300
    assert env["result_percentage"] == 0


def test_mle(job, program):
    env = _exec(job, program, "hog", exec_mem_limit=32 * 1024)
    assert env["result_code"] == "MLE"


def test_ole(job, program):
    env = _exec(job, program, "flood", exec_output_limit=64 * 1024)
    assert env["result_code"] == "OLE"


def test_re_exit_code_whatever_it_printed(job, program):
    env = _exec(job, program, "exit42", hint=b"OK\n")
    assert env["result_code"] == "RE"
    assert env["result_string"] == "program exited with code 42"


def test_re_signal(job, program):
    env = _exec(job, program, "segv")
    assert env["result_code"] == "RE"
    assert "signal 11" in env["result_string"]


def test_rv(job, program):
    env = _exec(job, program, "sock")
    assert env["result_code"] == "RV"
    assert "socket" in env["result_string"]


def test_unchecked_ok_gets_full_points(job, program):
    env = _exec(job, program, "sum", hint=None)
    assert env["result_code"] == "OK"
    assert env["result_percentage_fraction"] == [100, 1]


def test_bad_limit_is_a_failure(job, program):
    env = _exec(job, program, "sum", exec_time_limit="abc")
    assert env["result"] == "FAILURE"
    assert "exec_time_limit" in env["exception"]


def test_zip_input(job, program, tmp_path):
    path = tmp_path / "in.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("test.in", SUM_IN)
    env = _exec(job, program, "sum", in_data=path.read_bytes())
    assert env["result_code"] == "OK", env.get("exception")


def test_zip_input_with_two_members_fails_clearly(job, program, tmp_path):
    path = tmp_path / "in.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.in", SUM_IN)
        z.writestr("b.in", SUM_IN)
    env = _exec(job, program, "sum", in_data=path.read_bytes())
    assert env["result"] == "FAILURE"
    assert "2 members" in env["exception"]


def test_out_file_upload(job, program, tmp_path):
    dest = tmp_path / "results" / "out.txt"
    env = _exec(job, program, "sum", out_file=str(dest))
    assert env["result_code"] == "OK"
    assert env["out_file"] == str(dest)
    assert dest.read_bytes() == b"3\n"


def test_output_only(job, tmp_path):
    files = {"exe_file": b"3   \r\n\n", "in_file": SUM_IN, "hint_file": SUM_HINT}
    env = job("exec", files, exec_info={"mode": "output-only"}, check_output=True)
    assert env["result_code"] == "OK", env.get("exception")
    files["exe_file"] = b"4\n"
    env = job("exec", files, exec_info={"mode": "output-only"}, check_output=True)
    assert env["result_code"] == "WA"


def test_python_artefact(job, tmp_path):
    src = tmp_path / "app"
    src.mkdir()
    (src / "__main__.py").write_text("a, b = map(int, input().split())\nprint(a + b)\n")
    import zipapp

    zipapp.create_archive(src, tmp_path / "prog.pyz")
    files = {"exe_file": tmp_path / "prog.pyz", "in_file": SUM_IN, "hint_file": SUM_HINT}
    env = job("exec", files, exec_info={"mode": "python"}, check_output=True,
              exec_mem_limit=256 * 1024, exec_time_limit=10000)
    assert env["result_code"] == "OK", env


def test_unknown_exec_info_mode(job, program):
    env = _exec(job, program, "sum", exec_info={"mode": "cobol"})
    assert env["result"] == "FAILURE"
    assert "cobol" in env["exception"]


def test_unsafe_exec_ok(job, program, unprotected):
    env = _exec(job, program, "sum", job_type="unsafe-exec")
    assert env["result_code"] == "OK", env.get("exception")
    _assert_figures(env)


def test_unsafe_exec_planted_symlink_and_fifo_are_not_followed(job, program, tmp_path, unprotected):
    """docs/hostile.rst §C 23: the worker never follows what the program planted."""
    with open("/etc/passwd", "rb") as f:
        passwd = f.read()
    dest = tmp_path / "out.txt"
    env = _exec(job, program, "plant_symlink", job_type="unsafe-exec", out_file=str(dest))
    assert env["result_code"] == "SE"
    assert "replaced" in env["result_string"]
    with open("/etc/passwd", "rb") as f:
        assert f.read() == passwd
    assert not dest.exists() or dest.read_bytes() != passwd


def test_cpu_exec(job, program):
    env = _exec(job, program, "sum", job_type="cpu-exec")
    assert env["result_code"] == "OK", env.get("exception")


def test_vcpu_exec_with_qemu_counter(job, program, monkeypatch):
    monkeypatch.setenv("SIO_INSTRUCTION_COUNTER", "qemu")
    first = _exec(job, program, "sum", job_type="vcpu-exec")
    assert first["result_code"] == "OK", first
    second = _exec(job, program, "sum", job_type="sio2jail-exec")
    assert second["result_code"] == "OK"
    assert first["time_used"] == second["time_used"]


def test_vcpu_exec_perf_without_pmu_is_se(job, program, monkeypatch):
    monkeypatch.setenv("SIO_INSTRUCTION_COUNTER", "perf")
    env = _exec(job, program, "sum", job_type="vcpu-exec")
    if env["result_code"] == "OK":
        pytest.skip("this machine has a hardware instruction counter")
    assert env["result_code"] == "SE"
    assert env["result_string"]


def test_binary_output_is_wa_with_utf8_string(job, program):
    """docs/hostile.rst §C 21."""
    env = _exec(job, program, "binary_out")
    assert env["result_code"] == "WA"
    text = env["result_string"]
    assert text.startswith('line 1: expected "3", got "')
    assert "\x00" not in text
    text.encode("utf-8")


def test_fake_results_printed_by_the_program(job, program, tmp_path):
    """docs/hostile.rst §H 49: what the program prints never becomes the verdict."""
    env = _exec(job, program, "fake_markers", hint=b"OK\n")
    assert env["result_code"] == "WA"
    assert env["result_string"] == 'line 2: expected end of file, got "---"'


def test_negative_limit_is_a_failure(job, program):
    env = _exec(job, program, "sum", exec_mem_limit=-5)
    assert env["result"] == "FAILURE"
    assert "exec_mem_limit" in env["exception"]


def test_exec_program_cannot_plant_files(job, program):
    """Under the supervisor the job directory is not even visible."""
    env = _exec(job, program, "plant_symlink")
    assert env["result_code"] in ("OK", "RV"), env
    if env["result_code"] == "RV":
        assert env["result_string"]



@pytest.mark.skipif(not shutil.which("javac") or not shutil.which("jar"), reason="no JDK")
def test_java_jar(job, tmp_path):
    source = Path(__file__).resolve().parent / "programs" / "SumMain.java"
    subprocess.run(["javac", "-d", str(tmp_path / "classes"), str(source)], check=True)
    subprocess.run(["jar", "cfe", str(tmp_path / "SumMain.jar"), "SumMain", "SumMain.class"],
                   cwd=tmp_path / "classes", check=True)
    files = {"exe_file": tmp_path / "SumMain.jar", "in_file": SUM_IN, "hint_file": SUM_HINT}
    info = {"mode": "java", "main_class": "SumMain", "preferred_filename": "SumMain.jar"}
    env = job("exec", files, exec_info=info, check_output=True,
              exec_mem_limit=512 * 1024, exec_time_limit=10000)
    assert env["result_code"] == "OK", env


# ---- local files are read in place, never exposed to writing ----


def _local_files(tmp_path, exe):
    src = tmp_path / "src"
    src.mkdir()
    files = {"in_file": src / "t.in", "hint_file": src / "t.out", "exe_file": src / "prog"}
    files["in_file"].write_bytes(SUM_IN)
    files["hint_file"].write_bytes(SUM_HINT)
    shutil.copy(exe, files["exe_file"])
    return files


def _unchanged(files, exe_mode):
    assert files["in_file"].read_bytes() == SUM_IN
    assert files["hint_file"].read_bytes() == SUM_HINT
    st = files["exe_file"].stat()
    assert (st.st_mode & 0o777, st.st_nlink) == (exe_mode, 1)


@pytest.mark.parametrize("exe_mode", [0o755, 0o644])
def test_local_sources_are_neither_copied_nor_changed(job, program, tmp_path, exe_mode):
    files = _local_files(tmp_path, program("sum"))
    files["exe_file"].chmod(exe_mode)
    env = job("exec", files, check_output=True)
    assert env["result_code"] == "OK", env
    _unchanged(files, exe_mode)


def test_a_program_cannot_write_its_input(job, program, tmp_path):
    files = _local_files(tmp_path, program("scribble"))
    env = job("exec", files, check_output=True)
    # the supervisor's plain profile stops the reopen for writing (RV)
    assert env["result_code"] == "RV", env
    _unchanged(files, 0o755)


def test_unsafe_exec_works_on_copies(job, program, tmp_path, unprotected):
    files = _local_files(tmp_path, program("scribble"))
    env = job("unsafe-exec", files, check_output=True)
    assert env["result_code"] == "OK", env
    _unchanged(files, 0o755)


def test_a_trusted_checker_works_on_copies(job, program, tmp_path, unprotected):
    files = _local_files(tmp_path, program("sum"))
    env = job("exec", {**files, "chk_file": program("scribble")}, check_output=True)
    assert env["result_code"] == "OK", env
    _unchanged(files, 0o755)


def test_only_cpu_exec_prepares_after_the_run(job, program, monkeypatch):
    """``exec`` builds the next sandbox while its program runs; ``cpu-exec``
    (alone on the machine) only after the run."""
    from sio.workers.executors import supervised

    seen = []
    real = supervised.supervise

    def spy(spec):
        seen.append(spec.prepare_during_run)
        return real(spec)

    monkeypatch.setattr(supervised, "supervise", spy)
    for job_type in ("exec", "cpu-exec"):
        assert _exec(job, program, "sum", job_type=job_type)["result_code"] == "OK"
    assert seen == [True, False]


@pytest.mark.parametrize("key", ["in_file", "hint_file", "exe_file"])
def test_a_missing_local_file_is_a_clear_failure(job, program, tmp_path, key):
    files = _local_files(tmp_path, program("sum"))
    files[key].unlink()
    env = job("exec", files, check_output=True)
    assert env["result"] == "FAILURE"
    assert "no such local file" in env["exception"] and files[key].name in env["exception"]
    (tmp_path / "again").mkdir()
    files = _local_files(tmp_path / "again", program("sum"))  # the worker goes on
    assert job("exec", files, check_output=True)["result_code"] == "OK"


def test_symlinked_local_sources_are_copied(job, program, tmp_path):
    """A symlink is never opened in place (the worker reads with
    O_NOFOLLOW): it is copied, and the job works as with plain files."""
    files = _local_files(tmp_path, program("sum"))
    links = {}
    for key, path in files.items():
        link = tmp_path / f"link-{path.name}"
        link.symlink_to(path)
        links[key] = link
    env = job("exec", links, check_output=True)
    assert (env["result_code"], env["result_string"]) == ("OK", "ok"), env
    _unchanged(files, 0o755)
