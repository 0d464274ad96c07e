"""The relay publishes what was committed, even when it dies between commit and publish."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_events.envelope import Envelope
from crm_events.kafka import make_producer
from crm_events.outbox import (
    OutboxRelay,
    collect_staged,
    pending_count,
    publish,
    publish_many,
    write_staged,
)
from crm_events.registry import spec_for
from crm_events.schemas.alerts import AlertRaised
from crm_events.tables import outbox_table
from crm_testing.kafka import EventCollector, wait_until


def _alert_event(contract_id: uuid.UUID) -> Envelope:
    return spec_for("alert.raised").envelope(
        source="test",
        subject=str(contract_id),
        tenant="acme",
        correlation_id="corr-1",
        data=AlertRaised(
            alert_id=uuid.uuid4(),
            contract_id=contract_id,
            severity="high",
            title="t",
            dedup_key=str(contract_id),
            source_event_id="e",
            source_event_type="x",
            details={},
            raised_at=datetime(2026, 3, 1, tzinfo=UTC),
        ),
    )


# A relay in its own process that claims the pending rows, says so, and hangs before
# publishing: the test kills it there with SIGKILL.
_HANGING_RELAY = textwrap.dedent("""
    import asyncio, sys
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from crm_events.kafka import make_producer
    from crm_events.outbox import OutboxRelay

    async def main():
        engine = create_async_engine(sys.argv[1])
        producer = make_producer(sys.argv[2], client_id="doomed-relay")
        await producer.start()
        async def hang(rows):
            print("claimed", len(rows), flush=True)
            await asyncio.sleep(3600)
        relay = OutboxRelay(async_sessionmaker(engine), producer, before_publish=hang)
        await relay.publish_pending()

    asyncio.run(main())
""")


async def test_relay_killed_between_commit_and_publish_publishes_after_restart(
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    kafka_bootstrap: str,
) -> None:
    contract_id = uuid.uuid4()
    envelope = _alert_event(contract_id)
    async with sessions() as session, session.begin():
        await publish(session, envelope)  # committed with the (here empty) state change

    async with EventCollector(kafka_bootstrap, ["alerts.v1"]) as collector:
        # The point is a separate process we can SIGKILL.
        doomed = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-c", _HANGING_RELAY, database_url, kafka_bootstrap],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert doomed.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(doomed.stdout.readline), 60)
            assert line.startswith("claimed 1")
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait(timeout=10)
        finally:
            if doomed.poll() is None:
                doomed.kill()
        await asyncio.sleep(0.5)
        assert collector.of_type("alert.raised") == []
        async with sessions() as session:
            assert await pending_count(session) == 1

        producer = make_producer(kafka_bootstrap, client_id="relay-2")
        await producer.start()
        relay = OutboxRelay(sessions, producer, idle_interval=0.05)
        relay.start()
        try:
            found = await collector.wait_for(lambda e: e.id == envelope.id, timeout=30)

            # The event reaches Kafka before the relay's transaction marks its row sent:
            # stopping the relay in between would roll the mark back.
            async def marked() -> bool:
                async with sessions() as session:
                    return await pending_count(session) == 0

            await wait_until(marked, message="the row marked published")
        finally:
            await relay.stop()
            await producer.stop()
    assert found[0].subject == str(contract_id)
    assert found[0].correlationid == "corr-1"
    async with sessions() as session:
        assert await pending_count(session) == 0
        published_at = await session.scalar(
            sa.select(outbox_table.c.published_at).where(outbox_table.c.event_id == envelope.id)
        )
        assert published_at is not None


async def test_relay_publishes_in_commit_order_and_wakes_on_commit(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    contract_id = uuid.uuid4()
    producer = make_producer(kafka_bootstrap, client_id="relay-order")
    await producer.start()
    # A long idle interval: only the after-commit wake-up can make this fast.
    relay = OutboxRelay(sessions, producer, idle_interval=30)
    relay.start()
    try:
        async with EventCollector(kafka_bootstrap, ["alerts.v1"]) as collector:
            await asyncio.sleep(0.3)
            ids = []
            for _ in range(5):
                env = _alert_event(contract_id)
                ids.append(env.id)
                async with sessions() as session, session.begin():
                    await publish(session, env)
            await collector.wait_for(lambda e: e.subject == str(contract_id), count=5, timeout=10)
            got = [e.id for e in collector.events if e.subject == str(contract_id)]
            assert got == ids
    finally:
        await relay.stop()
        await producer.stop()


async def test_a_second_relay_does_not_publish_while_the_first_holds_the_lock(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    async with sessions() as session, session.begin():
        await publish(session, _alert_event(uuid.uuid4()))
    producer = make_producer(kafka_bootstrap, client_id="relay-lock")
    await producer.start()
    try:
        gate = asyncio.Event()

        async def hold(rows: object) -> None:
            await gate.wait()

        first = OutboxRelay(sessions, producer, before_publish=hold)
        second = OutboxRelay(sessions, producer)
        first_run = asyncio.create_task(first.publish_pending())
        await wait_until(lambda: gate is not None, timeout=1)
        await asyncio.sleep(0.3)
        assert await second.publish_pending() == 0  # the first one has the lock
        gate.set()
        assert await first_run == 1
        async with sessions() as session:
            assert await pending_count(session) == 0
    finally:
        await producer.stop()


async def test_staged_events_are_collected_in_call_order_and_written_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    events = [_alert_event(uuid.uuid4()) for _ in range(5)]
    async with sessions() as session, session.begin():
        collect_staged(session)
        await publish(session, events[0])
        await publish_many(session, events[1:3])
        await publish(session, events[3])
        # Nothing written yet: a failure before write_staged leaves no row behind.
        assert await session.scalar(sa.select(sa.func.count()).select_from(outbox_table)) == 0
        await publish_many(session, events[4:])
        await write_staged(session)
        await publish(session, _alert_event(uuid.uuid4()))  # not collecting any more: at once
        ids = list(
            await session.scalars(sa.select(outbox_table.c.event_id).order_by(outbox_table.c.id))
        )
    assert ids[:5] == [e.id for e in events]
    assert len(ids) == 6
