"""Running jobs: :func:`run` and the ``sio-batch`` command.

Contract (``contracts.md`` §2): ``run(environ)`` looks the job up by
``environ['job_type']`` in the ``sio.jobs`` entry-point group, runs it in a
fresh temporary directory (the current directory while the job runs, removed
afterwards), applies ``prefilters``/``postfilters`` from
``sio.workers.filters`` and returns the environ with ``result`` set to
``SUCCESS`` or ``FAILURE`` (plus ``exception`` and ``traceback``). Every
exception raised by a job becomes a FAILURE environ; only a non-dict argument
makes ``run()`` raise.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextvars import ContextVar

from sio.workers import entrypoints
from sio.workers.environ import to_jsonable

logger = logging.getLogger(__name__)

BEGIN_MARKER = "--- BEGIN ENVIRON ---"
END_MARKER = "--- END ENVIRON ---"

#: The working directory is process-wide, so jobs run one at a time per
#: process; parallelism comes from processes (Celery's prefork pool).
_job_lock = threading.RLock()

_current_job_dir: ContextVar[str | None] = ContextVar("sio_job_dir", default=None)
_caller_dir: ContextVar[str | None] = ContextVar("sio_caller_dir", default=None)


def current_job_dir() -> str:
    """The directory of the job now running (the current directory outside a job)."""
    return _current_job_dir.get() or os.getcwd()


def caller_dir() -> str:
    """The working directory ``run()`` was called from (the current directory
    outside a job). Local paths with ``use_filetracker: false`` are relative
    to it."""
    return _caller_dir.get() or os.getcwd()


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


#: Prefix of job directories (in :func:`tempfile.gettempdir`).
JOB_DIR_PREFIX = "sio-job-"
#: Lock file beside the job directories: creators hold it shared from
#: ``mkdtemp`` until their directory is locked, a sweep holds it exclusive.
_CREATION_LOCK = ".sio-job-dirs.lock"
#: Seconds between two sweeps of one process (the first job of a process
#: always sweeps).
SWEEP_INTERVAL = 60.0
_last_sweep: float | None = None


def _forget_sweep_in_child() -> None:
    global _last_sweep
    _last_sweep = None


os.register_at_fork(after_in_child=_forget_sweep_in_child)


def _lock_dir(path: str) -> int | None:
    """An open descriptor of directory ``path`` holding an exclusive
    ``flock`` (kept while its job runs; the kernel drops it when the process
    dies), or ``None`` when ``path`` cannot be locked now."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _open_creation_lock(parent: str) -> int | None:
    path = os.path.join(parent, _CREATION_LOCK)
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        try:
            return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError:
            continue
    return None


def sweep_job_directories(parent: str | None = None) -> int:
    """Remove the job directories in ``parent`` (default: the temporary
    directory) that no running job holds: those of processes that died
    without removing them (SIGKILL, the OOM killer). Returns how many were
    removed (0 also when the sweep was skipped because another process was
    creating a job directory or sweeping at that moment)."""
    return _sweep(parent or tempfile.gettempdir()) or 0


def _sweep(parent: str) -> int | None:
    """:func:`sweep_job_directories`; ``None`` when skipped."""
    lock = _open_creation_lock(parent)
    if lock is None:
        return None
    removed = 0
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return None
        with os.scandir(parent) as entries:
            for entry in entries:
                if not entry.name.startswith(JOB_DIR_PREFIX):
                    continue
                fd = _lock_dir(entry.path)
                if fd is None:  # its job is running (or it is not ours to open)
                    continue
                try:
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed += 1
                finally:
                    os.close(fd)
    except OSError:  # an unreadable temporary directory: nothing to sweep
        return removed
    finally:
        os.close(lock)
    if removed:
        logger.warning("removed %d job directories left by dead processes in %s",
                       removed, parent)
    return removed


def _make_job_directory() -> tuple[str, int | None]:
    """A new job directory and the descriptor that locks it while its job
    runs (``None`` only where the directory cannot be opened, e.g. no
    descriptor is left). Sweeps first, at most every :data:`SWEEP_INTERVAL`
    seconds per process."""
    global _last_sweep
    parent = tempfile.gettempdir()
    now = time.monotonic()
    if (_last_sweep is None or now - _last_sweep >= SWEEP_INTERVAL) and _sweep(
        parent
    ) is not None:
        _last_sweep = now
    lock = _open_creation_lock(parent)
    try:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_SH)  # no sweep between mkdtemp and our lock
        path = tempfile.mkdtemp(prefix=JOB_DIR_PREFIX, dir=parent)
        return path, _lock_dir(path)
    finally:
        if lock is not None:
            os.close(lock)


@contextlib.contextmanager
def _job_directory() -> Iterator[str]:
    previous = os.getcwd()
    path, dir_lock = _make_job_directory()
    token = _current_job_dir.set(path)
    caller_token = _caller_dir.set(previous)
    try:
        os.chdir(path)
        yield path
    finally:
        _current_job_dir.reset(token)
        _caller_dir.reset(caller_token)
        try:
            os.chdir(previous)
        finally:
            _remove_job_directory(path)
            if dir_lock is not None:
                os.close(dir_lock)


def _remove_job_directory(path: str) -> None:
    """Remove the job directory and everything in it (never following a
    symlink). An empty one (``ping``) is one ``rmdir``."""
    try:
        os.rmdir(path)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


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
    with _job_lock:
        original = environ
        try:
            with _filetracker_for(environ), _job_directory():
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
