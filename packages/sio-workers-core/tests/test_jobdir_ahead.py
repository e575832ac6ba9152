"""Job directories made ahead (sio.workers.jobdir_keeper): from a process's
second job on, the next job's directory is made while this one runs; it is
as fresh as one made at the job's start and never outlives the process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap

import pytest

from sio.workers import entrypoints, jobdir, runner


@pytest.fixture
def job_tmp(tmp_path, monkeypatch):
    """A private temporary directory, a process that has run no job yet,
    and a job ``cwd`` that reports its directory."""
    parent = tmp_path / "jobs-tmp"
    parent.mkdir()
    jobdir.discard_ahead()
    monkeypatch.setattr(tempfile, "tempdir", str(parent))
    monkeypatch.setattr(jobdir, "_ran_a_job", False)
    monkeypatch.delenv("SIO_JOB_DIR_AHEAD", raising=False)

    def cwd_job(environ):
        environ["cwd"] = os.getcwd()
        environ["entries"] = os.listdir(".")
        return environ

    original = entrypoints.load
    monkeypatch.setattr(entrypoints, "load", lambda group, name: cwd_job
                        if name == "cwd" else original(group, name))
    yield parent
    jobdir.discard_ahead()


def _job_dirs(parent) -> list[str]:
    jobdir._keeper.flush()
    return sorted(str(p) for p in parent.glob(jobdir.JOB_DIR_PREFIX + "*"))


def _run_cwd() -> dict:
    env = runner.run({"job_type": "cwd"})
    assert env["result"] == "SUCCESS", env.get("exception")
    return env


def test_from_the_second_job_on_the_next_directory_is_made_ahead(job_tmp):
    first = _run_cwd()
    assert _job_dirs(job_tmp) == []  # one job: nothing made ahead
    second = _run_cwd()
    [ahead] = _job_dirs(job_tmp)
    assert ahead not in (first["cwd"], second["cwd"])
    assert os.listdir(ahead) == []
    assert os.stat(ahead).st_mode & 0o777 == 0o700
    assert jobdir._lock_dir(ahead) is None  # locked by this process, not sweepable
    assert runner.sweep_job_directories() == 0
    third = _run_cwd()
    assert third["cwd"] == ahead and third["entries"] == []
    assert not os.path.exists(ahead)  # removed after its job, as any other
    [next_ahead] = _job_dirs(job_tmp)
    assert next_ahead != ahead
    jobdir.discard_ahead()
    assert _job_dirs(job_tmp) == []


def test_no_directory_is_made_ahead_when_turned_off(job_tmp, monkeypatch):
    monkeypatch.setenv("SIO_JOB_DIR_AHEAD", "0")
    for _ in range(3):
        _run_cwd()
    assert _job_dirs(job_tmp) == []


def test_a_directory_made_ahead_that_was_tampered_with_is_not_used(job_tmp):
    _run_cwd()
    _run_cwd()
    [ahead] = _job_dirs(job_tmp)
    open(os.path.join(ahead, "planted"), "w").close()
    env = _run_cwd()
    assert env["cwd"] != ahead and env["entries"] == []
    # not removed with what is in it, but no longer locked: the sweep's
    assert os.path.exists(os.path.join(ahead, "planted"))
    jobdir._keeper.flush()  # (a sweep is skipped while a directory is being made)
    assert runner.sweep_job_directories() == 1
    assert not os.path.exists(ahead)


def test_a_directory_made_ahead_in_another_temporary_directory_is_removed(
        job_tmp, tmp_path, monkeypatch):
    _run_cwd()
    _run_cwd()
    [ahead] = _job_dirs(job_tmp)
    other = tmp_path / "other-tmp"
    other.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(other))
    env = _run_cwd()
    assert os.path.dirname(env["cwd"]) == str(other)
    assert not os.path.exists(ahead)


def test_a_forked_child_does_not_use_its_parents_directory_made_ahead(job_tmp):
    _run_cwd()
    _run_cwd()
    [ahead] = _job_dirs(job_tmp)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(read_end)
            env = runner.run({"job_type": "cwd"})
            os.write(write_end, env["cwd"].encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child_cwd = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child_cwd and child_cwd != ahead
    assert not os.path.exists(child_cwd)
    assert os.path.isdir(ahead) and jobdir._lock_dir(ahead) is None  # still ours
    assert _run_cwd()["cwd"] == ahead


_THREE_JOBS = textwrap.dedent("""
    import os, sys
    from sio.workers import jobdir, runner
    for n in range(3):
        assert runner.run({"job_type": "ping", "ping": n})["result"] == "SUCCESS"
    jobdir._keeper.flush()
    print(len([e for e in os.listdir(sys.argv[1]) if e.startswith("sio-job-")]), flush=True)
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), 9)
""")


def _three_jobs(parent, how: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TMPDIR=str(parent))
    env.pop("SIO_JOB_DIR_AHEAD", None)
    return subprocess.run([sys.executable, "-c", _THREE_JOBS, str(parent), how],
                          env=env, capture_output=True, text=True, timeout=120)


def test_a_process_that_exits_removes_its_directory_made_ahead(job_tmp):
    done = _three_jobs(job_tmp, "exit")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"  # made ahead while the process lived
    assert _job_dirs(job_tmp) == []


def test_a_killed_processs_directory_made_ahead_is_swept(job_tmp, caplog):
    """Swept like a dead job's directory; being empty, it is no warning."""
    import logging

    done = _three_jobs(job_tmp, "kill")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.strip() == "1"
    [left] = _job_dirs(job_tmp)
    with caplog.at_level(logging.INFO, logger="sio.workers.runner"):
        assert runner.sweep_job_directories() == 1
    assert not os.path.exists(left)
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "1 empty job directories" in caplog.text


def _slow_make(made, started):
    import time

    def make(parent):
        started.set()
        time.sleep(0.2)
        path = os.path.join(parent, f"d{len(made)}")
        os.mkdir(path)
        made.append(time.monotonic())
        return path, os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    return make


def test_the_thread_does_nothing_while_a_job_keeps_the_machine_quiet(tmp_path):
    """cpu-exec's exclusive lock keeps the thread quiet: the task under way
    is finished before the job goes on, a close waits for the job's end, and
    no directory is asked for meanwhile."""
    import threading
    import time

    from sio.workers.jobdir_keeper import DirectoryKeeper

    started, made = threading.Event(), []
    keeper = DirectoryKeeper(_slow_make(made, started))
    keeper.make_ahead(str(tmp_path))
    assert started.wait(5)
    with keeper.quiet():
        assert len(made) == 1  # the make under way (0.2 s) finished first
        path, fd = keeper.take(str(tmp_path))
        keeper.make_ahead(str(tmp_path))  # not while quiet
        keeper.close(fd)
        time.sleep(0.3)
        os.fstat(fd)  # not closed yet
    keeper.flush()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.fstat(fd)
        except OSError:
            break
        time.sleep(0.01)
    else:
        raise AssertionError("the close did not happen after the job")
    assert len(made) == 1 and keeper.take(str(tmp_path)) is None
    os.rmdir(path)


def test_a_directory_asked_for_and_not_begun_is_not_made_for_a_quiet_job(tmp_path):
    import threading

    from sio.workers.jobdir_keeper import DirectoryKeeper

    started, made = threading.Event(), []
    keeper = DirectoryKeeper(_slow_make(made, started))
    start_thread = keeper._ensure_thread
    keeper._ensure_thread = lambda: None  # the thread has not picked it up yet
    keeper.make_ahead(str(tmp_path))
    with keeper.quiet():
        pass
    start_thread()
    keeper.flush()
    assert keeper.take(str(tmp_path)) is None  # no wait, nothing made
    assert not made and not started.is_set()
    keeper.make_ahead(str(tmp_path))  # asked for again: made
    keeper.flush()
    assert len(made) == 1
    keeper.discard_ahead()
    assert os.listdir(tmp_path) == []


def test_a_failing_make_leaves_the_thread_serving(tmp_path, caplog):
    """A bug in making a directory is logged; the job makes its own and the
    thread goes on closing and making."""
    from sio.workers.jobdir_keeper import DirectoryKeeper

    calls = []

    def make(parent):
        calls.append(parent)
        if len(calls) == 1:
            raise RuntimeError("boom")
        path = os.path.join(parent, f"d{len(calls)}")
        os.mkdir(path)
        return path, os.open(path, os.O_RDONLY | os.O_DIRECTORY)

    keeper = DirectoryKeeper(make)
    keeper.make_ahead(str(tmp_path))
    keeper.flush()
    assert "boom" in caplog.text
    assert keeper.take(str(tmp_path)) is None  # the job makes its own
    keeper.make_ahead(str(tmp_path))
    keeper.flush()
    path, fd = keeper.take(str(tmp_path))
    assert os.path.isdir(path)
    keeper.close(fd)
    keeper.flush()
    os.rmdir(path)


def test_the_thread_begins_its_task_when_a_job_waits_for_its_program(tmp_path):
    """Not while the job's Python code runs (the GIL): at the next wait for
    a program (job_waits), or after FALLBACK without one."""
    import threading
    import time

    from sio.workers import job_waits, jobdir_keeper
    from sio.workers.jobdir_keeper import DirectoryKeeper

    started, made = threading.Event(), []
    keeper = DirectoryKeeper(_slow_make(made, started))
    keeper.close(os.open(tmp_path, os.O_RDONLY))  # starts the thread
    keeper.flush()
    since = time.monotonic()
    keeper.make_ahead(str(tmp_path))
    assert not started.wait(jobdir_keeper.FALLBACK / 2)  # no job waits yet
    job_waits.a_wait_begins()
    assert started.wait(5)
    # begun at the wait, well before the fallback would have begun it
    assert time.monotonic() - since < jobdir_keeper.FALLBACK * 0.9 + 0.2
    keeper.flush()
    keeper.discard_ahead()

    started.clear()
    keeper.make_ahead(str(tmp_path))  # no job waits at all: begun anyway
    assert started.wait(jobdir_keeper.FALLBACK * 20)
    keeper.flush()
    keeper.discard_ahead()
    assert len(made) == 2 and os.listdir(tmp_path) == []


def test_a_directory_not_begun_when_its_job_starts_is_not_made(tmp_path):
    """The job makes its own at once; the one asked for is never made."""
    import threading

    from sio.workers.jobdir_keeper import DirectoryKeeper

    started, made = threading.Event(), []
    keeper = DirectoryKeeper(_slow_make(made, started))
    keeper.make_ahead(str(tmp_path))
    assert keeper.take(str(tmp_path)) is None  # not begun: no wait
    keeper.flush()
    assert not made and not started.is_set()


def _voluntary_switches(native_id: int) -> int:
    with open(f"/proc/self/task/{native_id}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches")


def test_an_idle_thread_dozes_and_the_next_task_wakes_it(tmp_path, monkeypatch):
    """Without tasks for DOZE_AFTER the thread stops waking every FALLBACK
    (an idle worker's thread sleeps); the next task added wakes it, and it
    is done as before: at the next job's wait, or after FALLBACK."""
    import threading
    import time

    from sio.workers import job_waits, jobdir_keeper
    from sio.workers.jobdir_keeper import DirectoryKeeper

    monkeypatch.setattr(jobdir_keeper, "DOZE_AFTER", 0.2)
    started, made = threading.Event(), []
    keeper = DirectoryKeeper(_slow_make(made, started))
    keeper.close(os.open(tmp_path, os.O_RDONLY))  # starts the thread
    keeper.flush()
    deadline = time.monotonic() + 5
    while not keeper._dozing and time.monotonic() < deadline:
        time.sleep(0.01)
    assert keeper._dozing
    tid = keeper._thread.native_id
    before = _voluntary_switches(tid)
    time.sleep(0.5)  # ten FALLBACKs: a thread not dozing wakes ten times
    assert _voluntary_switches(tid) - before <= 1
    since = time.monotonic()
    keeper.make_ahead(str(tmp_path))  # woken, but it waits for a job's wait
    assert not started.wait(jobdir_keeper.FALLBACK / 2)
    job_waits.a_wait_begins()
    assert started.wait(5)
    assert time.monotonic() - since < jobdir_keeper.FALLBACK * 0.9 + 0.2
    keeper.flush()
    keeper.discard_ahead()
    # dozing again, a task with no job's wait at all is still done
    deadline = time.monotonic() + 5
    while not keeper._dozing and time.monotonic() < deadline:
        time.sleep(0.01)
    assert keeper._dozing
    started.clear()
    keeper.make_ahead(str(tmp_path))
    assert started.wait(jobdir_keeper.FALLBACK * 20)
    keeper.flush()
    keeper.discard_ahead()
    assert len(made) == 2 and os.listdir(tmp_path) == []


def test_a_job_does_not_wait_for_a_close_when_its_directory_is_not_begun(tmp_path,
                                                                         monkeypatch):
    """The thread on another task (closing a removed directory's lock) has
    not begun the directory asked for: the job makes its own at once
    instead of waiting for the close and the making behind it (a job
    without a program wait, a ping, used to wait for both at every start)."""
    import threading
    import time

    from sio.workers import job_waits, jobdir_keeper
    from sio.workers.jobdir_keeper import DirectoryKeeper

    closing, real_close = threading.Event(), jobdir_keeper._close

    def slow_close(fd):
        closing.set()
        time.sleep(0.5)
        real_close(fd)

    monkeypatch.setattr(jobdir_keeper, "_close", slow_close)
    started, made = threading.Event(), []
    keeper = DirectoryKeeper(_slow_make(made, started))
    keeper.close(os.open(tmp_path, os.O_RDONLY))
    keeper.make_ahead(str(tmp_path))  # queued behind the close
    job_waits.a_wait_begins()
    assert closing.wait(5)
    begin = time.monotonic()
    assert keeper.take(str(tmp_path)) is None  # not begun: the job makes its own
    assert time.monotonic() - begin < 0.2  # without waiting for the close
    keeper.flush()
    assert not made and not started.is_set()  # and the one asked for is never made
    keeper.make_ahead(str(tmp_path))  # asked for again: made
    keeper.flush()
    assert len(made) == 1
    keeper.discard_ahead()
    assert os.listdir(tmp_path) == []
