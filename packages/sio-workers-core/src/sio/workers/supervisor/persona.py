"""The spawning thread's persona (``personality(2)``) as the supervisor sees it.

Only one bit matters: ``ADDR_NO_RANDOMIZE``, address-space randomisation
off, which a thread's persona passes to everything it spawns (a launcher
started by the thread inherits it; a prepared one is told with ``-A``).

Contract: the persona is read from the kernel once per thread and then
remembered, so that asking costs no system call a run. It changes only
through :func:`no_aslr`, which keeps the remembered value right; code that
calls ``personality`` by other means must call :func:`forget` after it.
A forked child inherits both the persona and what is remembered of it.

This module imports nothing from :mod:`sio`.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ADDR_NO_RANDOMIZE = 0x0040000
_QUERY = 0xFFFFFFFF
_known = threading.local()


@functools.lru_cache(maxsize=1)
def _personality() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).personality
    except (OSError, AttributeError):
        return None


def _read() -> int:
    """The thread's persona, or -1 where it cannot be read."""
    personality = _personality()
    return personality(_QUERY) if personality is not None else -1


def aslr_off() -> bool:
    """Whether this thread runs with address-space randomisation off."""
    off = getattr(_known, "aslr_off", None)
    if off is None:
        persona = _read()
        off = _known.aslr_off = persona >= 0 and persona & ADDR_NO_RANDOMIZE != 0
    return off


def forget() -> None:
    """The persona was changed by other means: read it again next time."""
    _known.aslr_off = None


@contextmanager
def no_aslr() -> Iterator[None]:
    """Turn address-space randomisation off for what this thread spawns
    inside the block; the previous persona is restored on exit (also when
    it cannot be read: then nothing is changed)."""
    personality = _personality()
    old = _read()
    if personality is None or old < 0 or old & ADDR_NO_RANDOMIZE:
        yield
        return
    personality(old | ADDR_NO_RANDOMIZE)
    _known.aslr_off = True
    try:
        yield
    finally:
        personality(old)
        _known.aslr_off = False
