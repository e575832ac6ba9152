"""A worker logs its job directories' file system and what a new file
costs there once it is ready (sio.workers.jobdir_fs): a warning with what to
do when that is dear, else an info line."""

from __future__ import annotations

import os
import re

import pytest

from sio.workers import jobdir_fs

LINE = re.compile(r"\[[^\]]*: (WARNING|INFO)/MainProcess\] job directories in (\S+): (.*)")
COST = re.compile(r"a new file or directory costs (\d+) us of CPU now")


def _job_directories_line(worker) -> tuple[str, str, int, str]:
    found = [LINE.search(line) for line in worker.output().splitlines()]
    found = [m for m in found if m]
    assert len(found) == 1, worker.output()
    level, path, text = found[0].groups()
    return level, path, int(COST.search(text).group(1)), text


@pytest.mark.slow
@pytest.mark.parametrize("where", ["tmp_path", "/dev/shm"])
def test_worker_logs_its_job_directories_file_system(where, start_worker, tmp_path):
    jobs = tmp_path / "jobs" if where == "tmp_path" else where
    if where == "tmp_path":
        jobs.mkdir()
    elif not os.path.isdir(where):
        pytest.skip(f"no {where}")
    fs = jobdir_fs.describe(str(jobs), measure=False)
    worker = start_worker("-c", "1", "--without-mingle", "--without-gossip",
                          env={"TMPDIR": str(jobs)})
    level, path, cost, text = _job_directories_line(worker)
    assert path == fs.path and text.startswith(fs.summary)
    assert (level == "WARNING") == (cost > jobdir_fs.DEAR_US), text
    assert ("put TMPDIR on a tmpfs" in text) == (level == "WARNING")
    if level == "WARNING" and fs.fstype == "ext4" and fs.journal is False:
        assert jobdir_fs.NO_JOURNAL_ADVICE in text
    assert not [p for p in os.listdir(jobs) if p.startswith(".sio-fs-probe-")]
