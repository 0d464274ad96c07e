"""Batched handlers against a real broker and database: a run of records of one type in one
call, duplicates left out, deferred work once per key before the commit, and the fallback
to one-element calls when the run's transaction fails."""

import uuid
from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_events.consumer import BatchHandler, Delivered, EventContext, Handlers, batched
from crm_events.dlq import read_dead_letters
from crm_events.schemas.obligations import ObligationCreated
from crm_events.topics import physical
from crm_testing.kafka import publish_envelope, wait_until

from .conftest import effects
from .test_consumer_runner import TOPIC, _effects, _event, _fresh_topics, _runner


def _recording_handlers(calls: list[list[str]]) -> Handlers:
    """A batched handler that records each call's event ids, writes one effect per event and
    defers, per subject, one "deferred" effect noting how many effects it saw."""

    @batched
    async def on_created(events: Sequence[Delivered[ObligationCreated]]) -> None:
        calls.append([e.ctx.envelope.id for e in events])
        session = events[0].ctx.session
        if any(e.payload.kind == "explode" for e in events):
            raise RuntimeError("handler bug")
        await session.execute(
            sa.insert(effects),
            [{"event_id": e.ctx.envelope.id, "note": e.payload.kind} for e in events],
        )
        for e in events:
            subject = e.ctx.envelope.subject

            async def note_total(subject: str = subject) -> None:
                seen = await session.scalar(
                    sa.select(sa.func.count()).select_from(effects).where(effects.c.note == "n")
                )
                await session.execute(
                    sa.insert(effects).values(event_id=f"deferred:{subject}", note=str(seen))
                )

            e.ctx.defer(("total", subject), note_total)

    return {"obligation.created": [on_created]}


async def _deferred_notes(sessions: async_sessionmaker[AsyncSession], subject: str) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            sa.select(effects.c.note)
            .where(effects.c.event_id == f"deferred:{subject}")
            .order_by(effects.c.id)
        )
        return list(rows)


async def test_a_run_of_one_type_is_one_call_without_duplicates_and_deferred_work_runs_once(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = str(uuid.uuid4())
    events = [_event(subject=key) for _ in range(5)]
    calls: list[list[str]] = []
    async with _fresh_topics(kafka_bootstrap, monkeypatch):
        for event in [*events, events[1], events[3]]:  # two redelivered in the same chunk
            await publish_envelope(kafka_bootstrap, event)
        handlers = _recording_handlers(calls)
        async with _runner(sessions, kafka_bootstrap, handlers) as runner:
            await wait_until(
                lambda: runner.stats.handled + runner.stats.duplicates >= 7,
                message="all seven records handled",
            )
    assert calls == [[e.id for e in events]]
    assert [await _effects(sessions, e.id) for e in events] == [1] * 5
    # Deferred once for the five events of the subject, after all five were written.
    assert await _deferred_notes(sessions, key) == ["5"]
    assert (runner.stats.handled, runner.stats.duplicates) == (5, 2)
    assert (runner.stats.batches, runner.stats.batch_fallbacks) == (1, 0)


async def test_a_failing_run_is_handled_again_one_event_per_call_and_transaction(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = str(uuid.uuid4())
    good = [_event(subject=key) for _ in range(4)]
    bad = _event(note="explode", subject=key)
    ordered = [good[0], good[1], bad, good[2], good[3]]
    calls: list[list[str]] = []
    async with _fresh_topics(kafka_bootstrap, monkeypatch):
        for event in ordered:
            await publish_envelope(kafka_bootstrap, event)
        handlers = _recording_handlers(calls)
        async with _runner(sessions, kafka_bootstrap, handlers, max_attempts=2) as runner:
            await wait_until(
                lambda: runner.stats.handled >= 4 and runner.stats.dead_lettered >= 1,
                message="four handled, one dead-lettered",
            )
        letters = await read_dead_letters(kafka_bootstrap, physical(TOPIC) + ".dlq")
    # The whole run first (rolled back), then one event per call, the bad one twice.
    assert calls[0] == [e.id for e in ordered]
    assert calls[1:] == [[good[0].id], [good[1].id], [bad.id], [bad.id], [good[2].id], [good[3].id]]
    assert [await _effects(sessions, e.id) for e in good] == [1] * 4
    assert await _effects(sessions, bad.id) == 0
    assert [d.event_id for d in letters] == [bad.id]
    # One transaction per event now: the deferred work ran in each, after its own event.
    assert await _deferred_notes(sessions, key) == ["1", "2", "3", "4"]
    assert runner.stats.batch_fallbacks == 1


async def test_a_batched_handler_beside_a_plain_one_takes_its_events_one_per_call(
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A type with any plain handler goes one event at a time; a shared batched handler in
    its list (the contract-terms projection beside a service's own) gets one-event calls,
    in the list's order."""
    key = str(uuid.uuid4())
    events = [_event(subject=key) for _ in range(3)]
    calls: list[list[str]] = []
    order: list[str] = []
    [projection] = _recording_handlers(calls)["obligation.created"]
    assert isinstance(projection, BatchHandler)

    async def plain(ctx: EventContext, event: ObligationCreated) -> None:
        order.append(f"plain:{ctx.envelope.id}")

    async def first(events: Sequence[Delivered[ObligationCreated]]) -> None:
        order.append(f"batched:{events[0].ctx.envelope.id}")
        await projection(events)

    async with _fresh_topics(kafka_bootstrap, monkeypatch):
        for event in events:
            await publish_envelope(kafka_bootstrap, event)
        handlers: Handlers = {"obligation.created": [batched(first), plain]}
        async with _runner(sessions, kafka_bootstrap, handlers) as runner:
            await wait_until(lambda: runner.stats.handled >= 3, message="all three handled")
    assert calls == [[e.id] for e in events]
    assert order == [f"{kind}:{e.id}" for e in events for kind in ("batched", "plain")]
    assert [await _effects(sessions, e.id) for e in events] == [1] * 3
    assert runner.stats.batch_fallbacks == 0
