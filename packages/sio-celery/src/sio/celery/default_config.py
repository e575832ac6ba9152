"""Default Celery configuration of sio-workers.

Use it as ``app.config_from_object("sio.celery.default_config")`` or from a
``celeryconfig.py``::

    from sio.celery.default_config import *
    BROKER_URL = "amqp://user:password@host:5672/vhost"   # old name, or:
    broker_url = "amqp://user:password@host:5672/vhost"   # new name

The settings use Celery's old upper-case names on purpose. Celery 5
refuses a module that mixes old and new names unless each odd one out has
its counterpart, and when both names of one setting are present the new one
wins. Hence: a user overriding with an old name replaces our value; a user
overriding with a new name takes precedence over our old name. Every setting
a user may want to override with a new name has its old name here, so both
styles pass Celery's check. (``sio.celery``'s own app converts this module to
new names, so ``sio-celery-worker`` logs no deprecation warning.)

Broker: ``$CELERY_BROKER_URL`` (Celery also reads it at run time, and it wins
over any setting), else the embedded single-machine broker
(:mod:`sio.celery.embedded`). Result backend: :func:`~sio.celery.embedded.auto_result_backend`
picks ``db+sqlite`` next to the embedded broker and ``rpc://`` for every
other broker, when first used.
"""

from __future__ import annotations

import os as _os

from kombu import Exchange as _Exchange
from kombu import Queue as _Queue

from sio.celery import embedded as _embedded

#: Queue, exchange and routing key of sio-workers jobs.
QUEUE_NAME = "sioworkers"

#: Name of the task clients send jobs to.
TASK_NAME = "sio.celery.job.sioworkers_job"

#: Redis only: seconds a job may run before Redis hands its unacknowledged
#: message to another worker. Must exceed the longest job (compilation:
#: 30 s CPU; executions: their wall-time limit), with a wide margin. It is
#: also how long Redis waits before re-delivering the job of a SIGKILLed worker.
VISIBILITY_TIMEOUT = 6 * 3600

BROKER_URL = _os.environ.get("CELERY_BROKER_URL") or _embedded.broker_url()
CELERY_RESULT_BACKEND = f"{_embedded.__name__}:auto_result_backend"
BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": VISIBILITY_TIMEOUT}
BROKER_CONNECTION_RETRY = True
BROKER_CONNECTION_RETRY_ON_STARTUP = True
BROKER_CONNECTION_MAX_RETRIES = None

CELERY_IMPORTS = ("sio.celery.job",)
CELERY_QUEUES = (
    _Queue(
        QUEUE_NAME,
        _Exchange(QUEUE_NAME, type="direct", durable=True),
        routing_key=QUEUE_NAME,
        durable=True,
    ),
)
# Routing by queue name lets Celery publish through the default exchange
# (one broker round trip less per job on Redis); the queue stays bound to the
# direct exchange ``sioworkers`` with routing key ``sioworkers`` for clients
# that publish there.
CELERY_ROUTES = {TASK_NAME: {"queue": QUEUE_NAME}}
CELERY_DEFAULT_QUEUE = QUEUE_NAME
CELERY_DEFAULT_EXCHANGE = QUEUE_NAME
CELERY_DEFAULT_EXCHANGE_TYPE = "direct"
CELERY_DEFAULT_ROUTING_KEY = QUEUE_NAME
CELERY_DEFAULT_DELIVERY_MODE = "persistent"
CELERY_CREATE_MISSING_QUEUES = True

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_EVENT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
RESULT_ACCEPT_CONTENT = ["json"]

# No job is lost: acknowledge after the job, give it back when the worker
# process dies, take one job at a time, retry publishing.
CELERY_ACKS_LATE = True
CELERY_REJECT_ON_WORKER_LOST = True
CELERYD_PREFETCH_MULTIPLIER = 1
CELERYD_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 60,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 2,
}

# Flower and `celery events`.
CELERY_SEND_EVENTS = True
CELERY_SEND_TASK_SENT_EVENT = True
# Celery's consumer, publishing the worker's task events in batches: at most
# every SIO_EVENT_FLUSH_INTERVAL seconds (0: after each turn of the event
# loop, as Celery does). See sio.celery.consumer.
CELERYD_CONSUMER = "sio.celery.consumer:Consumer"
SIO_EVENT_FLUSH_INTERVAL = 0.1

CELERY_TASK_RESULT_EXPIRES = 24 * 3600

#: What ``from sio.celery.default_config import *`` brings: the settings only.
__all__ = [
    name
    for name in dir()
    if name.isupper() and name not in ("QUEUE_NAME", "TASK_NAME", "VISIBILITY_TIMEOUT")
]
