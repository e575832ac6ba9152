"""C with GCC: ``system-c``/``system-gcc`` (host toolchain) and ``c``/``gcc``
(the ``compiler-gcc.<version>`` sandbox under PRoot).

Command: ``gcc -std=gnu17 -static -O2 -s -o a.e EXTRA... a.c SOURCES... -lm``.
Executables are static so that the exec jobs can run them in any sandbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from sio.compilers.base import BuildContext, Compiler
from sio.compilers.files import as_argument
from sio.compilers.sandboxed import SandboxedMixin


class GccCompiler(Compiler):
    """The GCC family: one command, a static executable."""

    binary: ClassVar[str] = "gcc"
    options: ClassVar[tuple[str, ...]] = ("-std=gnu17", "-static", "-O2", "-s")
    libraries: ClassVar[tuple[str, ...]] = ("-lm",)

    def commands(self, ctx: BuildContext) -> Iterable[list[str]]:
        sources = [as_argument(s) for s in ctx.sources if self.is_source(s)]
        yield [self.binary, *self.options, "-o", self.output_name, *ctx.extra_args,
               as_argument(ctx.source), *sources, *self.libraries]

    def is_source(self, name: str) -> bool:
        """Whether an additional source is given to the compiler (headers are not)."""
        return not name.endswith((".h", ".hpp", ".hh", ".hxx"))


class SystemC(GccCompiler):
    """``system-c``: the host's ``gcc``."""

    language = "c"
    extension = "c"
    hello_source = '#include <stdio.h>\nint main(void) { puts("Hello World"); return 0; }\n'


class SandboxedC(SandboxedMixin, SystemC):
    """``c``/``gcc``: ``gcc`` from the ``compiler-gcc.<version>`` sandbox."""

    sandbox_name = "gcc"
