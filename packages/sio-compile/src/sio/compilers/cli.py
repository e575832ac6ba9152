"""``sio-compile SOURCE OUTPUT [LANG_OR_COMPILER [ARGS...]]``.

Compiles SOURCE to OUTPUT through the ``compile`` job and prints the
resulting environ as JSON. Paths starting with ``/`` are filetracker paths,
others are local (``use_filetracker: 'auto'``). LANG_OR_COMPILER without a
``-`` is a language (``cpp`` means ``default-cpp``); ARGS become
``extra_compilation_args``. Exit status: 0 for OK, 1 for CE, 2 when the job
failed or the usage is wrong.
"""

from __future__ import annotations

import json
import sys

USAGE = __doc__.split("\n\n", 2)[0] + "\n\n" + __doc__.split("\n\n", 2)[1]


def build_environ(argv: list[str]) -> dict:
    """The compile environ for the command-line arguments."""
    source, output, *rest = argv
    environ = {"job_type": "compile", "source_file": source, "out_file": output,
               "use_filetracker": "auto", "extra_compilation_args": rest[1:]}
    if rest:
        compiler = rest[0].lower()
        environ["compiler"] = compiler if "-" in compiler else "default-" + compiler
    return environ


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        print("usage: " + USAGE.strip(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    from sio.workers.runner import run

    environ = run(build_environ(argv))
    print(json.dumps(environ, ensure_ascii=False, indent=2))
    if environ.get("result") != "SUCCESS":
        return 2
    return 0 if environ.get("result_code") == "OK" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
