"""The Celery task :data:`sio.celery.TASK_NAME` that runs sio-workers jobs.

``sioworkers_job(environ) -> environ``: one positional argument, the
environ (a JSON object); the result is the environ returned by
:func:`sio.workers.runner.run`. The task never raises: a non-dict environ,
an unknown job type, a job raising anything (``SystemExit`` included) all
end as an environ with ``result: FAILURE``, ``exception`` and
``traceback``, and the pool process keeps serving. The one exception that
passes through is the pool's own termination (SIGTERM to the pool process
when a job is revoked with ``terminate`` or cancelled on connection loss):
the job did not finish and is delivered again.

The task is registered with :data:`sio.celery.app` and, being shared, with
every other Celery app that imports this module (``imports`` in
``default_config``), so a stock worker using ``default_config`` runs it too.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from sio.celery.application import TASK_NAME, app
from sio.workers.environ import to_jsonable
from sio.workers.runner import run

logger = logging.getLogger(__name__)

__all__ = ["run_environ", "sioworkers_job"]


def _failure(environ: Any, exc: BaseException, tb: str) -> dict:
    result = dict(environ) if isinstance(environ, dict) else {"environ": environ}
    result["result"] = "FAILURE"
    result["exception"] = f"{type(exc).__name__}: {exc}"
    result["traceback"] = tb
    return to_jsonable(result)


def run_environ(environ: Any) -> dict:
    """Run ``environ`` like :func:`sio.workers.runner.run`, never raising.

    A non-dict ``environ`` gives ``{"result": "FAILURE", "exception":
    "TypeError: ...", "environ": <what was sent>, ...}``.
    """
    if not isinstance(environ, dict):
        exc = TypeError(f"the environ must be a JSON object, not {type(environ).__name__}")
        logger.error("rejected job: %s", exc)
        return _failure(environ, exc, "")
    try:
        return run(environ)
    except SystemExit as exc:
        if _terminating(exc):
            raise  # the pool process is being stopped: the job did not finish
        logger.exception("job raised SystemExit")
        return _failure(environ, exc, traceback.format_exc())
    except Exception as exc:  # run() turns job errors into FAILURE; be safe anyway
        logger.exception("job raised out of run()")
        return _failure(environ, exc, traceback.format_exc())


def _terminating(exc: SystemExit) -> bool:
    """True when ``exc`` comes from the pool's own SIGTERM handler (revoke
    with terminate, a worker cancelling jobs on connection loss, shutdown),
    not from the job: Celery must then treat the job as lost and deliver it
    again, not store a FAILURE."""
    try:
        from billiard.common import terminate_handler_fired
    except ImportError:  # older billiard: its handler exits with -(256 - signum)
        code = exc.code
        return isinstance(code, int) and -256 < code < -200
    return terminate_handler_fired()


@app.task(
    name=TASK_NAME,
    acks_late=True,
    reject_on_worker_lost=True,
    serializer="json",
)
def sioworkers_job(environ: Any) -> dict:
    """Run one sio-workers job: ``environ`` in, the resulting environ out."""
    return run_environ(environ)
