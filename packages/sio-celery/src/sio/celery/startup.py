"""What a worker of :data:`sio.celery.app` does once when it starts.

On Celery's ``worker_init`` signal (the main process, before the pool
starts and before any job is taken) it clears the stale state of dead
predecessors on the machine — job directories, supervisor slots' processes
and cgroups, count areas, half-installed sandboxes, broken lock files
(:func:`sio.workers.stale.clear_stale_state`; safe while other workers of
the machine run). ``SIO_CLEAR_STALE=0`` turns it off.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_init


def connect(app: Any) -> None:
    """Clear stale state when a worker of ``app`` starts."""

    @worker_init.connect(weak=False)
    def _clear_stale_state(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not app:
            return
        from sio.workers.stale import clear_at_worker_start

        clear_at_worker_start()
