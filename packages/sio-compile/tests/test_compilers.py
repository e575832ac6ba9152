"""Every system compiler: hello compiles and runs, errors are CE with the
compiler's message, libraries in all option forms, default selection."""

from __future__ import annotations

import json
import zipfile

import pytest

from sio.workers import entrypoints

HELLO = [
    ("system-c", "hello.c", "Hello from C\n"),
    ("system-gcc", "hello.c", "Hello from C\n"),
    ("system-cpp", "hello.cpp", "Hello from C++\n"),
    ("system-g++", "hello.cpp", "Hello from C++\n"),
    ("system-pas", "hello.pas", "Hello from Pascal\n"),
    ("system-java", "Hello.java", "Hello from Java\n"),
    ("system-python", "hello.py", "Hello from Python 1\n"),
    ("output-only", "hello.py", 'import sys\n\nprint("Hello from Python", sys.flags.isolated)\n'),
]


@pytest.mark.parametrize(("compiler", "source", "expected"), HELLO)
def test_hello_compiles_and_runs(compile_job, run_artefact, compiler, source, expected):
    env = compile_job(source, compiler=compiler)
    assert env["result_code"] == "OK", env["compiler_output"]
    proc = run_artefact(env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected


def test_exec_info_forms(compile_job):
    assert compile_job("hello.c", compiler="system-c")["exec_info"] == {"mode": "executable"}
    java = compile_job("Hello.java", compiler="system-java")
    assert java["exec_info"] == {"mode": "java", "main_class": "Hello",
                                 "preferred_filename": "Hello.jar"}
    with zipfile.ZipFile(java["out_file"]) as jar:
        assert "Hello.class" in jar.namelist()
        assert "Main-Class: Hello" in jar.read("META-INF/MANIFEST.MF").decode()
    python = compile_job("hello.py", compiler="system-python")
    assert python["exec_info"] == {"mode": "python"}
    with zipfile.ZipFile(python["out_file"]) as app:
        assert "__main__.py" in app.namelist()
    assert compile_job("hello.py", compiler="output-only")["exec_info"] == {
        "mode": "output-only"}


@pytest.mark.parametrize(("compiler", "source", "message"), [
    ("system-c", "error.c", "undeclared_variable"),
    ("system-cpp", "error.cpp", "undeclared_variable"),
    ("system-pas", "error.pas", "Identifier not found"),
    ("system-java", "Error.java", "cannot find symbol"),
    ("system-python", "syntax_error.py.txt", "SyntaxError"),
])
def test_compile_error_is_ce_with_message(compile_job, tmp_path, compiler, source, message):
    env = compile_job(source, compiler=compiler)
    assert env["result_code"] == "CE"
    assert message in env["compiler_output"]
    assert "exec_info" not in env
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("source", "expected"), [
    ("hello.c", "Hello from C\n"),
    ("hello.cpp", "Hello from C++\n"),
    ("hello.pas", "Hello from Pascal\n"),
    ("hello.py", "Hello from Python 1\n"),
])
def test_default_compiler_from_extension(compile_job, run_artefact, source, expected):
    env = compile_job(source)
    assert env["compiler"] == "default-" + source.rsplit(".", 1)[1]
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == expected


def test_default_mapping_from_environment(compile_job, tmp_path, sources, monkeypatch):
    from sio.workers.runner import run

    monkeypatch.setenv("SIO_DEFAULT_COMPILERS", "c=system-cpp")
    env = compile_job("hello.c")  # C compiled as C++ still prints
    assert env["result_code"] == "OK"
    monkeypatch.setenv("SIO_DEFAULT_COMPILERS", "c=no-such-compiler")
    env = run({"job_type": "compile", "source_file": str(sources / "hello.c"),
               "out_file": str(tmp_path / "out"), "use_filetracker": False})
    assert env["result"] == "FAILURE"
    assert "no-such-compiler" in env["exception"]


def test_unknown_compiler_is_a_failure_naming_it(tmp_path, sources):
    from sio.workers.runner import run

    env = run({"job_type": "compile", "source_file": str(sources / "hello.c"),
               "out_file": str(tmp_path / "out"), "use_filetracker": False,
               "compiler": "no-such-compiler.1"})
    assert env["result"] == "FAILURE"
    assert "no-such-compiler" in env["exception"]
    assert "sio.compilers" in env["exception"]


def _lib_forms(language: str, includes: list[str], libs: list[str]):
    yield {"additional_includes": includes[0] if includes else [],
           "additional_sources": libs[0]}
    yield {"additional_includes": includes, "additional_sources": libs}
    yield {"additional_includes": {language: includes, "other": ["missing.h"]},
           "additional_sources": {language: libs, "other": ["missing.c"]}}


@pytest.mark.parametrize("form", [0, 1, 2], ids=["str", "list", "dict"])
@pytest.mark.parametrize(("compiler", "language", "source", "includes", "libs", "expected"), [
    ("system-c", "c", "use_lib.c", ["lib.h"], ["lib.c"], "answer 42\n"),
    ("system-cpp", "cpp", "use_lib.cpp", ["lib.h"], ["libcpp.cpp"], "answer 43\n"),
])
def test_libraries_in_all_forms(compile_job, run_artefact, sources, form, compiler,
                                language, source, includes, libs, expected):
    keys = list(_lib_forms(language, [str(sources / i) for i in includes],
                           [str(sources / s) for s in libs]))[form]
    env = compile_job(source, compiler=compiler, **keys)
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == expected


@pytest.mark.parametrize(("compiler", "language", "source", "lib", "expected"), [
    ("system-pas", "pas", "use_lib.pas", "libunit.pas", "answer 44\n"),
    ("system-java", "java", "UseLib.java", "Lib.java", "answer 45\n"),
    ("system-python", "py", "use_lib.py", "libmod.py", "answer 46\n"),
])
def test_libraries_other_languages(compile_job, run_artefact, sources, compiler, language,
                                   source, lib, expected):
    # the per-language dict form; str and list are shared code tested above
    env = compile_job(source, compiler=compiler,
                      additional_sources={language: [str(sources / lib)]})
    assert env["result_code"] == "OK", env["compiler_output"]
    assert run_artefact(env).stdout == expected


def test_missing_library_is_a_failure(tmp_path, sources):
    from sio.workers.runner import run

    env = run({"job_type": "compile", "source_file": str(sources / "use_lib.c"),
               "out_file": str(tmp_path / "out"), "use_filetracker": False,
               "additional_sources": [str(sources / "no-such-lib.c")]})
    assert env["result"] == "FAILURE"
    assert "no-such-lib.c" in env["exception"]


def test_every_compiler_is_registered():
    names = set(entrypoints.available("sio.compilers"))
    expected = {"system-c", "system-gcc", "system-cpp", "system-cc", "system-g++",
                "system-pas", "system-fpc", "system-java", "system-python", "c", "gcc",
                "cpp", "cc", "g++", "pas", "fpc", "java", "default-c", "default-cpp",
                "default-cc", "default-pas", "default-java", "default-py", "output-only"}
    assert expected <= names
    assert "compile" in entrypoints.available("sio.jobs")


@pytest.mark.parametrize("name", ["system-c", "system-python", "output-only", "default-cpp"])
def test_self_test(name):
    from sio.compilers.defaults import load_compiler

    assert load_compiler(name).self_test() is True


def test_environ_is_json(compile_job):
    env = compile_job("error.c", compiler="system-c")
    json.dumps(env)


def test_java_main_class_from_source_not_file_name(compile_job, run_artefact, tmp_path,
                                                  sources):
    submitted = tmp_path / "submission_17.java"
    submitted.write_text((sources / "Hello.java").read_text())
    env = compile_job(submitted, compiler="system-java")
    assert env["result_code"] == "OK", env["compiler_output"]
    assert env["exec_info"]["main_class"] == "Hello"
    assert run_artefact(env).stdout == "Hello from Java\n"


def test_java_package_and_no_public_class(compile_job, run_artefact, tmp_path):
    submitted = tmp_path / "Sol.java"
    submitted.write_text("package contest.task;\nclass Sol {\n"
                         "  public static void main(String[] a) { System.out.println(\"pkg\"); }\n}\n")
    env = compile_job(submitted, compiler="system-java")
    assert env["result_code"] == "OK", env["compiler_output"]
    assert env["exec_info"] == {"mode": "java", "main_class": "contest.task.Sol",
                                "preferred_filename": "Sol.jar"}
    assert run_artefact(env).stdout == "pkg\n"


def test_job_accepts_the_job_directory(tmp_path, sources):
    from sio.compilers.job import run as compile_run

    build_parent = tmp_path / "jobdir"
    build_parent.mkdir()
    env = compile_run({"source_file": str(sources / "hello.c"), "out_file": str(tmp_path / "o"),
                       "use_filetracker": False}, job_dir=str(build_parent))
    assert env["result_code"] == "OK"
    assert list(build_parent.iterdir()) == []  # the build directory is removed
