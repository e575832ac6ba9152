"""The job directories' own thread: the file system work of a job directory
that the job need not wait for.

Two kinds of work go to the thread (:class:`DirectoryKeeper`):

* **closing the lock of a removed directory.** Once a job directory is
  removed (no name is left), closing the last descriptor of it is when the
  file system frees its inode: about 0.2 ms on ext4, as long as the rest of
  a small job. The lock protects nothing any more (nobody can find the
  directory), so the job does not wait for it.
* **making the next job's directory ahead.** A ``mkdir`` costs 0.15–0.3 ms
  of CPU on this VM's ext4 (the inode allocator steps over every inode
  freed in the last minute or more, one buffer lookup each: ``perf`` shows
  ``recently_deleted``), a fifth of a small test. From its second job on,
  a process (a worker, most likely) asks at each job's start for the next
  job's directory, which the thread makes — sweep, :func:`tempfile.mkdtemp`,
  lock — while this job runs. The directory made ahead is as fresh as one
  made at the job's start: new, empty, locked from its making on, its name
  known to nobody else. Between two jobs it is the process's one job
  directory; it is removed at the process's exit (:mod:`atexit`, and
  Celery's pool processes at their shutdown through :func:`discard_ahead`)
  and, after a kill, by the next sweep like a dead job's directory.

The thread works while a job waits for its program
(:mod:`sio.workers.job_waits`: the supervisor's watch), not while the job's
Python code runs, which would wait for the GIL each time the thread holds
it: a task is begun at the next such wait, or after :data:`FALLBACK`
seconds without one (jobs that run no supervised program, an idle worker).
Adding a task wakes nobody, except the first after :data:`DOZE_AFTER`
seconds without any: by then the thread has stopped looking for tasks (an
idle worker's thread does not wake at all). A job that finds its directory
still not begun makes its own (the one asked for is then not made).

While a job keeps the machine quiet (:meth:`DirectoryKeeper.quiet`:
``cpu-exec``, which measures real CPU time alone on the machine), the thread
finishes the task it is on before the job goes on and starts no other.

A forked child neither uses nor removes what its parent's thread holds: it
closes its copies of the descriptors.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

from sio.workers import job_waits

logger = logging.getLogger("sio.workers.runner")

#: Seconds a job waits for a directory the thread is making before it makes
#: its own.
AHEAD_WAIT = 1.0

#: Seconds a task waits for a job's wait (:mod:`sio.workers.job_waits`)
#: before the thread does it anyway.
FALLBACK = 0.05

#: Seconds without a task after which the thread dozes: it stops waking
#: every :data:`FALLBACK` to look for tasks, and the next task added wakes
#: it (one wake-up, the first task after an idle spell). A worker judging
#: a stream of jobs never gets there; an idle one stops waking at all.
DOZE_AFTER = 1.0

#: ``(parent, path, lock descriptor)`` of a directory made ahead.
Ahead = tuple[str, str, int]


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _remove_empty(path: str, fd: int) -> None:
    try:
        os.rmdir(path)
    except FileNotFoundError:  # its parent went first (a test's directory)
        pass
    except OSError:
        logger.warning("could not remove the job directory made ahead: %s", path)
    _close(fd)


def _still_fresh(path: str, fd: int) -> bool:
    """Whether the directory made ahead is still the one at ``path`` and
    still empty."""
    try:
        st, held = os.lstat(path), os.fstat(fd)
        return (st.st_ino, st.st_dev) == (held.st_ino, held.st_dev) and not os.listdir(fd)
    except OSError:
        return False


class DirectoryKeeper:
    """Closes removed job directories' locks and makes the next job's
    directory ahead, in a thread of its own (started at its first task).

    ``make(parent)`` makes one job directory in ``parent`` and returns its
    path and the descriptor that locks it (``None`` where it cannot be
    opened)."""

    def __init__(self, make: Callable[[str], tuple[str, int | None]]) -> None:
        self._make = make
        self._tasks: collections.deque[tuple[float, int | str]] = collections.deque()
        """``(when it was added, task)``: a lock to close or a parent to make in."""
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._state = threading.Condition()
        self._ahead: Ahead | None = None
        self._making = False
        self._quiet = 0  # jobs now keeping the machine quiet
        self._busy = False  # the thread is on a task
        self._make_begun = False  # ... and that task is the directory asked for
        self._dropped = 0  # asked-for directories not to be made after all
        self._hurry_until = 0.0  # flush(): tasks added until then wait for no job
        self._dozing = False  # the thread sleeps until a task or a job's wait

    # ---------------------------------------------------------- the job's side
    def close(self, fd: int) -> None:
        """Close ``fd`` (the lock of a removed directory) off the job's path."""
        self._tasks.append((time.monotonic(), fd))
        self._ensure_thread()
        self._wake_if_dozing()

    def make_ahead(self, parent: str) -> None:
        """Have the next job's directory made in ``parent`` while this job
        runs (nothing when one is made or being made)."""
        with self._state:
            if self._ahead is not None or self._making or self._quiet:
                return
            self._making = True
        self._tasks.append((time.monotonic(), parent))
        self._ensure_thread()
        self._wake_if_dozing()

    def _wake_if_dozing(self) -> None:
        """(After a task is added.) A dozing thread must see it: wake it. A
        thread that is not dozing finds it by itself within FALLBACK."""
        if self._dozing:  # (the thread itself ends its doze)
            job_waits.nudge()

    def _wait_for_the_making(self) -> None:
        """(Under ``_state``.) Let a directory being made be finished
        (waiting up to :data:`AHEAD_WAIT`); one asked for and not begun is
        not made."""
        if self._making and not self._make_begun:
            # (the thread may be on another task: closing a lock)
            self._making = False
            self._dropped += 1
            self._state.notify_all()
        elif self._making:
            self._state.wait_for(lambda: not self._making, timeout=AHEAD_WAIT)

    def take(self, parent: str) -> tuple[str, int] | None:
        """The directory made ahead in ``parent`` (waiting up to
        :data:`AHEAD_WAIT` for one being made), or ``None``: the caller
        then makes its own (also when the one asked for is not begun yet).
        One made elsewhere (the temporary directory changed) or no longer
        fresh is removed."""
        with self._state:
            self._wait_for_the_making()
            ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        made_in, path, fd = ahead
        if made_in != parent or not _still_fresh(path, fd):
            _remove_empty(path, fd)
            return None
        return path, fd

    def discard_ahead(self) -> None:
        """Remove the directory made ahead, if any (at the process's exit)."""
        with self._state:
            self._wait_for_the_making()
            ahead, self._ahead = self._ahead, None
        if ahead is not None:
            _remove_empty(ahead[1], ahead[2])

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """While in it, the thread does nothing: it is let finish the task
        it is on (waiting up to :data:`AHEAD_WAIT`) and starts the next one
        afterwards. A directory asked for and not yet begun is not made:
        made after the job, it would only meet the next job's own file
        system work (the next job makes its directory itself)."""
        with self._state:
            self._quiet += 1
            self._state.wait_for(lambda: not self._busy, timeout=AHEAD_WAIT)
            if self._making and not self._busy:
                self._making = False
                self._dropped += 1
                self._state.notify_all()
        try:
            yield
        finally:
            with self._state:
                self._quiet -= 1
                self._state.notify_all()

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued task is done, without waiting for a
        job's wait (tests)."""
        deadline = time.monotonic() + timeout
        self._hurry_until = time.monotonic()
        job_waits.nudge()
        while self._tasks and time.monotonic() < deadline:
            time.sleep(0.001)
        with self._state:
            self._state.wait_for(lambda: not (self._making or self._busy),
                                 timeout=max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------ the thread
    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="sio-jobdir-keeper", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        since = job_waits.begun()
        idle_since: float | None = None
        while True:
            # until a job waits for its program, or the oldest task has
            # waited FALLBACK: adding a task woke nobody (unless dozing)
            now = time.monotonic()
            timeout: float | None = FALLBACK
            if self._tasks:
                idle_since = None
                timeout = max(0.0, self._tasks[0][0] + FALLBACK - now)
            elif idle_since is None:
                idle_since = now
            elif now - idle_since >= DOZE_AFTER:
                self._dozing = True  # (then the tasks are looked at again:
                if self._tasks:  # one added before this line saw no doze)
                    self._dozing = False
                    continue
                timeout = None
            job_waits.wait_for_a_wait(since, timeout, self._woken)
            self._dozing = False
            now_begun = job_waits.begun()
            job_waited, since = now_begun != since, now_begun
            due = bool(self._tasks) and self._tasks[0][0] + FALLBACK <= time.monotonic()
            if not (job_waited or due or self._hurried()):
                continue  # (woken from a doze: the task waits for a job's wait)
            for _ in range(len(self._tasks)):  # (what comes meanwhile: the next time)
                self._do(self._tasks.popleft()[1])

    def _woken(self) -> bool:
        """Whether the thread must stop waiting although no job waits: a
        flush, or a task for a dozing thread."""
        return self._hurried() or (self._dozing and bool(self._tasks))

    def _hurried(self) -> bool:
        """Whether a task added before the running :meth:`flush` waits."""
        return bool(self._tasks) and self._tasks[0][0] <= self._hurry_until

    def _do(self, task: int | str) -> None:
        with self._state:
            self._state.wait_for(lambda: not self._quiet)
            if not isinstance(task, int) and self._dropped:
                self._dropped -= 1
                return
            self._busy = True
            self._make_begun = not isinstance(task, int)
        try:
            if isinstance(task, int):
                _close(task)
            else:
                self._make_ahead_now(task)
        except Exception:  # the thread must go on: the jobs wait for it
            logger.exception("the job directories' thread failed a task")
        finally:
            with self._state:
                self._busy = self._make_begun = False
                self._state.notify_all()

    def _make_ahead_now(self, parent: str) -> None:
        made: Ahead | None = None
        try:
            path, fd = self._make(parent)
            if fd is None:  # cannot be locked: not worth keeping
                os.rmdir(path)
            else:
                made = (parent, path, fd)
        except OSError as e:
            logger.debug("no job directory made ahead in %s: %s", parent, e)
        finally:  # (the job then makes its own)
            with self._state:
                self._ahead, self._making = made, False
                self._state.notify_all()

    # ------------------------------------------------------------------ fork
    def before_fork(self) -> None:
        """Let a directory being made be made first (one not begun is not
        made): the child must not inherit a lock it does not know of."""
        with self._state:
            self._wait_for_the_making()

    def after_fork_in_child(self) -> None:
        """The parent's tasks and directory are not the child's: close its
        copies of the descriptors."""
        self._thread = None
        self._start_lock = threading.Lock()
        self._state = threading.Condition()
        self._making = self._busy = self._make_begun = self._dozing = False
        self._hurry_until = 0.0
        self._quiet = self._dropped = 0
        if self._ahead is not None:
            _close(self._ahead[2])
            self._ahead = None
        while self._tasks:
            task = self._tasks.popleft()[1]
            if isinstance(task, int):
                _close(task)
