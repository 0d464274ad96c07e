"""The health figures and portfolio benchmarks PostgreSQL aggregates equal the Python
reference over the same rows (random read models, real PostgreSQL): per contract, the
period totals and the scores decided on them (health/queries.py vs scoring.totals_of);
for the portfolio, every count and percentile (benchmarks/queries.py vs reference.py),
per tenant or across all, with each filter."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from contract_registry.benchmarks import reference, summaries
from contract_registry.benchmarks.schemas import Benchmarks
from contract_registry.benchmarks.service import benchmarks, compute
from contract_registry.health import ingest
from contract_registry.health.queries import period_totals
from contract_registry.health.scoring import period_health, score_period, totals_of
from contract_registry.health.service import period_facts
from contract_registry.main import MIGRATIONS
from contract_registry.models import (
    HealthCharges,
    HealthCredit,
    HealthInvoice,
    HealthObligation,
    HealthSlaPeriod,
)
from crm_events.schemas.contracts import MetricKind
from crm_events.schemas.sla import MeasurementFigures, SlaPeriodClosed
from crm_platform.auth import Principal
from crm_platform.migrations import upgrade
from crm_testing import examples
from crm_testing.infra import create_database, drop_database

NOW = datetime(2026, 4, 20, tzinfo=UTC)
TENANTS = ("bank-a", "bank-b")
PERIODS = ("2026-01", "2026-02", "2026-03", "2026-Q1", "2026-04")
SLAS = ("AVAIL", "P1-RES", "a-2")
KINDS = ("availability", "incident_resolution", "measurement")
UNITS = ("SRV-WIN", "TCK-L1", "")
MODELS = (HealthSlaPeriod, HealthCredit, HealthCharges, HealthInvoice, HealthObligation)


@pytest.fixture(scope="module")
async def sessions(postgres_server_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = await create_database(postgres_server_url, "t_health_sql")
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    engine = create_async_engine(url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()
    await drop_database(postgres_server_url, url)


def money(low: int = -50_000, high: int = 100_000) -> st.SearchStrategy[Decimal]:
    return st.integers(low * 100, high * 100).map(lambda cents: Decimal(cents).scaleb(-2))


ATTAINMENT = st.none() | st.integers(0, 1_000_000).map(lambda n: Decimal(n).scaleb(-4))
DAYS = st.dates(date(2026, 1, 1), date(2026, 6, 30))


OUTCOMES = st.sampled_from(("met", "below_expected", "failed", "no_data"))
LINE = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(("base", "base", "arc", "rrc", "other")),
        "item_code": st.sampled_from(UNITS),
        "amount": money(-20_000, 60_000).map(str),
    }
)
# A measurement SLA's attainment is a value in its unit: ms and % never pooled.
KIND_AND_UNIT = st.sampled_from(KINDS[:2]).map(lambda k: (k, None)) | st.tuples(
    st.just("measurement"), st.sampled_from(("ms", "requests/s", None))
)
SUMS = st.dictionaries(st.sampled_from(("overbilled", "unapplied_credit")), money())


@st.composite
def read_models(draw: st.DrawFn) -> dict[type, list[dict[str, Any]]]:
    """A few contracts of two tenants with random facts in every table."""
    n = draw(st.integers(1, 4))
    tenant_of = {uuid.uuid4(): draw(st.sampled_from(TENANTS)) for _ in range(n)}
    cid, label = st.sampled_from(sorted(tenant_of)), st.sampled_from(PERIODS)
    sla = st.sampled_from(SLAS)

    def rows(keys: st.SearchStrategy[Any], values: st.SearchStrategy[Any]) -> list[Any]:
        drawn = draw(st.dictionaries(keys, values, max_size=12))
        return [(k, v, {"tenant_id": tenant_of[k[0]], "updated_at": NOW}) for k, v in drawn.items()]

    slas = rows(st.tuples(cid, label, sla), st.tuples(KIND_AND_UNIT, OUTCOMES, ATTAINMENT))
    credits = rows(st.tuples(cid, label, sla), st.tuples(money(0), money(0), money(0)))
    charges = rows(st.tuples(cid, label), st.tuples(money(0), money(0), st.lists(LINE, max_size=6)))
    invoices = rows(st.tuples(cid, st.uuids()), st.tuples(label, money(0), st.integers(0, 2), SUMS))
    obligations = rows(
        st.tuples(cid, st.uuids()),
        st.tuples(
            label,
            DAYS,
            st.sampled_from(("open", "fulfilled", "waived")),
            st.booleans(),
            st.none() | DAYS,
        ),
    )
    return {
        HealthSlaPeriod: [
            {**r, "contract_id": k[0], "period_label": k[1], "sla_code": k[2],
             "metric_kind": v[0][0], "unit": v[0][1], "outcome": v[1], "attainment": v[2],
             "expected_level": Decimal("99.9"), "minimum_level": Decimal("99.5"),
             "restatement": 0}
            for k, v, r in slas
        ],
        HealthCredit: [
            {**r, "contract_id": k[0], "period_label": k[1], "sla_code": k[2],
             "credit_amount": v[0], "monthly_charges": v[1], "at_risk_amount": v[2], "revision": 1}
            for k, v, r in credits
        ],
        HealthCharges: [
            {**r, "contract_id": k[0], "period_label": k[1], "monthly_charges": v[0],
             "expected_total": v[1], "lines": v[2], "revision": 1}
            for k, v, r in charges
        ],
        HealthInvoice: [
            {**r, "contract_id": k[0], "invoice_id": k[1], "period_label": v[0],
             "invoice_number": str(k[1])[:8], "expected_total": v[1], "invoiced_total": v[1],
             "discrepancies": v[2], "sums_by_class": {c: str(a) for c, a in v[3].items()},
             "revision": 1}
            for k, v, r in invoices
        ],
        HealthObligation: [
            {**r, "contract_id": k[0], "obligation_id": k[1], "period_label": v[0],
             "kind": "root_cause_report", "due_date": v[1], "status": v[2],
             "went_overdue": v[3], "fulfilled_on": v[4]}
            for k, v, r in obligations
        ],
    }  # fmt: skip


async def _load(session: AsyncSession, models: dict[type, list[dict[str, Any]]]) -> None:
    """The rows as they are, and the benchmark counts recounted from them (the backfill)."""
    for model in MODELS:
        await session.execute(sa.delete(model))
        if models[model]:
            await session.execute(sa.insert(model), models[model])
    await session.run_sync(lambda sync: summaries.rebuild(sync.connection()))


async def record_sla_period(
    session: AsyncSession, tenant: str, event: SlaPeriodClosed, restatement: int, now: datetime
) -> None:
    """As the handlers do: the row, then the contract period's benchmark counts."""
    rows = [ingest.sla_period_row(tenant, event, restatement, now)]
    await summaries.refresh(session, await ingest.record_sla_periods(session, rows))


def _contracts(models: dict[type, list[dict[str, Any]]]) -> set[tuple[str, uuid.UUID]]:
    return {(r["tenant_id"], r["contract_id"]) for rows in models.values() for r in rows}


BOUNDS = st.tuples(st.none() | st.sampled_from(PERIODS), st.none() | st.sampled_from(PERIODS))
PROPERTIES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTIES
@given(models=read_models(), today=DAYS, bounds=BOUNDS)
async def test_period_totals_in_sql_equal_the_python_aggregation(
    sessions: async_sessionmaker[AsyncSession],
    models: dict[type, list[dict[str, Any]]],
    today: date,
    bounds: tuple[str | None, str | None],
) -> None:
    low, high = bounds
    async with sessions() as session:
        await _load(session, models)
        for tenant, contract in _contracts(models):
            facts = await period_facts(session, tenant, contract)
            expected = {
                label: totals_of(f, today)
                for label, f in facts.items()
                if (low is None or label >= low) and (high is None or label <= high)
            }
            got = await period_totals(
                session,
                tenant_id=tenant,
                contract_id=contract,
                today=today,
                period_from=low,
                period_to=high,
            )
            assert got == expected
            # The decision on them: every figure, input string and score alike.
            for label, totals in got.items():
                assert score_period(totals) == period_health(facts[label], today)
        await session.rollback()


@PROPERTIES
@given(
    models=read_models(),
    tenant=st.none() | st.sampled_from(TENANTS),
    metric_kind=st.none() | st.sampled_from(KINDS),
    resource_unit=st.none() | st.sampled_from(UNITS),
    bounds=BOUNDS,
)
async def test_benchmarks_in_sql_equal_the_python_reference(
    sessions: async_sessionmaker[AsyncSession],
    models: dict[type, list[dict[str, Any]]],
    tenant: str | None,
    metric_kind: str | None,
    resource_unit: str | None,
    bounds: tuple[str | None, str | None],
) -> None:
    args = {
        "principal": Principal(tenant),
        "metric_kind": metric_kind,
        "resource_unit": resource_unit,
        "period_from": bounds[0],
        "period_to": bounds[1],
    }
    async with sessions() as session:
        await _load(session, models)
        got = await compute(session=session, **args)
        expected = await reference.benchmarks(session=session, **args)
        await session.rollback()
    assert got == expected
    assert got.model_dump(mode="json") == expected.model_dump(mode="json")


async def test_measurement_slas_of_different_units_are_never_pooled(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A latency in ms and a throughput in requests/s: one benchmark entry each, with its
    unit, from the unit the closed periods report."""
    measured = [("LAT-P95", "ms", "180"), ("LAT-P99", "ms", "240"), ("RPS", "requests/s", "950")]
    async with sessions() as session:
        await _load(session, {model: [] for model in MODELS})
        cid = uuid.uuid4()
        for code, unit, value in measured:
            event = examples.period_closed(cid, outcome="met").model_copy(
                update={
                    "sla_code": code,
                    "metric_kind": MetricKind.MEASUREMENT,
                    "attainment": Decimal(value),
                    "figures": None,
                    "measurement_figures": MeasurementFigures(
                        statistic="percentile", unit=unit, values=100, value=Decimal(value)
                    ),
                }
            )
            await record_sla_period(session, "bank-a", event, 0, NOW)
        await record_sla_period(session, "bank-a", examples.period_closed(cid), 0, NOW)
        got = await compute(
            session=session,
            principal=Principal("bank-a"),
            metric_kind=None,
            resource_unit=None,
            period_from=None,
            period_to=None,
        )
        await session.rollback()
    entries = [
        (k.metric_kind, k.unit, k.sla_periods, k.attainment.p50) for k in got.sla_metric_kinds
    ]
    assert entries == [
        ("availability", None, 1, Decimal("99.4609")),
        ("measurement", "ms", 2, Decimal("210.0000")),
        ("measurement", "requests/s", 1, Decimal("950.0000")),
    ]


async def test_kept_benchmarks_are_reused_until_an_input_changes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The answer is kept at the tenant's generation: asked again with nothing changed, the
    same answer; a closed SLA period through ingest moves the generation on."""
    args: dict[str, Any] = {
        "principal": Principal("bank-a"),
        "metric_kind": None,
        "resource_unit": None,
        "period_from": None,
        "period_to": None,
    }
    cid = uuid.uuid4()
    async with sessions() as session, session.begin():
        await _load(session, {model: [] for model in MODELS})
        await record_sla_period(session, "bank-a", examples.period_closed(cid), 0, NOW)
    async with sessions() as session:
        first = await benchmarks(session=session, **args)
    assert [k.sla_periods for k in first.sla_metric_kinds] == [1]
    async with sessions() as session:
        assert await benchmarks(session=session, **args) is first
    async with sessions() as session, session.begin():
        await record_sla_period(session, "bank-a", examples.period_closed(uuid.uuid4()), 0, NOW)
    async with sessions() as session:
        after = await benchmarks(session=session, **args)
        everyone = await benchmarks(session=session, **(args | {"principal": Principal(None)}))
    assert [k.sla_periods for k in after.sla_metric_kinds] == [2]
    assert after == await _computed(sessions, args)
    assert everyone.contracts == 2
    async with sessions() as session, session.begin():
        await _load(session, {model: [] for model in MODELS})


async def _computed(sessions: async_sessionmaker[AsyncSession], args: dict[str, Any]) -> Benchmarks:
    async with sessions() as session:
        return await compute(session=session, **args)
