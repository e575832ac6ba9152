"""No program outlives its job when the worker running it dies.

A real ``sio-celery-worker -c 3`` on RabbitMQ takes three jobs at once —
``unsafe-exec`` of a program that forks, ``setsid``-s and double-forks and
then sleeps forever, ``exec`` of one that sleeps forever (the supervisor
forbids forks), and a ``compile`` whose compiler
blocks forever (it includes a FIFO nobody writes) — each with a 3 s
wall-clock limit. Then the worker dies: SIGKILL to the whole worker, SIGKILL
to every pool process, or ``celery control shutdown``. Within the wall limit
+ 1 s no process of those runs is left, and no process works in one of the
worker's job directories.

Processes of a run are recognised by their name (the programs rename
themselves to a token of this test; children inherit it) and, for the
compiler, by ``cc1`` working under the worker's private temporary directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from sio.celery import TASK_NAME

WALL_MS = 3000

FORKER = r"""
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(void) {
    prctl(PR_SET_NAME, TOKEN);
#ifndef NO_FORK
    if (fork() == 0) {              /* a child in a session of its own */
        setsid();
        if (fork() == 0) {          /* and its child, orphaned at once */
            for (;;) pause();
        }
        for (;;) pause();
    }
    if (fork() == 0) {              /* a double fork: reparented to init */
        if (fork() == 0) {
            for (;;) pause();
        }
        _exit(0);
    }
#endif
    for (;;) pause();
}
"""


def _proc_entries():
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def _read(path: str) -> str | None:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def run_processes(token: str, job_root: Path) -> dict[int, str]:
    """``{pid: start time}`` of the live processes of this test's runs."""
    found = {}
    for pid in _proc_entries():
        comm = (_read(f"/proc/{pid}/comm") or "").strip()
        stat = _read(f"/proc/{pid}/stat") or ""
        if ") Z " in stat:
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        if comm == token or (comm.startswith("cc1") and cwd.startswith(str(job_root))):
            start = _start_time(pid)
            if start is not None:
                found[pid] = start
    return found


def still_alive(processes: dict[int, str]) -> list[int]:
    return [pid for pid, start in processes.items() if _start_time(pid) == start
            and ") Z " not in (_read(f"/proc/{pid}/stat") or "")]


def working_in(job_root: Path) -> list[int]:
    """Processes whose working directory is one of the worker's job dirs."""
    found = []
    for pid in _proc_entries():
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cwd.startswith(str(job_root) + "/") and ") Z " not in (_read(f"/proc/{pid}/stat") or ""):
            found.append(pid)
    return found


@pytest.fixture
def programs(tmp_path):
    token = "lo" + uuid.uuid4().hex[:10]
    source = tmp_path / "forker.c"
    source.write_text(FORKER)
    exe = {}
    for name, flags in (("forker", []), ("sleeper", ["-DNO_FORK"])):
        exe[name] = tmp_path / f"{name}.e"
        subprocess.run(["gcc", "-O1", "-static", f'-DTOKEN="{token}"', *flags,
                        "-o", str(exe[name]), str(source)],
                       check=True, capture_output=True, timeout=120)
    fifo = tmp_path / "never-written.fifo"
    os.mkfifo(fifo)
    hang = tmp_path / "hang.c"
    hang.write_text(f'#include "{fifo}"\nint main(void) {{ return 0; }}\n')
    return token, exe, hang


def jobs(exe: dict[str, Path], hang: Path, out_dir: Path) -> list[dict]:
    """unsafe-exec of the forker, exec of the sleeper (the supervisor forbids
    forks: it would be an RV at once), compile of a hanging source."""
    empty = out_dir / "empty.in"
    empty.write_bytes(b"")
    exec_keys = {"use_filetracker": False, "in_file": str(empty),
                 "exec_time_limit": 1000, "exec_real_time_limit": WALL_MS,
                 "exec_mem_limit": 64 * 1024, "check_output": False}
    return [
        {"job_type": "unsafe-exec", "exe_file": str(exe["forker"]), **exec_keys},
        {"job_type": "exec", "exe_file": str(exe["sleeper"]), **exec_keys},
        {"job_type": "compile", "use_filetracker": False, "compiler": "system-c",
         "source_file": str(hang), "out_file": str(out_dir / "hang.e"),
         "compilation_real_time_limit": WALL_MS},
    ]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


@pytest.mark.slow
@pytest.mark.parametrize("death", ["worker-sigkill", "pool-sigkill", "control-shutdown"])
def test_no_process_of_a_job_outlives_a_dead_worker(
    death, start_worker, make_client, amqp_url, tmp_path, programs
):
    token, exe, hang = programs
    job_root = tmp_path / "worker-tmp"
    job_root.mkdir()
    worker = start_worker("-c", "3", "--without-mingle", "--without-gossip", broker=amqp_url,
                          env={"TMPDIR": str(job_root)})
    client = make_client(amqp_url)
    results = [client.send_task(TASK_NAME, args=[env], queue="sioworkers")
               for env in jobs(exe, hang, tmp_path)]

    def all_running():
        found = run_processes(token, job_root)
        comms = {(_read(f"/proc/{pid}/comm") or "").strip() for pid in found}
        # the forker's four processes, the sleeper, and the compiler
        count = sum(1 for pid in found if (_read(f"/proc/{pid}/comm") or "").strip() == token)
        return found if count >= 5 and any(c.startswith("cc1") for c in comms) else None

    runs = wait_for(all_running, 60, "the three runs to start")
    if death == "worker-sigkill":
        worker.kill(signal.SIGKILL)
    elif death == "pool-sigkill":
        for pid in worker.pool_pids():
            os.kill(pid, signal.SIGKILL)
    else:
        client.control.shutdown(destination=[f"{worker.name}@{os.uname().nodename}"])
    killed_at = time.monotonic()

    def gone():
        return not still_alive(runs)

    try:
        wait_for(gone, WALL_MS / 1000 + 1, "every process of the runs to end")
    except TimeoutError:
        left = {pid: (_read(f"/proc/{pid}/comm") or "").strip() for pid in still_alive(runs)}
        pytest.fail(f"{death}: processes of the runs outlived it: {left}")
    assert time.monotonic() - killed_at <= WALL_MS / 1000 + 1.5

    if death == "control-shutdown":
        # a warm shutdown finishes the running jobs: their wall limit fired
        answers = [r.get(timeout=60) for r in results]
        assert [a["result"] for a in answers] == ["SUCCESS"] * 3, answers
        assert answers[0]["result_code"] == "TLE" and answers[1]["result_code"] == "TLE"
        assert answers[2]["result_code"] == "CE"
        worker.proc.wait(timeout=30)
    else:
        worker.kill(signal.SIGKILL)
        worker.proc.wait(timeout=30)
        wait_for(lambda: not run_processes(token, job_root), WALL_MS / 1000 + 1,
                 "the redelivered runs to end with the worker")
    wait_for(lambda: not working_in(job_root), 5, "nothing to work in a job directory")
