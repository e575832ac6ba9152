"""``sio-get-sandbox NAME...``: install sandboxes, print their paths.

Part of :mod:`sio.workers.sandbox` (``docs/contracts.rst`` §5), which
re-exports :func:`main` (the entry point is ``sio.workers.sandbox:main``).
"""

from __future__ import annotations

import logging
import os
import sys

from sio.workers.sandbox.common import SandboxError


def main(argv: list[str] | None = None) -> int:
    """``sio-get-sandbox NAME...``: install the sandboxes, print their paths."""
    import argparse

    from sio.workers.sandbox import get_sandbox

    parser = argparse.ArgumentParser(
        prog="sio-get-sandbox",
        description="Download and extract sandboxes (from filetracker "
        "/sandboxes/NAME.tar.gz or $SIO_SANDBOXES_URL) and print their paths.",
    )
    parser.add_argument("names", nargs="+", metavar="NAME")
    parser.add_argument("-f", "--force-check", action="store_true",
                        help="check for a newer version now")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.force_check:
        os.environ["SIO_SANDBOXES_CHECK_INTERVAL"] = "0"
    status = 0
    for name in args.names:
        try:
            with get_sandbox(name) as sandbox:
                print(sandbox.path, flush=True)
        except (SandboxError, ValueError) as exc:
            print(f"sio-get-sandbox: {exc}", file=sys.stderr)
            status = 1
    return status
