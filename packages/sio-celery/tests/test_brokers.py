"""End to end: sio-celery-worker (and stock celery workers) on Redis, RabbitMQ
and the embedded broker; clients by task name and by imported task; bad
jobs never take a worker down."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from sio.celery import TASK_NAME, embedded

TIMEOUT = 60
CELERY = str(Path(sys.executable).parent / "celery")


def send(client, environ):
    return client.send_task(TASK_NAME, args=[environ], queue="sioworkers")


def test_redis_broker_by_argument(start_worker, make_client, redis_url):
    start_worker("-c", "2", "--without-mingle", broker=redis_url)
    client = make_client(redis_url)
    results = [send(client, {"job_type": "ping", "ping": f"p{i}"}) for i in range(5)]
    for i, res in enumerate(results):
        env = res.get(timeout=TIMEOUT)
        assert env["result"] == "SUCCESS"
        assert env["pong"] == f"p{i}"


def test_rabbitmq_broker_from_environment(start_worker, make_client, amqp_url):
    start_worker("-c", "1", "-Q", "sioworkers", env={"CELERY_BROKER_URL": amqp_url})
    client = make_client(amqp_url)
    env = send(client, {"job_type": "ping", "ping": "rabbit"}).get(timeout=TIMEOUT)
    assert env["pong"] == "rabbit"
    assert env["result"] == "SUCCESS"
    # Through the exchange and routing key, as the original clients do.
    res = client.send_task(
        TASK_NAME,
        args=[{"job_type": "ping", "ping": "exchange"}],
        exchange="sioworkers",
        routing_key="sioworkers",
    )
    assert res.get(timeout=TIMEOUT)["pong"] == "exchange"


def test_embedded_broker_and_imported_task(start_worker, data_dir, tmp_path):
    """No broker anywhere: worker and client meet in the SQLite file; a client
    that imports the task (in its own process, as a contest system would)."""
    start_worker("-c", "1", "--pool", "prefork", env={"SIO_CELERY_DATA_DIR": str(data_dir)})
    assert (data_dir / "broker.sqlite").exists()
    client = tmp_path / "client.py"
    client.write_text(
        textwrap.dedent(
            """
            import json
            from sio.celery.job import sioworkers_job
            env = sioworkers_job.delay({"job_type": "ping", "ping": "embedded"}).get(timeout=60)
            print(json.dumps(env))
            """
        )
    )
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    full_env["SIO_CELERY_DATA_DIR"] = str(data_dir)
    out = subprocess.run(
        [sys.executable, str(client)], env=full_env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert '"pong": "embedded"' in out.stdout
    assert (data_dir / "results.sqlite").exists()


def test_embedded_broker_send_task_by_name(start_worker, make_client, data_dir):
    start_worker("-c", "2", env={"SIO_CELERY_DATA_DIR": str(data_dir)})
    client = make_client(embedded.broker_url())
    results = [send(client, {"job_type": "ping", "ping": i}) for i in range(10)]
    assert [r.get(timeout=TIMEOUT)["pong"] for r in results] == list(range(10))


def test_bad_jobs_are_failures_and_the_pool_survives(start_worker, make_client, redis_url):
    worker = start_worker("-c", "1", "--without-mingle", "--without-gossip", broker=redis_url)
    client = make_client(redis_url)
    pid = send(client, {"job_type": "celery-test-sleep"}).get(timeout=TIMEOUT)["pid"]
    assert pid in worker.pool_pids()

    not_dict = send(client, ["not", "a", "dict"]).get(timeout=TIMEOUT)
    assert not_dict["result"] == "FAILURE"
    assert not_dict["exception"].startswith("TypeError:")
    assert not_dict["environ"] == ["not", "a", "dict"]

    unknown = send(client, {"job_type": "no-such-job", "keep": 1}).get(timeout=TIMEOUT)
    assert unknown["result"] == "FAILURE"
    assert "no-such-job" in unknown["exception"]
    assert unknown["keep"] == 1

    no_type = send(client, {"ping": 1}).get(timeout=TIMEOUT)
    assert no_type["result"] == "FAILURE"
    assert "job_type" in no_type["exception"]

    raised = send(client, {"job_type": "celery-test-raise"}).get(timeout=TIMEOUT)
    assert raised["result"] == "FAILURE"
    assert raised["exception"] == "RuntimeError: raised on purpose"

    exited = send(client, {"job_type": "celery-test-exit"}).get(timeout=TIMEOUT)
    assert exited["result"] == "FAILURE"
    assert exited["exception"].startswith("SystemExit")

    # Same pool process, still serving.
    after = send(client, {"job_type": "celery-test-sleep"}).get(timeout=TIMEOUT)
    assert after["result"] == "SUCCESS"
    assert after["pid"] == pid
    assert worker.proc.poll() is None


def test_stock_celery_worker_with_user_celeryconfig(start_worker, make_client, redis_url, tmp_path):
    """The documented celeryconfig.py (old name BROKER_URL) under a stock
    ``celery worker`` with Celery's default app: the task is registered
    through ``imports``."""
    (tmp_path / "celeryconfig.py").write_text(
        f"from sio.celery.default_config import *\nBROKER_URL = {redis_url!r}\n"
    )
    start_worker(
        "-c",
        "1",
        command=[CELERY, "--config", "celeryconfig", "worker"],
        env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
    )
    client = make_client(redis_url)
    env = send(client, {"job_type": "ping", "ping": "stock"}).get(timeout=TIMEOUT)
    assert env["pong"] == "stock"


def test_celery_dash_a_sio_celery_worker(start_worker, make_client, redis_url):
    start_worker(
        "-c",
        "1",
        command=[CELERY, "-A", "sio.celery", "worker"],
        env={"CELERY_BROKER_URL": redis_url},
    )
    client = make_client(redis_url)
    from sio.celery.job import sioworkers_job

    # The imported task, bound to the client's app.
    res = client.tasks[TASK_NAME].delay({"job_type": "ping", "ping": "dash-a"})
    assert res.get(timeout=TIMEOUT)["pong"] == "dash-a"
    assert sioworkers_job.name == TASK_NAME
