"""The Celery application of sio-workers and the names of its one task.

Importable as :data:`sio.celery.app`, :data:`sio.celery.TASK_NAME`,
:data:`sio.celery.QUEUE_NAME` and :func:`sio.celery.config_module` (see
:mod:`sio.celery`). It lives below both :mod:`sio.celery` and
:mod:`sio.celery.job` (which registers the task with the app), so that
neither has to import the other's half-made module.
"""

from __future__ import annotations

import os

from celery import Celery
from sio.celery import settings as _settings

#: The task clients send jobs to.
TASK_NAME = "sio.celery.job.sioworkers_job"

#: Queue, exchange and routing key of jobs.
QUEUE_NAME = "sioworkers"


def config_module() -> str:
    """The configuration module the app uses."""
    return os.environ.get("CELERY_CONFIG_MODULE") or _settings.DEFAULT_CONFIG_MODULE


app = Celery("sio.celery", set_as_current=False)
app.config_from_object(_settings.LazySettings(config_module()))
