"""Starting a run's launcher, and reaping launchers later.

Contract:

* :func:`_start_launcher` ``posix_spawn``\\s a launcher for the run (the
  worker never forks itself); :func:`_start_prepared` sends the run to a
  prepared launcher (:mod:`.prepared`) instead. Both return
  ``(pid, status pipe's read end, go pipe's write end or None, start
  time)``, after which the caller owns both descriptors and the pid, or a
  reason (str) why the run cannot start; :func:`_start_prepared` returns
  None when the prepared launcher is gone (the caller discards it and
  starts its own). Whatever happens, they close every other descriptor
  they opened;
* a launcher exits right after its final status line, and the worker does
  not wait for that: :func:`_reap_later` leaves a launcher not yet exited
  in :data:`_unreaped`, :func:`_reap_finished` (called at the start of
  every run) reaps those that have exited since.

The command lines are :mod:`.protocol`'s.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from sio.workers.supervisor import persona, prepared
from sio.workers.supervisor.protocol import _launcher_args, _run_args, _tmp_arg
from sio.workers.supervisor.slots import Slot, netns_fd

if TYPE_CHECKING:
    from sio.workers.supervisor.supervisor import RunSpec

_RESETTABLE_SIGNALS = tuple(
    s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)
)


_Started = tuple[int, int, "int | None", float]
"""``(launcher pid, status pipe's read end, go pipe's write end, start time)``."""


def _start_launcher(spec: RunSpec, slot: Slot, launcher: str) -> _Started | str:
    """``posix_spawn`` a launcher for the run; a reason (str) if it cannot."""
    executable = spec.executable or spec.argv[0]
    argv = [launcher, *_launcher_args(spec, slot), "--", executable, *spec.argv]
    status_r, status_w = os.pipe()
    child_fds = [spec.stdin, spec.stdout, spec.stderr, status_w]
    go_w = None
    if spec.clock.hold_at_exec:
        go_r, go_w = os.pipe()
        child_fds.append(go_r)
        argv.insert(1, "-W")
    fds = [os.dup(fd) for fd in child_fds]
    actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)]
    start = time.monotonic()
    try:
        pid = os.posix_spawn(
            launcher,
            argv,
            spec.env,
            file_actions=actions,
            setsigdef=_RESETTABLE_SIGNALS,
            setsigmask=(),
        )
    except OSError as exc:
        os.close(status_r)
        if go_w is not None:
            os.close(go_w)
        return f"cannot start the launcher: {exc}"
    finally:
        for fd in (*fds, *child_fds[3:]):
            os.close(fd)
    return pid, status_r, go_w, start


def _start_prepared(spec: RunSpec, slot: Slot, prep: prepared.Prepared,
                    aslr_off: bool | None = None) -> _Started | str | None:
    """Send the run to a prepared launcher (:mod:`.prepared`). None when it
    is gone (the caller discards it and starts its own); a reason (str)
    when the run cannot start at all. ``aslr_off``: whether this thread runs
    with address-space randomisation off (:func:`.persona.aslr_off`, asked
    when None)."""
    executable = spec.executable or spec.argv[0]
    # The network namespace and the cgroups come as descriptors.
    args = _run_args(spec, slot, by_name=False)
    opened: list[int] = []
    go_r = go_w = None
    run_r = run_w = None
    try:
        try:
            exe = os.open(executable, os.O_PATH | os.O_CLOEXEC)
        except OSError as exc:
            return f"supervisor: open program {executable}: {exc.strerror}"
        opened.append(exe)
        fds = [spec.stdin, spec.stdout, spec.stderr, exe]
        if prep.serving:
            # a serving launcher writes this run's status line on a pipe of
            # its own, then its eventfd (read here without blocking)
            run_r, run_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
            fds[:0] = [run_w, prep.event_fd]
        if spec.namespaces and slot.netns:
            fds.append(netns_fd(slot.netns))
            args += ["-n", "netns"]
        if spec.clock.hold_at_exec:
            go_r, go_w = os.pipe()
            fds.append(go_r)
            args.append("-W")
        procs = slot.cgroup.procs_fds()
        if not slot.cgroup.keeps_procs_fds:
            opened += procs
        fds += procs
        args += ["-c", "cgroup"] * len(procs)
        if persona.aslr_off() if aslr_off is None else aslr_off:
            args.append("-A")  # a launcher started now would inherit it
        tmp = _tmp_arg(spec)
        if tmp != prep.tmp:
            args += ["-t", tmp]
        for name, value in spec.env.items():
            args += ["-e", f"{name}={value}"]
        args += ["--", executable, *spec.argv]
        start = time.monotonic()
        if not prepared.send_run(prep, args, fds):
            if go_w is not None:
                os.close(go_w)
                go_w = None
            return None
        status_r = prep.status_r
        if run_r is not None:
            status_r, run_r = run_r, None
        result = (prep.pid, status_r, go_w, start)
        go_w = None
        return result
    except OSError as exc:
        return f"cannot start the run: {exc}"
    finally:
        for fd in opened:
            os.close(fd)
        if go_r is not None:
            os.close(go_r)
        if go_w is not None:
            os.close(go_w)
        for fd in (run_r, run_w):
            if fd is not None:
                os.close(fd)


_unreaped: set[int] = set()
"""Launchers that reported a final status line but had not exited yet."""


def _reap_later(pid: int) -> int | None:
    """Reap ``pid`` if it has exited, else leave it to :func:`_reap_finished`."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    if done:
        return status
    _unreaped.add(pid)
    return None


def _reap_finished() -> None:
    """Reap the launchers left by earlier runs (each exits right after its
    final status line; none is waited for)."""
    for pid in list(_unreaped):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid  # reaped elsewhere
        if done:
            _unreaped.discard(pid)
