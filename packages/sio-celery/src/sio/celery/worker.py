"""``sio-celery-worker [celery worker options] [BROKER_URL]``.

Starts ``celery worker`` for :data:`sio.celery.app`. Every option of
``celery worker`` passes through unchanged (``-c``, ``-l``, ``-n``, ``-Q``,
``--pool``, ``--autoscale``, ...). The broker is the ``BROKER_URL``
argument (the last argument that is not an option and contains ``://``),
else ``$CELERY_BROKER_URL``, else the embedded single-machine broker.
``$CELERY_CONFIG_MODULE`` selects another configuration module (default
:mod:`sio.celery.default_config`).
"""

from __future__ import annotations

import os
import sys

USAGE = """\
usage: sio-celery-worker [celery worker options] [BROKER_URL]

Starts a Celery worker for sio-workers jobs (task sio.celery.job.sioworkers_job,
queue 'sioworkers'). Every 'celery worker' option passes through; see
'celery worker --help'. The broker is BROKER_URL, else $CELERY_BROKER_URL,
else the embedded single-machine broker (SQLite under $SIO_CELERY_DATA_DIR or
~/.local/share/sio-workers/celery). $CELERY_CONFIG_MODULE selects another
configuration module (default: sio.celery.default_config).
"""


def split_broker(argv: list[str]) -> tuple[str | None, list[str]]:
    """Take the broker URL out of ``argv``: ``(url or None, other arguments)``.

    The URL is the last argument that does not start with ``-``, contains
    ``://`` and is not the value of the option before it (``--opt=value``
    forms are never taken).
    """
    for index in range(len(argv) - 1, -1, -1):
        arg = argv[index]
        if arg.startswith("-") or "://" not in arg:
            continue
        previous = argv[index - 1] if index else ""
        if previous.startswith("-") and "=" not in previous and previous in _VALUE_OPTIONS:
            continue
        return arg, argv[:index] + argv[index + 1 :]
    return None, list(argv)


#: ``celery worker`` options whose value may contain ``://``.
_VALUE_OPTIONS = frozenset(
    {"-b", "--broker", "--result-backend", "-f", "--logfile", "-s", "--schedule"}
)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sio-celery-worker``; returns celery's exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    broker, rest = split_broker(argv)
    if broker:
        os.environ["CELERY_BROKER_URL"] = broker
    from sio.celery import app

    try:
        app.worker_main(["worker", *rest])
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
