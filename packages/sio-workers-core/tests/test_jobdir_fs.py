"""The job directories' file system (sio.workers.jobdir_fs) and its line in sio-doctor."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from sio.workers import jobdir_fs

MOUNTINFO = """\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
25 22 0:21 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw
30 22 0:30 / /srv/judge\\040tmp rw,relatime shared:9 - tmpfs judge\\040tmp rw,size=1g
31 22 259:2 / /srv rw,relatime shared:10 - xfs /dev/nvme0n1p2 rw
40 25 0:40 / /dev/shm rw,relatime shared:11 - tmpfs second rw
"""


def test_the_deepest_mount_holds_a_path():
    assert jobdir_fs.mount_of("/tmp", MOUNTINFO) == ("/", "ext4", "254:0", "/dev/vda")
    assert jobdir_fs.mount_of("/srv/x", MOUNTINFO)[:2] == ("/srv", "xfs")
    # an escaped space in the mountpoint and the source
    assert jobdir_fs.mount_of("/srv/judge tmp/a", MOUNTINFO) == (
        "/srv/judge tmp", "tmpfs", "0:30", "judge tmp")
    # /srv/judge is not inside "/srv/judge tmp"; a prefix of a name is no parent
    assert jobdir_fs.mount_of("/srv/judge", MOUNTINFO)[0] == "/srv"
    # stacked on one mountpoint: the last mounted is the one seen
    assert jobdir_fs.mount_of("/dev/shm/a", MOUNTINFO)[3] == "second"
    assert jobdir_fs.mount_of("/x", "garbage\n\n1 2 3\n") is None


def test_journal_is_read_from_jbd2(tmp_path):
    jbd2 = tmp_path / "jbd2"
    jbd2.mkdir()
    (jbd2 / "sda1-8").mkdir()
    (jbd2 / "dm-0-8").mkdir()
    assert jobdir_fs.has_journal("sda1", str(jbd2)) is True
    assert jobdir_fs.has_journal("dm-0", str(jbd2)) is True
    assert jobdir_fs.has_journal("vda", str(jbd2)) is False
    assert jobdir_fs.has_journal("sda", str(jbd2)) is False  # sda1 is not sda


def test_block_device_name_follows_sys_dev_block(tmp_path):
    (tmp_path / "devices" / "virtio0" / "block" / "vda").mkdir(parents=True)
    os.symlink(tmp_path / "devices" / "virtio0" / "block" / "vda", tmp_path / "254:0")
    assert jobdir_fs.block_device_name("254:0", str(tmp_path)) == "vda"
    assert jobdir_fs.block_device_name("0:21", str(tmp_path)) is None


def test_advice_only_when_a_new_file_is_measured_dear():
    def fs(fstype, journal, cost):
        return jobdir_fs.FileSystem("/tmp", "/", fstype, "/dev/vda", "vda", journal, cost)

    assert fs("ext4", False, None).advice is None  # not measured: no claim
    assert fs("ext4", False, jobdir_fs.DEAR_US).advice is None
    dear = fs("ext4", False, 120.4).advice
    assert dear.startswith("that is dear") and jobdir_fs.NO_JOURNAL_ADVICE in dear
    assert "TMPDIR on a tmpfs" in dear and "journaled" in dear
    other = fs("xfs", None, 80).advice
    assert other.startswith("that is dear") and "TMPDIR on a tmpfs" in other
    assert jobdir_fs.NO_JOURNAL_ADVICE not in other and "journaled" not in other
    assert fs("ext4", True, 80).advice is not None  # measured dear all the same
    assert fs("ext4", False, None).summary == "ext4 on vda (mounted at /), NO journal"
    assert fs("ext4", True, 14.6).summary == (
        "ext4 on vda (mounted at /), journal; a new file or directory costs 15 us of CPU now")
    tmpfs = jobdir_fs.FileSystem("/dev/shm", "/dev/shm", "tmpfs", "tmpfs", None, None)
    assert tmpfs.summary == "tmpfs (mounted at /dev/shm)"


def test_the_cost_of_a_new_file_is_measured_and_the_probe_removed(tmp_path):
    cost = jobdir_fs.new_file_cost_us(str(tmp_path))
    assert cost is not None and 0 < cost < 1e6
    assert list(tmp_path.iterdir()) == []
    assert jobdir_fs.new_file_cost_us(str(tmp_path / "missing")) is None
    assert jobdir_fs.describe(str(tmp_path)).new_file_us is not None
    assert jobdir_fs.describe(str(tmp_path), measure=False).new_file_us is None


def test_describe_agrees_with_findmnt(tmp_path):
    findmnt = shutil.which("findmnt")
    if not findmnt:
        pytest.skip("no findmnt")
    for path in (str(tmp_path), "/dev/shm", "/"):
        if not os.path.isdir(path):
            continue
        fs = jobdir_fs.describe(path, measure=False)
        target, fstype = subprocess.run(
            [findmnt, "-T", path, "-no", "TARGET,FSTYPE"], capture_output=True, text=True,
            check=True).stdout.split()[:2]
        assert (fs.mountpoint, fs.fstype) == (target, fstype), path
        options = f"/proc/fs/ext4/{fs.device}/options"
        if fs.fstype == "ext4" and fs.device and os.path.exists(options):
            # another witness: a journaled ext4 always shows its data mode
            # (data=ordered, journal or writeback); one without a journal none
            with open(options) as f:
                journaled = any(line.startswith("data=") for line in f)
            assert fs.journal is journaled


def test_default_is_the_job_directories_parent(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # gettempdir() reads TMPDIR again
    assert jobdir_fs.describe(measure=False).path == os.path.realpath(tmp_path)


COST = re.compile(r"a new file or directory costs (\d+) us of CPU now")


@pytest.mark.parametrize("tmpdir", ["/dev/shm", None])
def test_doctor_prints_the_job_directories_line(tmpdir, tmp_path):
    target = tmpdir if tmpdir and os.path.isdir(tmpdir) else str(tmp_path)
    fs = jobdir_fs.describe(target, measure=False)
    proc = subprocess.run(
        [sys.executable, "-m", "sio.workers.doctor", "--executors", "unprotected"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": target})
    line = next(x for x in proc.stdout.splitlines() if x.startswith("job directories: "))
    assert line.startswith(f"job directories: {fs.path}: {fs.summary}; "), line
    cost = int(COST.search(line).group(1))  # measured by the doctor itself
    assert ("WARNING: that is dear" in line) == (cost > jobdir_fs.DEAR_US), line
    assert not list(tmp_path.glob(".sio-fs-probe-*"))  # the probe is gone


def _mount_ext4(image, mountpoint, *mkfs_options):
    subprocess.run(["truncate", "-s", "32M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", *mkfs_options, str(image)], check=True,
                   capture_output=True)
    mountpoint.mkdir()
    proc = subprocess.run(["mount", "-o", "loop", str(image), str(mountpoint)],
                          capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"cannot loop-mount an image here: {proc.stderr.strip()}")


def test_a_journaled_and_a_journal_less_ext4_are_told_apart(tmp_path):
    if os.geteuid() != 0 or not shutil.which("mkfs.ext4"):
        pytest.skip("needs root and mkfs.ext4")
    journaled, bare = tmp_path / "journaled", tmp_path / "bare"
    try:
        _mount_ext4(tmp_path / "j.img", journaled)
        _mount_ext4(tmp_path / "n.img", bare, "-O", "^has_journal")
        with_journal, without = jobdir_fs.describe(str(journaled)), jobdir_fs.describe(str(bare))
        assert (with_journal.mountpoint, with_journal.fstype) == (str(journaled), "ext4")
        assert with_journal.device.startswith("loop") and with_journal.journal is True
        assert without.device.startswith("loop") and without.journal is False
        for fs in (with_journal, without):
            assert fs.new_file_us is not None
            assert (fs.advice is not None) == (fs.new_file_us > jobdir_fs.DEAR_US)
        if without.advice:
            assert jobdir_fs.NO_JOURNAL_ADVICE in without.advice
        if with_journal.advice:
            assert jobdir_fs.NO_JOURNAL_ADVICE not in with_journal.advice
    finally:
        for mountpoint in (journaled, bare):
            if os.path.ismount(mountpoint):
                subprocess.run(["umount", str(mountpoint)], check=True)
