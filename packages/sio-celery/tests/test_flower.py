"""Flower sees workers started by sio-celery-worker and every job as a task."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sio.celery import TASK_NAME

CELERY = str(Path(sys.executable).parent / "celery")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except OSError:
        return None


def poll(fetch, check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fetch()
        if last is not None and check(last):
            return last
        time.sleep(0.5)
    raise TimeoutError(f"timed out waiting for {what}; last answer: {last!r}")


@pytest.fixture
def flower(tmp_path, redis_url):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    env.update(CELERY_BROKER_URL=redis_url, FLOWER_UNAUTHENTICATED_API="true")
    log = tmp_path / "flower.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [CELERY, "-A", "sio.celery", "flower", "--address=127.0.0.1", f"--port={port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        poll(lambda: get_json(f"{base}/api/tasks"), lambda _: True, 60, f"Flower at {base}")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_flower_shows_worker_and_jobs(flower, start_worker, make_client, redis_url):
    worker = start_worker("-c", "1", broker=redis_url, name="flowertest")
    client = make_client(redis_url)
    results = [
        client.send_task(TASK_NAME, args=[{"job_type": "ping", "ping": i}], queue="sioworkers")
        for i in range(3)
    ]
    for res in results:
        res.get(timeout=60)

    workers = poll(
        lambda: get_json(f"{flower}/api/workers?refresh=1"),
        lambda w: any(name.startswith("flowertest@") for name in w),
        60,
        "the worker in Flower",
    )
    name = next(n for n in workers if n.startswith("flowertest@"))
    assert TASK_NAME in workers[name].get("registered", [])

    ids = {res.id for res in results}
    tasks = poll(
        lambda: get_json(f"{flower}/api/tasks"),
        lambda t: ids <= set(t) and all(t[i].get("state") == "SUCCESS" for i in ids),
        60,
        "the jobs in Flower",
    )
    for task_id in ids:
        task = tasks[task_id]
        assert task["name"] == TASK_NAME
        assert task["state"] == "SUCCESS"
        assert isinstance(task["runtime"], float) and task["runtime"] >= 0
        assert task["worker"] == name
    assert worker.proc.poll() is None
