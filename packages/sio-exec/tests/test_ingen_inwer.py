"""The ingen and inwer jobs."""

from __future__ import annotations


def test_ingen_collects_matching_files(job, program, tmp_path, unprotected):
    target = tmp_path / "collected"
    env = job(
        "ingen",
        {"exe_file": program("ingen")},
        re_string=r"gen\d+\.in$",
        collected_files_path=str(target),
        ingen_output_limit=100,
        keep_me="yes",
    )
    assert env["result"] == "SUCCESS", env.get("exception")
    assert env["return_code"] == 0
    assert sorted(env["collected_files"]) == ["gen1.in", "gen2.in"]
    assert env["collected_files"]["gen1.in"] == f"{target}/gen1.in"
    assert (target / "gen2.in").read_text() == "2 20\n"
    assert not (target / "notes.txt").exists()
    assert env["stdout"][:2] == ["wrote gen1.in", "wrote gen2.in"]
    assert sum(len(line) + 1 for line in env["stdout"]) <= 101
    assert env["keep_me"] == "yes"  # input keys are kept


def test_ingen_failure_collects_nothing(job, program, tmp_path, unprotected):
    env = job(
        "ingen",
        {"exe_file": program("segv")},
        re_string=".*",
        collected_files_path=str(tmp_path / "c"),
    )
    assert env["result"] == "SUCCESS"
    assert env["collected_files"] == {}
    assert env["return_code"] == -11


def test_ingen_bad_regex(job, program, tmp_path):
    env = job("ingen", {"exe_file": program("ingen")}, re_string="(",
              collected_files_path=str(tmp_path))
    assert env["result"] == "FAILURE"
    assert "re_string" in env["exception"]


def _inwer(job, program, name, data, **keys):
    return job("inwer", {"exe_file": program(name), "in_file": data},
               in_file_name="abc1.in", keep_me=1, **keys)


def test_inwer_ok(job, program, unprotected):
    env = _inwer(job, program, "inwer", b"5 7\n")
    assert env["result_code"] == "OK", env
    assert env["stdout"] == ["OK", "abc1.in: a=5 b=7"]
    assert env["keep_me"] == 1
    assert isinstance(env["time_used"], int) and isinstance(env["mem_used"], int)


def test_inwer_wrong(job, program, unprotected):
    env = _inwer(job, program, "inwer", b"5000 7\n")
    assert env["result_code"] == "WA"
    assert env["result_string"] == "WRONG"
    assert env["stdout"][1] == "abc1.in: values out of range"


def test_inwer_faulty(job, program, unprotected):
    env = _inwer(job, program, "segv", b"1 1\n")
    assert env["result_code"] == "RE"
    assert "signal 11" in env["result_string"]


def test_inwer_sandboxed(job, program):
    env = _inwer(job, program, "inwer", b"5 7\n", use_sandboxes=True)
    assert env["result_code"] == "OK", env
    env = _inwer(job, program, "inwer", b"5000 7\n", use_sandboxes=True)
    assert env["result_code"] == "WA", env
