"""Native helpers (sio.workers.native): built from source, at install or on first use."""

from __future__ import annotations

import hashlib
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


def test_several_sources_and_headers_make_one_binary(tmp_path, monkeypatch):
    monkeypatch.setenv("SIO_NATIVE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "shared.h").write_text("#define WORD \"one\"\nvoid say(void);\n")
    (tmp_path / "say.c").write_text('#include <stdio.h>\n#include "shared.h"\n'
                                    "void say(void){puts(WORD);}\n")
    main = tmp_path / "main.c"
    main.write_text('#include "shared.h"\nint main(void){say();return 0;}\n')
    helper = native.NativeHelper(main, extra_sources=(tmp_path / "say.c",),
                                 headers=(tmp_path / "shared.h",), name="hello")
    assert helper.sources == (main, tmp_path / "say.c")
    first = helper.path()
    assert first.name.startswith("hello-")
    assert subprocess.run([first], capture_output=True, text=True).stdout == "one\n"
    hashes = {helper.source_hash()}
    # a header is not compiled, but editing it names (and builds) a new binary
    (tmp_path / "shared.h").write_text("#define WORD \"two\"\nvoid say(void);\n")
    second = helper.path()
    assert second != first and not first.exists()
    assert subprocess.run([second], capture_output=True, text=True).stdout == "two\n"
    hashes.add(helper.source_hash())
    (tmp_path / "say.c").write_text('#include <stdio.h>\n#include "shared.h"\n'
                                    'void say(void){puts(WORD "!");}\n')
    hashes.add(helper.source_hash())
    assert len(hashes) == 3
    assert subprocess.run([helper.path()], capture_output=True, text=True).stdout == "two!\n"


def test_one_source_hashes_as_it_always_did(tmp_path):
    source = tmp_path / "one.c"
    source.write_text("int main(void){return 0;}\n")
    helper = native.NativeHelper(source)
    expected = hashlib.sha256(source.read_bytes() + helper.build_key().encode()).hexdigest()
    assert helper.source_hash() == expected[:16]


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
        for path in helper.inputs:  # the sources ship too: the binary is checked against them
            assert path.relative_to(PACKAGE / "src").as_posix() in names, path
