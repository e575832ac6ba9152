"""The embedded single-machine broker and the automatic result backend.

With no broker configured, sio-celery uses kombu's SQLAlchemy transport on a
SQLite file (``sqla+sqlite:///<data dir>/broker.sqlite``) and a matching
``db+sqlite:///<data dir>/results.sqlite`` result backend. The data
directory is ``$SIO_CELERY_DATA_DIR``, else ``$XDG_DATA_HOME/sio-workers/celery``,
else ``~/.local/share/sio-workers/celery``: every client and worker of one
user on one machine meets there without any server.

Importing this module makes the ``sqla``/``sqlalchemy`` kombu transport
aliases point to :class:`sio.celery.transport.Transport`: kombu's SQLAlchemy
transport with SQLite tuning, engine-option filtering and redelivery of the
jobs of dead workers (see :mod:`sio.celery.transport`).

Limits of the embedded broker (documented in ``docs/celery.rst``): one
machine only; no broadcast (``celery inspect``, Flower and task events need
RabbitMQ or Redis).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kombu.transport import TRANSPORT_ALIASES

from sio.celery.transport import SQLITE_BUSY_TIMEOUT

__all__ = [
    "auto_result_backend",
    "broker_url",
    "data_dir",
    "is_embedded",
    "result_backend_url",
]


def data_dir() -> Path:
    """The per-user directory holding the embedded broker's SQLite files."""
    explicit = os.environ.get("SIO_CELERY_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "sio-workers" / "celery"


def _ensure_dir() -> Path:
    path = data_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def broker_url() -> str:
    """The embedded broker's URL (``sqla+sqlite:///...``); creates the directory."""
    return f"sqla+sqlite:///{_ensure_dir() / 'broker.sqlite'}"


def result_backend_url() -> str:
    """The embedded result backend's URL (``db+sqlite:///...``)."""
    return f"db+sqlite:///{_ensure_dir() / 'results.sqlite'}"


def is_embedded(url: str | None) -> bool:
    """True for a broker URL served by kombu's SQLAlchemy transport."""
    return bool(url) and str(url).split("://", 1)[0].startswith(("sqla+", "sqlalchemy+"))


def auto_result_backend(app: Any, url: str | None = None, **kwargs: Any) -> Any:
    """Result backend factory used by ``default_config``.

    ``db+sqlite`` beside the embedded broker when the app's broker is the
    embedded one, ``rpc://`` otherwise. Chosen when the backend is first
    used, so a ``celeryconfig.py`` that sets ``BROKER_URL`` after
    ``from sio.celery.default_config import *`` gets ``rpc://``.
    """
    if is_embedded(app.conf.broker_url):
        from celery.backends.database import DatabaseBackend

        engine_options = dict(app.conf.database_engine_options or {})
        connect_args = dict(engine_options.get("connect_args") or {})
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT)
        engine_options["connect_args"] = connect_args
        db_url = result_backend_url().split("+", 1)[1]
        return DatabaseBackend(app=app, url=db_url, engine_options=engine_options, **kwargs)
    from celery.backends.rpc import RPCBackend

    return RPCBackend(app=app, **kwargs)


TRANSPORT_ALIASES["sqla"] = "sio.celery.transport:Transport"
TRANSPORT_ALIASES["sqlalchemy"] = "sio.celery.transport:Transport"
