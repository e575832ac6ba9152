"""Prepared launchers: the next run's sandbox, built while the worker does
something else.

Starting a run costs the launcher's ``exec``, the new namespaces and the new
root (~0.9 ms on a VM, ``docs/supervisor.rst``). None of it depends on the
run itself, only on the root's options (mountpoint, binds, links). So after
a run the worker starts the launcher for the next one in *prepared mode*
(``-P``, see ``launcher.c``): it builds the namespaces and the root and
waits. The next run with the same root sends it, in one ``SOCK_SEQPACKET``
message, the rest of its command line and its descriptors (stdio, the
program, the network namespace, the cgroup files); the namespace init then
forks the program at once. Everything else (status line, verdict, kill) is
as for a launcher started for the run.

Contract:

* at most one prepared launcher per root key and worker process, used once;
  a thread of the worker process starts them (off the run's path);
* a worker process forked while holding one forgets it (the parent keeps it);
* a prepared launcher that died meanwhile (its status pipe has something to
  read, or the message cannot be sent) is discarded and the run starts a
  launcher of its own: preparing never turns into an error of a run;
* one is prepared only when two runs in a row had the same root (so a run
  with a root of its own, e.g. the instruction counter's binds, wastes
  nothing);
* ``SIO_SUPERVISOR_PREPARE=0`` turns preparing off.

A prepared launcher dies with the thread that started it
(``PR_SET_PDEATHSIG``) and exits when its socket is closed.
"""

from __future__ import annotations

import array
import os
import select
import signal
import socket
import threading
from dataclasses import dataclass

MAX_MESSAGE = (1 << 16) - 1
"""The launcher's message buffer; a run that does not fit starts its own."""

_RESETTABLE_SIGNALS = tuple(
    s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)
)


@dataclass
class Prepared:
    """A launcher waiting in prepared mode."""

    pid: int
    status_r: int
    sock: socket.socket
    key: tuple[str, ...]
    tmp: str
    """The ``-t`` value its ``/tmp`` was mounted with."""


class _State:
    """This process's prepared launchers and the thread that starts them.

    The thread does the ``posix_spawn`` (the caller waits for the child's
    ``exec``: ~0.2 ms) off the run's path; it lives as long as the process,
    so the launchers it starts do too (``PR_SET_PDEATHSIG`` follows the
    thread that started them).
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.ready: dict[tuple[str, ...], Prepared] = {}
        self.pending: tuple[str, tuple[str, ...], str, set[int]] | None = None
        self.in_flight: tuple[str, ...] | None = None
        self.thread: threading.Thread | None = None
        self.last_key: tuple[str, ...] | None = None
        self.devnull: int | None = None


_state = _State()


def enabled() -> bool:
    return os.environ.get("SIO_SUPERVISOR_PREPARE", "1") != "0"


def _forget_in_child() -> None:
    """After ``fork``: the parent's prepared launchers are not ours (and its
    thread does not exist here)."""
    global _state
    for prep in _state.ready.values():
        try:
            os.close(prep.status_r)
            prep.sock.close()
        except OSError:
            pass
    _state = _State()


os.register_at_fork(after_in_child=_forget_in_child)


def take(key: tuple[str, ...]) -> Prepared | None:
    """The prepared launcher for ``key``, alive, or None (the caller owns
    it). Waits for one being started for ``key`` (~0.2 ms at most)."""
    state = _state
    with state.cond:
        state.cond.wait_for(
            lambda: state.in_flight != key
            and (state.pending is None or state.pending[1] != key),
            timeout=0.1,
        )
        prep = state.ready.pop(key, None)
    if prep is None:
        return None
    if _has_ended(prep):
        discard(prep)
        return None
    return prep


def _has_ended(prep: Prepared) -> bool:
    """A prepared launcher writes nothing until its run: anything to read
    (an error line, or EOF) means it failed or died."""
    readable, _, _ = select.select([prep.status_r], [], [], 0)
    return bool(readable)


def send_run(prep: Prepared, args: list[str], fds: list[int]) -> bool:
    """Send the run's options (``args``, ending with ``--``, the program and
    its argv) and descriptors. False when the launcher is gone (the caller
    then discards it and starts its own)."""
    payload = os.fsencode("\0".join(args)) + b"\0"
    if len(payload) > MAX_MESSAGE:
        return False
    try:
        sent = prep.sock.sendmsg(
            [payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
        )
    except OSError:
        return False
    prep.sock.close()
    return sent == len(payload)


def discard(prep: Prepared, unreaped: set[int] | None = None) -> None:
    """Stop a prepared launcher (EOF on its socket; SIGKILL as well) and
    leave its pid to be reaped (``unreaped``) or reap it now."""
    prep.sock.close()
    try:
        os.close(prep.status_r)
    except OSError:
        pass
    try:
        os.kill(prep.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if unreaped is not None:
        unreaped.add(prep.pid)
        return
    try:
        os.waitpid(prep.pid, 0)
    except ChildProcessError:
        pass


def discard_all() -> None:
    """Stop every prepared launcher of this process (tests, shutdown)."""
    state = _state
    with state.cond:
        state.cond.wait_for(lambda: state.pending is None and state.in_flight is None,
                            timeout=1.0)
        preps = list(state.ready.values())
        state.ready.clear()
        state.last_key = None
    for prep in preps:
        discard(prep)


def after_run(launcher: str, key: tuple[str, ...], tmp: str, unreaped: set[int]) -> None:
    """A run with root ``key`` has ended: have the next one prepared when the
    previous run had the same root (see the module docs). Returns at once."""
    state = _state
    with state.cond:
        repeat = state.last_key == key
        state.last_key = key
        if not repeat or not enabled() or key in state.ready or state.in_flight == key:
            return
        state.pending = (launcher, key, tmp, unreaped)
        if state.thread is None:
            state.thread = threading.Thread(
                target=_preparer, args=(state,), name="sio-prepare-launcher", daemon=True
            )
            state.thread.start()
        state.cond.notify_all()


def _preparer(state: _State) -> None:
    while True:
        with state.cond:
            state.cond.wait_for(lambda: state.pending is not None)
            launcher, key, tmp, unreaped = state.pending
            state.pending = None
            state.in_flight = key
        prep = None
        try:
            prep = _spawn(state, launcher, key, tmp)
        finally:
            with state.cond:
                old = state.ready.pop(key, None)
                if prep is not None:
                    state.ready[key] = prep
                state.in_flight = None
                state.cond.notify_all()
            if old is not None:
                discard(old, unreaped)


def _spawn(state: _State, launcher: str, key: tuple[str, ...], tmp: str) -> Prepared | None:
    if state.devnull is None:
        state.devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    devnull = state.devnull
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    status_r, status_w = os.pipe()
    child = [devnull, devnull, devnull, status_w, None, theirs.fileno()]
    actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(child)
               if fd is not None]
    try:
        pid = os.posix_spawn(
            launcher,
            [launcher, "-P", *key, "-t", tmp],
            {},
            file_actions=actions,
            setsigdef=_RESETTABLE_SIGNALS,
            setsigmask=(),
        )
    except OSError:
        ours.close()
        os.close(status_r)
        return None
    finally:
        os.close(status_w)
        theirs.close()
    return Prepared(pid, status_r, ours, key, tmp)
