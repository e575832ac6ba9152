"""The repository is self-contained: no tracked file cites the development
workspace's specification files, which a clone does not have. The
specification is ``docs/`` (contracts.rst, hostile.rst, isolation.rst,
architecture.rst); cite those instead, e.g. ``docs/contracts.rst §6.2``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()

#: names of files outside the repository (the workspace's shared/spec/)
OUTSIDE = re.compile(
    rb"shared/spec"
    rb"|contracts\.md"
    rb"|bad-inputs(?:\.md|\s*\xc2\xa7|\s+[A-H]\s?\d)"  # bad-inputs.md, bad-inputs §C 23, bad-inputs B11
    rb"|sandbox-notes\.md"
    rb"|architecture\.md"
    rb"|sioworkers-docs\.txt"
)

def tracked_files() -> list[str]:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run([git, "-C", str(ROOT), "ls-files", "-z"], check=True,
                         capture_output=True).stdout
    return [name for name in out.decode("utf-8", "surrogateescape").split("\0") if name]


def test_no_tracked_file_cites_files_outside_the_repository():
    offenders = []
    for name in tracked_files():
        if name == THIS:
            continue
        path = ROOT / name
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        for match in OUTSIDE.finditer(data):
            line = data.count(b"\n", 0, match.start()) + 1
            offenders.append(f"{name}:{line}: {match.group().decode('utf-8', 'replace')}")
    assert not offenders, (
        "cite docs/contracts.rst, docs/hostile.rst, docs/isolation.rst or "
        "docs/architecture.rst instead:\n" + "\n".join(offenders)
    )


def test_the_pattern_catches_every_spelling():
    for text in ("../shared/spec/contracts.md", "``contracts.md`` §2", "bad-inputs.md §G 46",
                 "bad-inputs §C 23", "bad-inputs B11:", "sandbox-notes.md",
                 "architecture.md", "sioworkers-docs.txt"):
        assert OUTSIDE.search(text.encode()), text
    for text in ("docs/contracts.rst §6.2", "docs/hostile.rst §C 23", "docs/isolation.rst",
                 "docs/architecture.rst", "bad inputs"):
        assert not OUTSIDE.search(text.encode()), text
