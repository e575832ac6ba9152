"""The ``compile`` job (docs/contracts.rst §6.1).

Selects the compiler: ``environ['compiler']``, else
``default-<lowercased extension of source_file>``; the entry point in the
``sio.compilers`` group is the part before the first ``.``, the rest is the
version (the sandbox ``compiler-<name>.<version>``). A compiler that is a
:class:`~sio.compilers.base.Compiler` subclass is instantiated with the
version; any other entry point is called as ``compiler(environ) -> environ``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from sio.compilers.base import Compiler
from sio.compilers.defaults import DefaultCompiler, load_compiler
from sio.workers import Failure


def compiler_name(environ: dict) -> str:
    """The compiler the environ asks for (and store it in ``environ['compiler']``)."""
    name = environ.get("compiler")
    if name is None:
        source = environ.get("source_file")
        if not isinstance(source, str) or not source:
            raise Failure("the compile job needs 'source_file' in the environ")
        from sio.workers.ft import strip_version

        suffix = PurePosixPath(strip_version(source)).suffix
        if not suffix:
            raise Failure(f"cannot choose a compiler: {source!r} has no extension "
                          "and the environ has no 'compiler'")
        name = "default-" + suffix[1:].lower()
        environ["compiler"] = name
    if not isinstance(name, str) or not name:
        raise Failure(f"compiler must be a non-empty string, got {name!r}")
    return name


def run(environ: dict, job_dir: str | None = None) -> dict:
    """Compile ``environ['source_file']``; see :mod:`sio.compilers.base`.
    The build directory is made in ``job_dir`` (default: the job directory
    of :func:`sio.workers.runner.current_job_dir`)."""
    compiler = load_compiler(compiler_name(environ))
    if isinstance(compiler, DefaultCompiler):
        compiler = compiler.target()
    if isinstance(compiler, Compiler):
        result = compiler.compile(environ, build_dir=job_dir)
    else:
        result = compiler(environ)
    if isinstance(result, dict):
        environ = result
    for key in ("result_code", "compiler_output"):
        if key not in environ:
            raise Failure(f"compiler {environ['compiler']!r} did not set {key!r}")
    return environ
