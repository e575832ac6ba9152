"""Prepared launchers: the next run's sandbox, built while the current
run's program runs.

Starting a run costs the launcher's ``exec``, the new namespaces and the new
root (~0.9 ms on a VM, ``docs/supervisor.rst``). None of it depends on the
run itself, only on the root's options (mountpoint, binds, links). So while
a run's program runs, the worker starts the launcher for the next run in
*prepared mode* (``-P``, see ``launcher.h``): it builds the namespaces and
the root and waits. The next run with the same root sends it, in one
``SOCK_SEQPACKET`` message, the rest of its command line and its descriptors
(stdio, the program, the network namespace, the cgroup files); the namespace
init then starts the program at once. Everything else (status line, verdict,
kill) is as for a launcher started for the run.

Contract:

* per thread: a prepared launcher is started by the thread that runs, and
  only that thread uses it (``PR_SET_PDEATHSIG`` ties the launcher to the
  thread that started it), once; a thread holds at most one;
* one is prepared only when two runs of the thread in a row had the same
  root (a run with a root of its own, e.g. the instruction counter's binds
  under qemu, wastes nothing), with ``posix_spawn`` from the run's thread
  while its program runs (the worker only waits then), or after the run
  when :attr:`RunSpec.prepare_during_run` is off (``cpu-exec``: nothing
  else runs while its program does);
* it serves only a run with the same root key (the root's options and the
  identity of per-run bind sources, see ``protocol._root_key``);
* a prepared launcher that died meanwhile (its status pipe has something to
  read, or the message cannot be sent) is discarded and the run starts a
  launcher of its own: preparing never turns into an error of a run;
* a forked worker process forgets its parent's prepared launcher; an
  unused one exits when its thread ends or its socket is closed;
* ``SIO_SUPERVISOR_PREPARE=0`` turns preparing off.

Serving (launcher option ``-S``): a prepared launcher whose root has no bind
under ``/tmp`` is started to serve one run after another (``/tmp`` and SysV IPC as new
and a status pipe of its own per run, see ``launcher.h``). After a run that
ended with its status line and was not killed, the worker gives it back with
:func:`keep` and the thread's next run of the same root uses it again: no
launcher ``exec``, namespaces or root per run. A run that was killed, or
whose launcher failed, discards it. ``SIO_SUPERVISOR_SERVE=0`` turns serving
off (each prepared launcher then serves one run).
"""

from __future__ import annotations

import array
import os
import select
import signal
import socket
import threading
import weakref

from sio.workers.supervisor.slots import Slot, devnull_fd

MAX_MESSAGE = (1 << 16) - 1
"""The launcher's message buffer; a run that does not fit starts its own."""

_RESETTABLE_SIGNALS = tuple(
    s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)
)


class Prepared:
    """A launcher waiting in prepared mode (owned by one thread)."""

    def __init__(self, pid: int, status_r: int, sock: socket.socket, key: tuple[str, ...],
                 tmp: str, unreaped: set[int], serving: bool = False) -> None:
        self.pid = pid
        self.serving = serving
        """Started with ``-S``: serves runs until its socket is closed."""
        self.event_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK) if serving else None
        """Serving: the eventfd every run's message carries, which the init
        writes after each status line (``launcher.h``). The worker waits on it
        instead of the status pipe: an eventfd's wakeup is not a synchronous
        one, so the scheduler may run the worker on an idle CPU at once
        instead of after the init's work between runs on the init's CPU."""
        self.status_r = status_r
        self.sock = sock
        self.key = key
        self.tmp = tmp
        """The ``-t`` value its ``/tmp`` was mounted with."""
        # When dropped unused (its thread ended, the process forked): close
        # our ends (the launcher then exits) and leave the pid to be reaped.
        self.close = weakref.finalize(self, _close, status_r, sock, pid, unreaped,
                                      self.event_fd)


def _close(status_r: int, sock: socket.socket, pid: int, unreaped: set[int],
           event_fd: int | None = None) -> None:
    sock.close()
    _close_quietly(status_r, event_fd)
    unreaped.add(pid)


def _close_quietly(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.prepared: Prepared | None = None
        self.last_key: tuple[str, ...] | None = None


_local = _ThreadState()


def filter_key(seccomp: str, plain_open: bool, aslr_off: bool, namespaces: bool,
               slot: Slot) -> tuple[str, ...]:
    """What decides a run's seccomp filter and network namespace: part of a
    prepared launcher's key. A serving launcher joins the network namespace
    and loads the filter of its first run once, for all its runs
    (``launcher.h``), so it may serve only runs whose key has the same
    part."""
    return (f"-s {seccomp}", "-o" if plain_open else "", "-A" if aslr_off else "",
            f"-n {slot.netns}" if namespaces and slot.netns else "")


def enabled() -> bool:
    return os.environ.get("SIO_SUPERVISOR_PREPARE", "1") != "0"


def serving_enabled() -> bool:
    return os.environ.get("SIO_SUPERVISOR_SERVE", "1") != "0"


def servable(root_args: tuple[str, ...]) -> bool:
    """Whether a root can be served run after run: no bind lies under
    ``/tmp`` (a fresh ``/tmp`` between runs would hide it)."""
    for i, arg in enumerate(root_args[:-1]):
        if arg == "-b":
            dst = root_args[i + 1].rsplit(":", 1)[0].rsplit(":", 1)[1]
            if dst == "/tmp" or dst.startswith("/tmp/"):
                return False
    return True


def _forget_in_child() -> None:
    """After ``fork``: the parent's prepared launcher is not ours (its
    descriptors are closed here; it is neither killed nor reaped)."""
    global _local
    prep = _local.prepared
    if prep is not None:
        prep.close.detach()
        prep.sock.close()
        _close_quietly(prep.status_r, prep.event_fd)
    _local = _ThreadState()


os.register_at_fork(after_in_child=_forget_in_child)


def take(key: tuple[str, ...]) -> Prepared | None:
    """This thread's prepared launcher for ``key``, alive, or None (the
    caller then owns it)."""
    prep = _local.prepared
    if prep is None or prep.key != key:
        return None
    _local.prepared = None
    if not prep.serving and _has_ended(prep):
        # (a serving launcher that died fails the run's send instead: its
        # init alone holds the socket, and nothing else ends it)
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
    then discards it and starts its own). On success the socket is closed
    and the status pipe is the caller's (``prep`` must not be closed)."""
    payload = os.fsencode("\0".join(args)) + b"\0"
    if payload.count(b"\0") != len(args):
        # as posix_spawn does: a NUL inside an argument or variable would
        # split it into options of its own
        raise ValueError("embedded null byte in the program's arguments or environment")
    if len(payload) > MAX_MESSAGE:
        return False
    try:
        sent = prep.sock.sendmsg(
            [payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
        )
    except OSError:
        return False
    if sent != len(payload):
        return False
    if not prep.serving:
        prep.close.detach()
        prep.sock.close()
    return True


def keep(prep: Prepared) -> None:
    """Give a serving launcher whose run has ended well back to this thread,
    for its next run of the same root (one that already holds another is
    discarded)."""
    if _local.prepared is None and prep.close.alive:
        _local.prepared = prep
    else:
        discard(prep)


def discard(prep: Prepared) -> None:
    """Stop a prepared launcher: EOF on its socket and SIGKILL (it is reaped
    later, with the supervisor's other finished launchers)."""
    if not prep.close.alive:
        return
    try:
        os.kill(prep.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    prep.close()


def discard_all() -> None:
    """Stop this thread's prepared launcher, if any (tests, shutdown)."""
    prep, _local.prepared = _local.prepared, None
    _local.last_key = None
    if prep is not None:
        discard(prep)


def prepare_next(launcher: str, root_args: tuple[str, ...], key: tuple[str, ...], tmp: str,
                 unreaped: set[int]) -> None:
    """A run with root ``key`` (made by the launcher options ``root_args``)
    is under way (or has ended): start the next run's launcher now if this
    thread's previous run had the same root (see the module docs).
    ``unreaped``: where pids to reap later are put."""
    repeat = _local.last_key == key
    _local.last_key = key
    if not repeat or not enabled():
        return
    old = _local.prepared
    if old is not None:
        if old.key == key:
            return
        _local.prepared = None
        discard(old)
    _local.prepared = _spawn(launcher, root_args, key, tmp, unreaped)


def _spawn(launcher: str, root_args: tuple[str, ...], key: tuple[str, ...], tmp: str,
           unreaped: set[int]) -> Prepared | None:
    serve = serving_enabled() and servable(root_args)
    devnull = devnull_fd()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    status_r, status_w = os.pipe()
    child = [devnull, devnull, devnull, status_w, None, theirs.fileno()]
    actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(child)
               if fd is not None]
    try:
        pid = os.posix_spawn(
            launcher,
            [launcher, "-P", *(("-S",) if serve else ()), *root_args, "-t", tmp],
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
    return Prepared(pid, status_r, ours, key, tmp, unreaped, serving=serve)
