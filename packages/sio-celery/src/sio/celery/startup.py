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

from typing import Any

from celery.signals import worker_init, worker_process_shutdown


def connect(app: Any) -> None:
    """Clear stale state when a worker of ``app`` starts; remove a pool
    process's job directory made ahead when it ends."""

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
