"""Celery bindings of sio-workers.

``app`` is the Celery application of ``celery -A sio.celery worker``,
``celery -A sio.celery flower`` and ``sio-celery-worker``. It is configured
from the module named by ``$CELERY_CONFIG_MODULE`` (Celery's ``--config``
sets it too), by default :mod:`sio.celery.default_config`; old and new
setting names are both accepted. The app is not made Celery's *current*
app, so importing :mod:`sio.celery.job` from a program that has its own
Celery app does not take that app's place.

The one task is :data:`TASK_NAME` (:func:`sio.celery.job.sioworkers_job`),
routed to the queue, exchange and routing key :data:`QUEUE_NAME`.
"""

from __future__ import annotations

from sio.celery import application as _application

__all__ = ["QUEUE_NAME", "TASK_NAME", "app", "config_module"]

# Defined in sio.celery.application (below this package and sio.celery.job).

#: The task clients send jobs to.
TASK_NAME = _application.TASK_NAME

#: Queue, exchange and routing key of jobs.
QUEUE_NAME = _application.QUEUE_NAME

app = _application.app
config_module = _application.config_module

# Register the task with the app (job.py takes ``app`` from sio.celery.application).
from sio.celery import job as _job  # noqa: E402,F401
from sio.celery import startup as _startup  # noqa: E402

_startup.connect(app)
