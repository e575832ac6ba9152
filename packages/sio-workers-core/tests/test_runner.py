"""Runner semantics (contracts.md §2)."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from sio.workers import runner
from sio.workers.entrypoints import EntryPointNotFound, available, load


def test_ping_job():
    env = runner.run({"job_type": "ping", "ping": "hello"})
    assert env["pong"] == "hello"
    assert env["result"] == "SUCCESS"
    assert env["worker"] == socket.gethostname()
    assert "exception" not in env


def test_ping_without_key_is_failure_naming_key():
    env = runner.run({"job_type": "ping"})
    assert env["result"] == "FAILURE"
    assert "'ping'" in env["exception"]
    assert env["exception"].startswith("Failure: ")


def test_non_dict_environ_raises():
    with pytest.raises(TypeError):
        runner.run(["job_type", "ping"])  # type: ignore[arg-type]


@pytest.mark.parametrize("environ", [{}, {"job_type": None}, {"job_type": 5}, {"job_type": ""}])
def test_missing_or_bad_job_type(environ):
    env = runner.run(dict(environ))
    assert env["result"] == "FAILURE"
    assert "job_type" in env["exception"]
    assert "Traceback" in env["traceback"]


def test_unknown_job_lists_installed():
    env = runner.run({"job_type": "no-such-job"})
    assert env["result"] == "FAILURE"
    assert "no job 'no-such-job' in entry-point group 'sio.jobs'" in env["exception"]
    assert "installed:" in env["exception"] and "ping" in env["exception"]


def test_temp_dir_is_cwd_and_removed(plugin, tmp_path):
    os.chdir(tmp_path)
    env = runner.run({"job_type": "echo"})
    assert env["result"] == "SUCCESS"
    job_dir = env["echo_cwd"]
    assert job_dir != str(tmp_path)
    assert not os.path.exists(job_dir)
    assert os.getcwd() == str(tmp_path)


def test_cwd_restored_and_dir_removed_when_job_raises(plugin, tmp_path):
    os.chdir(tmp_path)
    env = runner.run({"job_type": "raising", "keep": 1})
    assert env["result"] == "FAILURE"
    assert env["exception"] == "Failure: the job said no"
    assert "raising_job" in env["traceback"]
    assert env["keep"] == 1
    assert not os.path.exists(env["raising_cwd"])
    assert os.getcwd() == str(tmp_path)


def test_any_exception_becomes_failure(plugin):
    env = runner.run({"job_type": "crashing"})
    assert env["result"] == "FAILURE"
    assert env["exception"].startswith("ZeroDivisionError")


def test_filters_order_and_postfilters_after_failure(plugin):
    env = runner.run(
        {"job_type": "echo", "prefilters": ["pre_b", "pre_a"], "postfilters": ["post_a"]}
    )
    assert env["echo_trace"] == ["pre_b", "pre_a"]
    assert env["trace"] == ["pre_b", "pre_a", "post_a"]

    env = runner.run({"job_type": "raising", "postfilters": ["post_a"]})
    assert env["result"] == "FAILURE"
    assert env["trace"] == ["post_a"]


def test_unknown_filter_is_failure(plugin):
    env = runner.run({"job_type": "echo", "prefilters": ["nope"]})
    assert env["result"] == "FAILURE"
    assert "sio.workers.filters" in env["exception"]


def test_non_json_values_become_json(plugin):
    env = runner.run({"job_type": "bad-values"})
    assert env["result"] == "SUCCESS"
    assert env["blob"] == "\ufffdbytes\x00"
    assert env["pair"] == [1, 2]
    assert env["bag"] == [1, 2, 3]
    assert env["nan"] is None
    assert env["obj"] == "odd"
    json.dumps(env, allow_nan=False)


def test_first_importable_entry_point_wins(plugin):
    # The plugin also registers a broken 'ping'; the core's ping still loads.
    assert "echo" in available("sio.jobs")
    env = runner.run({"job_type": "ping", "ping": 1})
    assert env["pong"] == 1


def test_only_broken_entry_point_reports_import_error(plugin):
    with pytest.raises(EntryPointNotFound, match="failed to import"):
        load("sio.jobs", "broken")


def test_loaded_entry_points_are_cached_and_later_installs_found(
    plugin_dir, tmp_path, monkeypatch
):
    import sio.workers.entrypoints as eps

    with pytest.raises(EntryPointNotFound, match="no job 'echo'"):
        load("sio.jobs", "echo")
    monkeypatch.syspath_prepend(str(plugin_dir))  # installed while running
    echo = load("sio.jobs", "echo")
    assert callable(echo)
    scans = []
    real = eps.entry_points
    monkeypatch.setattr(eps, "entry_points", lambda **kw: scans.append(kw) or real(**kw))
    assert load("sio.jobs", "echo") is echo
    assert scans == []  # a hit does not rescan the metadata
    eps.clear_cache()
    assert load("sio.jobs", "echo") is echo and scans


def test_jobs_serialised_within_a_process(plugin):
    seen = []

    def one():
        seen.append(runner.run({"job_type": "echo"})["echo_cwd"])

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 4


def test_big_environ_is_handled():
    env = {"job_type": "ping", "ping": "x" * (50 * 1024 * 1024)}
    env.update({f"k{i}": i for i in range(10000)})
    out = runner.run(env)
    assert out["result"] == "SUCCESS"
    assert len(out["pong"]) == 50 * 1024 * 1024
