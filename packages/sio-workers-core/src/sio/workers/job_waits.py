"""When a job waits: the moments a worker's background work is for.

A job's Python code and a background thread of the same process share one
GIL. Each hand-over of it between the two costs the job 10–40 µs on this VM
(a futex wake, often of the other CPU), and a thread woken while the job
runs Python takes the GIL at the job's next system call. The job
directories' thread (:mod:`sio.workers.jobdir_keeper`) therefore works while
the job waits for its program: the supervisor's watch (the wait for the
launcher's status line) begins with :func:`a_wait_begins`, and the thread
sleeps in :func:`wait_for_a_wait` until such a wait begins.

Contract: :func:`a_wait_begins` never blocks for long (one lock, one
wake-up of the threads listening); :func:`wait_for_a_wait` returns once a
wait has begun since ``since`` (a value of :func:`begun`), once ``stop()``
is true (checked again at every :func:`nudge`), or after
``timeout`` seconds, for work that must not wait for ever where jobs never
wait so (a compile job, an idle worker). Threads only: a forked child has
no listening thread.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable

_cond = threading.Condition()
_begun = 0  # waits begun so far (a generation count)
_listeners = 0  # threads in wait_for_a_wait


def a_wait_begins() -> None:
    """The job is about to wait (for its program): background work may run."""
    global _begun
    with _cond:
        _begun += 1
        if _listeners:
            _cond.notify_all()


def begun() -> int:
    """How many waits have begun so far (for :func:`wait_for_a_wait`)."""
    return _begun


def wait_for_a_wait(since: int, timeout: float, stop: Callable[[], bool]) -> bool:
    """Sleep until a job's wait has begun since ``since``, ``stop()`` is
    true or ``timeout`` passes; return whether a wait came (or ``stop()``)."""
    global _listeners
    with _cond:
        _listeners += 1
        try:
            return _cond.wait_for(lambda: _begun != since or stop(), timeout)
        finally:
            _listeners -= 1


def nudge() -> None:
    """Have the listening threads check their ``stop()`` again."""
    with _cond:
        _cond.notify_all()


def _forget_in_child() -> None:
    global _cond, _listeners
    _cond = threading.Condition()
    _listeners = 0


os.register_at_fork(after_in_child=_forget_in_child)
