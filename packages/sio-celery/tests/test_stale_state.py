"""A worker starting up clears what dead predecessors left — and only that.

Planted before ``sio-celery-worker`` starts (everything in private places:
``TMPDIR``, ``SIO_SUPERVISOR_RUNDIR``, ``SIO_CGROUP_PREFIX``, uid base,
sandbox base directory, ``cpu-exec`` lock file):

* stale: a job directory with a process working in it and a bind mount of a
  directory whose files must survive; an instruction-count area; a program
  with a supervisor slot's uid; a process in another slot's cgroup; a
  half-installed sandbox; the ``cpu-exec`` lock file replaced by a symlink;
* live (their locks held by this test, as a running worker would): a job
  directory with a process in it, a slot with a program of its uid, a
  sandbox install in progress.

``sio-clear-stale --dry-run`` lists the stale ones and removes nothing; the
worker's start removes every stale one and leaves every live one.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

CGROUP_MOUNT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "cpuacct", "pids", "freezer")
UID_BASE = 64000


def _v1() -> bool:
    return all((CGROUP_MOUNT / c / "cgroup.procs").exists() for c in V1_CONTROLLERS)


pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not _v1(),
                                reason="needs root and cgroup v1 (to plant slot leftovers)")


def _flock(path: Path, directory: bool = False) -> int:
    flags = os.O_RDONLY | (os.O_DIRECTORY if directory else os.O_CREAT)
    fd = os.open(path, flags, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _alive(proc: subprocess.Popen) -> bool:
    return proc.poll() is None


def _mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


class Planted:
    """The leftovers and the live things of one test; cleans all up."""

    def __init__(self, root: Path):
        self.root = root
        self.prefix = f"sio-test-{uuid.uuid4().hex[:8]}"
        self.tmp = root / "tmp"
        self.rundir = root / "run"
        self.sandboxes = root / "sandboxes"
        self.exec_lock = root / "exec.lock"
        for d in (self.tmp, self.rundir / "slots", self.sandboxes):
            d.mkdir(parents=True)
        self.procs: list[subprocess.Popen] = []
        self.fds: list[int] = []
        self.mounts: list[Path] = []
        self.cgroups: list[Path] = []

    @property
    def env(self) -> dict[str, str]:
        return {"TMPDIR": str(self.tmp), "SIO_SUPERVISOR_RUNDIR": str(self.rundir),
                "SIO_CGROUP_PREFIX": self.prefix, "SIO_SUPERVISOR_UID_BASE": str(UID_BASE),
                "SIO_SANDBOXES_BASEDIR": str(self.sandboxes),
                "SIO_EXEC_LOCK_FILE": str(self.exec_lock)}

    def sleeper(self, cwd: Path = Path("/"), uid: int | None = None) -> subprocess.Popen:
        def drop():
            if uid is not None:
                os.setgid(uid)
                os.setuid(uid)

        proc = subprocess.Popen(["sleep", "1000"], cwd=cwd, start_new_session=True,
                                preexec_fn=drop)
        self.procs.append(proc)
        return proc

    def slot_cgroup(self, index: int) -> list[Path]:
        dirs = [CGROUP_MOUNT / c / self.prefix / f"slot-{index}" for c in V1_CONTROLLERS]
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
        self.cgroups += dirs
        return dirs

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for fd in self.fds:
            os.close(fd)
        for m in self.mounts:
            subprocess.run(["umount", "-l", str(m)], capture_output=True)
        for d in self.cgroups:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
        for c in V1_CONTROLLERS:
            try:
                (CGROUP_MOUNT / c / self.prefix).rmdir()
            except OSError:
                pass


@pytest.fixture
def planted(tmp_path):
    p = Planted(tmp_path)
    s: dict[str, object] = {}
    # a stale job directory: a file, a process working in it, a bind mount
    stale_job = p.tmp / "sio-job-deadbeef"
    stale_job.mkdir()
    (stale_job / "out").write_text("x")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep").write_text("must survive")
    bound = stale_job / "bound"
    bound.mkdir()
    subprocess.run(["mount", "--bind", str(precious), str(bound)], check=True)
    p.mounts.append(bound)
    s["job_proc"] = p.sleeper(cwd=stale_job)
    s["stale_job"], s["precious"], s["bound"] = stale_job, precious, bound
    # a stale count area
    area = p.tmp / "sio-vcpu-cafe"
    area.mkdir()
    (area / "counts").write_text("0")
    s["area"] = area
    # a live job directory (locked, as its job would) with a process in it
    live_job = p.tmp / "sio-job-alive"
    live_job.mkdir()
    p.fds.append(_flock(live_job, directory=True))
    s["live_job"], s["live_job_proc"] = live_job, p.sleeper(cwd=live_job)
    # slot 5: a program with its uid; slot 7: a process in its cgroup;
    # slot 3: live (its lock held) with a program of its uid
    s["uid_proc"] = p.sleeper(uid=UID_BASE + 5)
    cg_proc = p.sleeper()
    for d in p.slot_cgroup(7):
        (d / "cgroup.procs").write_text(str(cg_proc.pid))
    s["cg_proc"] = cg_proc
    p.fds.append(_flock(p.rundir / "slots" / "slot-3.lock"))
    s["live_slot_proc"] = p.sleeper(uid=UID_BASE + 3)
    # sandboxes: one stale half-install, one in progress (install lock held)
    stale_sb = p.sandboxes / ".gone.new-abc123"
    (stale_sb / "x").mkdir(parents=True)
    busy_sb = p.sandboxes / ".busy.new-def456"
    busy_sb.mkdir()
    p.fds.append(_flock(p.sandboxes / ".busy.install.lock"))
    s["stale_sb"], s["busy_sb"] = stale_sb, busy_sb
    # the cpu-exec lock file replaced by a symlink
    os.symlink("/etc/passwd", p.exec_lock)
    s["planted"] = p
    try:
        yield s
    finally:
        p.cleanup()


def _assert_untouched(s) -> None:
    assert s["stale_job"].exists() and _mounted(s["bound"])
    for key in ("job_proc", "uid_proc", "cg_proc", "live_job_proc", "live_slot_proc"):
        assert _alive(s[key]), key
    assert s["area"].exists() and s["stale_sb"].exists() and s["busy_sb"].exists()
    assert s["planted"].exec_lock.is_symlink()


def _wait_dead(proc: subprocess.Popen, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return True
        time.sleep(0.05)
    return False


def test_dry_run_lists_and_keeps(planted):
    p = planted["planted"]
    out = subprocess.run([Path(sys.executable).parent / "sio-clear-stale", "--dry-run"],
                         env={**os.environ, **p.env}, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for pid in (planted["job_proc"].pid, planted["uid_proc"].pid, planted["cg_proc"].pid):
        assert f"process {pid}" in text, text
    for pid in (planted["live_job_proc"].pid, planted["live_slot_proc"].pid):
        assert f"process {pid}" not in text, text
    assert f"job directory {planted['stale_job']}" in text
    assert f"count area {planted['area']}" in text
    assert f"half-installed sandbox {planted['stale_sb']}" in text
    assert str(planted["bound"]) in text and "lock file" in text
    assert "would clear" in text.splitlines()[-1]
    _assert_untouched(planted)


@pytest.mark.slow
def test_worker_start_clears_stale_state_only(planted, start_worker):
    p = planted["planted"]
    worker = start_worker("-c", "1", "--without-mingle", "--without-gossip", env=p.env)
    for key in ("job_proc", "uid_proc", "cg_proc"):
        assert _wait_dead(planted[key]), f"{key} survived the worker's start"
    assert not planted["stale_job"].exists()
    assert not _mounted(planted["bound"])
    assert (planted["precious"] / "keep").read_text() == "must survive"
    assert not planted["area"].exists() and not planted["stale_sb"].exists()
    assert not os.path.lexists(p.exec_lock)
    assert os.path.exists("/etc/passwd")
    # what live workers hold stays
    assert planted["live_job"].exists() and planted["busy_sb"].exists()
    assert _alive(planted["live_job_proc"]) and _alive(planted["live_slot_proc"])
    # the slot cgroup of the dead run is empty
    procs = (CGROUP_MOUNT / "pids" / p.prefix / "slot-7" / "cgroup.procs").read_text()
    assert procs.split() == []
    assert "stale state of dead workers" in worker.output()
    os.kill(worker.main_pid(), signal.SIGTERM)
