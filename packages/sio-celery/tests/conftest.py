"""Fixtures of the sio-celery tests: real brokers, real worker processes.

* ``redis_url`` — ``redis://127.0.0.1:6379/11``, a database only these tests
  use, flushed before and after each test (``$SIO_TEST_REDIS_DB`` picks another).
* ``amqp_url`` — a RabbitMQ virtual host of its own (``sio-celery-test``, or
  ``$SIO_TEST_RABBIT_VHOST``), created for the session and deleted at its end.
* ``data_dir`` — a private ``SIO_CELERY_DATA_DIR`` (embedded broker files).
* ``test_jobs`` — a tiny distribution (a ``.dist-info`` and a module in a
  temporary directory) registering the jobs ``celery-test-sleep`` (records
  its attempt and pid in ``environ['marker']``, sleeps ``environ['seconds']``),
  ``celery-test-exit`` (raises ``SystemExit``) and ``celery-test-raise``.
  Workers get it on ``PYTHONPATH``.
* ``start_worker(*args, broker=None, env=None, command=None)`` — starts
  ``sio-celery-worker`` (or ``command``) in its own process group, waits
  until it is ready, and stops it (process group, SIGTERM then SIGKILL) at
  teardown.
* ``make_client(broker, backend=None)`` — a Celery app configured from
  ``sio.celery.default_config`` for that broker.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent
#: overridable so that two checkouts can run these tests on one machine at once
REDIS_DB = int(os.environ.get("SIO_TEST_REDIS_DB", "11"))
RABBIT_VHOST = os.environ.get("SIO_TEST_RABBIT_VHOST", "sio-celery-test")

TEST_JOBS = '''
"""Jobs used only by the sio-celery tests."""
import os
import time


def sleep(environ):
    marker = environ.get("marker")
    attempt = 1
    if marker:
        with open(marker, "a") as f:
            f.write(f"{os.getpid()}\\n")
        with open(marker) as f:
            attempt = len(f.read().split())
    time.sleep(float(environ.get("seconds", 0)))
    environ["attempt"] = attempt
    environ["pid"] = os.getpid()
    return environ


def exit_job(environ):
    raise SystemExit(3)


def raise_job(environ):
    raise RuntimeError("raised on purpose")
'''


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def rabbitmqctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, check=check, timeout=120
    )


@pytest.fixture(autouse=True)
def _clean_celery_env(monkeypatch):
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CELERY_CONFIG_MODULE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "celery-data"
    monkeypatch.setenv("SIO_CELERY_DATA_DIR", str(path))
    return path


@pytest.fixture
def redis_url():
    if not port_open(6379):
        pytest.skip("Redis is not running on 127.0.0.1:6379 (scripts/services.sh)")
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    client.flushdb()
    yield f"redis://127.0.0.1:6379/{REDIS_DB}"
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def _rabbit_vhost():
    if not port_open(5672) or shutil.which("rabbitmqctl") is None:
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672 (scripts/services.sh)")
    rabbitmqctl("delete_vhost", RABBIT_VHOST, check=False)
    rabbitmqctl("add_vhost", RABBIT_VHOST)
    rabbitmqctl("set_permissions", "-p", RABBIT_VHOST, "guest", ".*", ".*", ".*")
    yield f"amqp://guest:guest@127.0.0.1:5672/{RABBIT_VHOST}"
    if port_open(5672):
        rabbitmqctl("delete_vhost", RABBIT_VHOST, check=False)


@pytest.fixture
def amqp_url(_rabbit_vhost):
    yield _rabbit_vhost
    rabbitmqctl("purge_queue", "-p", RABBIT_VHOST, "sioworkers", check=False)


@pytest.fixture(scope="session")
def test_jobs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("test-jobs")
    (root / "sio_celery_testjobs.py").write_text(TEST_JOBS)
    info = root / "sio_celery_testjobs-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: sio-celery-testjobs\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [sio.jobs]
            celery-test-sleep = sio_celery_testjobs:sleep
            celery-test-exit = sio_celery_testjobs:exit_job
            celery-test-raise = sio_celery_testjobs:raise_job
            """
        )
    )
    return root


class Worker:
    """A worker process started by ``start_worker``."""

    def __init__(self, proc: subprocess.Popen, log: Path, name: str):
        self.proc = proc
        self.log = log
        self.name = name

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 90) -> None:
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.output()}")
            return " ready." in self.output()

        wait_for(ready, timeout, what=f"worker {self.name} ready:\n{self.output()}")

    def pool_pids(self) -> list[int]:
        """PIDs of the worker's pool processes (children of the main process)."""
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.main_pid())],
            capture_output=True,
            text=True,
        ).stdout
        return [int(p) for p in out.split()]

    def main_pid(self) -> int:
        return self.proc.pid

    def kill(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        self.kill(signal.SIGKILL)  # the pool processes too
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass


@pytest.fixture
def start_worker(tmp_path, test_jobs):
    workers: list[Worker] = []

    def start(
        *args: str,
        broker: str | None = None,
        env: dict | None = None,
        command: list[str] | None = None,
        ready: bool = True,
        name: str | None = None,
    ) -> Worker:
        name = name or f"w{len(workers)}-{uuid.uuid4().hex[:6]}"
        log = tmp_path / f"worker-{name}.log"
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(test_jobs), full_env.get("PYTHONPATH", "")) if p
        )
        full_env.update(env or {})
        cmd = list(command or [str(VENV_BIN / "sio-celery-worker")])
        cmd += ["-l", "info", "-n", f"{name}@%h", *args]
        if broker:
            cmd.append(broker)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=tmp_path,
                start_new_session=True,
            )
        worker = Worker(proc, log, name)
        workers.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def make_client():
    from celery import Celery

    apps = []

    def make(broker: str, backend: str | None = None):
        app = Celery(f"client-{len(apps)}", set_as_current=False)
        app.config_from_object("sio.celery.default_config")
        app.conf.broker_url = broker
        if backend:
            app.conf.result_backend = backend
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
