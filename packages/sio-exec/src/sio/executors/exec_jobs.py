"""The exec-family jobs (``docs/contracts.rst`` §6.2): thin functions over
:func:`sio.executors.common.run_exec`.

* ``exec``: ``SupervisedExecutor``, shared machine lock;
* ``cpu-exec``: ``SupervisedExecutor``, exclusive machine lock;
* ``vcpu-exec``, ``sio2jail-exec``: ``VCPUExecutor`` (instruction counting);
* ``unsafe-exec``: ``DetailedUnprotectedExecutor`` (no isolation);
* ``ingen``: unprotected; ``inwer``: unprotected, or supervised with
  ``use_sandboxes``.

Native executables run under the supervisor's ``native`` profile with the
job directory invisible (``allow_local_open=False``); Java jars under the
``jvm`` profile and Python artefacts under the ``python`` profile, with the
job directory visible read-only (the artefact must be read). Custom checkers
run unprotected, or with ``untrusted_checker`` under the supervisor with read
access to their own directory (``chk``, ``in``, ``out``, ``hint``) only.

Every job function takes the environ and, optionally, the job directory
(default: :func:`sio.workers.runner.current_job_dir`).
"""

from __future__ import annotations

from typing import Any

from sio.executors import common, ingen, inwer
from sio.executors.common import Program

_PROFILES = {"native": "native", "java": "jvm", "python": "python"}


def _supervised(program: Program) -> Any:
    from sio.workers.executors.supervised import SupervisedExecutor

    local = program.profile != "native"
    return SupervisedExecutor(allow_local_open=local, profile=_PROFILES[program.profile])


def _supervised_alone(program: Program) -> Any:
    """For ``cpu-exec``: nothing else of ours runs while the program does
    (the next run's sandbox is prepared after the run, not during it)."""
    executor = _supervised(program)
    executor.defaults["prepare_during_run"] = False
    return executor


def _vcpu(program: Program) -> Any:
    from sio.workers.executors.vcpu import VCPUExecutor

    return VCPUExecutor(
        allow_local_open=program.profile != "native", profile=_PROFILES[program.profile]
    )


def _unprotected(program: Program) -> Any:
    from sio.workers.executors.unprotected import DetailedUnprotectedExecutor

    return DetailedUnprotectedExecutor()


def checker_executor(untrusted: bool) -> Any:
    """Unprotected for trusted checkers, supervised (reading its own
    directory only) for untrusted ones."""
    if untrusted:
        from sio.workers.executors.supervised import SupervisedExecutor

        return SupervisedExecutor(allow_local_open=True, use_program_return_code=True)
    from sio.workers.executors.unprotected import DetailedUnprotectedExecutor

    return DetailedUnprotectedExecutor()


def helper_executor(sandboxed: bool) -> Any:
    """For ``ingen``/``inwer``: unprotected, or supervised (``use_sandboxes``)."""
    if sandboxed:
        from sio.workers.executors.supervised import SupervisedExecutor

        return SupervisedExecutor(allow_local_open=True, use_program_return_code=True)
    from sio.workers.executors.unprotected import DetailedUnprotectedExecutor

    return DetailedUnprotectedExecutor()


def run_exec(environ: dict, workdir: str | None = None) -> dict:
    """``exec``: the program under the supervisor."""
    return common.run_exec(environ, _supervised, checker_executor, workdir=workdir)


def run_cpu_exec(environ: dict, workdir: str | None = None) -> dict:
    """``cpu-exec``: like ``exec``, alone on the machine (exclusive lock)."""
    return common.run_exec(
        environ, _supervised_alone, checker_executor, exclusive=True, workdir=workdir
    )


def run_vcpu_exec(environ: dict, workdir: str | None = None) -> dict:
    """``vcpu-exec``: instruction counting (``SIO_INSTRUCTION_COUNTER``)."""
    return common.run_exec(environ, _vcpu, checker_executor, workdir=workdir)


def run_sio2jail_exec(environ: dict, workdir: str | None = None) -> dict:
    """``sio2jail-exec``: the same executor as ``vcpu-exec``."""
    return common.run_exec(environ, _vcpu, checker_executor, workdir=workdir)


def run_unsafe_exec(environ: dict, workdir: str | None = None) -> dict:
    """``unsafe-exec``: no isolation — trusted code and developers only."""
    return common.run_exec(
        environ, _unprotected, checker_executor, clean_env=False, share_sources=False,
        workdir=workdir,
    )


def run_ingen(environ: dict, workdir: str | None = None) -> dict:
    """``ingen``: see :mod:`sio.executors.ingen`."""
    return ingen.run_ingen(environ, helper_executor, workdir=workdir)


def run_inwer(environ: dict, workdir: str | None = None) -> dict:
    """``inwer``: see :mod:`sio.executors.inwer`."""
    return inwer.run_inwer(environ, helper_executor, workdir=workdir)
