"""Running jobs: :func:`run` and the ``sio-batch`` command.

Contract (``docs/contracts.rst`` §2): ``run(environ)`` looks the job up by
``environ['job_type']`` in the ``sio.jobs`` entry-point group, runs it in a
fresh temporary directory (the current directory while the job runs, removed
afterwards: :mod:`sio.workers.jobdir`), applies ``prefilters``/``postfilters``
from ``sio.workers.filters`` and returns the environ with ``result`` set to
``SUCCESS`` or ``FAILURE`` (plus ``exception`` and ``traceback``). Every
exception raised by a job becomes a FAILURE environ; only a non-dict argument
makes ``run()`` raise.

:func:`current_job_dir`, :func:`caller_dir`, :func:`sweep_job_directories`,
:data:`JOB_DIR_PREFIX` and :data:`SWEEP_INTERVAL` live in
:mod:`sio.workers.jobdir` and are importable from here too (patch them, and
the job directory's internals, in :mod:`sio.workers.jobdir`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import traceback
from collections.abc import Iterator

from sio.workers import entrypoints, jobdir
from sio.workers.environ import to_jsonable
from sio.workers.jobdir import (
    JOB_DIR_PREFIX,
    SWEEP_INTERVAL,
    caller_dir,
    current_job_dir,
    sweep_job_directories,
)

__all__ = [  # in the order of the documentation
    "current_job_dir",
    "caller_dir",
    "JOB_DIR_PREFIX",
    "SWEEP_INTERVAL",
    "sweep_job_directories",
    "BEGIN_MARKER",
    "END_MARKER",
    "run",
    "BatchInputError",
    "parse_batch_environ",
    "format_environ",
    "main",
]

logger = logging.getLogger(__name__)

BEGIN_MARKER = "--- BEGIN ENVIRON ---"
END_MARKER = "--- END ENVIRON ---"


def _filter_names(environ: dict, key: str) -> list[str]:
    names = environ.get(key) or []
    if isinstance(names, str):
        names = names.split()
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"{key} must be a list of filter names, got {names!r}")
    return names


def _apply_filters(environ: dict, key: str) -> dict:
    for name in _filter_names(environ, key):
        flt = entrypoints.load(entrypoints.FILTERS_GROUP, name)
        result = flt(environ)
        if isinstance(result, dict):
            environ = result
    return environ


@contextlib.contextmanager
def _filetracker_for(environ: dict) -> Iterator[None]:
    url = environ.get("filetracker_url")
    if not url:
        yield
        return
    if not isinstance(url, str):
        raise TypeError(f"filetracker_url must be a string, got {url!r}")
    from sio.workers import ft

    with ft.using_instance(ft.init_instance(url)):
        yield


def _record_failure(environ: dict, exc: BaseException) -> None:
    environ["result"] = "FAILURE"
    environ["exception"] = f"{type(exc).__name__}: {exc}"
    environ["traceback"] = traceback.format_exc()


def _run_job(environ: dict) -> dict:
    job_type = environ.get("job_type")
    if not isinstance(job_type, str) or not job_type:
        raise ValueError(
            "the environ needs 'job_type', a non-empty string"
            + ("" if job_type is None else f"; got {job_type!r}")
        )
    job = entrypoints.load(entrypoints.JOBS_GROUP, job_type)
    environ = _apply_filters(environ, "prefilters")
    environ["worker"] = socket.gethostname()
    logger.debug("running job %s", job_type)
    result = job(environ)
    if isinstance(result, dict):
        environ = result
    environ.setdefault("result", "SUCCESS")
    if environ["result"] not in ("SUCCESS", "FAILURE"):
        environ["result"] = "SUCCESS"
    return environ


def run(environ: dict) -> dict:
    """Perform the job described by ``environ`` and return the environ.

    The returned environ is always JSON-serialisable. Raises ``TypeError``
    only when ``environ`` is not a dict.
    """
    if not isinstance(environ, dict):
        raise TypeError(f"the environ must be a dict, not {type(environ).__name__}")
    with jobdir._job_lock:
        original = environ
        try:
            with _filetracker_for(environ), jobdir._job_directory():
                environ = _run_job(environ)
        except Exception as exc:
            _record_failure(environ, exc)
        else:
            environ.pop("exception", None)
            environ.pop("traceback", None)
            environ["result"] = "SUCCESS"
        try:
            environ = _apply_filters(environ, "postfilters")
        except Exception as exc:
            _record_failure(environ, exc)
        if not isinstance(environ, dict):  # pragma: no cover - defensive
            environ = original
        safe = to_jsonable(environ)
        environ.clear()
        environ.update(safe)
        return environ


# --------------------------------------------------------------- sio-batch ---


class BatchInputError(ValueError):
    """The ``environ`` variable given to ``sio-batch`` is unusable."""


def parse_batch_environ(text: str | None) -> dict:
    """Decode ``sio-batch``'s input: JSON, or a JSON string holding JSON."""
    if text is None:
        raise BatchInputError("the environment variable 'environ' is not set")
    try:
        value = json.loads(text)
        if isinstance(value, str):
            value = json.loads(value)
    except json.JSONDecodeError as exc:
        raise BatchInputError(f"'environ' is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BatchInputError(
            f"'environ' must be a JSON object, got {type(value).__name__}"
        )
    return value


def format_environ(environ: dict) -> str:
    """The ``sio-batch`` output: markers around one line of JSON."""
    line = json.dumps(environ, ensure_ascii=False, allow_nan=False)
    return f"{BEGIN_MARKER}\n{line}\n{END_MARKER}\n"


def main(argv: list[str] | None = None) -> int:
    """``sio-batch [JOB_TYPE]``: run the environ from ``$environ``, print it."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(
            "usage: environ='{\"job_type\": ...}' sio-batch [JOB_TYPE]\n"
            "Runs the job described by the JSON in the environment variable\n"
            "'environ' and prints the resulting environ between markers.\n"
            "Variables 'prefilters'/'postfilters' (space-separated) add filters."
        )
        return 0
    try:
        environ = parse_batch_environ(os.environ.get("environ"))
    except BatchInputError as exc:
        print(f"sio-batch: {exc}", file=sys.stderr)
        return 2
    if argv:
        environ["job_type"] = argv[0]
    for key in ("prefilters", "postfilters"):
        extra = os.environ.get(key, "").split()
        if extra:
            current = environ.get(key) or []
            if isinstance(current, str):
                current = current.split()
            environ[key] = list(current) + extra
    if environ.get("debug"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    environ = run(environ)
    sys.stdout.write(format_environ(environ))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
