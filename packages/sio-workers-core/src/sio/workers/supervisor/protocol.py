"""The launcher's protocol as the worker speaks it: command lines and status lines.

The launcher's side is specified in the header comment of ``launcher.h``;
this module is the worker's half and must agree with it. Contract: it only
builds and reads text (:func:`_root_key` stats the bind sources, nothing
here starts, opens or waits for anything):

* :func:`_run_args`: the options of the run itself (cgroups, credentials,
  network namespace, rlimits, the ``-T`` backstop, working directory,
  seccomp profile), the same for a launcher started for the run and for the
  go message of a prepared one (which gets the cgroups and the network
  namespace as descriptors instead of ``-c``/``-n``);
* :func:`_root_args`: the options that shape the new root, and
  :func:`_root_key`, what a prepared launcher must match to serve a run;
* :func:`_launcher_args`: the whole command line of a launcher started for
  the run;
* :func:`_parse_status`, :func:`_final_line`: the status lines read back,
  and :func:`_launcher_killed_for_wall`, whether ``-T`` ended the run.
"""

from __future__ import annotations

import functools
import os
import resource
import signal
from typing import TYPE_CHECKING

from sio.workers.supervisor.slots import Slot, root_mountpoint

if TYPE_CHECKING:
    from sio.workers.supervisor.supervisor import RunSpec

#: how far behind the real-time limit the launcher kills a run by itself
#: (launcher option ``-T``) when the watchdog has not: a hung worker
LAUNCHER_WALL_MARGIN_MS = 500
SYSTEM_LINKS_OR_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@functools.lru_cache(maxsize=1)
def _system_binds_cached() -> tuple[tuple[str, ...], tuple[tuple[str, str, bool], ...]]:
    links, binds = _system_binds()
    return tuple(links), tuple(binds)


def _system_binds() -> tuple[list[str], list[tuple[str, str, bool]]]:
    links, binds = [], [("/usr", "/usr", True)]
    for path in SYSTEM_LINKS_OR_DIRS:
        if os.path.islink(path):
            links.append(path)
        elif os.path.isdir(path):
            binds.append((path, path, True))
    return links, binds


def _run_args(spec: RunSpec, slot: Slot, by_name: bool = True) -> list[str]:
    """The launcher options of the run itself (all but the root's); without
    ``-c`` and ``-n`` unless ``by_name`` (a prepared launcher gets the
    cgroups and the network namespace as descriptors). A new list: the
    caller may extend it."""
    args = []
    if by_name:
        for procs in slot.cgroup.procs_files():
            args += ["-c", procs]
    args += ["-u", str(slot.uid), "-g", str(slot.gid)]
    if by_name and spec.namespaces and slot.netns:
        args += ["-n", slot.netns]
    profile = spec.profile
    args += _limit_args(spec.output_limit, profile.nofile, profile.stack_is_memory,
                        spec.mem_limit_kib, spec.real_time_limit_ms, spec.cwd,
                        profile.seccomp, spec.plain_open)
    return args


@functools.lru_cache(maxsize=256)
def _limit_args(output_limit: int | None, nofile: int, stack_is_memory: bool,
                mem_limit_kib: int | None, real_time_limit_ms: int | None, cwd: str,
                seccomp: str, plain_open: bool) -> tuple[str, ...]:
    """The rlimits, ``-T``, ``-w``, ``-s`` and ``-o`` of :func:`_run_args`
    (pure text of its arguments: remembered, a judge's runs repeat them)."""
    args: list[str] = []
    rl = []
    if output_limit is not None:
        # One byte more than the limit: output of exactly the limit is fine,
        # anything over it is stopped with SIGXFSZ as soon as it is written.
        fsize = output_limit + 1
        rl.append((resource.RLIMIT_FSIZE, fsize, fsize))
    rl.append((resource.RLIMIT_CORE, 0, 0))
    rl.append((resource.RLIMIT_NOFILE, nofile, nofile))
    rl.append((resource.RLIMIT_MEMLOCK, 0, 0))
    rl.append((resource.RLIMIT_MSGQUEUE, 0, 0))
    if stack_is_memory and mem_limit_kib:
        # Twice the memory limit: the cgroup stops a deep stack first (MLE),
        # whatever order the program touches it in.
        stack = 2 * mem_limit_kib * 1024
        rl.append((resource.RLIMIT_STACK, stack, stack))
    else:
        rl.append((resource.RLIMIT_STACK, 8 << 20, 8 << 20))
    # No RLIMIT_CPU: the watchdog enforces the time limit on the run's whole
    # tree, the launcher's wall limit (-T) backs it. A CPU rlimit arms the
    # kernel's process-wide CPU timer, and while that runs the program's own
    # CPU clock (clock(), CLOCK_PROCESS_CPUTIME_ID) advances a scheduler tick
    # at a time (4 ms at HZ=250) instead of exactly, as it does outside.
    for res, soft, hard in rl:
        args += ["-r", f"{res}:{soft}:{hard}"]
    if real_time_limit_ms is not None:
        # The launcher's own wall limit: a backstop behind the watchdog, so
        # that a hung worker cannot keep the run alive.
        args += ["-T", str(real_time_limit_ms + LAUNCHER_WALL_MARGIN_MS)]
    args += ["-w", cwd, "-s", seccomp]
    if plain_open:
        args.append("-o")
    return tuple(args)


def _root_args(spec: RunSpec) -> tuple[str, ...]:
    """The launcher options that shape the new root (``-M``, ``-l``, ``-b``):
    the key of a prepared launcher. Empty without namespaces."""
    if not spec.namespaces:
        return ()
    extra = tuple((path, path, True) for path in spec.profile.extra_ro if os.path.isdir(path))
    return _root_text(str(root_mountpoint()),
                      (*extra, *((str(src), str(dst), bool(ro)) for src, dst, ro in spec.binds)))


@functools.lru_cache(maxsize=64)
def _root_text(mountpoint: str, binds: tuple[tuple[str, str, bool], ...]) -> tuple[str, ...]:
    """:func:`_root_args` of the root at ``mountpoint``: the system's links
    and binds, then ``binds`` (remembered: a judge's runs repeat them)."""
    links, fixed = _system_binds_cached()
    args = ["-M", mountpoint]
    for link in links:
        args += ["-l", link]
    for src, dst, ro in (*fixed, *binds):
        args += ["-b", f"{src}:{dst}:{'ro' if ro else 'rw'}"]
    return tuple(args)


def _root_key(spec: RunSpec, root_args: tuple[str, ...]) -> tuple[str, ...]:
    """What a prepared launcher must match to serve ``spec``: the root's
    options and the identity of each per-run bind source (a sandbox updated
    meanwhile is a new directory: a root prepared with the old one, now
    deleted, must not serve)."""
    idents = []
    for src, _, _ in spec.binds:
        try:
            st = os.stat(src)
        except OSError:
            return ()  # the launcher will report it
        idents.append(f"{st.st_dev}:{st.st_ino}")
    return (*root_args, *idents)


def _tmp_arg(spec: RunSpec) -> str:
    """The ``-t`` value: the private ``/tmp``'s size (KiB) and inodes."""
    tmp_kib = spec.tmp_kib or spec.mem_limit_kib or 65536
    return f"{tmp_kib}:{spec.tmp_inodes}"


def _launcher_args(spec: RunSpec, slot: Slot) -> list[str]:
    """The whole command line options of a launcher started for the run."""
    if not spec.namespaces:
        return [*_run_args(spec, slot), "-N"]
    return [*_run_args(spec, slot), *_root_args(spec), "-t", _tmp_arg(spec)]


def _parse_status(
    text: str,
) -> tuple[int | None, str | None, str | None, int | None, int | None, int | None]:
    """``(wait_status, violation, error, wall_ns, maxrss_kib, cpu_us)`` from
    the launcher's status line."""
    if text.startswith("exit ") and text.count("\n") == 1:
        # the common case: one "exit" line, nothing else (what follows is
        # the same parse, without the line splitting)
        st, wall, *more = text.split()[1:]
        return (int(st), None, None, int(wall), int(more[0]) if more else None,
                int(more[1]) if len(more) > 1 else None)
    lines = text.strip().splitlines()
    errors = [line for line in lines if line.startswith("error ")]
    line = errors[0] if errors else (lines[-1] if lines else "")
    kind, _, rest = line.partition(" ")
    if kind == "exit":
        st, wall, *more = rest.split()
        maxrss = int(more[0]) if more else None
        cpu_us = int(more[1]) if len(more) > 1 else None
        return int(st), None, None, int(wall), maxrss, cpu_us
    if kind == "rv":
        name, _, wall = rest.rpartition(" ")
        return None, name, None, int(wall), None, None
    if kind == "error":
        return None, None, rest, None, None, None
    return None, None, None, None, None, None


def _final_line(chunks: list[bytes]) -> bool:
    """Whether the namespace init's final line (``exit``/``rv``) has arrived."""
    text = b"".join(chunks)
    if not text.endswith(b"\n"):
        return False
    last = text.rstrip(b"\n").rpartition(b"\n")[2]
    return last.startswith((b"exit ", b"rv "))


def _launcher_killed_for_wall(spec: RunSpec, wait_status: int | None, wall_ms: int) -> bool:
    """Whether the launcher's backstop (``-T``) ended the run: SIGKILLed
    past the real-time limit while the watchdog did not fire."""
    return (
        spec.real_time_limit_ms is not None
        and wait_status is not None
        and os.WIFSIGNALED(wait_status)
        and os.WTERMSIG(wait_status) == signal.SIGKILL
        and wall_ms >= spec.real_time_limit_ms
    )
