"""One trace from the code that writes an event, through the outbox row, the relay and the
Kafka header, into the consumer's handler and the event it emits, recorded by the real
OpenTelemetry SDK into memory; with database spans only inside the trace."""

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_events.consumer import ConsumerRunner, Delivered, EventContext, batched
from crm_events.kafka import make_producer
from crm_events.outbox import OutboxRelay, publish
from crm_events.registry import spec_for
from crm_events.schemas.alerts import AlertRaised
from crm_events.schemas.obligations import ObligationCreated
from crm_events.tables import outbox_table
from crm_events.tracing import tracer
from crm_platform.tracing import trace_database
from crm_testing.kafka import EventCollector, produce_raw, wait_until
from crm_testing.tracing import span_exporter


def _obligation(contract_id: uuid.UUID) -> Any:
    return spec_for("obligation.created").envelope(
        source="test",
        subject=str(contract_id),
        tenant="acme",
        correlation_id="corr",
        data=ObligationCreated(
            obligation_id=uuid.uuid4(),
            contract_id=contract_id,
            kind="k",
            title="t",
            owner_role="r",
            severity="low",
            due_date="2026-04-01",
            created_at="2026-03-01T00:00:00Z",
        ),
    )


def _parent_of(traceparent: str | None) -> tuple[str, str]:
    """(trace id, span id) of a W3C traceparent; the flags say sampled."""
    assert traceparent is not None
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00" and int(flags, 16) & 1, traceparent
    return trace_id, span_id


def _ids(span: ReadableSpan) -> tuple[str, str, str | None]:
    assert span.context is not None
    parent = f"{span.parent.span_id:016x}" if span.parent is not None else None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}", parent


async def test_the_trace_runs_from_the_outbox_row_through_kafka_into_the_handler(
    sessions: async_sessionmaker[AsyncSession], kafka_bootstrap: str
) -> None:
    exporter = span_exporter()
    engine = sessions.kw["bind"]
    trace_database(engine)
    contract_id = uuid.uuid4()
    seen_in_handler: dict[str, str] = {}  # event id -> the span current in the handler

    async def raise_alert(ctx: EventContext, event: ObligationCreated) -> None:
        span_context = trace.get_current_span().get_span_context()
        seen_in_handler[ctx.envelope.id] = f"{span_context.span_id:016x}"
        await ctx.emit(
            "alert.raised",
            subject=str(event.contract_id),
            data=AlertRaised(
                alert_id=uuid.uuid4(),
                contract_id=event.contract_id,
                severity="high",
                title="t",
                dedup_key=str(uuid.uuid4()),
                source_event_id=ctx.envelope.id,
                source_event_type=ctx.envelope.type,
                details={},
                raised_at="2026-03-01T00:00:00Z",
            ),
        )

    with tracer.start_as_current_span("POST /obligations", kind=SpanKind.SERVER) as request:
        envelope = _obligation(contract_id)
        async with sessions() as session, session.begin():
            await publish(session, envelope)
    trace_id = f"{request.get_span_context().trace_id:032x}"
    request_span_id = f"{request.get_span_context().span_id:016x}"
    assert _parent_of(envelope.traceparent) == (trace_id, request_span_id)
    async with sessions() as session:
        row_headers = await session.scalar(
            sa.select(outbox_table.c.headers).where(outbox_table.c.event_id == envelope.id)
        )
    assert row_headers is not None
    assert row_headers["traceparent"] == envelope.traceparent
    assert row_headers["content-type"].startswith("application/cloudevents+json")

    producer = make_producer(kafka_bootstrap, client_id="trace-test")
    await producer.start()
    relay = OutboxRelay(sessions, producer, idle_interval=0.05)
    runner = ConsumerRunner(
        group_id=f"trace-{uuid.uuid4().hex[:6]}",
        topics=["obligations.v1"],
        handlers={"obligation.created": [raise_alert]},
        session_factory=sessions,
        producer=producer,
        bootstrap_servers=kafka_bootstrap,
        source="test",
        # One record per transaction: the topic holds earlier tests' events, and in a run
        # of several the inbox insert belongs to the run's span, not this record's
        # (test_batched_handlers covers that shape).
        batch_size=1,
    )
    try:
        async with EventCollector(kafka_bootstrap, ["obligations.v1", "alerts.v1"]) as kafka:
            await runner.start()
            relay.start()
            [alert] = await kafka.wait_for(
                lambda e: e.type == "alert.raised" and e.subject == str(contract_id), timeout=60
            )
            [headers] = [
                h
                for topic, value, h in kafka.raw
                if topic.endswith("obligations.v1") and envelope.id.encode() in (value or b"")
            ]
    finally:
        await relay.stop()
        await runner.stop()
        await producer.stop()

    assert headers["traceparent"].decode() == envelope.traceparent  # the Kafka header
    spans = exporter.get_finished_spans()
    # (the topic may hold earlier tests' events: the group reads from the start)
    [consumed] = [
        s
        for s in spans
        if s.kind is SpanKind.CONSUMER
        and (s.attributes or {}).get("messaging.message.id") == envelope.id
    ]
    assert consumed.name.endswith("obligations.v1 process")
    assert _ids(consumed)[0] == trace_id and _ids(consumed)[2] == request_span_id
    assert seen_in_handler[envelope.id] == _ids(consumed)[1]  # the handler runs inside it
    # The relay's send spans: the obligation's in the request's trace, the alert's in the
    # consumer's (so a trace shows both hops).
    sends = [s for s in spans if s.kind is SpanKind.PRODUCER and _ids(s)[0] == trace_id]
    [obligation_send] = [s for s in sends if s.name.endswith("obligations.v1 publish")]
    [alert_send] = [s for s in sends if s.name.endswith("alerts.v1 publish")]
    assert _ids(obligation_send)[0] == trace_id and _ids(obligation_send)[2] == request_span_id
    assert _ids(alert_send)[0] == trace_id and _ids(alert_send)[2] == _ids(consumed)[1]
    # The emitted event names the consumer span as the context it was created in.
    assert _parent_of(alert.traceparent) == (trace_id, _ids(consumed)[1])
    # Database spans: the inbox insert inside the handler's span; none outside a trace
    # (the relay polls every 50 ms and makes no root spans).
    db_spans = [s for s in spans if s.attributes and s.attributes.get("db.system.name")]
    assert any(_ids(s)[2] == _ids(consumed)[1] and s.name.startswith("INSERT") for s in db_spans), [
        s.name for s in db_spans
    ]
    assert all(s.parent is not None for s in db_spans)
    assert all("acme" not in str((s.attributes or {}).get("db.query.text")) for s in db_spans)


async def test_a_relay_without_publish_spans_carries_the_trace_on_unchanged(
    sessions: async_sessionmaker[AsyncSession], kafka_bootstrap: str
) -> None:
    """Where no span leaves the process the relay makes none: the message still carries the
    creator's `traceparent`, so the consumer parents to the span the event was created in."""
    exporter = span_exporter()
    with tracer.start_as_current_span("POST /obligations", kind=SpanKind.SERVER) as request:
        envelope = _obligation(uuid.uuid4())
        async with sessions() as session, session.begin():
            await publish(session, envelope)
    producer = make_producer(kafka_bootstrap, client_id="trace-test-quiet")
    await producer.start()
    relay = OutboxRelay(sessions, producer, idle_interval=0.05, publish_spans=False)
    try:
        async with EventCollector(kafka_bootstrap, ["obligations.v1"]) as kafka:
            relay.start()
            await kafka.wait_for(lambda e: e.id == envelope.id, timeout=60)
            [headers] = [h for _, value, h in kafka.raw if envelope.id.encode() in (value or b"")]
    finally:
        await relay.stop()
        await producer.stop()
    assert headers["traceparent"].decode() == envelope.traceparent
    trace_id = request.get_span_context().trace_id
    assert [
        s.name
        for s in exporter.get_finished_spans()
        if s.kind is SpanKind.PRODUCER and s.context is not None and s.context.trace_id == trace_id
    ] == []


async def test_an_event_without_the_header_is_traced_by_its_envelope_extension(
    sessions: async_sessionmaker[AsyncSession], kafka_bootstrap: str
) -> None:
    """A producer of our own (a monitoring system on telemetry.v1) may set only the
    CloudEvents extension attribute; a malformed one is ignored, not dead-lettered."""
    exporter = span_exporter()
    handled: list[str] = []

    async def note(ctx: EventContext, event: ObligationCreated) -> None:
        handled.append(ctx.envelope.id)

    with tracer.start_as_current_span("integrator") as integrator:
        traced = _obligation(uuid.uuid4())
    garbled = _obligation(uuid.uuid4()).model_copy(update={"traceparent": "00-nonsense-01"})
    producer = make_producer(kafka_bootstrap, client_id="trace-test-2")
    await producer.start()
    runner = ConsumerRunner(
        group_id=f"trace-{uuid.uuid4().hex[:6]}",
        topics=["obligations.v1"],
        handlers={"obligation.created": [note]},
        session_factory=sessions,
        producer=producer,
        bootstrap_servers=kafka_bootstrap,
        source="test",
    )
    await runner.start()
    try:
        for envelope in (traced, garbled):  # the value alone: no headers at all
            await produce_raw(
                kafka_bootstrap, "obligations.v1", envelope.to_bytes(), key=envelope.key
            )
        await wait_until(
            lambda: {traced.id, garbled.id} <= set(handled), timeout=60, message="both handled"
        )
    finally:
        await runner.stop()
        await producer.stop()
    by_event = {
        (s.attributes or {}).get("messaging.message.id"): s
        for s in exporter.get_finished_spans()
        if s.kind is SpanKind.CONSUMER
    }
    integrator_ids = (
        f"{integrator.get_span_context().trace_id:032x}",
        f"{integrator.get_span_context().span_id:016x}",
    )
    assert (_ids(by_event[traced.id])[0], _ids(by_event[traced.id])[2]) == integrator_ids
    assert _ids(by_event[garbled.id])[2] is None  # a trace of its own


async def test_a_batched_call_has_one_span_linked_to_each_event_it_handles(
    sessions: async_sessionmaker[AsyncSession], kafka_bootstrap: str
) -> None:
    """A run of events handled by one `@batched` call is one consumer span; it cannot be a
    child of every event's trace, so it links to the span each event was created in."""
    exporter = span_exporter()
    calls: list[list[str]] = []

    @batched
    async def note(events: Sequence[Delivered[ObligationCreated]]) -> None:
        calls.append([item.ctx.envelope.id for item in events])

    contract_id = uuid.uuid4()
    origins: dict[str, tuple[int, int]] = {}
    envelopes = []
    for _ in range(4):
        with tracer.start_as_current_span("integrator") as origin:
            envelope = _obligation(contract_id)  # one key: one partition, in order
        origins[envelope.id] = (
            origin.get_span_context().trace_id,
            origin.get_span_context().span_id,
        )
        envelopes.append(envelope)
    for envelope in envelopes:  # all on the topic before the consumer starts: one fetch
        await produce_raw(kafka_bootstrap, "obligations.v1", envelope.to_bytes(), key=envelope.key)
    producer = make_producer(kafka_bootstrap, client_id="trace-test-3")
    await producer.start()
    runner = ConsumerRunner(
        group_id=f"trace-{uuid.uuid4().hex[:6]}",
        topics=["obligations.v1"],
        handlers={"obligation.created": [note]},
        session_factory=sessions,
        producer=producer,
        bootstrap_servers=kafka_bootstrap,
        source="test",
    )
    await runner.start()
    try:
        await wait_until(
            lambda: set(origins) <= {i for call in calls for i in call},
            timeout=60,
            message="all four handled",
        )
    finally:
        await runner.stop()
        await producer.stop()
    ours = [call for call in calls if set(call) & set(origins)]
    assert any(len(set(call) & set(origins)) > 1 for call in ours), ours  # batched together
    consumer_spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    for call in ours:
        mine = [i for i in call if i in origins]
        if len(call) == 1:
            continue
        [span] = [
            s
            for s in consumer_spans
            if (s.attributes or {}).get("messaging.batch.message_count") == len(call)
            and any(
                (link.context.trace_id, link.context.span_id) == origins[mine[0]]
                for link in s.links
            )
        ]
        linked = {(link.context.trace_id, link.context.span_id) for link in span.links}
        assert {origins[i] for i in mine} <= linked
        assert span.parent is None  # a root of its own, not a child of one event's trace
        assert str((span.attributes or {}).get("messaging.destination.name")).endswith(
            "obligations.v1"
        )
