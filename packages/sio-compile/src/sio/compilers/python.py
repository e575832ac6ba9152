"""Python: ``system-python``.

Every ``.py`` file is byte-compiled by the interpreter that will run it (in a
separate, limited process), so syntax errors are ``CE``. The artefact is a
zipapp: the source as ``__main__.py`` plus every other file of the build
directory (additional sources and includes, extra files, archive members) at
its own name, so ``import library`` works. ``exec_info``:
``{"mode": "python"}``; run it as ``python3 -I ARTEFACT``.
"""

from __future__ import annotations

import zipfile

from sio.compilers.base import BuildContext, Compiler
from sio.compilers.run import python_interpreter

#: Compiles each file named in argv; prints the SyntaxError like the
#: interpreter does; exit 1 when any failed.
CHECK = """\
import sys, traceback
bad = 0
for name in sys.argv[1:]:
    with open(name, 'rb') as f:
        data = f.read()
    try:
        compile(data, name, 'exec', dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        sys.stdout.write(''.join(traceback.format_exception_only(type(exc), exc)))
        bad = 1
sys.exit(bad)
"""


class SystemPython(Compiler):
    """``system-python``: checks syntax, builds a zipapp."""

    language = "py"
    aliases = ("python", "python3")
    extension = "py"
    output_name = "a.pyz"
    exec_mode = "python"
    hello_source = 'print("Hello World")\n'

    def build(self, ctx: BuildContext) -> bool:
        files = [p for p in sorted(ctx.build_dir.rglob("*.py"))
                 if ".tmp" not in p.relative_to(ctx.build_dir).parts]
        names = [p.relative_to(ctx.build_dir).as_posix() for p in files]
        names.remove(ctx.source)
        argv = [python_interpreter(), "-I", "-S", "-c", CHECK, ctx.source,
                *(n if not n.startswith("-") else "./" + n for n in names)]
        if not ctx.run(argv).ok:
            return False
        out = ctx.build_dir / ".tmp" / self.output_name
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(ctx.build_dir / ctx.source, "__main__.py")
            for path in sorted(ctx.build_dir.rglob("*")):
                rel = path.relative_to(ctx.build_dir)
                if (rel.parts[0] == ".tmp" or rel.as_posix() == ctx.source
                        or not path.is_file() or path.is_symlink()):
                    continue
                zf.write(path, rel.as_posix())
        out.rename(ctx.build_dir / self.output_name)
        return True
