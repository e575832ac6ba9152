"""Runner semantics (docs/contracts.rst §2)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest

from sio.workers import jobdir, runner
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


def test_a_removed_job_directory_keeps_no_descriptor(plugin, tmp_path):
    """The lock descriptor of a removed job directory is closed by a thread
    of its own (sio.workers.jobdir_keeper): the directory is gone when run()
    returns, and no descriptor is left once the thread has caught up."""
    os.chdir(tmp_path)
    runner.run({"job_type": "echo"})  # the closing thread exists from now on
    jobdir.discard_ahead()  # (its lock is the one descriptor kept between jobs)
    jobdir._keeper.flush()  # (the first job's lock: closed at a later wait)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(200):
        env = runner.run({"job_type": "echo"})
        assert env["result"] == "SUCCESS" and not os.path.exists(env["echo_cwd"])
    jobdir.discard_ahead()
    jobdir._keeper.flush()
    deadline = time.monotonic() + 5
    while len(os.listdir("/proc/self/fd")) > before and time.monotonic() < deadline:
        time.sleep(0.01)  # the last close may be under way
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize("with_subdirectory", [False, True])
def test_a_job_directory_is_removed_without_following_its_symlinks(tmp_path, with_subdirectory):
    """Files, a FIFO and symlinks (to a file and to a directory outside) go
    with the job directory, through its open descriptor (only files) or by
    the tree walk (a subdirectory); what the symlinks point to stays."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    os.chdir(tmp_path)
    with jobdir._job_directory() as path:
        for name in ("exe", "out"):
            with open(os.path.join(path, name), "w") as f:
                f.write(name)
        os.mkfifo(os.path.join(path, "fifo"))
        os.symlink(outside / "keep", os.path.join(path, "to-file"))
        os.symlink(outside, os.path.join(path, "to-dir"))
        if with_subdirectory:
            os.makedirs(os.path.join(path, "check", "deeper"))
            with open(os.path.join(path, "check", "deeper", "f"), "w") as f:
                f.write("f")
    assert not os.path.lexists(path)
    assert (outside / "keep").read_text() == "x"
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


# ----------------------------------------- job directories of dead processes ---


@pytest.fixture
def job_tmp(tmp_path, monkeypatch):
    """A private temporary directory for job directories, and a process
    that has neither swept nor run a job yet (so no job directory is made
    ahead before its second job; the one made then is removed at the end)."""
    import tempfile

    parent = tmp_path / "jobs-tmp"
    parent.mkdir()
    jobdir.discard_ahead()
    monkeypatch.setattr(tempfile, "tempdir", str(parent))
    monkeypatch.setattr(jobdir, "_last_sweep", None)
    monkeypatch.setattr(jobdir, "_ran_a_job", False)
    yield parent
    jobdir.discard_ahead()


def test_job_directory_of_a_killed_process_is_swept(job_tmp):
    """A process SIGKILLed during a job leaves its job directory; it stays
    while the process lives and the next sweep removes it (issue #17: the
    soak left one directory for nearly every killed pool process)."""
    import signal

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            with jobdir._job_directory() as path:
                open("file", "w").close()
                os.write(write_end, path.encode() + b"\n")
                threading.Event().wait(60)
        finally:
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        path = pipe.readline().strip()
    try:
        assert os.path.isdir(path)
        assert runner.sweep_job_directories() == 0  # its job runs
        assert os.path.isdir(path)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert os.path.isdir(path)  # SIGKILL: nothing removed it
    assert runner.sweep_job_directories() == 1
    assert not os.path.exists(path)


def test_first_job_of_a_process_sweeps_unlocked_directories_only(job_tmp):
    dead = job_tmp / "sio-job-dead"
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "f").write_text("x")
    running = job_tmp / "sio-job-running"
    running.mkdir()
    other = job_tmp / "not-a-job"
    other.mkdir()
    held = jobdir._lock_dir(str(running))  # as a running job holds it
    try:
        env = runner.run({"job_type": "ping", "ping": 1})
        assert env["result"] == "SUCCESS"
        assert not dead.exists()
        assert running.is_dir() and other.is_dir()
        # within SWEEP_INTERVAL the next job does not sweep again
        dead.mkdir()
        runner.run({"job_type": "ping", "ping": 2})
        assert dead.is_dir()
    finally:
        os.close(held)
    jobdir.discard_ahead()  # the second job had the third one's made ahead
    assert sorted(p.name for p in job_tmp.iterdir()) == [
        ".sio-job-dirs.lock", "not-a-job", "sio-job-dead", "sio-job-running"]


def test_job_directory_is_locked_while_its_job_runs(job_tmp, monkeypatch):
    from sio.workers import entrypoints

    seen = {}

    def probe(environ):
        seen["locked"] = jobdir._lock_dir(os.getcwd()) is None
        return environ

    original = entrypoints.load
    monkeypatch.setattr(entrypoints, "load", lambda group, name: probe
                        if name == "lock-probe" else original(group, name))
    env = runner.run({"job_type": "lock-probe"})
    assert env["result"] == "SUCCESS", env.get("exception")
    assert seen == {"locked": True}
    assert [p.name for p in job_tmp.iterdir()] == [".sio-job-dirs.lock"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to bind-mount")
def test_periodic_sweep_leaves_a_directory_with_a_mount_inside(job_tmp, tmp_path):
    """A dead job's directory with a bind mount inside is not removed by the
    periodic sweep (rmtree would walk into the mount and delete its source's
    files): the stale-state sweep at a worker's start unmounts first."""
    import subprocess

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep").write_text("must survive")
    dead = job_tmp / "sio-job-mounted"
    (dead / "bound").mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(precious), str(dead / "bound")], check=True)
    try:
        assert runner.sweep_job_directories() == 0
        assert (dead / "bound" / "keep").exists()
    finally:
        subprocess.run(["umount", "-l", str(dead / "bound")], check=True)
    assert (precious / "keep").read_text() == "must survive"
    assert runner.sweep_job_directories() == 1
    assert not dead.exists()
