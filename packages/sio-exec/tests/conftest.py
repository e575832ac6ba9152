"""Fixtures of the sio-exec tests: compiled test programs and job runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sio.workers import runner

PROGRAMS = Path(__file__).resolve().parent / "programs"


@pytest.fixture(autouse=True)
def _private_exec_lock(tmp_path_factory, monkeypatch):
    """Our tests use their own machine-wide lock file, so that a cpu-exec
    test never waits for other suites' jobs (nor they for it)."""
    path = tmp_path_factory.getbasetemp() / "sio-exec-tests.lock"
    monkeypatch.setenv("SIO_EXEC_LOCK_FILE", str(path))


@pytest.fixture(scope="session")
def program(build_c):
    """``program(name) -> path`` of ``programs/<name>.c`` compiled."""

    def get(name: str) -> str:
        return str(build_c(PROGRAMS / f"{name}.c"))

    return get


@pytest.fixture
def job(tmp_path):
    """``job(job_type, files={key: bytes|path}, **keys) -> environ``.

    Byte contents are written to files under ``tmp_path``; every file key is
    a local path (``use_filetracker: false``).
    """

    def run(job_type: str, files: dict | None = None, **keys):
        environ = {"job_type": job_type, "use_filetracker": False}
        for key, value in (files or {}).items():
            if isinstance(value, bytes):
                path = tmp_path / f"{key}.data"
                path.write_bytes(value)
                value = str(path)
            environ[key] = str(value)
        environ.update(keys)
        return runner.run(environ)

    return run



@pytest.fixture
def unprotected():
    """Skip unless ``DetailedUnprotectedExecutor`` (unsafe-exec, trusted
    checkers, ingen, inwer) is installed."""
    return pytest.importorskip("sio.workers.executors.unprotected")
