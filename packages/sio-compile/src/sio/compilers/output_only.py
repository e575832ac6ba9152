"""``output-only``: nothing is compiled; the submitted file is the output the
exec jobs compare (``exec_info`` ``{"mode": "output-only"}``)."""

from __future__ import annotations

from pathlib import Path

from sio.compilers.base import BuildContext, Compiler


class OutputOnly(Compiler):
    """The artefact is the submitted file itself, unchanged."""

    language = "output-only"
    aliases = ("txt",)
    exec_mode = "output-only"
    extension = "txt"
    hello_output = "Hello World\n"
    hello_source = "Hello World\n"

    def source_name(self, environ: dict) -> str:
        return "output.txt"

    def build(self, ctx: BuildContext) -> bool:
        return True

    def artefact(self, ctx: BuildContext) -> Path:
        return ctx.build_dir / ctx.source
