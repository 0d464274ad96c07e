"""The consumer runner: Kafka in, one database transaction per event, offsets committed after.

For each record, in partition order:
1. decode the CloudEvents envelope — undecodable bytes go to the DLQ;
2. skip types this consumer has no handler for; types missing from the catalog go to the DLQ;
3. validate the payload against its schema — invalid payloads go to the DLQ;
4. in one transaction: record (consumer, event id) in the inbox and run the handlers. A
   redelivered event finds its inbox row and changes nothing. The records of a partition
   fetched together (up to `batch_size`) share that transaction, one after another; if
   any of them fails, the transaction is rolled back and each record is handled again in
   its own transaction, so a poison record neither takes the others down nor applies them
   twice. The chunk's inbox rows are written in one statement; a type whose handlers are
   all `@batched` gets each run of consecutive records of its type in one call per handler
   (a one-element call when records are handled one by one), and work a handler `defer`s
   runs once per key just before the transaction commits;
5. handler failures are retried with backoff and dead-lettered after `max_attempts`; a
   `RetryableEventError` ("not yet": the contract it refers to has not arrived) past its
   attempts is *parked* until the event is `not_yet_seconds` old (0 by default: never):
   its partition is paused and read again from that event a little later, while the
   consumer's other partitions go on — long enough to outlast a rebalance that holds back
   the event it waits for on another topic; infrastructure failures
   (database or broker unreachable) are retried until they pass, never dead-lettered, so an
   outage cannot empty a topic into its DLQ.
Offsets are committed manually after the batch's transactions, and before partitions are
handed to another instance on a rebalance.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind
from prometheus_client import Counter, Histogram
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_events.envelope import Envelope, EnvelopeError
from crm_events.errors import PermanentEventError, RetryableEventError
from crm_events.infrastructure import is_infrastructure_error
from crm_events.outbox import collect_staged, publish, write_staged
from crm_events.registry import (
    REGISTRY,
    InvalidPayload,
    Payload,
    UnknownEventType,
    parse_payload,
    spec_for,
)
from crm_events.tables import inbox_table
from crm_events.topics import dlq_topic, physical
from crm_events.tracing import context_from, kafka_carrier, tracer

log = structlog.get_logger(__name__)

CONSUMED = Counter(
    "crm_events_consumed_total", "Events handled by a consumer", ["consumer", "type", "result"]
)
DEAD_LETTERED = Counter(
    "crm_events_dead_lettered_total", "Events sent to a DLQ", ["consumer", "topic", "reason"]
)
HANDLE_SECONDS = Histogram("crm_events_handle_seconds", "Time to handle one event", ["consumer"])


Deferred = Callable[[], Awaitable[None]]


@dataclass
class EventContext:
    """What a handler gets besides its payload: the session, the envelope, `emit` and
    `defer`."""

    session: AsyncSession
    envelope: Envelope
    source: str
    topic: str
    partition: int
    offset: int
    clock: Any = None  # the service's injectable clock (anything with .now())
    # Shared by every event of one transaction (see defer).
    deferred: dict[Hashable, Deferred] = field(default_factory=dict)

    async def emit(
        self, event_type: str, *, subject: str, data: Payload, tenant: str | None = None
    ) -> Envelope:
        """Stage an event caused by this one (same correlation id) in the outbox."""
        envelope = self.envelope_for(event_type, subject=subject, data=data, tenant=tenant)
        await publish(self.session, envelope)
        return envelope

    def envelope_for(
        self, event_type: str, *, subject: str, data: Payload, tenant: str | None = None
    ) -> Envelope:
        """The envelope `emit` stages, without staging it (for handlers that publish a run
        of events at once with `crm_events.outbox.publish_many`)."""
        return spec_for(event_type).envelope(
            source=self.source,
            subject=subject,
            tenant=tenant or self.envelope.tenant,
            data=data,
            correlation_id=self.envelope.correlationid,
            causation_id=self.envelope.id,
        )

    def defer(self, key: Hashable, fn: Deferred) -> None:
        """Run `fn` once per `key` in this transaction, after every event of it was handled
        and before it commits (first deferred, first run; the first `fn` given for a key
        wins). For work many events of a batch share: recompute a contract's month once."""
        self.deferred.setdefault(key, fn)


P = TypeVar("P")


@dataclass(frozen=True)
class Delivered(Generic[P]):
    """One event handed to a batched handler: its context and its validated payload."""

    ctx: EventContext
    payload: P


Handler = Callable[[EventContext, Any], Awaitable[None]]


class BatchHandler:
    """A handler that takes a run of events of one type at once (see `batched`)."""

    def __init__(self, fn: Callable[[Sequence[Delivered[Any]]], Awaitable[None]]) -> None:
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "batch_handler")
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)
        self.__doc__ = fn.__doc__

    async def __call__(self, events: Sequence[Delivered[Any]]) -> None:
        await self.fn(events)


def batched(fn: Callable[[Sequence[Delivered[P]]], Awaitable[None]]) -> BatchHandler:
    """Mark a handler as taking a sequence of events of its type, in offset order, all in
    one session (`events[0].ctx.session`). A type whose handlers are all batched gets each
    run of consecutive records of a chunk in one call per handler; when records are handled
    one by one (a failed chunk, retries) the call holds one event, so the handler must be
    right for any length."""
    return BatchHandler(fn)


Handlers = Mapping[str, Sequence[Handler | BatchHandler]]


@dataclass
class _Failure:
    reason: str
    error: BaseException
    attempts: int


@dataclass
class _Prepared:
    """A decoded, validated record and the handlers for its type."""

    record: ConsumerRecord
    envelope: Envelope
    payload: Any
    handlers: Sequence[Handler | BatchHandler]

    @property
    def batched(self) -> bool:
        return all(isinstance(h, BatchHandler) for h in self.handlers)

    def parent_context(self) -> Context | None:
        """The context of the span the event was created in: the Kafka header first, else
        the envelope's tracing extension (a producer of our own may set only one of them)."""
        return context_from(kafka_carrier(self.record.headers)) or context_from(
            self.envelope.trace_carrier
        )


@dataclass
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    batches: int = 0  # transactions that handled several records
    batch_fallbacks: int = 0  # batches rolled back and handled one record at a time
    parked: int = 0  # times a partition was paused behind a "not yet" record
    last_error: str | None = None
    assigned: list[str] = field(default_factory=list)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Wait for the batch in flight, then commit what it processed, so the next owner
        # starts after it (the inbox would absorb the repeat anyway; this avoids the work).
        async with self._runner._lock:
            await self._runner._commit(only=set(revoked))
            for tp in revoked:
                self._runner._pending.pop(tp, None)
                self._runner._done.pop(tp, None)
                self._runner._parked.pop(tp, None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        async with self._runner._lock:
            # What was pending got committed when the partitions were revoked; anything
            # pending now was handled after that (a batch fetched just before the group
            # rebalanced), under the old assignment: committing it with the new one could
            # move a partition's offset back. Left uncommitted, it is read again (the
            # inbox makes that a no-op).
            self._runner._pending.clear()
            for tp in [tp for tp in self._runner._done if tp not in assigned]:
                del self._runner._done[tp]
        self._runner.stats.assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in assigned)
        log.info(
            "consumer.assigned",
            consumer=self._runner.group_id,
            partitions=self._runner.stats.assigned,
        )


class ConsumerRunner:
    def __init__(
        self,
        *,
        group_id: str,
        topics: Sequence[str],
        handlers: Handlers,
        session_factory: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        bootstrap_servers: str,
        source: str,
        max_attempts: int = 5,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
        not_yet_seconds: float = 0.0,
        max_records: int = 200,
        batch_size: int = 100,
        client_id: str | None = None,
        clock: Any = None,
        offset_reset: str = "earliest",
        concurrency: int = 1,
    ) -> None:
        unknown = [t for t in handlers if t not in REGISTRY]
        if unknown:
            raise ValueError(f"handlers for event types missing from the catalog: {unknown}")
        self.group_id = physical(group_id)
        self._topics = [physical(t) for t in topics]
        self._handlers = handlers
        self._session_factory = session_factory
        self._producer = producer
        self._bootstrap = bootstrap_servers
        self._source = source
        self._max_attempts = max_attempts
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._not_yet_seconds = not_yet_seconds
        self._max_records = max_records
        self._batch_size = max(1, batch_size)
        self._concurrency = max(1, concurrency)  # partitions handled at once
        self._client_id = client_id or group_id
        self._clock = clock
        # Where a new group starts: "earliest" in production (nothing is missed); tests
        # that give every app its own group start at "latest" (see _pin_start_positions).
        self._offset_reset = offset_reset
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._lock = asyncio.Lock()
        self._pending: dict[TopicPartition, int] = {}
        # Next offset to handle per assigned partition, committed or not (consumer lag).
        self._done: dict[TopicPartition, int] = {}
        # Partitions paused behind a "not yet" event: the event's offset and when to read
        # the partition again (monotonic).
        self._parked: dict[TopicPartition, tuple[int, float]] = {}
        self.stats = ConsumerStats()

    # lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self.group_id,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset=self._offset_reset,
            isolation_level="read_committed",
            # A crashed instance holds its partitions until this expires: keep it short.
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
            max_poll_interval_ms=300_000,
            metadata_max_age_ms=30_000,
        )
        self._consumer.subscribe(self._topics, listener=_Rebalance(self))
        await self._consumer.start()
        if self._offset_reset == "latest":
            await self._pin_start_positions()
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.group_id}")

    async def _pin_start_positions(self, timeout: float = 60.0) -> None:
        """A new group starting at the latest offsets: wait for its partitions and resolve
        where it starts now, so an event published once start() returns is never skipped."""
        assert self._consumer is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._consumer.assignment():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{self.group_id}: no partitions assigned in {timeout}s")
            await asyncio.sleep(0.05)
        for tp in self._consumer.assignment():
            await self._consumer.position(tp)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                async with self._lock:
                    await self._commit()
            await self._consumer.stop()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def topics(self) -> list[str]:
        """The physical topics this runner reads."""
        return list(self._topics)

    async def lag(self) -> dict[TopicPartition, int]:
        """Records not yet handled per assigned partition: the partition's end offset minus
        the next offset this runner will handle (its committed offset before it handled any).

        Asks the broker for the end offsets (and committed offsets of partitions not yet
        read): call it from a sampler with a timeout, not from a request."""
        consumer = self._consumer
        if consumer is None or not self.running:
            return {}
        tps = sorted(consumer.assignment())
        if not tps:
            return {}
        end = await consumer.end_offsets(tps)
        out: dict[TopicPartition, int] = {}
        for tp in tps:
            done = self._done.get(tp)
            if done is None:
                done = await consumer.committed(tp)
            if done is None:
                done = await consumer.position(tp)
            out[tp] = max(end[tp] - done, 0)
        return out

    # the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._consumer is not None
        while not self._stopping:
            try:
                batches = await self._consumer.getmany(
                    timeout_ms=500, max_records=self._max_records
                )
            except KafkaError as exc:
                log.warning("consumer.fetch_failed", consumer=self.group_id, error=repr(exc))
                await asyncio.sleep(1.0)
                continue
            self._resume_parked()
            if not batches:
                continue
            async with self._lock:
                assigned = self._consumer.assignment()
                # A partition revoked while we waited for the lock is left to its new owner.
                await self._process_partitions(
                    [(tp, records) for tp, records in batches.items() if tp in assigned]
                )
                await self._commit()

    async def _process_partitions(
        self, fetched: list[tuple[TopicPartition, list[ConsumerRecord]]]
    ) -> None:
        """The records of a fetch, up to `concurrency` partitions at a time, each in order
        in transactions of its own (one database connection each). Partitions are what
        separate instances of the service handle at the same time anyway, so the handlers
        already hold their locks for it; inside one instance it lets one partition's Python
        work run while another waits for the database. Every partition runs to the end
        before the first failure, if any, is raised."""
        if self._concurrency == 1 or len(fetched) < 2:
            for tp, records in fetched:
                await self._process_partition(tp, records)
            return
        slots = asyncio.Semaphore(self._concurrency)

        async def one(tp: TopicPartition, records: list[ConsumerRecord]) -> None:
            async with slots:
                await self._process_partition(tp, records)

        # Named after the runner's task (`consumer-<group>/<topic>:<partition>`).
        outcomes = await asyncio.gather(
            *(
                asyncio.create_task(
                    one(tp, records), name=f"consumer-{self.group_id}/{tp.topic}:{tp.partition}"
                )
                for tp, records in fetched
            ),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _process_partition(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        if records:
            self._done.setdefault(tp, records[0].offset)  # lag counts the record in hand
        for start in range(0, len(records), self._batch_size):
            chunk = records[start : start + self._batch_size]
            parked_at = await self._process_chunk(chunk)
            upto = chunk[-1].offset + 1 if parked_at is None else parked_at
            self._pending[tp] = upto
            self._done[tp] = upto
            if parked_at is not None:
                self._park(tp, parked_at)
                return

    async def _process_chunk(self, records: list[ConsumerRecord]) -> int | None:
        """Records of one partition, in order: those that cannot be handled go to the DLQ
        (or are skipped), the others are handled in one transaction; if that fails, one by
        one, each in its own transaction with its retries, so a poison record is dead-lettered
        alone and the others are neither lost nor applied twice (the inbox). The offset of a
        record parked as "not yet" (the records after it are left), else None."""
        prepared = [p for record in records if (p := await self._prepare(record)) is not None]
        if len(prepared) > 1 and await self._handle_batch(prepared):
            return None
        for item in prepared:
            if await self._handle_traced(item) == "parked":
                return int(item.record.offset)
        return None

    def _park(self, tp: TopicPartition, offset: int) -> None:
        """Pause the partition at a "not yet" record and read it again from there a little
        later; the other partitions go on meanwhile."""
        assert self._consumer is not None
        self._consumer.pause(tp)
        self._consumer.seek(tp, offset)  # drops the records fetched after it
        self._parked[tp] = (offset, time.monotonic() + self._backoff_max)
        self.stats.parked += 1
        log.info("consumer.parked", consumer=self.group_id, partition=str(tp), offset=offset)

    def _resume_parked(self) -> None:
        assert self._consumer is not None
        now = time.monotonic()
        assigned = self._consumer.assignment()
        for tp, (_, resume_at) in list(self._parked.items()):
            if tp not in assigned:
                del self._parked[tp]  # moved to another instance, which reads it afresh
            elif now >= resume_at:
                self._consumer.resume(tp)

    async def _handle_batch(self, prepared: list[_Prepared]) -> bool:
        """Handle the records in one transaction; False (nothing applied) if any failed."""
        started = time.perf_counter()
        try:
            async with self._session_factory() as session, session.begin():
                results = await self._apply(session, prepared, scoped=True)
        except Exception as exc:
            self.stats.batch_fallbacks += 1
            log.info(
                "consumer.batch_fallback",
                consumer=self.group_id,
                records=len(prepared),
                error=repr(exc),
            )
            return False
        self.stats.batches += 1
        per_event = (time.perf_counter() - started) / len(prepared)
        for item, result in zip(prepared, results, strict=True):
            self._count(item.envelope, result, per_event)
        return True

    async def _commit(self, only: set[TopicPartition] | None = None) -> None:
        assert self._consumer is not None
        assigned = self._consumer.assignment()
        for tp in [tp for tp in self._pending if tp not in assigned]:
            # Handled after its partition was revoked (an instance that hung past its
            # session timeout finishes the batch it held): the partition's new owner
            # commits it. Kept, it would make every later commit fail ("not assigned").
            del self._pending[tp]
        offsets = {tp: off for tp, off in self._pending.items() if only is None or tp in only}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            # Not fatal: the records are in the inbox, a redelivery changes nothing.
            log.warning("consumer.commit_failed", consumer=self.group_id, error=repr(exc))
            return
        for tp, off in offsets.items():
            if self._pending.get(tp) == off:
                del self._pending[tp]

    async def _prepare(self, record: ConsumerRecord) -> _Prepared | None:
        """Decode and validate a record; None when it was dead-lettered or is skipped."""
        try:
            envelope = Envelope.from_kafka(record.value, record.headers)
        except EnvelopeError as exc:
            await self._dead_letter(record, _Failure("undecodable", exc, 1))
            return None
        handlers = self._handlers.get(envelope.type)
        if not handlers:
            if envelope.type not in REGISTRY:
                await self._dead_letter(
                    record, _Failure("unknown_type", UnknownEventType(envelope.type), 1)
                )
            else:
                self.stats.skipped += 1
            return None
        try:
            payload = parse_payload(envelope)
        except InvalidPayload as exc:
            await self._dead_letter(record, _Failure("invalid_payload", exc, 1))
            return None
        return _Prepared(record, envelope, payload, handlers)

    async def _handle_traced(self, item: _Prepared) -> str:
        with self._record_scope(item):
            return await self._handle_with_retries(item)

    @contextlib.contextmanager
    def _record_scope(self, item: _Prepared) -> Iterator[None]:
        """The record's log context and its consumer span, a child of the span the event
        was created in."""
        record, envelope = item.record, item.envelope
        structlog.contextvars.bind_contextvars(
            correlation_id=envelope.correlationid,
            event_id=envelope.id,
            event_type=envelope.type,
            tenant=envelope.tenant,
        )
        try:
            with tracer.start_as_current_span(
                f"{record.topic} process",
                context=item.parent_context(),
                kind=SpanKind.CONSUMER,
                attributes=self._span_attributes(
                    item,
                    **{
                        "messaging.message.id": envelope.id,
                        "messaging.kafka.offset": record.offset,
                    },
                ),
            ):
                yield
        finally:
            structlog.contextvars.unbind_contextvars(
                "correlation_id", "event_id", "event_type", "tenant"
            )

    async def _handle_with_retries(self, item: _Prepared) -> str:
        """Handle a record with its retries: "handled", "duplicate", "dead_lettered", or
        "parked" (a "not yet" failure past its attempts, inside the not-yet window)."""
        record = item.record
        tp = TopicPartition(record.topic, record.partition)
        # A record read again after it was parked gets one attempt before it parks again.
        attempts = 1 if self._parked.get(tp, (None, 0.0))[0] == record.offset else None
        attempt = 0
        delay = self._backoff_initial
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                result = await self._handle_once(item)
            except PermanentEventError as exc:
                await self._dead_letter(record, _Failure("handler_rejected", exc, attempt))
                self._parked.pop(tp, None)
                return "dead_lettered"
            except Exception as exc:
                self.stats.last_error = repr(exc)
                if is_infrastructure_error(exc):
                    # Do not burn attempts on an outage; wait it out.
                    log.warning(
                        "consumer.infrastructure_error",
                        consumer=self.group_id,
                        error=repr(exc),
                        retry_in=delay,
                    )
                    attempt -= 1
                elif attempt >= (attempts or self._max_attempts):
                    if self._may_wait(exc, record):
                        return "parked"
                    await self._dead_letter(record, _Failure("handler_failed", exc, attempt))
                    self._parked.pop(tp, None)
                    return "dead_lettered"
                else:
                    log.warning(
                        "consumer.handler_failed",
                        consumer=self.group_id,
                        attempt=attempt,
                        error=repr(exc),
                        retry_in=delay,
                    )
                if self._stopping:
                    raise asyncio.CancelledError from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
                continue
            self._count(item.envelope, result, time.perf_counter() - started)
            self._parked.pop(tp, None)
            return result

    def _may_wait(self, exc: Exception, record: ConsumerRecord) -> bool:
        """A "not yet" failure is parked until the event is `not_yet_seconds` old (by its
        Kafka timestamp): the event it waits for (a contract's activation on contracts.v1)
        can be held back by a rebalance of another topic's partitions for a whole session
        timeout (10 s), much longer than the attempts' backoff. Only its partition waits;
        the records behind it keep their order."""
        if not isinstance(exc, RetryableEventError) or self._not_yet_seconds <= 0:
            return False
        age = time.time() - record.timestamp / 1000 if record.timestamp > 0 else 0.0
        return age < self._not_yet_seconds

    def _count(self, envelope: Envelope, result: str, seconds: float) -> None:
        HANDLE_SECONDS.labels(self.group_id).observe(seconds)
        CONSUMED.labels(self.group_id, envelope.type, result).inc()
        if result == "duplicate":
            self.stats.duplicates += 1
        else:
            self.stats.handled += 1

    async def _handle_once(self, item: _Prepared) -> str:
        async with self._session_factory() as session, session.begin():
            (result,) = await self._apply(session, [item], scoped=False)
            return result

    async def _apply(
        self, session: AsyncSession, items: list[_Prepared], *, scoped: bool
    ) -> list[str]:
        """Record the events in the inbox and run their handlers, then the deferred work, in
        the caller's transaction: per event "handled", or "duplicate" (nothing run) when the
        inbox already holds it. `scoped`: open each record's log context and span (the
        one-record path opened it around its retries)."""
        fresh = await self._record_in_inbox(session, items)
        collect_staged(session)  # the transaction's outbox rows in one insert, at the end
        deferred: dict[Hashable, Deferred] = {}
        new = [item for item, is_new in zip(items, fresh, strict=True) if is_new]
        for run in _runs(new):
            contexts = [self._context(session, item, deferred) for item in run]
            if run[0].batched:
                with self._batch_scope(run) if scoped else contextlib.nullcontext():
                    events = [Delivered(c, i.payload) for c, i in zip(contexts, run, strict=True)]
                    for handler in run[0].handlers:
                        assert isinstance(handler, BatchHandler)
                        await handler(events)
            else:
                (item,) = run
                with self._record_scope(item) if scoped else contextlib.nullcontext():
                    for handler in item.handlers:
                        # A batched handler among plain ones: its type goes one by one.
                        if isinstance(handler, BatchHandler):
                            await handler([Delivered(contexts[0], item.payload)])
                        else:
                            await handler(contexts[0], item.payload)
            # Each run sees the database, not objects an earlier one loaded.
            await session.flush()
            session.expunge_all()
        await _run_deferred(deferred)
        await write_staged(session)
        return ["handled" if is_new else "duplicate" for is_new in fresh]

    async def _record_in_inbox(self, session: AsyncSession, items: list[_Prepared]) -> list[bool]:
        """Insert the inbox rows in one statement; per item, whether it is new (not in the
        inbox before, and not an earlier item of the same list with the same event id)."""
        rows = [
            {
                "consumer": self.group_id,
                "event_id": item.envelope.id,
                "event_type": item.envelope.type,
                "topic": item.record.topic,
                "partition": item.record.partition,
                "offset": item.record.offset,
            }
            for item in items
        ]
        # Parameters apart from the statement ("insertmanyvalues"): compiled once and cached,
        # not a statement with N rows of literals compiled for every chunk.
        inserted = set(await session.scalars(_INBOX_INSERT, rows))
        fresh: list[bool] = []
        for item in items:
            fresh.append(item.envelope.id in inserted)
            inserted.discard(item.envelope.id)
        return fresh

    def _context(
        self, session: AsyncSession, item: _Prepared, deferred: dict[Hashable, Deferred]
    ) -> EventContext:
        record = item.record
        return EventContext(
            session=session,
            envelope=item.envelope,
            source=self._source,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            clock=self._clock,
            deferred=deferred,
        )

    def _span_attributes(self, item: _Prepared, **extra: str | int) -> dict[str, str | int]:
        """The messaging attributes of a consumer span over `item` (the first of a run)."""
        return {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": item.record.topic,
            "messaging.consumer.group.name": self.group_id,
            "messaging.destination.partition.id": str(item.record.partition),
            "cloudevents.event_type": item.envelope.type,
            **extra,
        }

    @contextlib.contextmanager
    def _batch_scope(self, run: list[_Prepared]) -> Iterator[None]:
        """A run of records handled by one call: one consumer span linked to the span each
        record was created in, and the run's type in the log context."""
        if len(run) == 1:
            with self._record_scope(run[0]):
                yield
            return
        first = run[0]
        links = [
            Link(trace.get_current_span(parent).get_span_context())
            for parent in (item.parent_context() for item in run)
            if parent is not None
        ]
        structlog.contextvars.bind_contextvars(
            event_type=first.envelope.type, batch_records=len(run)
        )
        try:
            with tracer.start_as_current_span(
                f"{first.record.topic} process",
                kind=SpanKind.CONSUMER,
                links=links,
                attributes=self._span_attributes(
                    first, **{"messaging.batch.message_count": len(run)}
                ),
            ):
                yield
        finally:
            structlog.contextvars.unbind_contextvars("event_type", "batch_records")

    async def _dead_letter(self, record: ConsumerRecord, failure: _Failure) -> None:
        """Publish the original bytes to `<topic>.dlq` with the error in the headers.

        Retries until the broker takes it: a record is never skipped without a DLQ copy.
        """
        headers = list(record.headers or [])
        headers += [
            ("dlq.reason", failure.reason.encode()),
            ("dlq.error.class", type(failure.error).__name__.encode()),
            ("dlq.error.message", str(failure.error)[:2000].encode()),
            (
                "dlq.error.trace",
                "".join(traceback.format_exception(failure.error))[-4000:].encode(),
            ),
            ("dlq.consumer", self.group_id.encode()),
            ("dlq.original.topic", record.topic.encode()),
            ("dlq.original.partition", str(record.partition).encode()),
            ("dlq.original.offset", str(record.offset).encode()),
            ("dlq.attempts", str(failure.attempts).encode()),
            ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        delay = self._backoff_initial
        while True:
            try:
                await self._producer.send_and_wait(
                    dlq_topic(record.topic), value=record.value, key=record.key, headers=headers
                )
                break
            except KafkaError as exc:
                log.warning("consumer.dlq_publish_failed", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
        self.stats.dead_lettered += 1
        DEAD_LETTERED.labels(self.group_id, record.topic, failure.reason).inc()
        log.error(
            "consumer.dead_lettered",
            consumer=self.group_id,
            reason=failure.reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=str(failure.error),
        )


_INBOX_INSERT = pg_insert(inbox_table).on_conflict_do_nothing().returning(inbox_table.c.event_id)


def _runs(items: list[_Prepared]) -> list[list[_Prepared]]:
    """The items in order, as runs: consecutive items of one type whose handlers are all
    batched form one run; any other item is a run of its own."""
    runs: list[list[_Prepared]] = []
    for item in items:
        last = runs[-1] if runs else None
        if (
            last is not None
            and item.batched
            and last[0].batched
            and last[0].envelope.type == item.envelope.type
        ):
            last.append(item)
        else:
            runs.append([item])
    return runs


async def _run_deferred(deferred: dict[Hashable, Deferred]) -> None:
    """Deferred work, first deferred first; work deferred by deferred work runs too, each
    key once."""
    done: set[Hashable] = set()
    while deferred:
        key = next(iter(deferred))
        fn = deferred.pop(key)
        if key not in done:
            done.add(key)
            await fn()


async def processed(session: AsyncSession, consumer: str, event_id: str) -> bool:
    """Has this consumer already handled this event? (For tests and diagnostics.)"""
    return (
        await session.scalar(
            sa.select(sa.func.count())
            .select_from(inbox_table)
            .where(inbox_table.c.consumer == consumer, inbox_table.c.event_id == event_id)
        )
        or 0
    ) > 0
