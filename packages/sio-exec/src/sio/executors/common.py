"""The one run procedure every exec job shares (``docs/contracts.rst`` §6.2).

:func:`run_exec` does, in the job directory:

1. take the machine-wide lock (:mod:`sio.executors.locking`): exclusive for
   ``cpu-exec``, shared for every other job;
2. download ``exe_file`` (named after ``exec_info``) and ``in_file`` (a zip
   with exactly one member is unpacked; any other zip fails the job); local
   files (``use_filetracker: false``) are not copied for supervised jobs:
   the input and the expected output are read in place and an executable
   is hard-linked; files from filetracker are always private copies;
3. run the program with the input on stdin and its stdout written through a
   descriptor to ``out`` opened before the run (stderr is discarded), under
   the job's executor and the ``exec_*`` limits;
4. after ``OK`` and with ``check_output``: download ``hint_file`` (and
   ``chk_file``) and check (:mod:`sio.executors.checker`);
5. with ``out_file``: upload the output (to the remote store only with
   ``upload_out``; otherwise to the worker's local filetracker store).

``exec_info`` (from the compile job; absent = executable):
``{"mode": "executable"}`` runs ``./exe``; ``{"mode": "java", "main_class":
C}`` runs ``java -cp <jar> C``; ``{"mode": "python"}`` runs ``python3 -I
<zipapp>``; ``{"mode": "output-only"}``: ``exe_file`` *is* the output, nothing
runs, it is only checked.

Limits (units ms, KiB, bytes): ``exec_time_limit`` (CPU, default 30000),
``exec_mem_limit`` (default 65536 = 64 MiB), ``exec_output_limit`` (default
50 MiB) — the supervisor's defaults — and ``exec_real_time_limit`` (wall
ms; default: the executor's, ``64 × time limit + 1000`` for the supervisor,
more under the qemu instruction counter). A key present with value ``null`` means no limit;
a wrong type or a negative value fails the job.

Out: ``result_code`` (``OK WA TLE MLE OLE RV RE SE``), ``result_string``
(≤ 1024 bytes, valid UTF-8), ``time_used``, ``mem_used``, ``num_syscalls``,
``real_time_used``, ``result_percentage`` (0–100; 100 for an unchecked
``OK``, 0 for any other verdict) with ``result_percentage_fraction``, and
``out_file`` (versioned) when requested. The verdict never comes from what
the program printed.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from sio.executors import checker, files, locking
from sio.workers import Failure, ft
from sio.workers.environ import get_limit, utf8_safe
from sio.workers.runner import current_job_dir

logger = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT = 30_000  # ms
DEFAULT_MEM_LIMIT = 64 * 1024  # KiB
DEFAULT_OUTPUT_LIMIT = 50 * 1024 * 1024  # bytes
VERDICTS = ("OK", "WA", "TLE", "MLE", "OLE", "RV", "RE", "SE")
MODES = ("executable", "java", "python", "output-only")


@dataclass
class Program:
    """How to run ``exe_file``: ``command`` in the job directory, with
    ``profile`` naming the executor profile it needs (``native``, ``java``,
    ``python``)."""

    mode: str
    filename: str
    command: list[str] = field(default_factory=list)
    profile: str = "native"


def exec_info_of(environ: dict) -> dict:
    """``environ['exec_info']`` validated (absent = executable)."""
    info = environ.get("exec_info") or {"mode": "executable"}
    if not isinstance(info, dict):
        raise Failure(f"exec_info must be an object, got {info!r}")
    mode = info.get("mode", "executable")
    if mode not in MODES:
        raise Failure(f"exec_info has an unknown mode {mode!r}; known: {', '.join(MODES)}")
    if mode == "java" and not isinstance(info.get("main_class"), str):
        raise Failure("exec_info of mode 'java' needs 'main_class'")
    return info


def program_for(exec_info: dict) -> Program:
    """The file name and command for ``exec_info`` (see the module docs)."""
    mode = exec_info.get("mode", "executable")
    if mode == "java":
        name = os.path.basename(str(exec_info.get("preferred_filename") or "prog.jar")) or "prog.jar"
        return Program(mode, name, ["java", "-cp", name, exec_info["main_class"]], "java")
    if mode == "python":
        return Program(mode, "prog.pyz", [python3(), "-I", "prog.pyz"], "python")
    if mode == "output-only":
        return Program(mode, "out")
    return Program(mode, "exe", ["./exe"])


def exec_limits(environ: dict, prefix: str = "exec_") -> dict[str, int | None]:
    """The run's limits from ``<prefix>*`` keys with the defaults above.

    ``real_time_limit`` is included only when the environ gives it: the
    executor's own default then applies (the supervisor's ``64 × time limit
    + 1000``, scaled by qemu's slowdown under the instruction counter).
    """
    limits = {
        "time_limit": get_limit(environ, prefix, "time_limit", DEFAULT_TIME_LIMIT),
        "mem_limit": get_limit(environ, prefix, "mem_limit", DEFAULT_MEM_LIMIT),
        "output_limit": get_limit(environ, prefix, "output_limit", DEFAULT_OUTPUT_LIMIT),
    }
    if prefix + "real_time_limit" in environ:
        limits["real_time_limit"] = get_limit(environ, prefix, "real_time_limit")
    return limits


def normalise_renv(renv: dict) -> dict:
    """The §6.2 result keys from an executor's renv (missing figures are 0,
    a missing verdict is derived from the exit status)."""
    code = renv.get("result_code")
    text = renv.get("result_string")
    if code not in VERDICTS:
        rc = renv.get("return_code")
        if code is not None:
            text = f"unknown verdict {code!r} from the executor: {text or ''}"
            code = "SE"
        elif rc == 0:
            code, text = "OK", text or "ok"
        elif isinstance(rc, int):
            code = "RE"
            text = text or (
                f"program exited due to signal {-rc}" if rc < 0 else f"program exited with code {rc}"
            )
        else:
            code, text = "SE", text or "the executor reported no result"
    result = {
        "result_code": code,
        "result_string": utf8_safe(text or "", checker.RESULT_STRING_LIMIT),
    }
    for key in ("time_used", "mem_used", "num_syscalls", "real_time_used"):
        value = renv.get(key)
        result[key] = int(value) if isinstance(value, (int, float)) and value >= 0 else 0
    return result


def _shared_source(environ: dict, key: str) -> tuple[str, os.stat_result] | None:
    """The local file ``environ[key]`` to be read in place (no copy) and its
    ``lstat``, or None when it must be fetched into the job directory: it
    comes from filetracker or is a symlink (opened later with
    ``O_NOFOLLOW``, a symlink must be copied instead)."""
    source = ft.local_source(environ, key)
    if source is None:
        return None
    st = os.lstat(source)
    return (source, st) if stat.S_ISREG(st.st_mode) else None


def _shared_input(environ: dict) -> tuple[str, int] | None:
    """The local input to be read in place and a descriptor of it open for
    the run (the one the zip check read from), or None when it must be
    fetched into the job directory: it comes from filetracker, is not a
    regular file, or is a zip archive (unpacked into a private copy)."""
    source = ft.local_source(environ, "in_file")
    if source is None:
        return None
    try:
        fd = files.open_regular(source)
    except files.UnsafeFileError:
        return None
    try:
        zipped = os.pread(fd, len(files.ZIP_MAGIC), 0) == files.ZIP_MAGIC
    except BaseException:
        os.close(fd)
        raise
    if zipped:
        os.close(fd)
        return None
    return source, fd


def _input_file(environ: dict, workdir: str, share: bool) -> tuple[str, bool, int | None]:
    """``(path, private, fd)`` of the input: the local source itself
    (``share``; not private) with a descriptor of it open for the run (the
    caller closes it), else a private copy ``in`` in the job directory (a
    zip with one member unpacked) and None."""
    if share and (shared := _shared_input(environ)):
        return shared[0], False, shared[1]
    path = files.clear_path(os.path.join(workdir, "in"))
    ft.download(environ, "in_file", path, add_to_cache=True)
    if files.is_zip(path):
        files.unpack_single_member_zip(path)
    return path, True, None


def _place_program(environ: dict, key: str, path: str, share: bool) -> None:
    """Put the executable ``environ[key]`` at ``path`` (mode 0755): a hard
    link to a local source that is already executable by everybody
    (``share``), else a copy."""
    if share and (shared := _shared_source(environ, key)):
        source, st = shared
        if st.st_mode & 0o111 == 0o111:
            try:
                os.link(source, path)
                return
            except OSError:
                pass
    ft.download(environ, key, path, add_to_cache=True)
    os.chmod(path, 0o755)


def _put_into(src: str, dst_dir: str, name: str, private: bool) -> None:
    """Put ``src`` (a checked regular file) into ``dst_dir`` as ``name``: a
    hard link for a ``private`` file of the job's own, a copy of anything
    else (a checker must never reach a file of the contest system's or of
    filetracker's cache)."""
    dst = os.path.join(dst_dir, name)
    if private:
        try:
            os.link(src, dst, follow_symlinks=False)
            return
        except OSError:
            pass
    shutil.copyfile(src, dst, follow_symlinks=False)


def check_output(
    environ: dict,
    workdir: str,
    out_fd: int,
    make_checker_executor: Callable[[bool], Any],
    in_path: str | None = None,
    in_private: bool = True,
    share: bool = False,
) -> None:
    """Check ``out`` (open as ``out_fd``) and store the verdict in ``environ``.

    ``in_path``: the input (default: ``in`` in ``workdir``), ``in_private``
    whether it is the job's own copy; ``share``: a local ``hint_file`` is
    read in place (see :func:`run_exec`). A broken checker sets ``result_code: SE``
    and raises :class:`~sio.executors.checker.CheckerError`.
    """
    shared_hint = share and _shared_source(environ, "hint_file")
    hint = shared_hint[0] if shared_hint else None
    hint_private = not hint
    if not hint:
        hint = files.clear_path(os.path.join(workdir, "hint"))
        ft.download(environ, "hint_file", hint, add_to_cache=True)
    if not environ.get("chk_file"):
        result = checker.default_check(hint, out_fd)
        result.apply(environ)
        return
    check_dir = files.clear_path(os.path.join(workdir, "check"))
    os.mkdir(check_dir, 0o755)
    chk = os.path.join(check_dir, "chk")
    ft.download(environ, "chk_file", chk, add_to_cache=True)
    os.chmod(chk, 0o755)
    sources = {"in": (in_path or os.path.join(workdir, "in"), in_private),
               "out": (os.path.join(workdir, "out"), True), "hint": (hint, hint_private)}
    for name, (src, private) in sources.items():
        fd = files.open_regular(src)
        os.close(fd)
        _put_into(src, check_dir, name, private)
    files.check_same_file(os.path.join(check_dir, "out"), out_fd)
    untrusted = bool(environ.get("untrusted_checker"))
    try:
        result = checker.run_custom_checker(
            environ, check_dir, make_checker_executor(untrusted), untrusted
        )
    except checker.CheckerError as exc:
        environ["result_code"] = "SE"
        environ["result_string"] = utf8_safe(f"checker error: {exc}", checker.RESULT_STRING_LIMIT)
        checker.set_percentage(environ, Fraction(0))
        raise
    result.apply(environ)


def _upload_output(environ: dict, workdir: str, out_fd: int) -> None:
    path = os.path.join(workdir, "out")
    files.check_same_file(path, out_fd)
    ft.upload(
        environ, "out_file", path, to_remote_store=bool(environ.get("upload_out", False))
    )


def run_exec(
    environ: dict,
    make_executor: Callable[[Program], Any],
    make_checker_executor: Callable[[bool], Any],
    *,
    exclusive: bool = False,
    clean_env: bool = True,
    share_sources: bool = True,
    workdir: str | None = None,
) -> dict:
    """Run an exec job (see the module docs); returns ``environ``.

    ``make_executor(program)`` gives the (not yet entered) executor for the
    program, ``make_checker_executor(untrusted)`` the one for a custom
    checker. ``exclusive``: hold the machine-wide lock exclusively.
    ``clean_env``: the program gets an empty environment (plus the locale),
    not the worker's. ``share_sources``: local files (``use_filetracker``
    false) are not copied: the input and the expected output are read in
    place, an executable one is hard-linked — only for executors that keep
    the program from writing to them (the supervisor runs it under another
    uid, with the input open read-only; not ``unsafe-exec``). A custom
    checker always gets copies of them; the caller must not rewrite them
    while the job runs. Files from filetracker are always private copies
    (its cache may rewrite a cached file in place when a newer version
    arrives).
    """
    workdir = os.path.abspath(workdir or current_job_dir())
    info = exec_info_of(environ)
    program = program_for(info)
    limits = exec_limits(environ)
    with locking.job_lock(exclusive):
        in_path, in_private, in_fd = None, True, None
        if program.mode != "output-only" or environ.get("chk_file"):
            in_path, in_private, in_fd = _input_file(environ, workdir, share_sources)
        if in_fd is not None and program.mode == "output-only":
            os.close(in_fd)
            in_fd = None
        out_path = os.path.join(workdir, "out")
        if program.mode == "output-only":
            ft.download(environ, "exe_file", files.clear_path(out_path), add_to_cache=True)
            out_fd = files.open_regular(out_path, os.O_RDWR)
            result = {
                "result_code": "OK",
                "result_string": "ok",
                "time_used": 0,
                "mem_used": 0,
                "num_syscalls": 0,
                "real_time_used": 0,
            }
        else:
            try:
                exe = files.clear_path(os.path.join(workdir, program.filename))
                _place_program(environ, "exe_file", exe, share_sources)
                out_fd = files.create_output(out_path)
            except BaseException:
                if in_fd is not None:
                    os.close(in_fd)
                raise
            env = {} if clean_env else None
            result = _run_program(program, workdir, in_path, out_fd, limits, make_executor, env,
                                  in_fd=in_fd)
        try:
            environ.update(result)
            if result["result_code"] != "OK":
                checker.set_percentage(environ, Fraction(0))
            elif environ.get("check_output"):
                check_output(environ, workdir, out_fd, make_checker_executor,
                             in_path=in_path, in_private=in_private, share=share_sources)
            else:
                checker.set_percentage(environ, Fraction(100))
            if "out_file" in environ:
                _upload_output(environ, workdir, out_fd)
        finally:
            os.close(out_fd)
    return environ


def _run_program(
    program: Program,
    workdir: str,
    in_path: str,
    out_fd: int,
    limits: dict[str, int | None],
    make_executor: Callable[[Program], Any],
    env: dict | None,
    in_fd: int | None = None,
) -> dict:
    """Run the program with ``in_path`` on its stdin (``in_fd``: a descriptor
    of it already open, which this closes) and ``out_fd`` on its stdout."""
    if in_fd is None:
        in_fd = files.open_regular(in_path)
    previous = os.getcwd()
    try:
        if previous != workdir:
            os.chdir(workdir)
        with make_executor(program) as executor:
            renv = executor(
                program.command,
                stdin=in_fd,
                stdout=out_fd,
                stderr=None,  # /dev/null
                ignore_errors=True,
                env=env,
                **limits,
            )
    finally:
        if previous != workdir:
            os.chdir(previous)
        os.close(in_fd)
    result = normalise_renv(renv)
    try:
        files.check_same_file(os.path.join(workdir, "out"), out_fd)
    except files.UnsafeFileError as exc:
        result["result_code"] = "SE"
        result["result_string"] = str(exc)
    logger.debug("run ended %s", result)
    return result


def python3() -> str:
    """The interpreter for ``python`` artefacts: ``$SIO_PYTHON``, else the
    system ``/usr/bin/python3`` (visible inside the supervisor's minimal
    root, unlike e.g. a pyenv shim), else ``python3`` from ``PATH``."""
    configured = os.environ.get("SIO_PYTHON")
    if configured:
        return configured
    if os.path.exists("/usr/bin/python3"):
        return "/usr/bin/python3"
    return shutil.which("python3") or sys.executable
