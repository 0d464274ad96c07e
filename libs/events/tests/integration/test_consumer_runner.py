"""The consumer runner against a real broker and database: dedup, DLQ, retries, replay,
batches of records in one transaction and their fallback to one at a time."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
import sqlalchemy as sa
from aiokafka import TopicPartition
from asyncpg.exceptions import CannotConnectNowError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_events.consumer import ConsumerRunner, EventContext, Handlers, _Rebalance
from crm_events.dlq import DeadLetter, read_dead_letters, replay
from crm_events.envelope import Envelope
from crm_events.errors import RetryableEventError
from crm_events.kafka import delete_topics, ensure_topics, make_producer
from crm_events.registry import spec_for
from crm_events.schemas.obligations import ObligationCreated
from crm_events.topics import NAMESPACE_ENV, all_topics, physical
from crm_testing.kafka import produce_raw, publish_envelope, wait_until

from .conftest import effects

TOPIC = "obligations.v1"


def _event(note: str = "n", subject: str | None = None) -> Envelope:
    return spec_for("obligation.created").envelope(
        source="test",
        subject=subject or str(uuid.uuid4()),
        tenant="acme",
        correlation_id="corr",
        data=ObligationCreated(
            obligation_id=uuid.uuid4(),
            contract_id=uuid.uuid4(),
            kind=note,
            title="t",
            owner_role="r",
            severity="low",
            due_date="2026-04-01",
            created_at="2026-03-01T00:00:00Z",
        ),
    )


# Events of kind "not-yet" fail as "not yet" for their first second, "not-yet:S" for their
# first S seconds (what a handler does while the contract it needs is still held back on
# another topic).
_NOT_YET_UNTIL: dict[str, float] = {}
# Failures left to throw per event id, as PostgreSQL throws them while it shuts down.
SHUTTING_DOWN: dict[str, int] = {}


async def _record_effect(ctx: EventContext, event: ObligationCreated) -> None:
    if event.kind == "explode":
        raise RuntimeError("handler bug")
    if event.kind.startswith("not-yet"):
        seconds = float(event.kind.partition(":")[2] or 1.0)
        until = _NOT_YET_UNTIL.setdefault(ctx.envelope.id, time.monotonic() + seconds)
        if time.monotonic() < until:
            raise RetryableEventError("contract not known yet")
    if SHUTTING_DOWN.get(ctx.envelope.id, 0) > 0:
        SHUTTING_DOWN[ctx.envelope.id] -= 1
        raise DBAPIError(
            "SELECT 1", None, CannotConnectNowError("the database system is shutting down")
        )
    await ctx.session.execute(sa.insert(effects).values(event_id=ctx.envelope.id, note=event.kind))


HANDLERS: Handlers = {"obligation.created": [_record_effect]}


@asynccontextmanager
async def _runner(
    sessions: async_sessionmaker[AsyncSession],
    bootstrap: str,
    handlers: Handlers = HANDLERS,
    **kw: Any,
) -> AsyncIterator[ConsumerRunner]:
    producer = make_producer(bootstrap, client_id="runner-test")
    await producer.start()
    runner = ConsumerRunner(
        group_id=f"runner-{uuid.uuid4().hex[:6]}",
        topics=[TOPIC],
        handlers=handlers,
        session_factory=sessions,
        producer=producer,
        bootstrap_servers=bootstrap,
        source="test",
        backoff_initial=0.01,
        backoff_max=0.05,
        **kw,
    )
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()
        await producer.stop()


async def _effects(sessions: async_sessionmaker[AsyncSession], event_id: str) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(
                sa.select(sa.func.count())
                .select_from(effects)
                .where(effects.c.event_id == event_id)
            )
            or 0
        )


async def test_the_same_event_delivered_twice_has_one_effect(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    event = _event()
    marker = _event()
    async with _runner(sessions, kafka_bootstrap) as runner:
        await publish_envelope(kafka_bootstrap, event)
        await publish_envelope(kafka_bootstrap, event)  # a redelivery, e.g. after a crash
        await publish_envelope(kafka_bootstrap, marker)
        await wait_until(lambda: _effects(sessions, marker.id), message="marker handled")
        await wait_until(lambda: runner.stats.duplicates >= 1, message="duplicate seen")
    assert await _effects(sessions, event.id) == 1
    assert runner.stats.duplicates == 1


async def test_malformed_unknown_and_invalid_events_go_to_the_dlq_and_the_partition_moves_on(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    key = str(uuid.uuid4()).encode()  # one key: all on one partition, in this order
    unknown = Envelope(
        source="x",
        type="mystery.happened",
        subject=key.decode(),
        tenant="t",
        dataschema="mystery.happened@1",
        correlationid="c",
        data={},
    )
    invalid = Envelope(
        source="x",
        type="obligation.created",
        subject=key.decode(),
        tenant="t",
        dataschema="obligation.created@1",
        correlationid="c",
        data={"title": "no ids"},
    )
    good = _event(subject=key.decode())
    async with _runner(sessions, kafka_bootstrap) as runner:
        await produce_raw(kafka_bootstrap, TOPIC, b"{not json", key=key)
        await produce_raw(kafka_bootstrap, TOPIC, unknown.to_bytes(), key=key)
        await produce_raw(kafka_bootstrap, TOPIC, invalid.to_bytes(), key=key)
        await produce_raw(kafka_bootstrap, TOPIC, good.to_bytes(), key=key)
        await wait_until(lambda: _effects(sessions, good.id), message="good event handled")
    assert runner.stats.dead_lettered >= 3

    letters = [
        d
        for d in await read_dead_letters(kafka_bootstrap, physical(TOPIC) + ".dlq")
        if d.key == key
    ]
    reasons = [d.headers["dlq.reason"] for d in letters]
    assert reasons == ["undecodable", "unknown_type", "invalid_payload"]
    assert all(d.headers["dlq.original.topic"] == physical(TOPIC) for d in letters)
    assert "not JSON" in letters[0].headers["dlq.error.message"]
    assert "mystery.happened" in letters[1].headers["dlq.error.message"]
    assert "obligation_id" in letters[2].headers["dlq.error.message"]
    assert letters[0].value == b"{not json"


async def test_a_failing_handler_is_retried_then_dead_lettered_and_can_be_replayed(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    bad = _event(note="explode")
    after = _event()
    dlq = physical(TOPIC) + ".dlq"

    async def dead_letter_of_bad() -> DeadLetter | None:
        return next(
            (d for d in await read_dead_letters(kafka_bootstrap, dlq) if d.event_id == bad.id), None
        )

    async with _runner(sessions, kafka_bootstrap, max_attempts=3):
        await publish_envelope(kafka_bootstrap, bad)
        await publish_envelope(kafka_bootstrap, after)
        await wait_until(lambda: _effects(sessions, after.id), message="next event handled")
        letter = cast(DeadLetter, await wait_until(dead_letter_of_bad, message="dead-lettered"))
    assert await _effects(sessions, bad.id) == 0
    assert letter.headers["dlq.reason"] == "handler_failed"
    assert letter.headers["dlq.attempts"] == "3"
    assert "handler bug" in letter.headers["dlq.error.message"]

    # Fixed upstream: replay the corrected event; it is handled once.
    fixed = bad.model_copy(update={"data": {**bad.data, "kind": "fixed"}})
    async with _runner(sessions, kafka_bootstrap):
        await replay(kafka_bootstrap, letter, value=fixed.to_bytes())
        await wait_until(lambda: _effects(sessions, bad.id), message="replayed event handled")
        await asyncio.sleep(0.2)
    assert await _effects(sessions, bad.id) == 1


async def test_a_database_shutting_down_is_waited_out_not_dead_lettered(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    """'The database system is shutting down' (SQLSTATE 57P03) comes as a plain DBAPIError,
    not a connection error: it is an outage all the same, retried past max_attempts."""
    event = _event()
    SHUTTING_DOWN[event.id] = 6
    async with _runner(sessions, kafka_bootstrap, max_attempts=3):
        await publish_envelope(kafka_bootstrap, event)
        await wait_until(lambda: _effects(sessions, event.id), message="handled after the outage")
    assert SHUTTING_DOWN[event.id] == 0  # every failure was thrown, and waited out
    assert await _effects(sessions, event.id) == 1
    letters = await read_dead_letters(kafka_bootstrap, physical(TOPIC) + ".dlq")
    assert event.id not in {d.event_id for d in letters}


async def test_an_offset_left_for_a_partition_that_moved_does_not_block_later_commits(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    """An instance hung past its session timeout finishes, on waking, the batch it held of
    a partition the group has given to another member meanwhile. That offset is not this
    instance's to commit; kept pending, it made every later commit fail ("not assigned")."""
    event = _event()
    async with _runner(sessions, kafka_bootstrap) as runner:
        runner._pending[TopicPartition(physical(TOPIC), 99)] = 7  # the zombie's leftover
        await publish_envelope(kafka_bootstrap, event)
        await wait_until(lambda: _effects(sessions, event.id), message="handled")
        await wait_until(lambda: not runner._pending, message="every offset committed")
        consumer = runner._consumer
        assert consumer is not None
        for tp, done in runner._done.items():
            assert await consumer.committed(tp) == done
    assert await _effects(sessions, event.id) == 1


async def test_offsets_handled_under_a_revoked_assignment_are_not_committed_under_the_next(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    """A batch fetched just before a rebalance and handled after its partitions were
    revoked leaves its offsets pending; once the new assignment arrives they are stale
    (committing them could move an offset back) and are dropped, not committed."""
    async with _runner(sessions, kafka_bootstrap) as runner:
        await wait_until(lambda: bool(runner.stats.assigned), message="assigned")
        consumer = runner._consumer
        assert consumer is not None
        assigned = consumer.assignment()
        tp = next(iter(assigned))
        before = await consumer.committed(tp)
        runner._pending[tp] = 0  # handled after the revocation, from the old position
        await _Rebalance(runner).on_partitions_assigned(assigned)
        assert runner._pending == {}
        await runner._commit()
        assert await consumer.committed(tp) == before


async def test_a_second_instance_joining_mid_stream_loses_and_repeats_nothing(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    group = f"scale-{uuid.uuid4().hex[:6]}"
    events = [_event(note=f"n{i}") for i in range(60)]
    producer = make_producer(kafka_bootstrap, client_id="scale-test")
    await producer.start()

    def runner() -> ConsumerRunner:
        return ConsumerRunner(
            group_id=group,
            topics=[TOPIC],
            handlers=HANDLERS,
            session_factory=sessions,
            producer=producer,
            bootstrap_servers=kafka_bootstrap,
            source="test",
            max_records=5,
        )

    first, second = runner(), runner()
    try:
        await first.start()
        for event in events[:30]:
            await publish_envelope(kafka_bootstrap, event)
        await second.start()  # a rebalance while the first is busy
        for event in events[30:]:
            await publish_envelope(kafka_bootstrap, event)

        async def all_handled() -> bool:
            async with sessions() as session:
                ids = set((await session.scalars(sa.select(effects.c.event_id))).all())
            return all(e.id in ids for e in events)

        await wait_until(all_handled, timeout=60, message="every event handled")
        await wait_until(
            lambda: first.stats.assigned and second.stats.assigned,
            timeout=30,
            message="both instances own partitions",
        )
    finally:
        await second.stop()
        await first.stop()
        await producer.stop()
    async with sessions() as session:
        rows = (
            await session.execute(
                sa.select(effects.c.event_id, sa.func.count())
                .group_by(effects.c.event_id)
                .where(effects.c.event_id.in_([e.id for e in events]))
            )
        ).all()
    assert len(rows) == 60
    assert all(count == 1 for _, count in rows)


@asynccontextmanager
async def _fresh_topics(bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """A private topic namespace: a runner starting at the earliest offsets finds exactly
    the records the test produced before it started, all in its first fetch."""
    monkeypatch.setenv(NAMESPACE_ENV, f"batch-{uuid.uuid4().hex[:8]}")
    await ensure_topics(bootstrap, partitions=1)
    try:
        yield
    finally:
        await delete_topics(bootstrap, all_topics())


async def test_records_fetched_together_are_handled_in_one_transaction_once_each(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = str(uuid.uuid4())
    events = [_event(subject=key) for _ in range(5)]
    async with _fresh_topics(kafka_bootstrap, monkeypatch):
        for event in [*events, events[1]]:  # the second event delivered again
            await publish_envelope(kafka_bootstrap, event)
        async with _runner(sessions, kafka_bootstrap) as runner:
            await wait_until(
                lambda: runner.stats.handled + runner.stats.duplicates >= 6,
                message="all six records handled",
            )
    assert [await _effects(sessions, e.id) for e in events] == [1] * 5
    assert (runner.stats.handled, runner.stats.duplicates) == (5, 1)
    assert (runner.stats.batches, runner.stats.batch_fallbacks) == (1, 0)


async def test_a_poison_record_in_a_batch_is_dead_lettered_alone_the_others_handled_once(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = str(uuid.uuid4())
    before = [_event(subject=key) for _ in range(3)]
    bad = _event(note="explode", subject=key)
    after = [_event(subject=key) for _ in range(3)]
    async with _fresh_topics(kafka_bootstrap, monkeypatch):
        for event in [*before, bad, *after]:
            await publish_envelope(kafka_bootstrap, event)
        async with _runner(sessions, kafka_bootstrap, max_attempts=2) as runner:
            await wait_until(
                lambda: runner.stats.handled >= 6 and runner.stats.dead_lettered >= 1,
                message="six handled, one dead-lettered",
            )
        letters = await read_dead_letters(kafka_bootstrap, physical(TOPIC) + ".dlq")
    assert [await _effects(sessions, e.id) for e in [*before, *after]] == [1] * 6
    assert await _effects(sessions, bad.id) == 0
    assert [d.event_id for d in letters] == [bad.id]
    assert letters[0].headers["dlq.reason"] == "handler_failed"
    assert runner.stats.batch_fallbacks == 1
    assert (runner.stats.handled, runner.stats.dead_lettered) == (6, 1)


async def test_a_not_yet_event_is_retried_past_the_attempts_for_the_not_yet_window(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    # Two attempts at most 0.05 s apart are over long before the second the handler waits;
    # the not-yet window (5 s) keeps it retrying, in order, until it succeeds.
    waiting = _event(note="not-yet")
    after = _event(subject=waiting.subject)  # same partition, behind it
    dlq = physical(TOPIC) + ".dlq"
    async with _runner(sessions, kafka_bootstrap, max_attempts=2, not_yet_seconds=5.0):
        await publish_envelope(kafka_bootstrap, waiting)
        await publish_envelope(kafka_bootstrap, after)
        await wait_until(lambda: _effects(sessions, after.id), message="next event handled")
        assert await _effects(sessions, waiting.id) == 1  # handled first: order kept
    assert [
        d for d in await read_dead_letters(kafka_bootstrap, dlq) if d.event_id == waiting.id
    ] == []


async def test_a_not_yet_event_past_the_window_is_dead_lettered(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    waiting = _event(note="not-yet")
    dlq = physical(TOPIC) + ".dlq"

    async def dead_letter() -> DeadLetter | None:
        return next(
            (d for d in await read_dead_letters(kafka_bootstrap, dlq) if d.event_id == waiting.id),
            None,
        )

    async with _runner(sessions, kafka_bootstrap, max_attempts=2, not_yet_seconds=0.0):
        await publish_envelope(kafka_bootstrap, waiting)
        letter = cast(DeadLetter, await wait_until(dead_letter, message="dead-lettered"))
    assert letter.headers["dlq.attempts"] == "2"
    assert "not known yet" in letter.headers["dlq.error.message"]


async def test_a_parked_event_holds_its_partition_only(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    # The event waits 3 s for its contract; meanwhile events on the other partitions are
    # handled, the one behind it on its own partition is not, and nothing is dead-lettered.
    waiting = _event(note="not-yet:3")
    behind = _event(subject=waiting.subject)
    others = [_event() for _ in range(12)]  # random keys: some on other partitions
    dlq = physical(TOPIC) + ".dlq"

    async def any_other_handled() -> bool:
        return any([await _effects(sessions, e.id) for e in others])

    async with _runner(sessions, kafka_bootstrap, max_attempts=2, not_yet_seconds=30.0) as runner:
        await publish_envelope(kafka_bootstrap, waiting)
        await publish_envelope(kafka_bootstrap, behind)
        await wait_until(lambda: runner.stats.parked >= 1, message="partition parked")
        for event in others:
            await publish_envelope(kafka_bootstrap, event)
        await wait_until(any_other_handled, message="another partition handled")
        held = (await _effects(sessions, waiting.id), await _effects(sessions, behind.id))
        await wait_until(lambda: _effects(sessions, behind.id), message="behind handled")
        assert await _effects(sessions, waiting.id) == 1
    assert held == (0, 0)
    assert [
        d for d in await read_dead_letters(kafka_bootstrap, dlq) if d.event_id == waiting.id
    ] == []


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_partitions_are_handled_concurrency_at_a_time_each_in_order_once(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
    concurrency: int,
) -> None:
    # Four partitions' records in one fetch; the handler holds each event a moment. With
    # `concurrency` 2 two partitions are in their handlers at once, never three; each
    # partition's events keep their order; every event has one effect, a poison one in one
    # partition is dead-lettered without holding the others.
    monkeypatch.setenv(NAMESPACE_ENV, f"conc-{uuid.uuid4().hex[:8]}")
    await ensure_topics(kafka_bootstrap, partitions=4)
    subjects = [str(uuid.uuid4()) for _ in range(8)]
    events = [_event(note=f"n{i}", subject=subjects[i % 8]) for i in range(48)]
    poison = _event(note="explode", subject=subjects[0])
    handled: list[tuple[str, str]] = []  # (subject, note) in the order handled
    busy = {"now": 0, "most": 0}

    async def slow_effect(ctx: EventContext, event: ObligationCreated) -> None:
        busy["now"] += 1
        busy["most"] = max(busy["most"], busy["now"])
        try:
            await asyncio.sleep(0.01)
            await _record_effect(ctx, event)
        finally:
            busy["now"] -= 1
        handled.append((ctx.envelope.subject, event.kind))

    try:
        for event in [*events[:20], poison, *events[20:]]:
            await publish_envelope(kafka_bootstrap, event)
        async with _runner(
            sessions,
            kafka_bootstrap,
            handlers={"obligation.created": [slow_effect]},
            max_attempts=1,
            concurrency=concurrency,
        ) as runner:
            await wait_until(
                lambda: runner.stats.handled >= 48 and runner.stats.dead_lettered >= 1,
                timeout=60,
                message="48 handled, one dead-lettered",
            )
    finally:
        await delete_topics(kafka_bootstrap, all_topics())
    assert [await _effects(sessions, e.id) for e in events] == [1] * 48
    assert await _effects(sessions, poison.id) == 0
    assert busy["most"] == concurrency
    for subject in subjects:
        # Per key (one partition), the order published, whatever was retried alone.
        notes = [note for s, note in handled if s == subject and note != "explode"]
        published = [e.data["kind"] for e in events if e.subject == subject]
        assert _without_repeats(notes) == published


def _without_repeats(notes: list[str]) -> list[str]:
    """The order of first handling: a batch rolled back (the poison in it) is handled again
    one record at a time, so its records appear twice."""
    seen: dict[str, None] = {}
    for note in notes:
        seen.setdefault(note, None)
    return list(seen)
