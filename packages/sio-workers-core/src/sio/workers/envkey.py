"""A cheap key of a few environment variables, for caches that must notice
when one of them changes.

The supervisor looks up its launcher and its slots on every run, and each
lookup depends on a few environment variables (a change made through
:data:`os.environ` must take effect at the next run). Reading them with
``os.environ.get`` costs about a microsecond each (the name is encoded and
the value decoded in Python); :func:`env_key` reads the raw values from the
mapping behind :data:`os.environ` in one C-level pass. The key is only for
comparing: equal keys mean equal variables.

This module imports nothing from :mod:`sio`.
"""

from __future__ import annotations

import os

_data = getattr(os.environ, "_data", None)
if not isinstance(_data, dict):  # not CPython's os.environ: the slow way
    _data = None


def env_names(*names: str) -> tuple[bytes, ...]:
    """The names, encoded as :data:`os.environ` stores them."""
    return tuple(os.fsencode(name) for name in names)


def env_key(names: tuple[bytes, ...]) -> tuple[bytes | str | None, ...]:
    """The values of ``names`` (from :func:`env_names`), ``None`` for unset."""
    if _data is None:
        return tuple(os.environ.get(os.fsdecode(name)) for name in names)
    return tuple(map(_data.get, names))
