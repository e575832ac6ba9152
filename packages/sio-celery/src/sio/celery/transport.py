"""kombu's SQLAlchemy transport, made fit for the embedded SQLite broker.

:class:`Transport` (registered as the ``sqla``/``sqlalchemy`` transport by
:mod:`sio.celery.embedded`) differs from kombu's in these points:

* Only SQLAlchemy engine options reach ``create_engine``: transport options
  meant for other brokers (``visibility_timeout`` for Redis, which
  ``default_config`` sets) are ignored instead of breaking the engine.
* SQLite gets WAL journaling and a 30 s busy timeout, so that many worker
  and client processes can share the file.
* **No job is lost when a worker dies.** kombu marks a delivered message
  invisible and remembers it only in the consuming process, so a SIGKILLed
  worker's job would stay invisible forever. Here each delivery to an
  acknowledging consumer is also recorded in the table ``sio_unacked`` with
  its owner (host, pid and process start time). An acknowledgement deletes
  the message and the record; a rejection with requeue or a clean shutdown
  puts a copy back (as kombu does) and deletes the original. Every few
  seconds each consuming channel makes the messages of dead owners on its
  host visible again, so the next worker gets them.
* Acknowledged messages are deleted (kombu only hides them, so its table
  grows forever).
* An empty queue is polled every 0.1 s instead of every second, and a
  consumer whose prefetch window is full checks every 0.01 s (without
  touching the database) whether a finished job freed a slot.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from json import dumps, loads
from typing import Any

from kombu.transport import sqlalchemy as kombu_sqla
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, event, select, text, update
from sqlalchemy.exc import IntegrityError

__all__ = ["Channel", "Transport", "owner_alive", "this_owner"]

#: Transport options handed on to :func:`sqlalchemy.create_engine`.
ENGINE_OPTIONS = frozenset(
    {
        "connect_args",
        "echo",
        "echo_pool",
        "execution_options",
        "isolation_level",
        "max_overflow",
        "pool_pre_ping",
        "pool_recycle",
        "pool_size",
        "pool_timeout",
        "pool_use_lifo",
        "poolclass",
    }
)

#: SQLite waits this long (seconds) for a lock held by another process.
SQLITE_BUSY_TIMEOUT = 30

#: Seconds between two looks for messages held by dead processes.
RECLAIM_INTERVAL = 2.0

_metadata = MetaData()
unacked_table = Table(
    "sio_unacked",
    _metadata,
    Column("delivery_tag", String(64), primary_key=True),
    Column("message_id", Integer, nullable=False, index=True),
    Column("owner", String(255), nullable=False),
)


def _start_time(pid: int) -> str:
    """The start time of process ``pid`` (field 22 of /proc/PID/stat), or ''."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def this_owner() -> str:
    """``host/pid/start time`` of the current process."""
    pid = os.getpid()
    return f"{socket.gethostname()}/{pid}/{_start_time(pid)}"


def owner_alive(owner: str) -> bool:
    """False only when ``owner`` is a process of this host that is gone."""
    try:
        host, pid_text, started = owner.split("/")
        pid = int(pid_text)
    except ValueError:
        return True
    if host != socket.gethostname():
        return True  # cannot tell; the embedded broker serves one machine
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not started or _start_time(pid) == started


def _configure_sqlite(engine: Any) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT * 1000}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()


class Channel(kombu_sqla.Channel):
    """See the module documentation."""

    _tables_ready: set[int] = set()

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        self._no_ack_queues: set[str] = set()
        self._last_reclaim = 0.0
        self._owner = this_owner()
        super().__init__(connection, **kwargs)

    # -- engine ---------------------------------------------------------

    def _engine_from_config(self) -> Any:
        conninfo = self.connection.client
        options = {
            key: value for key, value in conninfo.transport_options.items() if key in ENGINE_OPTIONS
        }
        url = conninfo.hostname
        if url.startswith("sqlite:"):
            connect_args = dict(options.get("connect_args") or {})
            connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT)
            options["connect_args"] = connect_args
        engine = kombu_sqla.create_engine(url, **options)
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)
        return engine

    def _open(self) -> Any:
        engine, session_cls = super()._open()
        if id(engine) not in self._tables_ready:
            _metadata.create_all(engine)
            self._tables_ready.add(id(engine))
        return engine, session_cls

    def _begin_immediate(self) -> None:
        if self.session.bind.name == "sqlite":
            self.session.execute(text("BEGIN IMMEDIATE TRANSACTION"))

    # -- consuming ------------------------------------------------------

    def basic_consume(self, queue: str, no_ack: bool, *args: Any, **kwargs: Any) -> Any:
        if no_ack:
            self._no_ack_queues.add(queue)
        else:
            self._no_ack_queues.discard(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        if no_ack:
            self._no_ack_queues.add(queue)
        else:
            self._no_ack_queues.discard(queue)
        return super().basic_get(queue, no_ack=no_ack, **kwargs)

    def _get(self, queue: str) -> dict:
        if time.monotonic() - self._last_reclaim > RECLAIM_INTERVAL:
            self._last_reclaim = time.monotonic()
            self.reclaim()
        obj = self._get_or_create(queue)
        message_cls = self.message_cls
        session = self.session
        try:
            self._begin_immediate()
            msg = (
                session.query(message_cls)
                .filter(message_cls.queue_id == obj.id)
                .filter(message_cls.visible != False)  # noqa: E712 - SQL expression
                .order_by(message_cls.sent_at)
                .order_by(message_cls.id)
                .limit(1)
                .first()
            )
            if msg is None:
                session.commit()
                raise kombu_sqla.Empty()
            payload = loads(bytes_to_str(msg.payload))
            tag = (payload.get("properties") or {}).get("delivery_tag")
            if queue in self._no_ack_queues or tag is None:
                session.delete(msg)
            else:
                msg.visible = False
                session.execute(
                    unacked_table.insert().values(
                        delivery_tag=str(tag), message_id=msg.id, owner=self._owner
                    )
                )
            session.commit()
            return payload
        except kombu_sqla.Empty:
            raise
        except Exception:
            session.rollback()
            raise

    # Acknowledgements, rejections and publishing may come from other threads
    # than the consuming one (Celery's result handler thread acknowledges), so
    # they use a short-lived session of their own, never ``self.session``.

    @contextlib.contextmanager
    def _own_session(self) -> Iterator[Any]:
        _, session_cls = self._open()
        session = session_cls()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _queue_row(self, session: Any, name: str) -> Any:
        queue_cls = self.queue_cls
        row = session.query(queue_cls).filter(queue_cls.name == name).first()
        if row is None:
            try:
                with self._own_session() as other:
                    other.add(queue_cls(name))
            except IntegrityError:
                pass  # created by another process meanwhile
            row = session.query(queue_cls).filter(queue_cls.name == name).one()
        return row

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        with self._own_session() as session:
            session.add(self.message_cls(dumps(payload), self._queue_row(session, queue)))

    def _forget(self, delivery_tag: Any) -> None:
        """Delete the original of a settled message and its record."""
        tag = str(delivery_tag)
        table = self.message_cls.__table__
        with self._own_session() as session:
            ids = select(unacked_table.c.message_id).where(unacked_table.c.delivery_tag == tag)
            session.execute(delete(table).where(table.c.id.in_(ids)))
            session.execute(delete(unacked_table).where(unacked_table.c.delivery_tag == tag))

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)
        self._forget(delivery_tag)

    def _restore(self, message: Any) -> None:
        super()._restore(message)  # a copy goes back to the queue
        self._forget(message.delivery_tag)

    def basic_reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        super().basic_reject(delivery_tag, requeue=requeue)
        if not requeue:
            self._forget(delivery_tag)

    def reclaim(self) -> int:
        """Make the messages held by dead processes of this host visible
        again; returns how many."""
        session = self.session
        rows = session.execute(select(unacked_table.c.delivery_tag, unacked_table.c.owner)).all()
        session.commit()
        dead = [tag for tag, owner in rows if not owner_alive(owner)]
        if not dead:
            return 0
        table = self.message_cls.__table__
        self._begin_immediate()
        try:
            ids = select(unacked_table.c.message_id).where(unacked_table.c.delivery_tag.in_(dead))
            session.execute(update(table).where(table.c.id.in_(ids)).values(visible=True))
            session.execute(delete(unacked_table).where(unacked_table.c.delivery_tag.in_(dead)))
            session.commit()
        except Exception:
            session.rollback()
            raise
        return len(dead)


class Transport(kombu_sqla.Transport):
    """See the module documentation."""

    Channel = Channel

    #: Seconds between two looks at an empty queue (a database query).
    polling_interval = 0.1

    #: Seconds between two checks while every consumer has its prefetch
    #: window full (no database access): a finished job frees a slot soon.
    blocked_polling_interval = 0.01

    def _idle_interval(self) -> float:
        consuming = [ch for ch in self.channels if ch._consumers]
        if consuming and not any(ch.qos.can_consume() for ch in consuming):
            return self.blocked_polling_interval
        return self.polling_interval

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        """kombu's loop, with :meth:`_idle_interval` between polls."""
        start = time.monotonic()
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except kombu_sqla.Empty:
                if timeout is not None and time.monotonic() - start >= timeout:
                    raise TimeoutError() from None
                interval = self._idle_interval()
                if timeout is not None:
                    interval = min(interval, timeout)
                time.sleep(interval)
