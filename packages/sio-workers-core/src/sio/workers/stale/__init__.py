"""Clearing what dead workers left on the machine (stale state).

A worker killed mid-job (SIGKILL, the OOM killer, a power cut of its
container) cannot clean up. Its runs die with it (every watcher has a
parent-death signal; see ``docs/running.rst``), but files, cgroups, mounts
and lock files stay. :func:`clear_stale_state` removes them; a worker calls
it once when it starts (``sio-celery-worker``, unless ``SIO_CLEAR_STALE=0``),
an operator with ``sio-clear-stale`` (``--dry-run`` only reports), and
``sio-doctor`` shows what a sweep would find.

It is safe while other workers of the machine run: everything a live job
uses is held with an ``flock`` (job directories, count areas, supervisor
slots, sandbox installs, the ``cpu-exec`` machine lock), and only what
nobody holds is touched — while the sweep itself holds its lock, so no job
can start using it meanwhile.

The sweep, in order:

1. supervisor slots nobody holds: processes with the slot's uid killed, the
   slot's cgroup emptied (:mod:`sio.workers.stale.slots`);
2. job directories and instruction-count areas nobody holds: processes
   working in them killed, mounts inside them unmounted, the directories
   removed; half-installed sandboxes likewise
   (:mod:`sio.workers.stale.directories`);
3. every cleaner other packages register in the entry point group
   ``sio.stale`` (``sio-exec`` repairs the ``cpu-exec`` machine lock file):
   a callable ``cleaner(report: Report, dry_run: bool) -> None``.
"""

from __future__ import annotations

import argparse
import logging
import os
from importlib.metadata import entry_points

from sio.workers.stale.directories import clear_job_directories, clear_sandbox_partials
from sio.workers.stale.report import Report
from sio.workers.stale.slots import clear_slots

__all__ = ["Report", "clear_stale_state", "main", "ENTRY_POINT_GROUP"]

logger = logging.getLogger(__name__)

#: entry point group of the cleaners of other packages
ENTRY_POINT_GROUP = "sio.stale"


def clear_stale_state(dry_run: bool = False) -> Report:
    """Remove (with ``dry_run``: only find) the leftovers of dead workers.

    Never raises for a leftover it cannot clear: it goes into
    ``report.problems``. Must run as the user the workers run as (root for
    the supervisor's slots and cgroups).
    """
    report = Report(dry_run=dry_run)
    steps = [("supervisor slots", clear_slots), ("job directories", clear_job_directories),
             ("sandboxes", clear_sandbox_partials)]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            steps.append((ep.name, ep.load()))
        except Exception as exc:  # a broken plugin must not stop a worker
            report.problems.append(f"cleaner {ep.name}: cannot load: {exc}")
    for name, step in steps:
        try:
            step(report, dry_run)
        except Exception as exc:
            report.problems.append(f"{name}: {type(exc).__name__}: {exc}")
    return report


def clear_at_worker_start() -> Report | None:
    """What a worker runs when it starts: the sweep, logged, unless
    ``$SIO_CLEAR_STALE`` is ``0``."""
    if os.environ.get("SIO_CLEAR_STALE", "1") == "0":
        return None
    report = clear_stale_state()
    if report.found():
        logger.warning("stale state of dead workers: %s", report.summary())
        for line in report.lines():
            logger.info("stale state: %s", line)
    for problem in report.problems:
        logger.warning("stale state not cleared: %s", problem)
    return report


def main(argv: list[str] | None = None) -> int:
    """``sio-clear-stale [--dry-run]``: the sweep, one line per finding."""
    parser = argparse.ArgumentParser(
        prog="sio-clear-stale",
        description="Remove what dead sio-workers left on this machine: processes and "
        "cgroups of supervisor slots, job directories, count areas, half-installed "
        "sandboxes, broken lock files. Safe while other workers run.",
    )
    parser.add_argument("--dry-run", action="store_true", help="only report what would go")
    args = parser.parse_args(argv)
    report = clear_stale_state(dry_run=args.dry_run)
    for line in report.lines():
        print(line)
    print(report.summary())
    return 1 if report.problems else 0
