"""Java: ``system-java`` (host ``javac``) and ``java`` (the
``compiler-java.<version>`` sandbox).

The source is saved as ``<Class>.java`` where ``Class`` is its public class
(else the submitted file's name, else ``Main``), compiled with ``javac`` into
``classes/``, and packed (in Python, no second JVM start) into a jar with a
manifest naming the main class. ``exec_info``: ``{"mode": "java",
"main_class": "[package.]Class", "preferred_filename": "Class.jar"}``; run it
as ``java -cp ARTEFACT main_class``. The JVM reserves address space, so the
memory limit is the heap limit (``-J-Xmx``), not ``RLIMIT_AS``.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from sio.compilers.base import BuildContext, Compiler
from sio.compilers.files import as_argument
from sio.compilers.sandboxed import SandboxedMixin

_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_PUBLIC_CLASS = re.compile(
    r"\bpublic\s+(?:(?:final|abstract|static|strictfp)\s+)*(?:class|record|enum|interface)"
    r"\s+([A-Za-z_$][\w$]*)")
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_$][\w$.]*)\s*;", re.M)
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*\Z")


def main_class(source: str, submitted_name: str) -> tuple[str, str | None]:
    """``(class name, package or None)`` of a Java source."""
    text = _COMMENTS.sub(" ", source)
    match = _PUBLIC_CLASS.search(text)
    package = _PACKAGE.search(text)
    if match:
        name = match.group(1)
    else:
        stem = PurePosixPath(submitted_name).name.split(".")[0]
        name = stem if _IDENTIFIER.match(stem) else "Main"
    return name, package.group(1) if package else None


class SystemJava(Compiler):
    """``system-java``: the host's ``javac``."""

    language = "java"
    extension = "java"
    output_name = "a.jar"
    exec_mode = "java"
    hello_source = ('public class Hello {\n    public static void main(String[] args) {\n'
                    '        System.out.println("Hello World");\n    }\n}\n')
    jvm_options = ("-J-Xss32m", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1",
                   "-J-Xshare:auto")

    def source_name(self, environ: dict) -> str:
        return "Main.java"

    def build(self, ctx: BuildContext) -> bool:
        src = ctx.build_dir / ctx.source
        text = src.read_bytes().decode("utf-8", errors="replace")
        name, package = main_class(text, str(ctx.environ["source_file"]))
        target = ctx.build_dir / f"{name}.java"
        if target != src and not target.exists():  # else javac reports the clash
            src.rename(target)
            ctx.source = target.name
        ctx.data["main_class"] = f"{package}.{name}" if package else name
        ctx.data["class_name"] = name
        classes = ctx.build_dir / ".classes"
        classes.mkdir()
        heap = [] if ctx.limits.mem_limit is None else [f"-J-Xmx{ctx.limits.mem_limit}k"]
        sources = [as_argument(s) for s in ctx.sources if s.endswith(".java")]
        argv = ["javac", *heap, *self.jvm_options, "-encoding", "UTF-8",
                "-d", ".classes", *ctx.extra_args, as_argument(ctx.source), *sources]
        if not ctx.run(argv, mem_limit=None).ok:
            return False
        self._jar(classes, ctx.build_dir / self.output_name, ctx.data["main_class"])
        return True

    @staticmethod
    def _jar(classes: Path, jar: Path, main: str) -> None:
        manifest = f"Manifest-Version: 1.0\r\nMain-Class: {main}\r\nCreated-By: sio-compile\r\n\r\n"
        with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("META-INF/MANIFEST.MF", manifest)
            for path in sorted(classes.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    zf.write(path, path.relative_to(classes).as_posix())

    def exec_info(self, ctx: BuildContext) -> dict:
        return {"mode": "java", "main_class": ctx.data["main_class"],
                "preferred_filename": f"{ctx.data['class_name']}.jar"}


class SandboxedJava(SandboxedMixin, SystemJava):
    """``java``: ``javac`` from the ``compiler-java.<version>`` sandbox."""

    sandbox_name = "java"
    needs_proc = True
