"""Fixtures of the sio-compile tests: run the compile job on local files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sio.compilers.run import run_command
from sio.workers.runner import run

SOURCES = Path(__file__).resolve().parent / "sources"


@pytest.fixture(scope="session")
def sources() -> Path:
    return SOURCES


@pytest.fixture
def compile_job(tmp_path):
    """``compile_job(source, **keys) -> environ``: the compile job through
    :func:`sio.workers.runner.run` with local files (``use_filetracker:
    False``). ``source`` is a name in ``sources/`` or a path; the artefact
    goes to ``tmp_path/out``."""

    def compile_(source: str | Path, **keys) -> dict:
        path = Path(source)
        if not path.is_absolute():
            path = SOURCES / path
        environ = {"job_type": "compile", "source_file": str(path),
                   "out_file": str(tmp_path / "out"), "use_filetracker": False}
        environ.update(keys)
        result = run(environ)
        assert result["result"] == "SUCCESS", result.get("traceback")
        return result

    return compile_


@pytest.fixture
def run_artefact():
    """``run_artefact(environ) -> CompletedProcess``: run a compiled
    artefact the way its ``exec_info`` says (text output)."""

    def run_(environ: dict, timeout: float = 60) -> subprocess.CompletedProcess:
        artefact = environ["out_file"]
        if environ["exec_info"]["mode"] == "executable":
            os.chmod(artefact, 0o755)
        return subprocess.run(run_command(environ["exec_info"], artefact),
                              capture_output=True, text=True, timeout=timeout,
                              cwd=os.path.dirname(artefact))

    return run_
