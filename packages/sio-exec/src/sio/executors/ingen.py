"""The ``ingen`` job: run a test generator and collect the files it writes.

In (``docs/contracts.rst`` §6.2): ``exe_file`` (the generator), ``re_string`` (a
regular expression; a file is collected when it *matches* at the start of its
name, :func:`re.match`), ``collected_files_path`` (a filetracker directory),
``use_sandboxes`` (not supported: the supervisor gives no program write
access to the job directory, so ``true`` fails the job with a clear reason;
generators are problem setters' code and run unprotected), limits ``ingen_time_limit`` (CPU ms, default 600000),
``ingen_mem_limit`` (KiB, default 256 MiB), ``ingen_output_limit`` (bytes of
standard output kept, default 10 KiB), ``ingen_real_time_limit`` (default
twice the time limit).

The generator runs in an empty directory ``gen/`` of the job directory (its
own file is outside it). After a run with exit code 0, every *regular* file
of ``gen/`` whose name matches is uploaded to
``collected_files_path/<name>`` (symlinks, FIFOs and directories are
skipped).

Out, merged into the environ (input keys kept): ``collected_files``
``{name: versioned path}`` (empty when the generator failed),
``stdout`` (list of lines of the first ``ingen_output_limit`` bytes of its
standard output, valid UTF-8; standard error goes to the same stream),
``return_code`` (``-N`` for a death by signal N), ``result_code``,
``result_string``, ``time_used``, ``mem_used``.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Callable
from typing import Any

from sio.executors import common, files, locking
from sio.workers import Failure, ft
from sio.workers.environ import get_limit, utf8_safe
from sio.workers.runner import current_job_dir

logger = logging.getLogger(__name__)

DEFAULT_INGEN_TIME_LIMIT = 600_000  # ms
DEFAULT_INGEN_MEM_LIMIT = 256 * 1024  # KiB
DEFAULT_INGEN_OUTPUT_LIMIT = 10 * 1024  # bytes


def limits(environ: dict, prefix: str, time_ms: int, mem_kib: int) -> dict[str, int | None]:
    """CPU, wall and memory limits from ``<prefix>*`` keys (wall defaults to
    twice the CPU limit plus 1 s)."""
    time_limit = get_limit(environ, prefix, "time_limit", time_ms)
    return {
        "time_limit": time_limit,
        "mem_limit": get_limit(environ, prefix, "mem_limit", mem_kib),
        "real_time_limit": get_limit(
            environ,
            prefix,
            "real_time_limit",
            None if time_limit is None else 2 * time_limit + 1000,
        ),
    }


def output_lines(fd: int, limit: int | None) -> list[str]:
    """The first ``limit`` bytes of the file open as ``fd``, as UTF-8-safe lines."""
    size = os.fstat(fd).st_size if limit is None else limit
    data = os.pread(fd, size, 0)
    return utf8_safe(data).splitlines()


def run_captured(
    executor: Any,
    command: list[str],
    cwd: str,
    stdin_fd: int | None,
    limits_kw: dict[str, Any],
    **kwargs: Any,
) -> tuple[dict, int]:
    """Run ``command`` in ``cwd`` with stdout+stderr to a fresh file (returned
    open, positioned anywhere) and return ``(renv, fd)``."""
    out_fd = files.create_output(os.path.join(os.path.dirname(cwd), os.path.basename(cwd) + ".stdout"))
    previous = os.getcwd()
    try:
        os.chdir(cwd)
        with open(out_fd, "r+b", closefd=False) as out, open(
            os.devnull, "rb"
        ) if stdin_fd is None else open(stdin_fd, "rb", closefd=False) as inp, executor:
            renv = executor(
                command, stdin=inp, stdout=out, stderr=out, ignore_errors=True, **limits_kw, **kwargs
            )
    except BaseException:
        os.close(out_fd)
        raise
    finally:
        os.chdir(previous)
    return renv, out_fd


def _collect(environ: dict, gen_dir: str, pattern: re.Pattern[str], target: str) -> dict[str, str]:
    collected: dict[str, str] = {}
    for name in sorted(os.listdir(gen_dir)):
        path = os.path.join(gen_dir, name)
        if not pattern.match(name) or not stat.S_ISREG(os.lstat(path).st_mode):
            continue
        holder: dict[str, Any] = {"use_filetracker": environ.get("use_filetracker", True)}
        collected[name] = ft.upload(holder, name, path, f"{target.rstrip('/')}/{name}")
    return collected


def return_code_of(renv: dict) -> int | None:
    """The program's exit code, ``-N`` for a death by signal N."""
    code = renv.get("return_code")
    signal = renv.get("exit_signal")
    if signal:
        return -int(signal)
    return code if isinstance(code, int) else None


def run_ingen(
    environ: dict,
    make_executor: Callable[[bool], Any],
    workdir: str | None = None,
) -> dict:
    """The ``ingen`` job (see the module docs); ``make_executor(sandboxed)``
    gives the executor."""
    workdir = os.path.abspath(workdir or current_job_dir())
    for key in ("re_string", "collected_files_path"):
        if not isinstance(environ.get(key), str):
            raise Failure(f"the ingen job needs '{key}', a string")
    try:
        pattern = re.compile(environ["re_string"])
    except re.error as exc:
        raise Failure(f"re_string is not a valid regular expression: {exc}") from None
    output_limit = get_limit(environ, "ingen_", "output_limit", DEFAULT_INGEN_OUTPUT_LIMIT)
    limits_kw = limits(environ, "ingen_", DEFAULT_INGEN_TIME_LIMIT, DEFAULT_INGEN_MEM_LIMIT)
    if environ.get("use_sandboxes"):
        raise Failure(
            "ingen with use_sandboxes is not supported: the supervisor cannot give "
            "a generator write access to the job directory"
        )
    with locking.job_lock(False):
        exe = files.clear_path(os.path.join(workdir, "ingen"))
        ft.download(environ, "exe_file", exe, add_to_cache=True)
        os.chmod(exe, 0o755)
        gen_dir = files.clear_path(os.path.join(workdir, "gen"))
        os.mkdir(gen_dir, 0o777)
        renv, out_fd = run_captured(
            make_executor(False), [exe], gen_dir, None, limits_kw
        )
        try:
            stdout = output_lines(out_fd, output_limit)
        finally:
            os.close(out_fd)
    result = common.normalise_renv(renv)
    code = return_code_of(renv)
    collected: dict[str, str] = {}
    if code == 0 and result["result_code"] == "OK":
        collected = _collect(environ, gen_dir, pattern, environ["collected_files_path"])
    else:
        logger.error("ingen failed: %s %s", result["result_code"], result["result_string"])
    environ.update(
        collected_files=collected,
        stdout=stdout,
        return_code=code,
        result_code=result["result_code"],
        result_string=result["result_string"],
        time_used=result["time_used"],
        mem_used=result["mem_used"],
    )
    return environ
