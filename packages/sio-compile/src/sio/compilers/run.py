"""How to run an artefact described by ``exec_info`` (for self-tests, tests
and anyone who needs the same rule as the exec jobs).

- ``{"mode": "executable"}``: the file itself (a static executable).
- ``{"mode": "java", "main_class": C, ...}``: ``java -cp ARTEFACT C``.
- ``{"mode": "python"}``: ``python3 -I ARTEFACT`` (a zipapp with ``__main__.py``).
- ``{"mode": "output-only"}``: nothing runs; the artefact *is* the output
  (``cat ARTEFACT`` reproduces it).
"""

from __future__ import annotations

import os
import shutil


def python_interpreter() -> str:
    """The interpreter Python artefacts are checked with and run by: ``python3``
    from ``PATH`` (the exec jobs' rule), else ``/usr/bin/python3``."""
    return shutil.which("python3") or "/usr/bin/python3"


def run_command(exec_info: dict, artefact: str | os.PathLike) -> list[str]:
    """The argv that runs ``artefact`` according to ``exec_info``."""
    artefact = os.fspath(artefact)
    mode = exec_info.get("mode", "executable")
    if mode == "executable":
        return [artefact]
    if mode == "java":
        return ["java", "-cp", artefact, exec_info["main_class"]]
    if mode == "python":
        return [python_interpreter(), "-I", artefact]
    if mode == "output-only":
        return ["cat", "--", artefact]
    raise ValueError(f"unknown exec_info mode {mode!r}")
