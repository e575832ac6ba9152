"""Per-process bookkeeping of the sandboxes in use: their ``flock`` descriptors.

One :class:`_NameState` per sandbox path: the descriptor holding the shared
use lock (``.<name>.lock``) and how many ``with`` blocks of this process use
it. A forked child forgets the parent's states (and closes its copies of the
descriptors). Part of :mod:`sio.workers.sandbox` (``docs/contracts.rst`` §5).
"""

from __future__ import annotations

import contextlib
import os
import threading


class _NameState:
    """Per-process bookkeeping of one sandbox: the flock fd and its users."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.fd: int | None = None


_states: dict[str, _NameState] = {}
_states_lock = threading.Lock()


def _state(key: str) -> _NameState:
    with _states_lock:
        state = _states.get(key)
        if state is None:
            state = _states[key] = _NameState()
        return state


def _after_fork_in_child() -> None:
    # The child must not keep (or release) the parent's locks: close its
    # copies of the descriptors (the parent's lock stays) and start afresh.
    global _states_lock
    for state in _states.values():
        if state.fd is not None:
            with contextlib.suppress(OSError):
                os.close(state.fd)
    _states.clear()
    _states_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
