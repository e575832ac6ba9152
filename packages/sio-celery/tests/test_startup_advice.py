"""A worker warns at its start when its job directories' file system makes
every new file dear (sio.workers.jobdir_fs), and only then."""

from __future__ import annotations

import os

import pytest

from sio.workers import jobdir_fs

WARNING = "job directories in "


@pytest.mark.slow
def test_worker_start_warns_about_a_journal_less_ext4(start_worker, tmp_path):
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    fs = jobdir_fs.describe(str(jobs))
    worker = start_worker("-c", "1", "--without-mingle", "--without-gossip",
                          env={"TMPDIR": str(jobs)})
    lines = [line for line in worker.output().splitlines() if WARNING in line]
    if fs.advice:  # this project's VMs: ext4 without a journal
        assert len(lines) == 1 and "WARNING" in lines[0], worker.output()
        assert f"{WARNING}{fs.path}: {jobdir_fs.NO_JOURNAL_ADVICE}" in lines[0]
    else:
        assert lines == [], worker.output()
    if os.path.isdir("/dev/shm") and jobdir_fs.describe("/dev/shm").fstype == "tmpfs":
        quiet = start_worker("-c", "1", "--without-mingle", "--without-gossip",
                             env={"TMPDIR": "/dev/shm"})
        assert WARNING not in quiet.output(), quiet.output()
