"""Unprotected execution: :class:`UnprotectedExecutor`,
:class:`DetailedUnprotectedExecutor` (no isolation, for trusted programs).

Both run commands with :func:`sio.workers.executors.process.run_command`
(re-exported here), the one process runner of sio-workers: rlimits in the
command, the wall-clock limit enforced by ``sio-reaper``, capture without
deadlocks, and no process of the run outliving it or the worker. See that
module for how a command runs.
"""

from __future__ import annotations

import os
from typing import Any

from sio.workers.executors.base import BaseExecutor
from sio.workers.executors.process import Usage, run_command

__all__ = ["DetailedUnprotectedExecutor", "UnprotectedExecutor", "run_command"]


class UnprotectedExecutor(BaseExecutor):
    """Runs commands with no isolation (see the module doc): rlimits, a
    wall-clock limit on the whole run, capture without deadlocks."""


class DetailedUnprotectedExecutor(UnprotectedExecutor):
    """:class:`UnprotectedExecutor` plus a verdict and measurements.

    Adds to the renv: ``time_used`` (user CPU ms from ``wait4`` rusage),
    ``mem_used`` (``ru_maxrss`` KiB, the command's own peak RSS as measured
    by ``sio-reaper``; when the worker had to kill the reaper, the reaper's,
    said so in ``measurement``),
    ``num_syscalls`` (0: not counted), ``exit_signal`` (or ``None``),
    ``result_code``/``result_string``: ``TLE`` ("time limit exceeded") when
    CPU ≥ ``time_limit`` or the wall limit fired, ``RE`` ("program exited due
    to signal N" / "program exited with code N"), else ``OK`` ("ok").
    ``measurement`` = ``{"time": "rusage-user", "memory": "rusage-maxrss"}``
    (or ``"rusage-maxrss-upper-bound"``). A non-zero exit is a verdict, never an
    :class:`~sio.workers.executors.base.ExecError`.
    """

    raise_on_error = False

    def _execute(self, command: list[str] | str, **options: Any) -> dict[str, Any]:
        options["rusage"] = True
        renv = super()._execute(command, **options)
        status = renv.pop("_status")
        usage: Usage = renv.pop("_rusage")
        renv.pop("_pidns", None)
        time_used = int(usage.ru_utime * 1000)
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        renv.update(
            time_used=time_used,
            mem_used=usage.ru_maxrss,
            num_syscalls=0,
            exit_signal=signum,
            measurement={
                "time": "rusage-user",
                "memory": "rusage-maxrss" if usage.exact else "rusage-maxrss-upper-bound",
            },
        )
        time_limit = options.get("time_limit")
        if renv.get("real_time_killed") or (time_limit is not None and time_used >= time_limit):
            renv.update(result_code="TLE", result_string="time limit exceeded")
        elif signum is not None:
            renv.update(result_code="RE", result_string=f"program exited due to signal {signum}")
        elif renv["return_code"]:
            renv.update(
                result_code="RE", result_string=f"program exited with code {renv['return_code']}"
            )
        else:
            renv.update(result_code="OK", result_string="ok")
        return renv
