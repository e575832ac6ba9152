"""No lost jobs: killed workers and a restarted RabbitMQ, against real brokers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest

from sio.celery import TASK_NAME

TIMEOUT = 90


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def rabbitmqctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, check=check, timeout=120
    )


def send(client, environ):
    return client.send_task(TASK_NAME, args=[environ], queue="sioworkers")


def attempts(marker) -> list[int]:
    return [int(p) for p in marker.read_text().split()] if marker.exists() else []


def test_worker_sigkilled_mid_job_rabbitmq(start_worker, make_client, amqp_url, tmp_path):
    """SIGKILL to the whole worker (main and pool processes) while the job
    runs: RabbitMQ gives the unacknowledged job to the next worker; the
    client gets one result, from the second attempt."""
    marker = tmp_path / "attempts"
    first = start_worker("-c", "1", "--without-mingle", "--without-gossip", broker=amqp_url)
    client = make_client(amqp_url)
    res = send(client, {"job_type": "celery-test-sleep", "seconds": 3, "marker": str(marker)})
    wait_for(lambda: len(attempts(marker)) == 1, TIMEOUT, what="the job to start")
    first.kill(signal.SIGKILL)
    first.proc.wait(timeout=10)
    assert res.state in ("PENDING", "STARTED")

    start_worker("-c", "1", "--without-mingle", "--without-gossip", broker=amqp_url)
    env = res.get(timeout=TIMEOUT)
    assert env["result"] == "SUCCESS"
    assert env["attempt"] == 2
    assert len(attempts(marker)) == 2
    # Exactly one result: nothing else is waiting in the client's reply queue.
    time.sleep(1)
    assert len(attempts(marker)) == 2


def test_pool_process_sigkilled_mid_job_redis(start_worker, make_client, redis_url, tmp_path):
    """SIGKILL to the pool process running the job: the worker notices the
    lost process and (reject_on_worker_lost) puts the job back; it runs
    again and the client gets the result of the second attempt only."""
    marker = tmp_path / "attempts"
    worker = start_worker("-c", "1", "--without-mingle", "--without-gossip", broker=redis_url)
    client = make_client(redis_url)
    res = send(client, {"job_type": "celery-test-sleep", "seconds": 3, "marker": str(marker)})
    [pid] = wait_for(lambda: attempts(marker), TIMEOUT, what="the job to start")
    os.kill(pid, signal.SIGKILL)
    env = res.get(timeout=TIMEOUT)
    assert env["result"] == "SUCCESS"
    assert env["attempt"] == 2
    assert env["pid"] != pid
    assert worker.proc.poll() is None


@pytest.fixture
def rabbit_back_up():
    """Whatever happens in the test, RabbitMQ runs again afterwards."""
    yield
    rabbitmqctl("start_app", check=False)
    wait_for(lambda: port_open(5672), 120, what="RabbitMQ to listen again")


def test_rabbitmq_restart_loses_no_job(
    start_worker, make_client, amqp_url, redis_url, rabbit_back_up
):
    """200 ping jobs, RabbitMQ's application stopped and started while they
    are queued and running: all 200 results arrive (durable queue,
    persistent messages, late acks; results kept in Redis)."""
    start_worker(
        "-c",
        "2",
        "--without-mingle",
        "--without-gossip",
        broker=amqp_url,
        env={"CELERY_RESULT_BACKEND": redis_url},
    )
    client = make_client(amqp_url, backend=redis_url)
    # Four 1-second jobs first, so that jobs are running when the broker
    # goes away (the worker cancels them; they are delivered again).
    sleepers = [send(client, {"job_type": "celery-test-sleep", "seconds": 1}) for _ in range(4)]
    results = [send(client, {"job_type": "ping", "ping": i}) for i in range(200)]
    wait_for(lambda: any(r.ready() for r in sleepers), TIMEOUT, what="the first result")
    rabbitmqctl("stop_app")
    done_at_stop = sum(r.ready() for r in results)
    time.sleep(2)
    rabbitmqctl("start_app")
    wait_for(lambda: port_open(5672), 120, what="RabbitMQ to listen again")
    envs = [r.get(timeout=180) for r in results]
    failed = [e for e in envs if e.get("result") != "SUCCESS"]
    assert not failed, failed[:3]
    pongs = sorted(e["pong"] for e in envs)
    assert pongs == list(range(200))
    assert all(r.get(timeout=60)["result"] == "SUCCESS" for r in sleepers)
    # The restart really happened while jobs were still waiting.
    assert done_at_stop < 200


def test_redis_visibility_timeout_is_configured(redis_url, make_client):
    """The worker's Redis transport uses default_config's visibility timeout
    (above the longest job), so a long job is not handed to a second worker."""
    from sio.celery import default_config

    client = make_client(redis_url)
    with client.connection_for_write() as conn:
        conn.connect()
        assert conn.default_channel.visibility_timeout == default_config.VISIBILITY_TIMEOUT


def test_worker_sigkilled_mid_job_embedded(start_worker, make_client, data_dir, tmp_path):
    """The embedded broker records who holds each unacknowledged job; the
    next worker finds the holder dead and takes the job again."""
    from sio.celery import embedded

    marker = tmp_path / "attempts"
    env = {"SIO_CELERY_DATA_DIR": str(data_dir)}
    first = start_worker("-c", "1", env=env)
    client = make_client(embedded.broker_url(), backend=embedded.result_backend_url())
    res = send(client, {"job_type": "celery-test-sleep", "seconds": 2, "marker": str(marker)})
    wait_for(lambda: len(attempts(marker)) == 1, TIMEOUT, what="the job to start")
    first.kill(signal.SIGKILL)
    first.proc.wait(timeout=10)

    start_worker("-c", "1", env=env)
    env = res.get(timeout=TIMEOUT)
    assert env["result"] == "SUCCESS"
    assert env["attempt"] == 2
    time.sleep(3)  # more than the reclaim interval: no third attempt
    assert len(attempts(marker)) == 2
