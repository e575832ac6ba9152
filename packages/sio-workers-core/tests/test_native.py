"""Native helpers (sio.workers.native): built from source, at install or on first use."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sio.workers import native

PACKAGE = Path(__file__).resolve().parents[1]


def test_built_once_then_rebuilt_when_the_source_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("SIO_NATIVE_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "hello.c"
    source.write_text('#include <stdio.h>\nint main(void){puts("one");return 0;}\n')
    helper = native.NativeHelper(source)
    first = helper.path()
    assert first.parent == tmp_path / "cache" and first.name == helper.binary_name()
    assert subprocess.run([first], capture_output=True, text=True).stdout == "one\n"
    mtime = first.stat().st_mtime_ns
    assert helper.path() == first and first.stat().st_mtime_ns == mtime
    source.write_text('#include <stdio.h>\nint main(void){puts("two");return 0;}\n')
    second = helper.path()
    assert second != first and not first.exists()  # the stale build is gone
    assert subprocess.run([second], capture_output=True, text=True).stdout == "two\n"
    assert helper.path(build=False) == second


def test_a_broken_source_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SIO_NATIVE_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "broken.c"
    source.write_text("int main(void) { return }\n")
    helper = native.NativeHelper(source)
    with pytest.raises(native.NativeBuildError, match="building broken.c failed"):
        helper.path()
    assert helper.path(build=False) is None
    assert not list((tmp_path / "cache").glob("broken-*"))


@pytest.mark.slow
def test_a_regular_install_builds_every_helper(tmp_path):
    src = tmp_path / "sio-workers-core"
    shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                "__pycache__", "tests"))
    out = tmp_path / "wheel"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                           str(out), str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = out.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for helper in native.BUILT_AT_INSTALL:
        rel = helper.source.with_name(helper.binary_name()).relative_to(PACKAGE / "src")
        assert rel.as_posix() in names, rel
