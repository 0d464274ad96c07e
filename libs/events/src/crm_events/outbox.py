"""Transactional outbox: the event is written in the same transaction as the state change,
and a relay publishes it to Kafka afterwards. No dual writes.

Ordering: one relay per database publishes at a time (a transaction-scoped advisory lock),
rows go out in id order, so events of one contract reach their partition in commit order.
A crash after publish but before the rows are marked re-publishes them; consumers dedupe
on the event id (the inbox), so at-least-once here is effectively once downstream.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from aiokafka import AIOKafkaProducer
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_events.envelope import Envelope
from crm_events.registry import spec_for
from crm_events.tables import outbox_table
from crm_events.topics import physical
from crm_events.tracing import context_from, tracer

log = structlog.get_logger(__name__)

# Fixed per database; every service has its own database, so one key is enough.
RELAY_LOCK_KEY = 0x0C7B_0001

OUTBOX_PUBLISHED = Counter(
    "crm_outbox_published_total", "Events published from the outbox", ["topic"]
)
OUTBOX_ERRORS = Counter("crm_outbox_relay_errors_total", "Relay iterations that failed")
# The size of the last batch says how busy the relay is, not how far behind: the backlog
# (every unsent row) and the age of the oldest one are sampled by `outbox_backlog`.
OUTBOX_LAST_BATCH = Gauge("crm_outbox_last_batch_size", "Rows published by the last relay batch")
OUTBOX_BACKLOG = Gauge("crm_outbox_backlog", "Outbox rows not yet published to Kafka")
OUTBOX_OLDEST_AGE = Gauge(
    "crm_outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished outbox row (0: none)"
)

_relays: weakref.WeakSet[OutboxRelay] = weakref.WeakSet()


def _ids(ids: list[int]) -> sa.BindParameter[Any]:
    """The rows' ids as one array parameter: the statement is the same whatever the batch's
    size (an IN list is rendered and prepared anew for every new size)."""
    return sa.bindparam("ids", ids, type_=ARRAY(sa.BigInteger))


def _wake_relays(_session: Any) -> None:
    for relay in list(_relays):
        relay.wake()


async def publish(session: AsyncSession, envelope: Envelope) -> None:
    """Stage an event in the outbox, inside the caller's transaction."""
    await publish_many(session, [envelope])


_STAGED = "crm_outbox_staged"


def collect_staged(session: AsyncSession) -> None:
    """From now on, events this session stages are kept in order and written by
    `write_staged` in one statement (the consumer runner does this per transaction, so a
    batch of events that each emit some costs one insert, not one per event)."""
    session.info[_STAGED] = []


async def write_staged(session: AsyncSession) -> None:
    """Write the events collected since `collect_staged` and stop collecting."""
    staged: list[Envelope] = session.info.pop(_STAGED, [])
    await publish_many(session, staged)


@contextlib.asynccontextmanager
async def staged(session: AsyncSession) -> AsyncIterator[None]:
    """Events published inside the block are written in one insert when it ends (what
    `collect_staged`/`write_staged` do, for a block of code). Inside a session that already
    collects them (a consumer's transaction, an outer block) they join that collection; if
    the block fails, the events it staged are dropped with it."""
    collected: list[Envelope] | None = session.info.get(_STAGED)
    if collected is not None:
        mark = len(collected)
        try:
            yield
        except BaseException:
            del collected[mark:]
            raise
        return
    collect_staged(session)
    try:
        yield
    except BaseException:
        session.info.pop(_STAGED, None)
        raise
    await write_staged(session)


async def publish_many(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Stage events in the outbox in one statement, inside the caller's transaction; their
    rows take ids in the order given, so the relay sends them in that order. In a session
    that collects staged events (`collect_staged`), they join that list, in call order."""
    if not envelopes:
        return
    collected = session.info.get(_STAGED)
    if collected is not None:
        collected.extend(envelopes)
        return
    rows = []
    for envelope in envelopes:
        spec = spec_for(envelope.type)
        rows.append(
            {
                "event_id": envelope.id,
                "event_type": envelope.type,
                "topic": physical(spec.topic.value),
                "key": envelope.subject,
                "tenant": envelope.tenant,
                "value": envelope.to_bytes().decode(),
                "headers": {k: v.decode() for k, v in envelope.kafka_headers()},
            }
        )
    # The rows as parameters: compiled once, sent as multi-row inserts in the rows' order.
    await session.execute(sa.insert(outbox_table), rows)
    sync_session = session.sync_session
    if not sync_session.info.get("crm_outbox_listener"):
        sync_session.info["crm_outbox_listener"] = True
        # Wake the in-process relay as soon as the transaction commits, instead of
        # waiting for its next poll; other instances still find the rows by polling.
        sa_event.listen(sync_session, "after_commit", _wake_relays)


BeforePublishHook = Callable[[Sequence[Any]], Awaitable[None]]


class OutboxRelay:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        idle_interval: float = 0.25,
        retention: timedelta = timedelta(days=7),
        before_publish: BeforePublishHook | None = None,
        publish_spans: bool = True,
    ) -> None:
        """`publish_spans`: a producer span per message sent. Only worth its cost (a fifth
        of the relay's) where spans leave the process: the event's `traceparent` travels on
        unchanged either way, so consumers parent to the span it was created in."""
        self._session_factory = session_factory
        self._publish_spans = publish_spans
        self._producer = producer
        self._batch_size = batch_size
        self._idle_interval = idle_interval
        self._retention = retention
        self._before_publish = before_publish
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._iterations = 0
        _relays.add(self)

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run(self) -> None:
        backoff = 0.1
        while not self._stopping:
            # Clear before looking, so a commit that lands while we publish wakes us again.
            self._wakeup.clear()
            try:
                published = await self.publish_pending()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: wait, then try again
                OUTBOX_ERRORS.inc()
                log.warning("outbox.relay_failed", error=repr(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if published >= self._batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._idle_interval)

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were published."""
        async with self._session_factory() as session, session.begin():
            locked = await session.scalar(
                sa.select(sa.func.pg_try_advisory_xact_lock(RELAY_LOCK_KEY))
            )
            if not locked:
                return 0  # another instance is relaying this database
            rows = (
                await session.execute(
                    sa.select(
                        outbox_table.c.id,
                        outbox_table.c.topic,
                        outbox_table.c.key,
                        outbox_table.c.value,
                        outbox_table.c.headers,
                    )
                    .where(outbox_table.c.published_at.is_(None))
                    .order_by(outbox_table.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            self._iterations += 1
            if self._iterations % 200 == 0:
                await self._purge_published(session)
            if not rows:
                return 0
            if self._before_publish is not None:
                await self._before_publish(rows)
            futures = [await self._send(row) for row in rows]
            await asyncio.gather(*futures)
            await session.execute(
                sa.update(outbox_table)
                .where(outbox_table.c.id == sa.any_(_ids([r.id for r in rows])))
                .values(published_at=sa.func.now())
            )
        for topic, count in collections.Counter(row.topic for row in rows).items():
            OUTBOX_PUBLISHED.labels(topic).inc(count)
        OUTBOX_LAST_BATCH.set(len(rows))
        return len(rows)

    async def _send(self, row: Any) -> asyncio.Future[Any]:
        """Hand one row to the producer, in a span of the trace the event was created in
        (its `traceparent` header travels on unchanged, so consumers parent to the creator)."""
        headers = row.headers or {}
        with self._span(row, headers):
            return await self._producer.send(
                row.topic,
                value=row.value.encode(),
                key=row.key.encode(),
                headers=[(k, str(v).encode()) for k, v in headers.items()],
            )

    def _span(self, row: Any, headers: dict[str, Any]) -> contextlib.AbstractContextManager[Any]:
        if not self._publish_spans:
            return contextlib.nullcontext()
        return tracer.start_as_current_span(
            f"{row.topic} publish",
            context=context_from(headers),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": row.topic,
                "messaging.kafka.message.key": row.key,
            },
        )

    async def _purge_published(self, session: AsyncSession) -> None:
        await session.execute(
            sa.delete(outbox_table).where(
                outbox_table.c.published_at < sa.func.now() - self._retention
            )
        )


async def pending_count(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            sa.select(sa.func.count())
            .select_from(outbox_table)
            .where(outbox_table.c.published_at.is_(None))
        )
        or 0
    )


async def outbox_backlog(session: AsyncSession) -> tuple[int, float]:
    """How many rows wait for the relay, and the age in seconds of the oldest (0 if none).

    One index-friendly query on `published_at IS NULL`; the ages come from the database
    clock, the one that stamped `created_at`."""
    row = (
        await session.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(
                    sa.func.extract(
                        "epoch", sa.func.now() - sa.func.min(outbox_table.c.created_at)
                    ),
                    0,
                ),
            ).where(outbox_table.c.published_at.is_(None))
        )
    ).one()
    return int(row[0]), max(float(row[1]), 0.0)


async def sample_outbox(session: AsyncSession) -> None:
    """Set the backlog gauges from the database (the metrics sampler calls it)."""
    count, age = await outbox_backlog(session)
    OUTBOX_BACKLOG.set(count)
    OUTBOX_OLDEST_AGE.set(age)
