"""Sandboxed compilers (``c``, ``cpp``, ``pas``, ``java``...).

Two kinds of tests:

* mechanics: the host's ``/`` stands in for the sandbox image (a patched
  :func:`sio.workers.sandbox.get_sandbox`), checking the bubblewrap and PRoot
  command lines, limits and that only the build directory is visible;
* images: real ``compiler-*`` sandboxes from the project's sandbox builder,
  skipped (with the reason) where no image can be had.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import types
import uuid

import pytest

from sio.compilers import sandboxed

HOST_ROOT_SANDBOX = "/"


@pytest.fixture
def host_root_sandbox(monkeypatch):
    """Make every sandbox the host's root; yields the names asked for."""
    asked: list[str] = []

    @contextlib.contextmanager
    def fake_get_sandbox(name):
        asked.append(name)
        yield types.SimpleNamespace(path=HOST_ROOT_SANDBOX)

    import sio.workers.sandbox

    monkeypatch.setattr(sio.workers.sandbox, "get_sandbox", fake_get_sandbox)
    return asked


needs_bwrap = pytest.mark.skipif(
    not (sandboxed.bwrap_binary() and sandboxed._bwrap_works(sandboxed.bwrap_binary())),
    reason="bubblewrap missing or cannot create namespaces here")
needs_proot = pytest.mark.skipif(not shutil.which("proot"), reason="proot not installed")


@needs_bwrap
@pytest.mark.parametrize(("compiler", "source", "expected", "image"), [
    ("cpp.12.2.0", "hello.cpp", "Hello from C++\n", "compiler-gcc.12.2.0"),
    ("gcc", "hello.c", "Hello from C\n", sandboxed.host_image_name("compiler-gcc")),
    ("fpc", "hello.pas", "Hello from Pascal\n", sandboxed.host_image_name("compiler-fpc")),
    ("java", "Hello.java", "Hello from Java\n", sandboxed.host_image_name("compiler-java")),
])
def test_bwrap_backend_compiles(compile_job, run_artefact, host_root_sandbox, monkeypatch,
                                compiler, source, expected, image):
    monkeypatch.setenv("SIO_COMPILER_ISOLATION", "bwrap")
    env = compile_job(source, compiler=compiler)
    assert host_root_sandbox == [image]
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == expected


@needs_proot
def test_proot_backend_compiles(compile_job, run_artefact, host_root_sandbox, monkeypatch):
    monkeypatch.setenv("SIO_COMPILER_ISOLATION", "proot")
    env = compile_job("hello.c", compiler="c")
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == "Hello from C\n"
    env = compile_job("error.c", compiler="c")
    assert env["result_code"] == "CE"
    assert "undeclared_variable" in env["compiler_output"]


@needs_bwrap
def test_bwrap_hides_files_outside_the_build_directory(compile_job, host_root_sandbox,
                                                       monkeypatch, tmp_path):
    monkeypatch.setenv("SIO_COMPILER_ISOLATION", "bwrap")
    secret = tmp_path / "secret.h"
    marker = f"secret_{uuid.uuid4().hex}"
    secret.write_text(f"int {marker} = ;\n")
    env = compile_job("include_secret.c", compiler="gcc",
                      extra_compilation_args=[f'-DSECRET_PATH="{secret}"'])
    assert env["result_code"] == "CE"
    assert "No such file" in env["compiler_output"]
    assert marker not in env["compiler_output"]
    # the same source with the system compiler sees the file (documented)
    env = compile_job("include_secret.c", compiler="system-gcc",
                      extra_compilation_args=[f'-DSECRET_PATH="{secret}"'])
    assert marker in env["compiler_output"]


@needs_bwrap
def test_bwrap_limits_and_hostile_sources(compile_job, host_root_sandbox, monkeypatch):
    monkeypatch.setenv("SIO_COMPILER_ISOLATION", "bwrap")
    env = compile_job("nasty_dev_random.cpp", compiler="cpp",
                      compilation_real_time_limit=1500, compilation_mem_limit=None)
    assert env["result_code"] == "CE"
    env = compile_job("nasty_250mb.cpp", compiler="cpp",
                      compilation_result_size_limit=5 * 1024 * 1024)
    assert env["compiler_output"] == "Compiled file size limit exceeded."


def test_isolation_choice(monkeypatch):
    monkeypatch.setenv("SIO_COMPILER_ISOLATION", "proot")
    assert sandboxed.isolation() == "proot"
    monkeypatch.setenv("SIO_COMPILER_ISOLATION", "chroot")
    with pytest.raises(Exception, match="SIO_COMPILER_ISOLATION"):
        sandboxed.isolation()


def test_sandbox_version_from_environment(monkeypatch):
    from sio.compilers.defaults import load_compiler

    monkeypatch.setenv("SIO_COMPILER_FPC_VERSION", "3.2.2")
    assert load_compiler("pas").sandbox_image() == "compiler-fpc.3.2.2"
    assert load_compiler("pas.3.0").sandbox_image() == "compiler-fpc.3.0"
    monkeypatch.delenv("SIO_COMPILER_FPC_VERSION")
    assert load_compiler("fpc").sandbox_image() == sandboxed.host_image_name("compiler-fpc")
    assert sandboxed.host_image_name("compiler-nothing") == "compiler-nothing"


def test_missing_sandbox_is_a_failure(tmp_path, sources, monkeypatch):
    from sio.workers.runner import run

    monkeypatch.setenv("SIO_SANDBOXES_BASEDIR", str(tmp_path / "sandboxes"))
    monkeypatch.setenv("SIO_SANDBOXES_URL", str(tmp_path / "no-images"))
    env = run({"job_type": "compile", "source_file": str(sources / "hello.c"),
               "out_file": str(tmp_path / "out"), "use_filetracker": False,
               "compiler": "gcc.0.no-such-version"})
    assert env["result"] == "FAILURE"
    assert "compiler-gcc.0.no-such-version" in env["exception"]
    assert not os.path.exists(tmp_path / "out")
