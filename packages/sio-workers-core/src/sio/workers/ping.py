"""The ``ping`` job: ``environ['pong'] = environ['ping']``."""

from __future__ import annotations

from sio.workers import Failure


def run(environ: dict) -> dict:
    """Copy ``ping`` to ``pong``; a missing ``ping`` key is a failure."""
    if "ping" not in environ:
        raise Failure("the ping job needs the key 'ping' in the environ")
    environ["pong"] = environ["ping"]
    return environ
