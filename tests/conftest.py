"""Fixtures of the supervisor's hostile-program suite (tests/hostile/, test_hostile.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sio.workers.supervisor.cgroups import V1_PREFIX

HOSTILE = Path(__file__).resolve().parent / "hostile"


def supervisor_usable() -> str | None:
    """None when the supervisor can run here, else the reason."""
    if os.geteuid() != 0:
        return "the supervisor needs root"
    from sio.workers.supervisor import cgroups

    if cgroups.detect() is None:
        return "no usable cgroup hierarchy"
    return None


def survivors(include_busy: bool = False) -> list[str]:
    """Processes of idle supervisor slots that are still alive: scans /proc
    for the slots' uids and lists the slots' cgroup members.

    A slot whose lock is held belongs to a run in progress (possibly another
    test process on a shared machine) and is skipped unless ``include_busy``.
    """
    import fcntl

    from sio.workers.supervisor import slots

    base, count = slots.uid_base(), slots.slot_count()
    idle = set()
    lock_dir = slots.run_dir() / "slots"
    for index in range(count):
        lock = lock_dir / f"slot-{index}.lock"
        if include_busy or not lock.exists():
            idle.add(index)
            continue
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            idle.add(index)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:"):
                uids = [int(x) for x in line.split()[1:]]
                if any(u - base in idle for u in uids):
                    found.append(f"pid {entry} uid {uids[0]}")
    for index in idle:
        for procs in Path("/sys/fs/cgroup").glob(f"*/{V1_PREFIX}/slot-{index}/cgroup.procs"):
            pids = procs.read_text().split()
            if pids:
                found.append(f"{procs}: {pids}")
    return found


@pytest.fixture
def find_survivors() -> Callable[..., list[str]]:
    """The ``survivors()`` scan, for tests that manage runs themselves."""
    return survivors


@dataclass
class HostileRun:
    renv: dict[str, Any]
    stdout: bytes
    stderr: bytes
    job_dir: Path


@pytest.fixture
def run_hostile(build_c, tmp_path, monkeypatch) -> Callable[..., HostileRun]:
    """``run_hostile(source, *args, static=True, executor_kwargs={}, **call_kwargs)``.

    Compiles ``tests/hostile/<source>``, copies it into a fresh job directory
    (the current directory during the run) and runs it under
    SupervisedExecutor. Afterwards it checks the rules of docs/hostile.rst:
    no process of the run survives, and the next run is clean (empty /tmp,
    no other process in its pid namespace).
    """
    reason = supervisor_usable()
    if reason:
        pytest.skip(reason)
    from sio.workers.executors.supervised import SupervisedExecutor

    job = tmp_path / "job"
    job.mkdir()
    monkeypatch.chdir(job)
    probe = build_c(HOSTILE / "z_probe.c", static=True)

    def run(source: str, *args: str, static: bool = True, flags: tuple[str, ...] = (),
            executor_kwargs: dict | None = None, **kw: Any) -> HostileRun:
        exe = job / "exe"
        shutil.copy(build_c(HOSTILE / source, *flags, static=static), exe)
        out, err = job / "out", job / "err"
        with SupervisedExecutor(**(executor_kwargs or {})) as ex, \
                open(out, "wb") as fout, open(err, "wb") as ferr:
            kw.setdefault("stderr", ferr)
            renv = ex(["./exe", *args], stdout=fout, ignore_errors=True, **kw)
        assert survivors() == []
        with SupervisedExecutor() as ex, open(job / "probe.out", "wb") as fprobe:
            after = ex([str(probe)], stdout=fprobe, time_limit=2000, ignore_errors=True)
        assert (after["result_code"], (job / "probe.out").read_text()) == ("OK", "")
        return HostileRun(renv, out.read_bytes(), err.read_bytes(), job)

    return run
