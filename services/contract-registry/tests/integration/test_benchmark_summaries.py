"""The benchmark counts kept at ingest equal a recount of the rows after any sequence of
events, in any batches: closes, restatements (also an older one arriving late), revised
credits and charges, redeliveries; and the benchmarks read from them equal the Python
reference over every row (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from contract_registry.benchmarks import reference, summaries
from contract_registry.benchmarks.contributions import Contribution
from contract_registry.benchmarks.service import compute
from contract_registry.health import ingest
from contract_registry.main import MIGRATIONS
from contract_registry.models import (
    BenchmarkContract,
    BenchmarkCount,
    BenchmarkPeriod,
    HealthCharges,
    HealthCredit,
    HealthSlaPeriod,
)
from crm_platform.auth import Principal
from crm_platform.migrations import upgrade
from crm_testing.infra import create_database, drop_database

NOW = datetime(2026, 4, 20, tzinfo=UTC)
CONTRACTS = [
    (uuid.UUID(int=n + 1), tenant) for n, tenant in enumerate(("bank-a", "bank-b", "bank-a"))
]
PERIODS = ("2026-02", "2026-03")
SLAS = ("AVAIL", "LAT")
MODELS = (HealthSlaPeriod, HealthCredit, HealthCharges, BenchmarkPeriod, BenchmarkCount,
          BenchmarkContract)  # fmt: skip


@pytest.fixture(scope="module")
async def sessions(postgres_server_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = await create_database(postgres_server_url, "t_benchmark_summaries")
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    engine = create_async_engine(url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()
    await drop_database(postgres_server_url, url)


def money(high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(0, high * 100).map(lambda cents: Decimal(cents).scaleb(-2))


CONTRACT = st.sampled_from(CONTRACTS)
PERIOD = st.sampled_from(PERIODS)
SLA = st.sampled_from(SLAS)
KIND = st.sampled_from([("availability", None), ("measurement", "ms"), ("measurement", "%")])
LINE = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(("base", "arc", "rrc", "other")),
        "item_code": st.sampled_from(("SRV", "TCK")),
        "amount": st.integers(-5000, 20000).map(lambda n: str(Decimal(n).scaleb(-2))),
    }
)


@st.composite
def sla_row(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    (cid, tenant), (kind, unit) = draw(CONTRACT), draw(KIND)
    return "sla", {
        "contract_id": cid, "period_label": draw(PERIOD), "sla_code": draw(SLA),
        "tenant_id": tenant, "metric_kind": kind, "unit": unit,
        "outcome": draw(st.sampled_from(("met", "failed", "no_data"))),
        "attainment": draw(st.none() | st.integers(0, 10**6).map(lambda n: Decimal(n).scaleb(-4))),
        "expected_level": Decimal("99.9"), "minimum_level": Decimal("99.5"),
        "restatement": draw(st.integers(0, 2)), "updated_at": NOW,
    }  # fmt: skip


@st.composite
def credit_row(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    cid, tenant = draw(CONTRACT)
    return "credit", {
        "contract_id": cid, "period_label": draw(PERIOD), "sla_code": draw(SLA),
        "tenant_id": tenant, "credit_amount": draw(money(500)),
        "monthly_charges": draw(money(3000)), "at_risk_amount": Decimal("100.00"),
        "revision": draw(st.integers(1, 3)), "updated_at": NOW,
    }  # fmt: skip


@st.composite
def charges_row(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    cid, tenant = draw(CONTRACT)
    return "charges", {
        "contract_id": cid, "period_label": draw(PERIOD), "tenant_id": tenant,
        "monthly_charges": draw(money(3000)), "expected_total": Decimal("1000.00"),
        "lines": draw(st.lists(LINE, max_size=5)), "revision": draw(st.integers(1, 3)),
        "updated_at": NOW,
    }  # fmt: skip


Event = tuple[str, dict[str, Any]]
EVENTS = st.lists(st.one_of(sla_row(), credit_row(), charges_row()), min_size=1, max_size=24)
RECORD = {
    "sla": ingest.record_sla_periods,
    "credit": ingest.record_credits,
    "charges": ingest.record_charges,
}


async def _apply(session: AsyncSession, batch: list[Event]) -> None:
    """As the runner and the handlers do: each run of one type in one call, the changed
    contract periods refreshed once before the commit."""
    changed: dict[summaries.Key, str] = {}
    start = 0
    while start < len(batch):
        end = start
        while end < len(batch) and batch[end][0] == batch[start][0]:
            end += 1
        changed |= await RECORD[batch[start][0]](session, [row for _, row in batch[start:end]])
        start = end
    await summaries.refresh(session, changed)


async def _kept(session: AsyncSession) -> summaries.Recount:
    b, c = BenchmarkCount, BenchmarkContract
    periods = {
        (cid, label): (tenant, Contribution.from_json(summary))
        for cid, label, tenant, summary in await session.execute(
            sa.select(
                BenchmarkPeriod.contract_id,
                BenchmarkPeriod.period_label,
                BenchmarkPeriod.tenant_id,
                BenchmarkPeriod.summary,
            )
        )
    }
    counts: Counter[summaries.CountKey] = Counter()
    for *key, n in await session.execute(
        sa.select(b.tenant_id, b.period_label, b.series, b.grp, b.value, b.n)
    ):
        counts[tuple(key)] = n  # type: ignore[index]
    members = {
        (cid, family, grp, tenant): periods
        for cid, family, grp, tenant, periods in await session.execute(
            sa.select(c.contract_id, c.family, c.grp, c.tenant_id, c.periods)
        )
    }
    return summaries.Recount(periods, counts, members)


async def _recounted(session: AsyncSession) -> summaries.Recount:
    queries = summaries._input_queries(None)
    rows = [(await session.execute(q)).all() for q in queries]
    return summaries.recount(summaries._group_inputs(*rows))


async def _reset(session: AsyncSession) -> None:
    for model in MODELS:
        await session.execute(sa.delete(model))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=EVENTS, cuts=st.lists(st.integers(1, 6), max_size=8), data=st.data())
async def test_kept_counts_equal_a_recount_after_any_sequence_of_events(
    sessions: async_sessionmaker[AsyncSession],
    events: list[Event],
    cuts: list[int],
    data: st.DataObject,
) -> None:
    # Redeliveries: some events come again later (the inbox would stop them; the read
    # model must not mind either way).
    again = data.draw(st.lists(st.sampled_from(events), max_size=4))
    delivered = events + again
    async with sessions() as session:
        await _reset(session)
        start = 0
        for size in [*cuts, len(delivered)]:
            batch = delivered[start : start + size]
            if batch:
                await _apply(session, batch)
            start += size
            if start >= len(delivered):
                break
        kept = await _kept(session)
        recounted = await _recounted(session)
        assert kept.periods == recounted.periods
        assert kept.counts == recounted.counts
        assert kept.members == recounted.members
        for tenant in ("bank-a", "bank-b", None):
            for bounds in ((None, None), ("2026-03", None), (None, "2026-02")):
                args: dict[str, Any] = {
                    "principal": Principal(tenant),
                    "metric_kind": None,
                    "resource_unit": None,
                    "period_from": bounds[0],
                    "period_to": bounds[1],
                }
                got = await compute(session=session, **args)
                assert got == await reference.benchmarks(session=session, **args)
        await session.rollback()


async def test_an_older_restatement_arriving_late_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    cid, tenant = CONTRACTS[0]
    row = {
        "contract_id": cid, "period_label": "2026-03", "sla_code": "AVAIL", "tenant_id": tenant,
        "metric_kind": "availability", "unit": None, "outcome": "failed",
        "attainment": Decimal("98.5"), "expected_level": Decimal("99.9"),
        "minimum_level": Decimal("99.5"), "restatement": 2, "updated_at": NOW,
    }  # fmt: skip
    older = row | {"outcome": "met", "attainment": Decimal("99.95"), "restatement": 1}
    async with sessions() as session:
        await _reset(session)
        await _apply(session, [("sla", row)])
        before = await _kept(session)
        await _apply(session, [("sla", older)])
        assert await _kept(session) == before
        got = await compute(
            session=session,
            principal=Principal(tenant),
            metric_kind=None,
            resource_unit=None,
            period_from=None,
            period_to=None,
        )
        await session.rollback()
    (kind,) = got.sla_metric_kinds
    assert (kind.outcomes["failed"], kind.outcomes["met"]) == (1, 0)
    assert kind.attainment.p50 == Decimal("98.5000")


async def test_sla_and_billing_consumers_on_one_contract_period_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Two transactions change the same contract period concurrently (an SLA period and its
    charges): the second waits for the first's lock and sees its rows, so the counts hold
    both."""
    cid, tenant = CONTRACTS[1]
    sla = {
        "contract_id": cid, "period_label": "2026-02", "sla_code": "AVAIL", "tenant_id": tenant,
        "metric_kind": "availability", "unit": None, "outcome": "met",
        "attainment": Decimal("99.95"), "expected_level": Decimal("99.9"),
        "minimum_level": Decimal("99.5"), "restatement": 0, "updated_at": NOW,
    }  # fmt: skip
    charges = {
        "contract_id": cid, "period_label": "2026-02", "tenant_id": tenant,
        "monthly_charges": Decimal("1000.00"), "expected_total": Decimal("1000.00"),
        "lines": [{"kind": "base", "item_code": "SRV", "amount": "1000.00"}], "revision": 1,
        "updated_at": NOW,
    }  # fmt: skip
    async with sessions() as session, session.begin():
        await _reset(session)

    async def deliver(event: Event) -> None:
        async with sessions() as session, session.begin():
            await _apply(session, [event])
            await asyncio.sleep(0.2)  # hold the locks while the other one starts

    await asyncio.gather(deliver(("sla", sla)), deliver(("charges", charges)))
    async with sessions() as session:
        kept, recounted = await _kept(session), await _recounted(session)
        got = await compute(
            session=session,
            principal=Principal(tenant),
            metric_kind=None,
            resource_unit=None,
            period_from=None,
            period_to=None,
        )
    assert kept == recounted
    (kind,) = got.sla_metric_kinds
    assert kind.credit_rate_pct.count == 1  # the SLA period met the charges
    assert [u.resource_unit for u in got.resource_units] == ["SRV"]
