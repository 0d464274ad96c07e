"""The sampled gauges on a real broker and database: the outbox backlog and its oldest row's
age with no relay running, a consumer group's lag while its handler is held, and a DLQ's
depth after a poison message."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from crm_events.consumer import ConsumerRunner, EventContext
from crm_events.kafka import make_producer
from crm_events.outbox import publish, sample_outbox
from crm_events.registry import spec_for
from crm_events.schemas.obligations import ObligationCreated
from crm_events.tables import attach_messaging_tables, outbox_table
from crm_events.topics import physical
from crm_platform.sampler import _DlqSampler, _LagSampler
from crm_testing.kafka import produce_raw, publish_envelope, wait_until

TOPIC = "obligations.v1"
metadata = sa.MetaData()
attach_messaging_tables(metadata)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def _event(kind: str, subject: str) -> Any:
    return spec_for("obligation.created").envelope(
        source="test",
        subject=subject,
        tenant="acme",
        correlation_id="corr",
        data=ObligationCreated(
            obligation_id=uuid.uuid4(),
            contract_id=uuid.uuid4(),
            kind=kind,
            title="t",
            owner_role="r",
            severity="low",
            due_date="2026-04-01",
            created_at="2026-03-01T00:00:00Z",
        ),
    )


async def test_unsent_outbox_rows_show_as_backlog_with_the_age_of_the_oldest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subject = str(uuid.uuid4())
    async with sessions() as session, session.begin():  # no relay runs in this test
        for kind in ("a", "b", "c"):
            await publish(session, _event(kind, subject))
        oldest = sa.select(sa.func.min(outbox_table.c.id)).scalar_subquery()
        await session.execute(
            sa.update(outbox_table)
            .where(outbox_table.c.id == oldest)
            .values(created_at=sa.func.now() - sa.text("interval '90 seconds'"))
        )
    async with sessions() as session:
        await sample_outbox(session)
    assert gauge("crm_outbox_backlog") == 3
    assert 90 <= (gauge("crm_outbox_oldest_unsent_age_seconds") or 0) < 120

    async with sessions() as session, session.begin():  # what the relay does once it runs
        await session.execute(sa.update(outbox_table).values(published_at=sa.func.now()))
    async with sessions() as session:
        await sample_outbox(session)
    assert gauge("crm_outbox_backlog") == 0
    assert gauge("crm_outbox_oldest_unsent_age_seconds") == 0


async def test_a_held_consumer_shows_lag_on_its_partition_until_it_catches_up(
    sessions: async_sessionmaker[AsyncSession], kafka_bootstrap: str
) -> None:
    held, release = asyncio.Event(), asyncio.Event()

    async def handle(ctx: EventContext, event: ObligationCreated) -> None:
        if event.kind == "hold":
            held.set()
            await release.wait()

    producer = make_producer(kafka_bootstrap, client_id="lag-test")
    await producer.start()
    runner = ConsumerRunner(
        group_id=f"lag-{uuid.uuid4().hex[:6]}",
        topics=[TOPIC],
        handlers={"obligation.created": [handle]},
        session_factory=sessions,
        producer=producer,
        bootstrap_servers=kafka_bootstrap,
        source="test",
        offset_reset="latest",
    )
    await runner.start()
    app: Any = SimpleNamespace(state=SimpleNamespace(consumers=[runner]))
    sampler = _LagSampler()
    try:
        subject = str(uuid.uuid4())  # one key: one partition
        for kind in ("hold", "n1", "n2", "n3", "n4"):
            await publish_envelope(kafka_bootstrap, _event(kind, subject))
        await asyncio.wait_for(held.wait(), 30)
        behind = {tp: n for tp, n in (await runner.lag()).items() if n}
        assert list(behind.values()) == [5]  # the one in hand and the four after it
        (tp,) = behind
        await sampler(app)
        labels = {"group": runner.group_id, "topic": tp.topic, "partition": str(tp.partition)}
        assert gauge("crm_consumer_lag", **labels) == 5

        release.set()

        async def caught_up() -> bool:
            await sampler(app)
            return gauge("crm_consumer_lag", **labels) == 0

        await wait_until(caught_up, message="the group caught up")
    finally:
        release.set()
        await runner.stop()
        await producer.stop()
    await sampler(app)  # a stopped runner holds no partition: its series are gone
    assert gauge("crm_consumer_lag", **labels) is None


async def test_a_poison_message_adds_one_to_the_dlq_depth(
    sessions: async_sessionmaker[AsyncSession], kafka_bootstrap: str
) -> None:
    producer = make_producer(kafka_bootstrap, client_id="dlq-depth-test")
    await producer.start()
    runner = ConsumerRunner(
        group_id=f"dlq-depth-{uuid.uuid4().hex[:6]}",
        topics=[TOPIC],
        handlers={"obligation.created": []},
        session_factory=sessions,
        producer=producer,
        bootstrap_servers=kafka_bootstrap,
        source="test",
        offset_reset="latest",
    )
    await runner.start()
    settings = SimpleNamespace(kafka_bootstrap_servers=kafka_bootstrap, service_name="test")
    app: Any = SimpleNamespace(state=SimpleNamespace(consumers=[runner], settings=settings))
    sampler = _DlqSampler()
    dlq = physical(TOPIC) + ".dlq"
    try:
        await sampler(app)
        before = gauge("crm_dlq_depth", topic=dlq)
        assert before is not None
        await produce_raw(kafka_bootstrap, TOPIC, b"{not json", key=uuid.uuid4().bytes)
        await wait_until(lambda: runner.stats.dead_lettered == 1, message="dead-lettered")
        await sampler(app)
        assert gauge("crm_dlq_depth", topic=dlq) == before + 1
    finally:
        await sampler.close()
        await runner.stop()
        await producer.stop()
