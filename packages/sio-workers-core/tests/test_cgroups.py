"""cgroup backends: detection, v1/v2 accounting and the kill sweep on this machine."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from sio.workers.supervisor import cgroups


def test_field_parsing():
    text = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"
    assert cgroups._field(text, "usage_usec") == 1500
    with pytest.raises(cgroups.CgroupError):
        cgroups._field(text, "nope")


def test_detect_names_a_version_or_none():
    assert cgroups.detect() in ("v1", "v2", None)


@pytest.fixture
def slot_cgroup():
    if os.geteuid() != 0 or cgroups.detect() is None:
        pytest.skip("needs root and a usable cgroup hierarchy")
    cg = cgroups.open_slot_cgroup(60)  # a slot index the supervisor tests do not reach first
    yield cg
    cg.kill_all()
    cg.finish()
    cg.close()


def test_accounting_and_kill_sweep(slot_cgroup):
    cg = slot_cgroup
    cg.prepare(64 << 20, 10)
    assert cg.pids() == []
    procs = cg.procs_files()
    script = (
        "import sys\n"
        "for p in sys.argv[1:]: open(p, 'w').write('0')\n"
        "x = bytearray(8 << 20)\n"
        "while True: pass\n"
    )
    child = subprocess.Popen(["python3", "-c", script, *procs])
    try:
        deadline = time.monotonic() + 10
        while cg.cpu_ns() < 200_000_000 and time.monotonic() < deadline:
            time.sleep(0.02)
        stats = cg.stats()
        assert child.pid in cg.pids()
        assert stats.cpu_ns >= 200_000_000
        assert stats.peak_bytes >= 8 << 20
        assert stats.oom_kills == 0
        cg.kill_all()
        assert cg.pids() == []
        assert child.wait(timeout=5) == -9
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_oom_kill_is_counted(slot_cgroup):
    cg = slot_cgroup
    cg.prepare(32 << 20, 10)
    script = (
        "import sys\n"
        "for p in sys.argv[1:]: open(p, 'w').write('0')\n"
        "x = bytearray(256 << 20)\n"
    )
    child = subprocess.run(["python3", "-c", script, *cg.procs_files()], check=False)
    assert child.returncode == -9
    stats = cg.stats()
    assert stats.oom_kills >= 1
    assert stats.peak_bytes >= (32 << 20) - (1 << 20)


def test_v2_kill_sweep_on_a_real_cgroup2():
    """The v2 kill path (cgroup.kill / cgroup.freeze) on this machine's cgroup2
    mount, which has no controllers: only membership and killing are tested."""
    unified = cgroups.CGROUP_MOUNT / "unified"
    if os.geteuid() != 0 or not (unified / "cgroup.procs").exists():
        pytest.skip("needs root and a cgroup2 mount at /sys/fs/cgroup/unified")
    cg = cgroups.CgroupV2(0, unified / "sio-workers-test")
    cg.root.mkdir(exist_ok=True)
    cg.dir.mkdir(exist_ok=True)
    child = subprocess.Popen(["sleep", "60"])
    try:
        (cg.dir / "cgroup.procs").write_text(str(child.pid))
        assert cg.pids() == [child.pid]
        cg.kill_all()
        assert cg.pids() == []
        assert child.wait(timeout=5) == -9
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        cg.dir.rmdir()
        cg.root.rmdir()


def test_v2_without_controllers_is_refused(monkeypatch):
    """A delegated cgroup2 subtree lacking memory, pids or cpu is not used
    (this machine's cgroup2 mount has none of them): detection falls back to
    v1 or to a clear refusal, never to a v2 run without accounting."""
    unified = cgroups.CGROUP_MOUNT / "unified"
    if not (unified / "cgroup.controllers").exists():
        pytest.skip("needs a cgroup2 mount at /sys/fs/cgroup/unified")
    available = (unified / "cgroup.controllers").read_text().split()
    if all(c in available for c in cgroups.V2_CONTROLLERS):
        pytest.skip("this cgroup2 mount has the controllers")
    root = unified / "sio-workers-refused"
    monkeypatch.setenv("SIO_CGROUP_ROOT", str(root))
    assert cgroups.v2_root() is None
    assert not root.exists()
    assert cgroups.detect() == ("v1" if cgroups.v1_available() else None)
    with pytest.raises(cgroups.CgroupError, match="not delegated"):
        cgroups.open_slot_cgroup(0, "v2")


def test_favordynmods_is_set_once_and_can_be_turned_off(monkeypatch):
    """The supervisor mounts an empty named hierarchy with ``favordynmods``
    (joins never wait for an RCU grace period); the doctor reports it."""
    if os.geteuid() != 0 or cgroups.detect() is None:
        pytest.skip("needs root and a usable cgroup hierarchy")
    from sio.workers import doctor
    from sio.workers.supervisor import build, slots

    launcher = str(build.launcher_path())
    monkeypatch.setattr(slots, "_favor_checked", {})
    state = slots.favor_dynmods(launcher)
    kernel = tuple(int(x) for x in os.uname().release.split(".")[:2])
    if kernel < (6, 0):
        assert state is False
        return
    assert state is True
    path = str(slots.run_dir() / "favordynmods")
    with open("/proc/self/mounts") as mounts:
        options = [line.split()[3] for line in mounts if line.split()[1] == path]
    assert options and "favordynmods" in options[-1].split(",")
    assert slots.favor_dynmods(launcher) is True  # remembered: no second mount
    with open("/proc/self/mounts") as mounts:
        assert sum(line.split()[1] == path for line in mounts) == len(options)
    assert doctor.check_cgroups()["favordynmods"] == "on"
    monkeypatch.setenv("SIO_CGROUP_FAVORDYNMODS", "0")
    assert slots.favor_dynmods(launcher) is None
