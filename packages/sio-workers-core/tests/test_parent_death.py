"""Runs end with their watcher: the launcher's own wall limit and parent death.

* A supervised run whose worker-side watchdog hangs (here: replaced by one
  that ignores every limit) still ends: the launcher kills it ``-T`` ms after
  it started (the real-time limit + ``LAUNCHER_WALL_MARGIN_MS``) and the
  verdict is a wall-clock TLE.
* A process that runs a supervised (``SupervisedExecutor``; ``VCPUExecutor``
  with the qemu instruction counter) or unprotected (``UnprotectedExecutor``,
  ``DetailedUnprotectedExecutor``: ``run_command``) program that sleeps
  forever is SIGKILLed mid-run: within
  1 s nothing of the run is left — not the launcher, the reaper, nor the
  program and what it forked, ``setsid``-ed or double-forked.

Processes of a run are recognised by a token in their command line.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from sio.workers.supervisor import supervisor as supervisor_module

FOREVER = r"""
#include <sys/prctl.h>
#include <unistd.h>

int main(void) {
#ifndef NO_FORK
    if (fork() == 0) {              /* a child in a session of its own */
        setsid();
        if (fork() == 0) for (;;) pause();
        for (;;) pause();
    }
    if (fork() == 0) {              /* a double fork: reparented to init */
        if (fork() == 0) for (;;) pause();
        _exit(0);
    }
#endif
    for (;;) pause();
}
"""


def _supervisor_usable() -> bool:
    from sio.workers.supervisor import cgroups

    return os.geteuid() == 0 and cgroups.detect() is not None


needs_supervisor = pytest.mark.skipif(not _supervisor_usable(), reason="needs root and cgroups")


def _build(d, name: str, *flags: str) -> str:
    exe = d / name
    subprocess.run(["gcc", "-O1", "-static", *flags, "-o", str(exe), str(d / "forever.c")],
                   check=True)
    return str(exe)


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> dict[str, str]:
    """``forever``: forks three ways and then sleeps forever; ``sleeper``:
    only sleeps forever (the supervisor forbids forks)."""
    d = tmp_path_factory.mktemp("forever")
    (d / "forever.c").write_text(FOREVER)
    os.chmod(d, 0o755)
    return {"forever": _build(d, "forever"), "sleeper": _build(d, "sleeper", "-DNO_FORK")}


def _pids_with(token: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if token.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            pass
    return found


def _wait_gone(token: str, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := _pids_with(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@needs_supervisor
def test_launcher_ends_a_run_whose_watchdog_hangs(programs, tmp_path, monkeypatch):
    from sio.workers.executors.supervised import SupervisedExecutor

    watched = []

    def hung_watch(spec, status_r, chunks, start, on_ready=None, event_fd=None):
        # A watchdog that never fires: only the launcher's -T can end the run.
        # (A serving launcher's status pipe is non-blocking: wait for it.)
        watched.append(spec)
        while select.select([status_r], [], [])[0] and (data := os.read(status_r, 4096)):
            chunks.append(data)
            if on_ready is not None and b"ready\n" in b"".join(chunks):
                chunks[:] = [b"".join(chunks).replace(b"ready\n", b"", 1)]
                on_ready()
                on_ready = None
            if supervisor_module._final_line(chunks):
                return None, True
        return None, False

    monkeypatch.setattr(supervisor_module, "_watch", hung_watch)
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    with SupervisedExecutor() as ex:
        renv = ex([programs["sleeper"]], time_limit=10000, real_time_limit=400,
                  ignore_errors=True)
    took = time.monotonic() - started
    assert watched, "supervise() did not use the patched watchdog"
    assert renv["result_code"] == "TLE", renv
    assert "wall" in renv["result_string"]
    margin = supervisor_module.LAUNCHER_WALL_MARGIN_MS
    assert renv["real_time_used"] >= 400
    assert took < (400 + margin) / 1000 + 5, took


RUNNER = """
import sys
from sio.workers.executors.{module} import {name}
with {name}() as ex:
    print("started", flush=True)
    ex([sys.argv[1], sys.argv[2]], real_time_limit=60000, time_limit=60000,
       ignore_errors=True)
"""


def _kill_runner_mid_run(module: str, name: str, program: str, tmp_path,
                         env: dict[str, str] | None = None) -> None:
    token = f"sio-pd-{uuid.uuid4().hex[:12]}"
    script = tmp_path / "runner.py"
    script.write_text(textwrap.dedent(RUNNER.format(module=module, name=name)))
    proc = subprocess.Popen([sys.executable, str(script), program, token], cwd=tmp_path,
                            stdout=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, **(env or {})})
    try:
        assert proc.stdout.readline().strip() == b"started"
        deadline = time.monotonic() + 20
        while len(_pids_with(token)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _pids_with(token), "the program did not start"
        time.sleep(0.3)  # let the forks happen
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        left = _wait_gone(token, 1.0)
        assert not left, f"left over after the runner died: {left}"
    finally:
        for pid in _pids_with(token):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@pytest.mark.parametrize("name", ["UnprotectedExecutor", "DetailedUnprotectedExecutor"])
def test_unprotected_run_dies_with_its_runner(programs, tmp_path, name):
    _kill_runner_mid_run("unprotected", name, programs["forever"], tmp_path)


@needs_supervisor
@pytest.mark.skipif(not shutil.which("qemu-x86_64"), reason="needs qemu-user")
def test_instruction_counted_run_dies_with_its_runner(programs, tmp_path):
    # vcpu-exec and sio2jail-exec on a machine without a hardware counter:
    # qemu-user under the supervisor
    _kill_runner_mid_run("vcpu", "VCPUExecutor", programs["sleeper"], tmp_path,
                         env={"SIO_INSTRUCTION_COUNTER": "qemu"})


@needs_supervisor
def test_supervised_run_dies_with_its_runner(programs, tmp_path):
    _kill_runner_mid_run("supervised", "SupervisedExecutor", programs["sleeper"], tmp_path)
