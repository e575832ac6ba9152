"""Output checking: the default checker and the custom checker protocol.

Checking happens only after the program ended ``OK`` and with
``check_output`` set (``docs/contracts.rst`` §6.2).

* Without ``chk_file``: :mod:`sio.executors.compare` (ours, in Python, no
  subprocess) compares ``out`` with ``hint``.
* With ``chk_file``: the checker runs as ``./chk in out hint`` in a fresh
  directory that holds exactly these four files. Its standard output is the
  protocol: line 1 ``OK`` (anything else is a wrong answer), line 2 a comment
  (becomes ``result_string``; kept from the run when empty and ``OK``),
  line 3 the percentage of the test's points: an integer (``42``), a decimal
  (``42.5``) or a fraction (``1/3``), empty or absent = 100; it must lie in
  0–100. ``result_percentage`` is the float, ``result_percentage_fraction``
  the exact ``[numerator, denominator]``.
* A checker that exits with code ≥ 2, dies from a signal, runs out of time or
  memory, or prints an unparsable percentage raises :class:`CheckerError`:
  the job ends ``result: FAILURE`` and the environ says ``result_code: SE``
  with the reason. A broken checker never yields WA or OK.
* ``untrusted_checker``: the checker runs under the supervisor with read
  access to the files of its directory only; otherwise it runs unprotected
  (trusted problem-setter code). Limits: ``checker_time_limit`` (CPU ms,
  default 30000), ``checker_mem_limit`` (KiB, default 256 MiB),
  ``checker_output_limit`` (bytes of checker output, default 1 MiB),
  ``checker_real_time_limit`` (default twice the time limit plus 1 s).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sio.executors import compare, files
from sio.workers import Failure
from sio.workers.environ import get_limit, utf8_safe

DEFAULT_CHECKER_TIME_LIMIT = 30_000  # ms
DEFAULT_CHECKER_MEM_LIMIT = 256 * 1024  # KiB
DEFAULT_CHECKER_OUTPUT_LIMIT = 1 << 20  # bytes
#: ``result_string`` is at most this many bytes of UTF-8.
RESULT_STRING_LIMIT = 1024

_PERCENT_RE = re.compile(r"(?:\d+(?:\.\d+)?|\d+/\d+)")


class CheckerError(Failure):
    """The checker itself failed (SE-class; never turned into a verdict)."""


@dataclass(frozen=True)
class CheckResult:
    """What checking decided.

    ``result_string`` ``None`` means "keep the run's ``result_string``".
    """

    result_code: str
    result_string: str | None
    percentage: Fraction

    def apply(self, environ: dict) -> None:
        """Store the verdict in ``environ`` (the §6.2 keys)."""
        environ["result_code"] = self.result_code
        if self.result_string is not None:
            environ["result_string"] = self.result_string
        set_percentage(environ, self.percentage)


def set_percentage(environ: dict, value: Fraction) -> None:
    """Set ``result_percentage`` (float) and ``result_percentage_fraction``."""
    environ["result_percentage"] = float(value)
    environ["result_percentage_fraction"] = [value.numerator, value.denominator]


def parse_percentage(text: str) -> Fraction:
    """Parse the third protocol line: ``42``, ``42.5``, ``1/3``; empty = 100.

    Raises :class:`CheckerError` for anything else, a zero denominator or a
    value outside 0–100.
    """
    text = text.strip()
    if not text:
        return Fraction(100)
    if not _PERCENT_RE.fullmatch(text):
        raise CheckerError(f"checker printed an unparsable percentage: {utf8_safe(text, 100)!r}")
    try:
        value = Fraction(text)
    except ZeroDivisionError:
        raise CheckerError(f"checker printed a percentage with a zero denominator: {text!r}") from None
    if not 0 <= value <= 100:
        raise CheckerError(f"checker printed a percentage outside 0-100: {text!r}")
    return value


def parse_checker_output(stdout: bytes) -> CheckResult:
    """Interpret a custom checker's standard output (the 3-line protocol)."""
    lines = stdout.split(b"\n", 3)[:3]
    lines += [b""] * (3 - len(lines))
    first, comment, percent = (line.rstrip(b"\r") for line in lines)
    comment_text = utf8_safe(comment.strip(), RESULT_STRING_LIMIT)
    if first.strip() == b"OK":
        value = parse_percentage(percent.decode("ascii", errors="replace"))
        return CheckResult("OK", comment_text or None, value)
    return CheckResult("WA", comment_text, Fraction(0))


def default_check(hint_path: str, out_fd: int) -> CheckResult:
    """Compare the output (read from the start of ``out_fd``) with the
    expected output at ``hint_path`` using the token rules."""
    hint_fd = files.open_regular(hint_path)
    try:
        os.lseek(out_fd, 0, os.SEEK_SET)
        result = compare.compare_fds(hint_fd, out_fd)
    finally:
        os.close(hint_fd)
    if result.ok:
        return CheckResult("OK", None, Fraction(100))
    return CheckResult("WA", utf8_safe(result.message, RESULT_STRING_LIMIT), Fraction(0))


def checker_limits(environ: dict) -> dict[str, Any]:
    """The checker's limits from ``checker_*`` keys with our defaults."""
    time_limit = get_limit(environ, "checker_", "time_limit", DEFAULT_CHECKER_TIME_LIMIT)
    default_real = None if time_limit is None else 2 * time_limit + 1000
    return {
        "time_limit": time_limit,
        "mem_limit": get_limit(environ, "checker_", "mem_limit", DEFAULT_CHECKER_MEM_LIMIT),
        "output_limit": get_limit(
            environ, "checker_", "output_limit", DEFAULT_CHECKER_OUTPUT_LIMIT
        ),
        "real_time_limit": get_limit(environ, "checker_", "real_time_limit", default_real),
    }


def _checker_failure(renv: dict, stdout: bytes, stderr: bytes) -> str | None:
    """Why the checker run counts as broken, or ``None`` when it did not."""
    code = renv.get("return_code")
    verdict = renv.get("result_code")
    if verdict not in (None, "OK", "RE"):
        return f"checker run ended {verdict}: {renv.get('result_string', '')}"
    if renv.get("real_time_killed"):
        return "checker exceeded its real time limit"
    signal = renv.get("exit_signal")
    if signal:
        return f"checker died from signal {signal}"
    if not isinstance(code, int):
        return f"checker ended without an exit code ({verdict or 'unknown'})"
    if code < 0:
        return f"checker died from signal {-code}"
    if code >= 128 and verdict == "RE" and "signal" in str(renv.get("result_string", "")):
        return f"checker {renv.get('result_string')}"
    if code >= 2:
        detail = utf8_safe((stdout + b"\n" + stderr).strip(), 300)
        return f"checker exited with code {code}" + (f": {detail}" if detail else "")
    return None


def run_custom_checker(
    environ: dict,
    check_dir: str,
    executor: Any,
    untrusted: bool,
) -> CheckResult:
    """Run ``./chk in out hint`` in ``check_dir`` with ``executor`` (entered
    here) and interpret its output; raise :class:`CheckerError` when broken."""
    limits = checker_limits(environ)
    out_path = os.path.join(check_dir, "checker.stdout")
    err_path = os.path.join(check_dir, "checker.stderr")
    out_fd = files.create_output(out_path)
    err_fd = files.create_output(err_path)
    previous = os.getcwd()
    try:
        os.chdir(check_dir)
        with open(out_fd, "r+b", closefd=False) as out_f, open(
            err_fd, "r+b", closefd=False
        ) as err_f, open(os.devnull, "rb") as null_in, executor:
            kwargs: dict[str, Any] = {}
            if untrusted:
                kwargs["ignore_return"] = True
                kwargs["env"] = {}
            renv = executor(
                ["./chk", "in", "out", "hint"],
                stdin=null_in,
                stdout=out_f,
                stderr=err_f,
                ignore_errors=True,
                **limits,
                **kwargs,
            )
        stdout = os.pread(out_fd, limits["output_limit"] or (1 << 20), 0)
        stderr = os.pread(err_fd, 4096, 0)
    finally:
        os.chdir(previous)
        os.close(out_fd)
        os.close(err_fd)
    problem = _checker_failure(renv, stdout, stderr)
    if problem:
        raise CheckerError(problem)
    if renv.get("return_code") == 0 and not stdout.strip():
        raise CheckerError("checker exited 0 without printing a verdict")
    return parse_checker_output(stdout)
