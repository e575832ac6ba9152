"""Sandboxed compilers with real images built by the project's sandbox
builder (:mod:`sio.workers.sandbox_build`), served from a directory through
``SIO_SANDBOXES_URL``. The first run builds the images (tens of seconds, then
cached in ``~/.cache/sio-workers/images``); skipped where the builder or a
toolchain is missing."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from sio.compilers import sandboxed

pytestmark = pytest.mark.slow

FAMILIES = ("compiler-gcc", "compiler-fpc", "compiler-java")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Build/export the images; point the sandbox module at them. Returns
    ``{family: image name}``."""
    try:
        from sio.workers.sandbox_build import export_images
    except ImportError as exc:  # pragma: no cover - builder not installed
        pytest.skip(f"sandbox builder unavailable: {exc}")
    names = {f: sandboxed.host_image_name(f) for f in FAMILIES}
    missing = [f for f, n in names.items() if n == f]
    if missing:
        pytest.skip(f"toolchains missing on this host for {missing}")
    root = tmp_path_factory.mktemp("compiler-images")
    try:
        export_images(list(names.values()), root / "images")
    except Exception as exc:
        pytest.skip(f"cannot build compiler images here: {exc}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIO_SANDBOXES_URL", str(root / "images"))
        mp.setenv("SIO_SANDBOXES_BASEDIR", str(root / "installed"))
        yield names


@pytest.fixture(params=["bwrap", "proot"])
def isolation(request, monkeypatch):
    if request.param == "bwrap":
        binary = sandboxed.bwrap_binary()
        if not (binary and sandboxed._bwrap_works(binary)):
            pytest.skip("bubblewrap cannot create namespaces here")
    monkeypatch.setenv("SIO_COMPILER_ISOLATION", request.param)
    return request.param


def _version(images, family):
    return images[family].split(".", 1)[1]


@pytest.mark.parametrize(("compiler", "family", "source", "expected"), [
    ("cpp", "compiler-gcc", "hello.cpp", "Hello from C++\n"),
    ("c", "compiler-gcc", "hello.c", "Hello from C\n"),
    ("pas", "compiler-fpc", "hello.pas", "Hello from Pascal\n"),
    ("java", "compiler-java", "Hello.java", "Hello from Java\n"),
])
def test_hello_in_sandbox(images, compile_job, run_artefact, compiler, family, source,
                          expected):
    env = compile_job(source, compiler=f"{compiler}.{_version(images, family)}")
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == expected


def test_both_backends_and_errors(images, isolation, compile_job, run_artefact):
    version = _version(images, "compiler-gcc")
    env = compile_job("hello.cpp", compiler=f"g++.{version}")
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == "Hello from C++\n"
    env = compile_job("error.cpp", compiler=f"g++.{version}")
    assert env["result_code"] == "CE"
    assert "undeclared_variable" in env["compiler_output"]


def test_libraries_in_sandbox(images, compile_job, run_artefact, sources):
    env = compile_job("use_lib.pas", compiler="fpc",  # version from this host
                      additional_sources=str(sources / "libunit.pas"))
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == "answer 44\n"


def test_etc_passwd_is_not_the_hosts(images, isolation, compile_job):
    env = compile_job("nasty_etc_passwd.cpp", compiler="cpp")
    assert env["result_code"] == "CE"
    host_lines = [line for line in Path("/etc/passwd").read_text().splitlines() if line]
    for line in host_lines:
        assert line not in env["compiler_output"]


def test_files_outside_the_build_directory_are_invisible(images, isolation, compile_job,
                                                         tmp_path):
    secret = tmp_path / "secret.h"
    marker = f"secret_{uuid.uuid4().hex}"
    secret.write_text(f"int {marker} = ;\n")
    env = compile_job("include_secret.c", compiler="gcc",
                      extra_compilation_args=[f'-DSECRET_PATH="{secret}"'])
    assert env["result_code"] == "CE"
    assert marker not in env["compiler_output"]


def test_sandbox_is_read_only(images, compile_job):
    if sandboxed.isolation() != "bwrap":
        pytest.skip("PRoot cannot make the sandbox read-only")
    target = f"/usr/bin/planted-{uuid.uuid4().hex}"
    env = compile_job("write_outside.c", compiler="gcc",
                      extra_compilation_args=["-o", target])
    assert env["result_code"] == "CE"
    installed = Path(sandboxed_root(images["compiler-gcc"]))
    assert not (installed / target.lstrip("/")).exists()


def sandboxed_root(name: str) -> str:
    from sio.workers.sandbox import sandboxes_basedir

    return f"{sandboxes_basedir()}/{name}"


@pytest.mark.parametrize("source", ["nasty_dev_random.cpp", "nasty_templates.cpp",
                                    "nasty_self_include.cpp", "nasty_warnings.cpp"])
def test_hostile_sources_in_sandbox(images, compile_job, source):
    start = time.monotonic()
    env = compile_job(source, compiler="cpp", compilation_time_limit=5000,
                      compilation_real_time_limit=5000, compilation_mem_limit=256 * 1024)
    assert env["result_code"] == "CE"
    assert len(env["compiler_output"].encode()) <= 5120
    assert time.monotonic() - start < 5 + 30


def test_size_limit_in_sandbox(images, compile_job, run_artefact):
    limit = 5 * 1024 * 1024
    env = compile_job("nasty_250mb.cpp", compiler="cpp", compilation_result_size_limit=limit)
    assert env["compiler_output"] == "Compiled file size limit exceeded."
    env = compile_job("extreme_4_9mb.cpp", compiler="cpp", compilation_result_size_limit=limit)
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == "0\n"
