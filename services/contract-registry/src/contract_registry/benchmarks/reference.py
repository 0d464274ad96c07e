"""Portfolio benchmarks computed in Python over every row: the reference the SQL of
queries.py is checked against (tests/integration/test_health_sql.py) and the "before"
of bench/portfolio_health.py. The service answers from queries.py.

One clarification over the first version: when a contract period has no charges row, its
monthly charges are the largest its credits report (the health score's rule), not
whichever credit row happened to come last."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.benchmarks.queries import kind_order
from contract_registry.benchmarks.schemas import (
    Benchmarks,
    Distribution,
    ResourceUnitBenchmark,
    SlaKindBenchmark,
)
from contract_registry.benchmarks.service import METHOD
from contract_registry.benchmarks.stats import summarise
from contract_registry.models import HealthCharges, HealthCredit, HealthSlaPeriod
from crm_platform.auth import Principal

HUNDRED = Decimal(100)
Row = TypeVar("Row", HealthSlaPeriod, HealthCredit, HealthCharges)


def _dist(values: list[Decimal]) -> Distribution:
    s = summarise(values)
    return Distribution(count=s.count, p50=s.p50, p90=s.p90)


async def rows(
    session: AsyncSession,
    model: type[Row],
    principal: Principal,
    period_from: str | None,
    period_to: str | None,
) -> list[Row]:
    query = sa.select(model).where(principal.tenant_filter(model.tenant_id))
    if period_from:
        query = query.where(model.period_label >= period_from)
    if period_to:
        query = query.where(model.period_label <= period_to)
    return list(await session.scalars(query))


def _charges_by_period(
    charges: list[HealthCharges], credits: list[HealthCredit]
) -> dict[tuple[uuid.UUID, str], Decimal]:
    known: dict[tuple[uuid.UUID, str], Decimal] = {}
    for c in credits:
        key = (c.contract_id, c.period_label)
        known[key] = max(known.get(key, c.monthly_charges), c.monthly_charges)
    known |= {(c.contract_id, c.period_label): c.monthly_charges for c in charges}
    return known


def _sla_kinds(
    slas: list[HealthSlaPeriod],
    credits: list[HealthCredit],
    charges: dict[tuple[uuid.UUID, str], Decimal],
    metric_kind: str | None,
) -> list[SlaKindBenchmark]:
    credit_of = {(c.contract_id, c.period_label, c.sla_code): c.credit_amount for c in credits}
    by_kind: dict[tuple[str, str | None], list[HealthSlaPeriod]] = defaultdict(list)
    for s in slas:
        if metric_kind is None or s.metric_kind == metric_kind:
            by_kind[(s.metric_kind, s.unit)].append(s)
    out = []
    for (kind, unit), rows in sorted(by_kind.items(), key=lambda kv: kind_order(*kv[0])):
        rates = []
        for s in rows:
            m = charges.get((s.contract_id, s.period_label))
            if m:
                credit = credit_of.get((s.contract_id, s.period_label, s.sla_code), Decimal(0))
                rates.append(credit / m * HUNDRED)
        outcomes = Counter(s.outcome for s in rows)
        out.append(
            SlaKindBenchmark(
                metric_kind=kind,
                unit=unit,
                contracts=len({s.contract_id for s in rows}),
                sla_periods=len(rows),
                outcomes={
                    k: outcomes.get(k, 0) for k in ("met", "below_expected", "failed", "no_data")
                },
                attainment=_dist([s.attainment for s in rows if s.attainment is not None]),
                credit_rate_pct=_dist(rates),
            )
        )
    return out


def _unit_amounts(lines: list[dict[str, Any]]) -> dict[str, dict[str, Decimal]]:
    per_unit: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for line in lines:
        kind = str(line.get("kind", ""))
        if kind in ("base", "arc", "rrc"):
            per_unit[str(line.get("item_code", ""))][kind] += Decimal(str(line.get("amount", "0")))
    return per_unit


def _resource_units(
    charges: list[HealthCharges], resource_unit: str | None
) -> list[ResourceUnitBenchmark]:
    arc: dict[str, list[Decimal]] = defaultdict(list)
    rrc: dict[str, list[Decimal]] = defaultdict(list)
    net: dict[str, list[Decimal]] = defaultdict(list)
    contracts: dict[str, set[uuid.UUID]] = defaultdict(set)
    for period in charges:
        for unit, amounts in _unit_amounts(period.lines).items():
            base = amounts.get("base", Decimal(0))
            if not base or (resource_unit is not None and unit != resource_unit):
                continue
            a, r = amounts.get("arc", Decimal(0)), abs(amounts.get("rrc", Decimal(0)))
            arc[unit].append(a / base * HUNDRED)
            rrc[unit].append(r / base * HUNDRED)
            net[unit].append((a - r) / base * HUNDRED)
            contracts[unit].add(period.contract_id)
    return [
        ResourceUnitBenchmark(
            resource_unit=unit,
            contracts=len(contracts[unit]),
            periods=len(arc[unit]),
            arc_pct=_dist(arc[unit]),
            rrc_pct=_dist(rrc[unit]),
            net_variance_pct=_dist(net[unit]),
        )
        for unit in sorted(arc)
    ]


async def benchmarks(
    *,
    session: AsyncSession,
    principal: Principal,
    metric_kind: str | None,
    resource_unit: str | None,
    period_from: str | None,
    period_to: str | None,
) -> Benchmarks:
    slas = await rows(session, HealthSlaPeriod, principal, period_from, period_to)
    credits = await rows(session, HealthCredit, principal, period_from, period_to)
    charges = await rows(session, HealthCharges, principal, period_from, period_to)
    charges_by_period = _charges_by_period(charges, credits)
    credit_totals: dict[tuple[uuid.UUID, str], Decimal] = defaultdict(Decimal)
    for c in credits:
        credit_totals[(c.contract_id, c.period_label)] += c.credit_amount
    contract_rates = [
        credit_totals.get(key, Decimal(0)) / m * HUNDRED
        for key, m in charges_by_period.items()
        if m
    ]
    contracts = {s.contract_id for s in slas} | {c.contract_id for c in charges}
    return Benchmarks(
        period_from=period_from,
        period_to=period_to,
        contracts=len(contracts | {c.contract_id for c in credits}),
        credit_rate_pct=_dist(contract_rates),
        sla_metric_kinds=_sla_kinds(slas, credits, charges_by_period, metric_kind),
        resource_units=_resource_units(charges, resource_unit),
        method=METHOD,
    )
