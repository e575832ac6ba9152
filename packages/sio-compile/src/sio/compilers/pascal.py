"""Pascal with Free Pascal: ``system-pas``/``system-fpc`` (host) and
``pas``/``fpc`` (the ``compiler-fpc.<version>`` sandbox).

Command: ``fpc -O2 -XS -Xt -Sg -oa.e EXTRA... a.pas``. Additional sources are
units: they are copied beside the program and found by ``uses``, not named
on the command line.
"""

from __future__ import annotations

from collections.abc import Iterable

from sio.compilers.base import BuildContext, Compiler
from sio.compilers.files import as_argument
from sio.compilers.sandboxed import SandboxedMixin


class SystemPascal(Compiler):
    """``system-pas``: the host's ``fpc``."""

    language = "pas"
    aliases = ("pascal", "fpc")
    extension = "pas"
    compile_sources = False
    hello_source = "program hello;\nbegin\n  writeln('Hello World');\nend.\n"

    def commands(self, ctx: BuildContext) -> Iterable[list[str]]:
        yield ["fpc", "-O2", "-XS", "-Xt", "-Sg", f"-o{self.output_name}",
               *ctx.extra_args, as_argument(ctx.source)]


class SandboxedPascal(SandboxedMixin, SystemPascal):
    """``pas``/``fpc``: ``fpc`` from the ``compiler-fpc.<version>`` sandbox."""

    sandbox_name = "fpc"
