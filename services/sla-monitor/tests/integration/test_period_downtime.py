"""Stored period downtime figures across many batches: what the early warnings read equals a
recomputation of the period from every span, whatever order and split the telemetry came in,
and a change of exclusions is picked up."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sla_harness import Harness, sla_with
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.telemetry import OutageItem
from crm_testing import examples
from sla_monitor.attainment.compute import Computation, SlaRef, compute
from sla_monitor.attainment.domain import Interval, period_bounds
from sla_monitor.attainment.downtime_store import fold_span_changes
from sla_monitor.models import Outage, PeriodDowntimeRow
from sla_monitor.telemetry import repository as repo

MARCH_START = datetime(2026, 3, 1, 5, tzinfo=UTC)  # New York's March, in UTC
ADHOC = {
    "start": "2026-03-14T03:00:00Z",
    "end": "2026-03-14T06:00:00Z",
    "reason": "Emergency storage patch CHG0042",
    "approved_by": "J. Smith (Acme change board)",
    "sla_codes": ["AVAIL-CORE"],
}


def outage(start: datetime, seconds: int) -> dict[str, Any]:
    return {
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(seconds=seconds)).isoformat(),
    }


def sample(at: datetime, status: str) -> dict[str, Any]:
    return {"kind": "sample", "observed_at": at.isoformat(), "status": status}


def month_of_telemetry(rnd: random.Random) -> list[dict[str, Any]]:
    """One-second outages at their own seconds, long ones over them and over the agreed
    maintenance window, duplicates, and down runs of samples overlapping outages."""
    items: list[dict[str, Any]] = []
    day14 = datetime(2026, 3, 14, tzinfo=UTC)
    for n in range(120):
        items.append(outage(day14 + timedelta(hours=1, seconds=2 * n), 1))
    items.append(outage(day14 + timedelta(hours=1, seconds=100), 90))  # swallows some
    items.append(outage(datetime(2026, 3, 14, 5, 30, tzinfo=UTC), 3600))  # across the window
    for _ in range(40):
        at = MARCH_START + timedelta(seconds=rnd.randrange(0, 30 * 86_400))
        items.append(outage(at, rnd.randrange(1, 7200)))
    for _ in range(15):
        at = MARCH_START + timedelta(seconds=rnd.randrange(0, 30 * 86_400))
        items += [sample(at, "down"), sample(at + timedelta(minutes=rnd.randrange(1, 90)), "up")]
    items += rnd.sample(items, 20)  # reported twice
    rnd.shuffle(items)
    return items


async def in_session(harness: Harness, *, evidence: bool) -> Computation:
    sla = harness.terms.sla_definitions[0]
    ref = SlaRef(harness.contract_id, "acme-bank", harness.terms, sla)
    period = period_bounds(examples.PERIOD, harness.terms.timezone)
    session: AsyncSession
    async with harness.app.state.session_factory() as session:
        return await compute(session, ref, period, evidence=evidence)


async def stored_row(harness: Harness) -> PeriodDowntimeRow | None:
    async with harness.app.state.session_factory() as session:
        return await session.scalar(
            sa.select(PeriodDowntimeRow).where(
                PeriodDowntimeRow.contract_id == harness.contract_id,
                PeriodDowntimeRow.sla_code == "AVAIL-CORE",
            )
        )


def figures(c: Computation) -> tuple[Any, ...]:
    a = c.availability
    assert a is not None
    return (
        a.period_seconds,
        a.excluded_seconds,
        a.downtime_seconds,
        a.reported_downtime_seconds,
        c.attainment,
        c.outcome,
        c.has_data,
    )


async def post_in_batches(harness: Harness, items: list[dict[str, Any]], rnd: random.Random) -> int:
    posted = 0
    while posted < len(items):
        size = rnd.randrange(1, 25)
        answer = await harness.post(*items[posted : posted + size])
        assert answer.status_code == 202, answer.text
        posted += size
    return posted


async def test_stored_figures_equal_a_recomputation_after_many_batches(harness: Harness) -> None:
    rnd = random.Random(20260302)
    items = month_of_telemetry(rnd)
    await post_in_batches(harness, items, rnd)

    row = await stored_row(harness)
    assert row is not None and row.spans > 100
    full = await in_session(harness, evidence=True)
    stored = await in_session(harness, evidence=False)
    assert figures(stored) == figures(full)
    assert full.availability is not None and full.availability.downtime_seconds > 0
    assert stored.explanation == full.explanation


async def test_the_same_telemetry_in_another_order_and_split_gives_the_same_figures(
    harness: Harness, kafka_bootstrap: str
) -> None:
    rnd = random.Random(7)
    items = month_of_telemetry(rnd)
    await post_in_batches(harness, items, rnd)
    first = figures(await in_session(harness, evidence=False))

    # Another contract on its own service key gets the same telemetry reversed, in other
    # batches.
    key = f"{harness.service_key}-again"
    avail = sla_with(harness.terms.sla_definitions[0], service_key=key)
    harness.contract_id = await harness.activate(kafka_bootstrap, sla_definitions=[avail])
    harness.terms = harness.terms.model_copy(
        update={"contract_id": harness.contract_id, "sla_definitions": [avail]}
    )
    await post_in_batches(harness, list(reversed(items)), random.Random(8))
    assert figures(await in_session(harness, evidence=False)) == first
    assert figures(await in_session(harness, evidence=True)) == first


async def test_an_approved_maintenance_window_moves_the_stored_figures(harness: Harness) -> None:
    rnd = random.Random(14)
    await post_in_batches(harness, month_of_telemetry(rnd), rnd)
    before = figures(await in_session(harness, evidence=False))
    approved = await harness.client.post(
        f"/contracts/{harness.contract_id}/maintenance-windows", json=ADHOC
    )
    assert approved.status_code == 201, approved.text
    # The exclusions changed without a span changing: the stored basis no longer holds.
    after = figures(await in_session(harness, evidence=False))
    assert after == figures(await in_session(harness, evidence=True))
    assert after[1] > before[1]  # more excluded
    # The next batch re-measures the period on the new basis and keeps folding from there.
    answer = await harness.post(outage(datetime(2026, 3, 20, 10, tzinfo=UTC), 600))
    assert answer.status_code == 202
    folded = figures(await in_session(harness, evidence=False))
    assert folded == figures(await in_session(harness, evidence=True))
    assert folded[2] > after[2]
    row = await stored_row(harness)
    assert row is not None and len(row.excluded_starts) > 0


async def test_rows_written_on_the_driver_connection_roll_back_with_the_session(
    harness: Harness,
) -> None:
    """Raw rows, spans and the span lock go through the asyncpg connection under the
    session: they must be inside the session's transaction, or a batch failing after its
    raw rows would leave them behind (and the lock would end with its own statement)."""
    key = f"rollback-{uuid.uuid4().hex[:8]}"
    item = OutageItem(
        service_key=key,
        started_at=datetime(2026, 3, 3, 10, tzinfo=UTC),
        ended_at=datetime(2026, 3, 3, 11, tzinfo=UTC),
    )
    factory = harness.app.state.session_factory
    with pytest.raises(RuntimeError):
        async with factory() as session, session.begin():
            db = await repo.driver(session)
            assert await repo.insert_outages(db, "acme-bank", [item])
            raise RuntimeError("the batch fails after its raw rows")
    async with factory() as session:
        stored = await session.scalar(
            sa.select(sa.func.count()).select_from(Outage).where(Outage.service_key == key)
        )
    assert stored == 0


async def test_a_change_the_spans_do_not_show_drops_the_stored_figures_of_the_key(
    harness: Harness,
) -> None:
    """Should a written span be missing when the region is read back, the batch goes on and
    the key's stored figures are dropped, to be measured again from the spans."""
    await harness.post(outage(datetime(2026, 3, 5, 10, tzinfo=UTC), 60))
    assert await stored_row(harness) is not None
    ghost = Interval(datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 3, 6, 1, tzinfo=UTC))
    factory = harness.app.state.session_factory
    async with factory() as session, session.begin():
        db = await repo.driver(session)
        await repo.lock_service_keys(db, "acme-bank", [harness.service_key])
        await fold_span_changes(session, db, "acme-bank", {}, {harness.service_key: [ghost]})
    assert await stored_row(harness) is None
    await harness.post(outage(datetime(2026, 3, 7, 10, tzinfo=UTC), 60))
    row = await stored_row(harness)
    assert row is not None and row.downtime_seconds == 120
    assert figures(await in_session(harness, evidence=False)) == figures(
        await in_session(harness, evidence=True)
    )
