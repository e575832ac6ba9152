"""sio-workers: run judge jobs described by a JSON-able dict, the *environ*.

The public entry point is :func:`sio.workers.runner.run`.
"""

__all__ = ["Failure"]


class Failure(Exception):
    """Raised by a job to report a failure of the job itself.

    :func:`sio.workers.runner.run` turns it (like any other exception raised
    by a job) into ``result: FAILURE`` with ``exception`` and ``traceback``.
    """
