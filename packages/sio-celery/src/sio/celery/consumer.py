"""The worker's consumer: Celery's own, with task events sent in batches.

A worker with task events on (Flower, ``celery events``) sends three events
a job: ``task-received``, ``task-started`` and ``task-succeeded`` (or
``-failed``). Celery buffers them and publishes the buffer at the end of
each turn of its event loop, which under load is nearly one publish per
event: on this project's 2-vCPU machines that cost a quarter of the
throughput of short jobs (``bench/celery_throughput.py``).

:class:`Consumer` publishes the buffer at most every
:data:`EVENT_FLUSH_INTERVAL` seconds instead (setting
``SIO_EVENT_FLUSH_INTERVAL``; ``0`` restores Celery's behaviour), or at once
when Celery's buffer limit (24 events) fills. One publish then carries a
list of events, which every Celery event receiver, Flower included, takes
apart. Each event keeps the timestamp and clock it was made with, so task
times and runtimes are exact; monitors only see them up to that interval
later. The buffer is published before the consumer stops or shuts down,
and when the broker connection is lost it goes to the dispatcher's offline
buffer, which Celery sends after reconnecting.

Only monitoring depends on events: acknowledgements and results never wait
for them. Events still buffered when the worker is killed (SIGKILL) are
lost.

Selected by ``worker_consumer`` (old name ``CELERYD_CONSUMER``) in
:mod:`sio.celery.default_config`.
"""

from __future__ import annotations

import logging
from functools import cached_property

from celery.worker.consumer import Consumer as CeleryConsumer

logger = logging.getLogger(__name__)

#: Default longest delay, in seconds, of a buffered task event.
EVENT_FLUSH_INTERVAL = 0.1


class Consumer(CeleryConsumer):
    """Celery's consumer publishing buffered task events on a timer."""

    #: The timer entry of the next flush (None: none pending). A consumer
    #: restart may cancel timer entries; a cancelled one is replaced.
    _event_flush_entry = None

    @cached_property
    def event_flush_interval(self) -> float:
        """``SIO_EVENT_FLUSH_INTERVAL`` from the app's configuration."""
        value = self.app.conf.get("SIO_EVENT_FLUSH_INTERVAL", EVENT_FLUSH_INTERVAL)
        try:
            return max(0.0, float(value))
        except (TypeError, ValueError):
            logger.warning(
                "SIO_EVENT_FLUSH_INTERVAL=%r is not a number; using %s s",
                value,
                EVENT_FLUSH_INTERVAL,
            )
            return EVENT_FLUSH_INTERVAL

    def on_send_event_buffered(self) -> None:
        interval = self.event_flush_interval
        if not self.hub or interval <= 0:
            super().on_send_event_buffered()
        else:
            entry = self._event_flush_entry
            if entry is None or getattr(entry, "canceled", False):
                self._event_flush_entry = self.hub.call_later(interval, self._flush_events_on_timer)

    def _flush_events_on_timer(self) -> None:
        self._event_flush_entry = None
        self._flush_events()

    def _flush_events_quietly(self) -> None:
        try:
            self._flush_events()
        except Exception:  # the connection may be gone; events are best effort
            logger.debug("could not publish buffered events", exc_info=True)

    def on_close(self) -> None:
        # The connection is lost (or closing): a publish that fails now puts
        # the batch in the dispatcher's offline buffer, which Celery carries
        # to the next dispatcher and sends once reconnected.
        self._flush_events_quietly()
        super().on_close()

    def stop(self) -> None:
        self._flush_events_quietly()
        super().stop()

    def shutdown(self) -> None:
        self._flush_events_quietly()
        super().shutdown()
