"""Supervisor slots that dead workers left: their programs and cgroups.

A slot (:mod:`sio.workers.supervisor.slots`) is held with an ``flock`` on its
lock file for the whole run; the kernel drops it when the holder dies. For
every slot nobody holds now (taken here without waiting, and kept while it is
cleaned, so no run can start in it meanwhile):

* every process whose real uid is the slot's uid is killed (those uids belong
  to no user of the host, so only a run's program can have one);
* its cgroup, where it exists, is emptied (freeze and kill on v1,
  ``cgroup.kill`` on v2) and, on v2 where slots get a fresh cgroup per run,
  removed.

Slots are the ``$SIO_SUPERVISOR_SLOTS`` configured ones plus any whose
cgroup exists (a predecessor configured with more slots).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sio.workers.flock import try_lock
from sio.workers.stale import processes
from sio.workers.stale.report import Report
from sio.workers.supervisor import cgroups
from sio.workers.supervisor import slots as slot_pool

_SLOT_DIR = re.compile(r"^slot-(\d+)$")


def _cgroup_dirs() -> dict[int, list[tuple[Path, str]]]:
    """slot index -> its existing cgroup directories (every controller) and
    their versions."""
    found: dict[int, list[tuple[Path, str]]] = {}
    parents = [(cgroups.CGROUP_MOUNT / c / cgroups.V1_PREFIX, "v1")
               for c in cgroups.V1_CONTROLLERS]
    root = cgroups.v2_root() if (cgroups.CGROUP_MOUNT / "cgroup.controllers").exists() else None
    if root is not None:
        parents.append((root, "v2"))
    for parent, version in parents:
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            if (m := _SLOT_DIR.match(name)) and (parent / name).is_dir():
                found.setdefault(int(m[1]), []).append((parent / name, version))
    return found


def _members(dirs: list[tuple[Path, str]]) -> list[int]:
    pids: set[int] = set()
    for d, _ in dirs:
        try:
            pids.update(int(x) for x in (d / "cgroup.procs").read_text().split())
        except (OSError, ValueError):
            pass
    return sorted(pids)


def _try_slot_lock(index: int) -> int | None:
    return try_lock(slot_pool.slot_lock_path(index), os.O_RDWR | os.O_CREAT, 0o600)


def _empty_cgroup(index: int, dirs: list[tuple[Path, str]], report: Report,
                  dry_run: bool) -> None:
    members = _members(dirs)
    v2 = any(version == "v2" for _, version in dirs)
    if dry_run:
        report.processes += processes.kill(members, dry_run=True)
        if members or v2:
            report.cgroups.append(f"slot-{index}")
        return
    try:
        if v2:
            root = cgroups.v2_root()
            if root is not None:
                cg = cgroups.CgroupV2(index, root)
                cg.finish()  # kills what is left and removes the cgroup
                report.cgroups.append(str(cg.dir))
        elif members:
            cg = cgroups.CgroupV1(index)
            try:
                cg.kill_all()
            finally:
                cg.close()
            report.cgroups.append(f"slot-{index}")
    except (cgroups.CgroupError, OSError) as exc:
        report.problems.append(f"cgroup of slot {index}: {exc}")
    report.processes += members


def clear_slots(report: Report, dry_run: bool = False) -> None:
    """Kill the programs and empty the cgroups of every slot nobody holds."""
    dirs = _cgroup_dirs()
    base = slot_pool.uid_base()
    count = max([slot_pool.slot_count(), *(i + 1 for i in dirs)])
    by_uid: dict[int, list[int]] = {}
    for pid in processes.all_pids():
        uid = processes.real_uid(pid)
        if uid is not None and 0 <= uid - base < count:
            by_uid.setdefault(uid - base, []).append(pid)
    indices = sorted(set(dirs) | set(by_uid))
    for index in indices:
        fd = _try_slot_lock(index)
        if fd is None:
            continue  # a live run holds it
        try:
            if index in by_uid:
                for _ in range(50):
                    killed = processes.kill(processes.pids_with_uid(base + index), dry_run)
                    report.processes += killed
                    if not killed or dry_run:
                        break
            if index in dirs:
                _empty_cgroup(index, dirs[index], report, dry_run)
        finally:
            os.close(fd)
