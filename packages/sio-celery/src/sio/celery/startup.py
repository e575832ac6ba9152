"""What a worker of :data:`sio.celery.app` does once when it starts, and
what its pool processes do when they end.

On Celery's ``worker_init`` signal (the main process, before the pool
starts and before any job is taken) it clears the stale state of dead
predecessors on the machine — job directories, supervisor slots' processes
and cgroups, count areas, half-installed sandboxes, broken lock files
(:func:`sio.workers.stale.clear_stale_state`; safe while other workers of
the machine run). ``SIO_CLEAR_STALE=0`` turns it off.

On ``worker_process_shutdown`` (a pool process that ends: warm shutdown,
``--max-tasks-per-child``), which ends with :func:`os._exit` and so without
:mod:`atexit`, the process removes the job directory it made ahead for its
next job (:func:`sio.workers.jobdir.discard_ahead`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_init, worker_process_shutdown, worker_ready

logger = logging.getLogger(__name__)


def connect(app: Any) -> None:
    """Clear stale state when a worker of ``app`` starts, log its job
    directories' file system once it is ready; remove a pool process's job
    directory made ahead when it ends."""

    @worker_process_shutdown.connect(weak=False)
    def _discard_job_directory_ahead(**_: Any) -> None:
        from sio.workers.jobdir import discard_ahead

        discard_ahead()

    @worker_init.connect(weak=False)
    def _clear_stale_state(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not app:
            return
        from sio.workers.stale import clear_at_worker_start

        clear_at_worker_start()

    @worker_ready.connect(weak=False)
    def _advise_on_job_directories(sender: Any = None, **_: Any) -> None:
        # (once the worker's logging is set up: the line gets its prefix)
        if getattr(sender, "app", None) is app:
            _log_job_directories()


def _log_job_directories() -> None:
    """Log the job directories' file system and the cost of a new file
    there (:mod:`sio.workers.jobdir_fs`): a warning when it is dear."""
    from sio.workers import jobdir_fs

    try:
        fs = jobdir_fs.describe()
    except Exception:  # noqa: BLE001 - advice only: never keep a worker from starting
        logger.debug("cannot tell the job directories' file system", exc_info=True)
        return
    if fs is None:
        return
    if fs.advice:
        logger.warning("job directories in %s: %s - %s", fs.path, fs.summary, fs.advice)
    else:
        logger.info("job directories in %s: %s", fs.path, fs.summary)
