"""A filetracker server of one's own: ``sio-run-filetracker``.

:func:`start_filetracker_server` starts ``filetracker-server`` (the real
:mod:`filetracker` package's) and returns once it answers;
:func:`launch_filetracker_server` does so for ``FILETRACKER_PUBLIC_URL``
unless a server already answers there. Part of :mod:`sio.workers.ft`
(``docs/contracts.rst`` §4).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


def _answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/version/", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # something is serving there
    except (OSError, ValueError):
        return False


class FiletrackerServer:
    """A filetracker server started by :func:`launch_filetracker_server`."""

    def __init__(self, url: str, process: subprocess.Popen) -> None:
        self.url = url
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 3.0) -> None:
        """Stop the server: SIGTERM (gunicorn's graceful shutdown), and after
        ``timeout`` seconds SIGKILL to its whole process group (an idle
        gevent worker sometimes ignores the graceful shutdown for 30 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def __enter__(self) -> FiletrackerServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_filetracker_server(
    url: str,
    directory: str,
    workers: int = 2,
    log: str | None = None,
    ready_timeout: float = 60.0,
) -> FiletrackerServer:
    """Start ``filetracker-server`` for ``url`` storing in ``directory`` (in
    its own session, not daemonised) and return once it answers."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.port:
        raise ValueError(f"need an http://HOST:PORT URL, got {url!r}")
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    server = shutil.which("filetracker-server", path=env["PATH"]) or "filetracker-server"
    listen = os.environ.get("FILETRACKER_LISTEN_ADDR") or parts.hostname or "127.0.0.1"
    cmd = [server, "-d", directory, "-p", str(parts.port), "-l", listen, "-D",
           "--workers", str(workers)]
    if log:
        cmd += ["-L", log]
    os.makedirs(directory, exist_ok=True)
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        if log:
            out.close()
    handle = FiletrackerServer(url, proc)
    deadline = time.monotonic() + ready_timeout
    while not _answers(url, timeout=1.0):
        if proc.poll() is not None:
            raise RuntimeError(f"filetracker-server exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            handle.stop()
            raise RuntimeError(f"filetracker-server did not answer at {url}")
        time.sleep(0.1)
    return handle


def launch_filetracker_server() -> FiletrackerServer | None:
    """Start a filetracker server for ``FILETRACKER_PUBLIC_URL`` unless one
    already answers there; return once it answers.

    Returns the started server (call :meth:`FiletrackerServer.stop` to stop
    it) or ``None`` when nothing was started (no URL set, or a server is
    already running). The server stores files in ``FILETRACKER_SERVER_DIR``
    (default ``~/.sio-filetracker-server``), listens on the URL's host (or
    ``FILETRACKER_LISTEN_ADDR``) and logs to ``<dir>/server.log``.
    """
    url = os.environ.get("FILETRACKER_PUBLIC_URL")
    if not url or _answers(url):
        return None
    directory = os.environ.get("FILETRACKER_SERVER_DIR") or os.path.expanduser(
        "~/.sio-filetracker-server"
    )
    return start_filetracker_server(
        url, directory, log=os.path.join(directory, "server.log")
    )


def run_filetracker_main(argv: list[str] | None = None) -> int:
    """``sio-run-filetracker [--foreground]``: :func:`launch_filetracker_server`.

    Without ``--foreground`` the server keeps running in the background
    (its pid is printed); with it, the command waits and stops the server on
    SIGINT/SIGTERM."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="sio-run-filetracker",
        description="Start a filetracker server at $FILETRACKER_PUBLIC_URL "
        "unless one answers there.",
    )
    parser.add_argument("--foreground", action="store_true",
                        help="stay in the foreground; stop the server on Ctrl-C/SIGTERM")
    args = parser.parse_args(argv)
    if not os.environ.get("FILETRACKER_PUBLIC_URL"):
        print("sio-run-filetracker: FILETRACKER_PUBLIC_URL is not set", file=sys.stderr)
        return 2
    try:
        server = launch_filetracker_server()
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"sio-run-filetracker: {exc}", file=sys.stderr)
        return 1
    if server is None:
        print(f"a filetracker server already answers at {os.environ['FILETRACKER_PUBLIC_URL']}")
        return 0
    print(f"filetracker server started at {server.url} (pid {server.pid})", flush=True)
    if not args.foreground:
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set() and server.process.poll() is None:
        stop.wait(0.5)
    server.stop()
    return 0
