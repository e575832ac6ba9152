"""Fixtures shared by every test suite of the repository.

``build_c``: compile a small C/C++ source (path relative to the repository
root, or absolute) once per session and return the executable's path.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _fresh_entry_point_cache():
    """Tests add and remove plugin distributions: no test sees another's."""
    from sio.workers import entrypoints

    entrypoints.clear_cache()
    yield
    entrypoints.clear_cache()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def build_c(tmp_path_factory):
    """Return ``build(source, *flags, static=False) -> Path``.

    C++ is used for ``.cpp``/``.cc`` sources. Results are cached for the
    session by source content and flags.
    """
    out_dir = tmp_path_factory.mktemp("programs")
    cache: dict[tuple, Path] = {}

    def build(source: str | Path, *flags: str, static: bool = False) -> Path:
        src = Path(source)
        if not src.is_absolute():
            src = REPO_ROOT / src
        key = (str(src), flags, static)
        if key in cache:
            return cache[key]
        digest = hashlib.sha256(src.read_bytes() + repr(key).encode()).hexdigest()[:12]
        out = out_dir / f"{src.stem}-{digest}"
        compiler = "g++" if src.suffix in (".cpp", ".cc") else "gcc"
        cmd = [shutil.which(compiler) or compiler, "-O2", "-o", str(out), str(src), *flags]
        if static:
            cmd.append("-static")
        if src.suffix not in (".cpp", ".cc"):
            cmd.append("-lm")
        if any(f == "-pthread" for f in flags) is False and "thread" in src.stem:
            cmd.append("-pthread")
        subprocess.run(cmd, check=True, capture_output=True)
        cache[key] = out
        return out

    return build
