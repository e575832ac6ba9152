"""Task events of sio-celery-worker: batched on a timer, never lost at a stop.

A real worker on Redis with a custom configuration module setting
``SIO_EVENT_FLUSH_INTERVAL``, and a real Celery event receiver (what Flower
and ``celery events`` use) listening on the same broker.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import pytest

from sio.celery import TASK_NAME
from sio.celery.consumer import Consumer


class EventLog:
    """Every task event a Celery event receiver sees, in a thread."""

    def __init__(self, app) -> None:
        self.app = app
        self.events: dict[str, list[dict]] = defaultdict(list)
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.receiver = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _on_event(self, event: dict) -> None:
        if event["type"].startswith("task-") and "uuid" in event:
            with self.lock:
                self.events[event["uuid"]].append(event)

    def _run(self) -> None:
        with self.app.connection() as conn:
            receiver = self.app.events.Receiver(conn, handlers={"*": self._on_event})
            self.receiver = receiver
            on_ready = receiver.on_consume_ready

            def consuming(*args, **kwargs):
                on_ready(*args, **kwargs)
                self.ready.set()

            receiver.on_consume_ready = consuming
            receiver.capture(limit=None, timeout=None, wakeup=False)

    def __enter__(self) -> EventLog:
        self.thread.start()
        assert self.ready.wait(30), "the event receiver did not start"
        time.sleep(0.5)  # Redis fan-out: the subscription is in place once consuming
        return self

    def __exit__(self, *exc) -> None:
        self.receiver.should_stop = True
        self.thread.join(10)

    def types(self, task_id: str) -> list[str]:
        with self.lock:
            return [e["type"] for e in self.events.get(task_id, [])]


def send_pings(client, count: int) -> list:
    """Send ``count`` ping jobs; their AsyncResults."""
    return [
        client.send_task(TASK_NAME, args=[{"job_type": "ping", "ping": i}], queue="sioworkers")
        for i in range(count)
    ]


@pytest.fixture
def slow_flush_worker(tmp_path, start_worker, make_client, redis_url, monkeypatch):
    """``(worker, client)``: one sio-celery-worker process on Redis whose
    configuration module sets ``SIO_EVENT_FLUSH_INTERVAL = 600``, so events
    go out only when 24 are waiting, at a stop or at a lost connection."""
    (tmp_path / "events_test_config.py").write_text(
        "from sio.celery.default_config import *  # noqa: F403\nSIO_EVENT_FLUSH_INTERVAL = 600\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    worker = start_worker(
        "-c", "1", broker=redis_url, env={"CELERY_CONFIG_MODULE": "events_test_config"}
    )
    return worker, make_client(redis_url)


def test_default_config_selects_the_batching_consumer():
    from celery import Celery

    app = Celery(set_as_current=False)
    app.config_from_object("sio.celery.default_config")
    assert app.conf.worker_consumer == "sio.celery.consumer:Consumer"
    assert app.conf.get("SIO_EVENT_FLUSH_INTERVAL") == 0.1
    from sio.celery import app as sio_app

    assert sio_app.conf.worker_consumer == "sio.celery.consumer:Consumer"


def test_events_wait_for_the_timer_and_are_flushed_when_the_worker_stops(slow_flush_worker):
    worker, client = slow_flush_worker
    with EventLog(client) as log:
        results = send_pings(client, 2)
        for res in results:
            assert res.get(timeout=60)["result"] == "SUCCESS"
        time.sleep(2)
        # Results and acknowledgements never wait for events; the worker's
        # events are still buffered (6 events, under Celery's limit of 24).
        for res in results:
            assert log.types(res.id) == ["task-sent"]
        worker.stop()  # warm shutdown publishes the buffer
        assert worker.proc.returncode is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(
            "task-succeeded" in log.types(r.id) for r in results
        ):
            time.sleep(0.2)
    for res in results:
        assert log.types(res.id) == [
            "task-sent",
            "task-received",
            "task-started",
            "task-succeeded",
        ], worker.output()
        succeeded = log.events[res.id][-1]
        received = log.events[res.id][1]
        assert succeeded["runtime"] >= 0
        # Each event keeps the time it was made at, not the time it was published.
        assert received["timestamp"] <= succeeded["timestamp"] <= received["timestamp"] + 10


def test_a_full_buffer_is_published_at_once(slow_flush_worker):
    _, client = slow_flush_worker
    with EventLog(client) as log:
        results = send_pings(client, 12)
        for res in results:
            res.get(timeout=60)
        # 36 task events > 24: the first 24 go out without waiting for the timer.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            "task-succeeded" in log.types(r.id) for r in results
        ):
            time.sleep(0.2)
        assert log.types(results[0].id)[-1] == "task-succeeded"


@pytest.mark.parametrize("value, expected", [(0, 0.0), ("0.25", 0.25), (-1, 0.0), ("x", 0.1)])
def test_flush_interval_setting(value, expected):
    from celery import Celery

    app = Celery(set_as_current=False)
    app.conf.SIO_EVENT_FLUSH_INTERVAL = value
    consumer = Consumer.__new__(Consumer)
    consumer.app = app
    assert consumer.event_flush_interval == expected


def test_buffered_events_survive_a_lost_broker_connection(slow_flush_worker, redis_url):
    import redis

    worker, client = slow_flush_worker
    admin = redis.Redis.from_url(redis_url)
    with EventLog(client) as log:
        (result,) = send_pings(client, 1)
        assert result.get(timeout=60)["result"] == "SUCCESS"
        assert log.types(result.id) == ["task-sent"]
        # The result comes before the late acknowledgement: wait for it, so
        # that the kill finds the consumer waiting for the next job.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and admin.hlen("unacked"):
            time.sleep(0.1)
        assert not admin.hlen("unacked")
        time.sleep(0.5)
        # Every connection but the receiver's subscription: the worker's
        # consumer loses the broker and reconnects.
        killed = admin.client_kill_filter(_type="normal", skipme=True)
        assert killed >= 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "task-succeeded" not in log.types(result.id):
            time.sleep(0.2)
        assert log.types(result.id) == [
            "task-sent",
            "task-received",
            "task-started",
            "task-succeeded",
        ], worker.output()
        assert "Connection to broker lost" in worker.output()
        # ...and the worker goes on serving.
        (again,) = send_pings(client, 1)
        assert again.get(timeout=60)["result"] == "SUCCESS"
    admin.close()


def test_one_flush_timer_at_a_time_and_a_cancelled_one_is_replaced():
    from celery import Celery
    from kombu.asynchronous import Hub

    app = Celery(set_as_current=False)
    app.conf.SIO_EVENT_FLUSH_INTERVAL = 30
    consumer = Consumer.__new__(Consumer)
    consumer.app = app
    consumer.hub = Hub()
    consumer.event_dispatcher = None
    try:
        consumer.on_send_event_buffered()
        first = consumer._event_flush_entry
        consumer.on_send_event_buffered()
        assert consumer._event_flush_entry is first
        assert len(consumer.hub.timer.queue) == 1
        # A consumer restart cancels the timer entries of the failed connection.
        consumer.hub.timer.cancel(first)
        consumer.on_send_event_buffered()
        assert consumer._event_flush_entry is not first
        assert not consumer._event_flush_entry.canceled
        consumer._flush_events_on_timer()  # the timer fired: the next event starts a new one
        assert consumer._event_flush_entry is None
    finally:
        consumer.hub.close()
