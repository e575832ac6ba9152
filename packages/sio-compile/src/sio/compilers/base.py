"""The compiler base class and the one compile procedure every compiler shares.

A compiler is a small declarative class: its language (the key of
per-language options), the name its source gets in the build directory, the
commands that build it, the artefact and the ``exec_info`` the exec jobs need
to run it. :meth:`Compiler.compile` does everything else: fetching the source
and libraries, limits, capturing messages, the result-size check, uploading.

Entry points in the ``sio.compilers`` group name a :class:`Compiler` subclass
(instantiated with the version, the part of ``environ['compiler']`` after the
first ``.``) or any callable ``environ -> environ``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sio.compilers import files
from sio.compilers.process import RunResult, run_limited
from sio.workers import Failure
from sio.workers.environ import get_limit, utf8_safe

logger = logging.getLogger(__name__)

PREFIX = "compilation_"
DEFAULT_TIME_LIMIT = 30000  # CPU ms
DEFAULT_MEM_LIMIT = 512 * 1024  # KiB
DEFAULT_OUTPUT_LIMIT = 5120  # bytes
#: Files the compiler writes are capped even without a result size limit.
HARD_FILE_SIZE_LIMIT = 1 << 30
SIZE_LIMIT_MESSAGE = "Compiled file size limit exceeded."
_SIZE_MARKERS = (b"File size limit exceeded", b"File too large")


@dataclass
class Limits:
    """Resolved compilation limits (ms, KiB, bytes; ``None`` = no limit)."""

    time_limit: int | None
    real_time_limit: int | None
    mem_limit: int | None
    output_limit: int | None
    result_size_limit: int | None

    @classmethod
    def from_environ(cls, environ: dict) -> Limits:
        time_limit = get_limit(environ, PREFIX, "time_limit", DEFAULT_TIME_LIMIT)
        default_real = None if time_limit is None else 2 * time_limit + 1000
        return cls(
            time_limit=time_limit,
            real_time_limit=get_limit(environ, PREFIX, "real_time_limit", default_real),
            mem_limit=get_limit(environ, PREFIX, "mem_limit", DEFAULT_MEM_LIMIT),
            output_limit=get_limit(environ, PREFIX, "output_limit", DEFAULT_OUTPUT_LIMIT),
            result_size_limit=get_limit(environ, PREFIX, "result_size_limit", None),
        )

    @property
    def file_size_limit(self) -> int:
        """``RLIMIT_FSIZE`` for compiler processes: room for intermediate
        files somewhat larger than the result, capped by
        :data:`HARD_FILE_SIZE_LIMIT`."""
        if self.result_size_limit is None:
            return HARD_FILE_SIZE_LIMIT
        return min(HARD_FILE_SIZE_LIMIT,
                   max(4 * self.result_size_limit, self.result_size_limit + (16 << 20)))


@dataclass
class BuildContext:
    """Everything one compilation knows; passed to a compiler's hooks."""

    environ: dict
    compiler: Compiler
    build_dir: Path
    limits: Limits
    source: str
    """The source's file name in the build directory."""
    extra_args: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    """File names of ``additional_sources`` in the build directory."""
    includes: list[str] = field(default_factory=list)
    sandbox_root: Path | None = None
    messages: bytearray = field(default_factory=bytearray)
    notes: list[str] = field(default_factory=list)
    runs: list[RunResult] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def tmp_dir(self) -> Path:
        return self.build_dir / ".tmp"

    def run(self, argv: list[str], *, mem_limit: int | None | bool = True) -> RunResult:
        """Run one command of the build in the build directory (through the
        compiler's sandbox, if any), collecting its messages. ``mem_limit``:
        ``True`` for the environ's limit, ``None`` for no address-space
        limit (JVM)."""
        limits = self.limits
        mem = limits.mem_limit if mem_limit is True else mem_limit
        wrapped = self.compiler.wrap_command(argv, self)
        env = self.compiler.command_env(self)
        try:
            result = run_limited(
                wrapped, cwd=self.build_dir, env=env,
                time_limit=limits.time_limit, real_time_limit=limits.real_time_limit,
                mem_limit=mem, output_limit=limits.output_limit,
                file_size_limit=limits.file_size_limit,
            )
        except OSError as exc:
            raise Failure(f"cannot run compiler command {argv[0]!r}: {exc}") from exc
        self.runs.append(result)
        self.messages += result.output
        if result.killed == "real_time":
            self.notes.append("Compilation real time limit exceeded "
                              f"({limits.real_time_limit} ms).")
        elif result.killed == "output":
            self.notes.append("Compiler output limit exceeded; compilation stopped.")
        elif result.return_code == -signal.SIGXCPU or result.return_code == -signal.SIGKILL:
            self.notes.append("Compilation time limit exceeded "
                              f"({limits.time_limit} ms of CPU time).")
        return result


class Compiler:
    """A compiler. Subclasses set the class attributes and :meth:`commands`
    (or override :meth:`build`)."""

    #: Key of per-language options (``extra_compilation_args`` etc.).
    language: ClassVar[str] = ""
    #: Other keys accepted in per-language dicts.
    aliases: ClassVar[tuple[str, ...]] = ()
    #: Extension of the source in the build directory (``a.<extension>``).
    extension: ClassVar[str] = ""
    #: The artefact's name in the build directory.
    output_name: ClassVar[str] = "a.e"
    #: ``exec_info['mode']``.
    exec_mode: ClassVar[str] = "executable"
    #: Whether ``additional_sources`` are compiled (else only copied).
    compile_sources: ClassVar[bool] = True
    #: A hello-world program for :meth:`self_test` and its expected output.
    hello_source: ClassVar[str] = ""
    hello_output: ClassVar[str] = "Hello World\n"

    def __init__(self, version: str | None = None) -> None:
        self.version = version or None

    def __repr__(self) -> str:
        version = f" version={self.version!r}" if self.version else ""
        return f"<{type(self).__name__}{version}>"

    def __call__(self, environ: dict) -> dict:
        return self.compile(environ)

    # ------------------------------------------------------------ hooks ---

    def languages(self) -> list[str]:
        return [self.language, *self.aliases]

    def source_name(self, environ: dict) -> str:
        """The source's name in the build directory."""
        return f"a.{self.extension}"

    def commands(self, ctx: BuildContext) -> Iterable[list[str]]:
        """The commands that build the artefact, run in order until one fails."""
        return ()

    def build(self, ctx: BuildContext) -> bool:
        """Build the artefact; ``False`` for a compilation error."""
        for argv in self.commands(ctx):
            if not ctx.run(list(argv)).ok:
                return False
        return True

    def artefact(self, ctx: BuildContext) -> Path:
        return ctx.build_dir / self.output_name

    def exec_info(self, ctx: BuildContext) -> dict:
        return {"mode": self.exec_mode}

    def wrap_command(self, argv: list[str], ctx: BuildContext) -> list[str]:
        """The command actually started (sandboxed compilers prepend PRoot)."""
        return argv

    def command_env(self, ctx: BuildContext) -> dict[str, str]:
        """Environment of compiler processes: minimal and fixed."""
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
            "HOME": str(ctx.build_dir),
            "TMPDIR": str(ctx.tmp_dir),
        }

    def prepare(self, ctx: BuildContext) -> contextlib.AbstractContextManager:
        """A context around the build (sandboxed compilers hold their sandbox
        in it and set ``ctx.sandbox_root``)."""
        return contextlib.nullcontext()

    # ------------------------------------------------------- procedure ---

    def compile(self, environ: dict, build_dir: str | os.PathLike | None = None) -> dict:
        """The compile job for this compiler (docs/contracts.rst §6.1). Sets
        ``result_code`` (``OK``/``CE``), ``compiler_output``, and for OK
        ``out_file`` (uploaded, versioned) and ``exec_info``."""
        if "source_file" not in environ:
            raise Failure("the compile job needs 'source_file' in the environ")
        limits = Limits.from_environ(environ)
        parent = Path(build_dir) if build_dir is not None else Path(_job_dir())
        build = Path(tempfile.mkdtemp(prefix="build-", dir=parent))
        try:
            ctx = BuildContext(environ=environ, compiler=self, build_dir=build,
                               limits=limits, source=self.source_name(environ))
            ctx.tmp_dir.mkdir()
            self._fetch_inputs(ctx)
            with self.prepare(ctx):
                ok = self.build(ctx)
            self._finish(ctx, ok)
        finally:
            shutil.rmtree(build, ignore_errors=True)
        return environ

    def _fetch_inputs(self, ctx: BuildContext) -> None:
        environ, build = ctx.environ, ctx.build_dir
        langs = self.languages()
        files.download(environ, environ["source_file"], build / ctx.source)
        ctx.extra_args = files.lang_option(environ, "extra_compilation_args", langs)
        for path in files.lang_option(environ, "additional_includes", langs):
            name = files.safe_basename(path, "additional_includes")
            files.download(environ, path, build / name)
            ctx.includes.append(name)
        for path in files.lang_option(environ, "additional_sources", langs):
            name = files.safe_basename(path, "additional_sources")
            files.download(environ, path, build / name)
            ctx.sources.append(name)
        extra = environ.get("extra_files") or {}
        if not isinstance(extra, dict):
            raise Failure(f"extra_files must be a dict {{name: path}}, got {extra!r}")
        for name, path in extra.items():
            files.download(environ, path, build / files.safe_basename(name, "extra_files"))
        archive = environ.get("additional_archive")
        if archive:
            local = files.download(environ, archive, ctx.tmp_dir / "archive.zip")
            _, skipped = files.extract_archive(local, build)
            local.unlink()
            if skipped:
                environ["skipped_archive_members"] = skipped
                ctx.notes.append("Skipped archive members outside the build "
                                 "directory: " + ", ".join(skipped))

    def _finish(self, ctx: BuildContext, ok: bool) -> None:
        environ, limits = ctx.environ, ctx.limits
        artefact = self.artefact(ctx) if ok else None
        too_big = self._size_exceeded(ctx, artefact)
        if too_big:
            result, output = "CE", SIZE_LIMIT_MESSAGE
        else:
            result = "OK" if ok else "CE"
            notes = "".join(n + "\n" for n in ctx.notes)
            output = notes + utf8_safe(bytes(ctx.messages))
        environ["result_code"] = result
        environ["compiler_output"] = utf8_safe(output, limits.output_limit)
        if result == "OK":
            from sio.workers import ft

            if artefact is None or not artefact.is_file():
                raise Failure(f"compiler {self!r} reported success but produced "
                              f"no {self.output_name}")
            environ["exec_info"] = self.exec_info(ctx)
            ft.upload(environ, "out_file", str(artefact))
        else:
            environ.pop("exec_info", None)

    def _size_exceeded(self, ctx: BuildContext, artefact: Path | None) -> bool:
        limit = ctx.limits.result_size_limit
        if artefact is not None:
            return limit is not None and artefact.is_file() and artefact.stat().st_size > limit
        for run in ctx.runs:
            if run.return_code == -signal.SIGXFSZ:
                return True
            if any(marker in run.output for marker in _SIZE_MARKERS):
                return True
        return False

    # ------------------------------------------------------- self-test ---

    def self_test(self) -> bool | str:
        """Compile and run :attr:`hello_source`. ``True`` when the program
        printed :attr:`hello_output`, else a one-line description of what
        went wrong (``sio-doctor`` prints it)."""
        from sio.compilers.run import run_command

        with tempfile.TemporaryDirectory(prefix="sio-compile-selftest-") as tmp:
            src = Path(tmp) / f"hello.{self.extension}"
            src.write_text(self.hello_source)
            environ = {"source_file": str(src), "out_file": str(Path(tmp) / "out"),
                       "use_filetracker": False}
            try:
                self.compile(environ, build_dir=tmp)
            except Exception as exc:  # a self-test reports, it does not raise
                return f"{type(exc).__name__}: {exc}"
            if environ.get("result_code") != "OK":
                return "hello does not compile: " + environ.get("compiler_output", "")[:300]
            artefact = environ["out_file"]
            if not os.path.isabs(artefact):
                artefact = os.path.join(tmp, artefact)
            if environ["exec_info"].get("mode") == "executable":
                os.chmod(artefact, 0o755)  # stores keep no file modes
            try:
                proc = run_limited(run_command(environ["exec_info"], artefact), cwd=tmp,
                                   env=os.environ, time_limit=None, real_time_limit=60000,
                                   mem_limit=None, output_limit=4096)
            except OSError as exc:
                return f"hello does not run: {exc}"
            if proc.killed:
                return f"hello does not run: killed ({proc.killed} limit)"
            if proc.output.decode(errors="replace") != self.hello_output:
                return (f"hello printed {proc.output[:100]!r} (exit {proc.return_code}), "
                        f"expected {self.hello_output!r}")
        return True


def _job_dir() -> str:
    from sio.workers.runner import current_job_dir

    return current_job_dir()
