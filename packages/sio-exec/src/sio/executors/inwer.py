"""The ``inwer`` job: run an input verifier on one test input.

In (``docs/contracts.rst`` §6.2): ``exe_file`` (the verifier), ``in_file`` (given
on standard input; a zip with exactly one member is unpacked),
``in_file_name`` (passed as ``argv[1]`` when present), ``use_sandboxes``
(run under the supervisor; default: unprotected, as the original), limits
``inwer_time_limit`` (CPU ms, default 300000), ``inwer_mem_limit`` (KiB,
default 256 MiB), ``inwer_output_limit`` (bytes of output kept, default
10 KiB), ``inwer_real_time_limit`` (default twice the time limit).

Out, merged into the environ (input keys kept): ``result_code``,
``result_string``, ``stdout`` (list of lines of the first
``inwer_output_limit`` bytes of standard output and error, valid UTF-8),
``time_used``, ``mem_used``.

``result_code``: the run's verdict when it did not end normally (``TLE``,
``MLE``, ``RE`` for a signal or an exit code ≥ 2, ...); otherwise ``OK`` when
the verifier exited 0 and its first line starts with ``OK``, else ``WA``
(the input is wrong). ``result_string`` is then the verifier's first line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from sio.executors import common, files, ingen, locking
from sio.workers import ft
from sio.workers.environ import get_limit, utf8_safe
from sio.workers.runner import current_job_dir

logger = logging.getLogger(__name__)

DEFAULT_INWER_TIME_LIMIT = 300_000  # ms
DEFAULT_INWER_MEM_LIMIT = 256 * 1024  # KiB
DEFAULT_INWER_OUTPUT_LIMIT = 10 * 1024  # bytes


def verdict(result: dict, return_code: int | None, stdout: list[str]) -> tuple[str, str]:
    """``(result_code, result_string)`` of a verifier run (see the module docs)."""
    code = result["result_code"]
    first = stdout[0] if stdout else ""
    if code not in ("OK", "RE") or return_code is None or return_code < 0 or return_code >= 2:
        return code, result["result_string"]
    if return_code == 0 and first.startswith("OK"):
        return "OK", utf8_safe(first, common.checker.RESULT_STRING_LIMIT)
    text = first or f"verifier exited with code {return_code} without a message"
    return "WA", utf8_safe(text, common.checker.RESULT_STRING_LIMIT)


def run_inwer(
    environ: dict,
    make_executor: Callable[[bool], Any],
    workdir: str | None = None,
) -> dict:
    """The ``inwer`` job (see the module docs); ``make_executor(sandboxed)``
    gives the executor."""
    workdir = os.path.abspath(workdir or current_job_dir())
    output_limit = get_limit(environ, "inwer_", "output_limit", DEFAULT_INWER_OUTPUT_LIMIT)
    limits_kw = ingen.limits(environ, "inwer_", DEFAULT_INWER_TIME_LIMIT, DEFAULT_INWER_MEM_LIMIT)
    sandboxed = bool(environ.get("use_sandboxes", False))
    with locking.job_lock(False):
        run_dir = files.clear_path(os.path.join(workdir, "verify"))
        os.mkdir(run_dir, 0o755)
        exe = os.path.join(run_dir, "inwer")
        ft.download(environ, "exe_file", exe, add_to_cache=True)
        os.chmod(exe, 0o755)
        in_path = files.clear_path(os.path.join(workdir, "in"))
        ft.download(environ, "in_file", in_path, add_to_cache=True)
        if files.is_zip(in_path):
            files.unpack_single_member_zip(in_path)
        command = ["./inwer"]
        if environ.get("in_file_name") is not None:
            command.append(str(environ["in_file_name"]))
        in_fd = files.open_regular(in_path)
        try:
            extra = {"ignore_return": True, "env": {}} if sandboxed else {}
            renv, out_fd = ingen.run_captured(
                make_executor(sandboxed), command, run_dir, in_fd, limits_kw, **extra
            )
        finally:
            os.close(in_fd)
        try:
            stdout = ingen.output_lines(out_fd, output_limit)
        finally:
            os.close(out_fd)
    result = common.normalise_renv(renv)
    code, text = verdict(result, ingen.return_code_of(renv), stdout)
    if code != "OK":
        logger.error("inwer: %s %s", code, text)
    environ.update(
        result_code=code,
        result_string=text,
        stdout=stdout,
        time_used=result["time_used"],
        mem_used=result["mem_used"],
    )
    return environ
