"""Portfolio benchmarks aggregated in PostgreSQL: counts, sums and percentile_cont per
group, so a request reads a few rows however many contracts there are. Groups are never
pooled: attainment and SLA credit rates per metric kind (an availability % and a response
time are different units), ARC/RRC per resource unit. reference.py computes the same in
Python; the tests hold the two equal on random data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.benchmarks.stats import Summary, from_float

OUTCOMES = ("met", "below_expected", "failed", "no_data")


@dataclass(frozen=True)
class Filters:
    tenant_id: str | None  # None: every tenant (an all-tenant operator)
    period_from: str | None
    period_to: str | None

    def where(self, alias: str) -> str:
        """The WHERE clause over one read-model table (its parameters: `params`)."""
        clauses = ["true"]
        if self.tenant_id is not None:
            clauses.append(f"{alias}.tenant_id = :tenant_id")
        if self.period_from:
            clauses.append(f"{alias}.period_label >= :period_from")
        if self.period_to:
            clauses.append(f"{alias}.period_label <= :period_to")
        return " AND ".join(clauses)

    @property
    def params(self) -> dict[str, Any]:
        given = {
            "tenant_id": self.tenant_id,
            "period_from": self.period_from or None,
            "period_to": self.period_to or None,
        }
        return {k: v for k, v in given.items() if v is not None}


def _dist(column: str) -> str:
    """count and [p50, p90] of a numeric expression (NULLs left out, as percentile_cont
    does); both percentiles from one sort."""
    return (
        f"count({column}), "
        f"percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY ({column})::float8)"
    )


def _summary(count: int, percentiles: list[float] | None) -> Summary:
    p50, p90 = percentiles or (None, None)
    return Summary(count, from_float(p50), from_float(p90))


def _known_charges(f: Filters) -> str:
    """Per contract period: its monthly charges (the charges row, else the largest the
    credits report) and the sum of its credits."""
    return f"""
    credit AS (SELECT * FROM health_credits cr WHERE {f.where("cr")}),
    charges AS (SELECT * FROM health_charges ch WHERE {f.where("ch")}),
    known AS (
        SELECT contract_id, period_label,
               coalesce(ch.monthly_charges, cr.monthly_charges) AS m,
               coalesce(cr.total, 0) AS credits
        FROM charges ch
        FULL JOIN (
            SELECT contract_id, period_label, max(monthly_charges) AS monthly_charges,
                   sum(credit_amount) AS total
            FROM credit GROUP BY contract_id, period_label
        ) cr USING (contract_id, period_label)
    )"""


@dataclass(frozen=True)
class KindRow:
    metric_kind: str
    unit: str | None
    contracts: int
    sla_periods: int
    outcomes: dict[str, int]
    attainment: Summary
    credit_rate_pct: Summary


async def sla_kinds(
    session: AsyncSession, filters: Filters, metric_kind: str | None
) -> list[KindRow]:
    params, kind = filters.params, ""
    if metric_kind is not None:
        kind, params = "AND s.metric_kind = :metric_kind", params | {"metric_kind": metric_kind}
    rate = "CASE WHEN k.m <> 0 THEN coalesce(c.credit_amount, 0) / k.m * 100 END"
    outcomes = ", ".join(f"count(*) FILTER (WHERE s.outcome = '{o}')" for o in OUTCOMES)
    sql = f"""
    WITH {_known_charges(filters)}
    SELECT s.metric_kind, s.unit, count(DISTINCT s.contract_id), count(*), {outcomes},
           {_dist("s.attainment")}, {_dist(rate)}
    FROM health_sla_periods s
    LEFT JOIN known k USING (contract_id, period_label)
    LEFT JOIN credit c USING (contract_id, period_label, sla_code)
    WHERE {filters.where("s")} {kind}
    GROUP BY s.metric_kind, s.unit"""
    out = []
    for row in await session.execute(sa.text(sql), params):
        name, unit, contracts, periods, *rest = row
        counts, att, rates = rest[:4], rest[4:6], rest[6:8]
        out.append(
            KindRow(
                name,
                unit,
                contracts,
                periods,
                dict(zip(OUTCOMES, counts, strict=True)),
                _summary(*att),
                _summary(*rates),
            )
        )
    return sorted(out, key=lambda k: kind_order(k.metric_kind, k.unit))


def kind_order(metric_kind: str, unit: str | None) -> tuple[str, bool, str]:
    return metric_kind, unit is not None, unit or ""


async def contract_credit_rates(session: AsyncSession, filters: Filters) -> Summary:
    """Credits ÷ monthly charges × 100 per contract period whose charges are known."""
    sql = f"""
    WITH {_known_charges(filters)}
    SELECT {_dist("CASE WHEN m <> 0 THEN credits / m * 100 END")} FROM known"""
    row = (await session.execute(sa.text(sql), filters.params)).one()
    return _summary(*row)


async def contracts(session: AsyncSession, filters: Filters) -> int:
    """Contracts with any SLA period, charges or credit in the filters."""
    sql = f"""
    SELECT count(*) FROM (
        SELECT contract_id FROM health_sla_periods s WHERE {filters.where("s")}
        UNION SELECT contract_id FROM health_charges ch WHERE {filters.where("ch")}
        UNION SELECT contract_id FROM health_credits cr WHERE {filters.where("cr")}
    ) AS seen"""
    return int((await session.execute(sa.text(sql), filters.params)).scalar_one())


@dataclass(frozen=True)
class UnitRow:
    resource_unit: str
    contracts: int
    periods: int
    arc_pct: Summary
    rrc_pct: Summary
    net_variance_pct: Summary


async def resource_units(
    session: AsyncSession, filters: Filters, resource_unit: str | None
) -> list[UnitRow]:
    """Per resource unit over the contract periods with a (non-zero) base for it: ARC,
    |RRC| and ARC − |RRC| as % of the base, from the charges' lines."""
    params, unit = filters.params, ""
    if resource_unit is not None:
        unit, params = "AND unit = :resource_unit", params | {"resource_unit": resource_unit}
    sql = f"""
    WITH units AS (  -- per contract period and unit, summed within each charges row
        SELECT ch.contract_id, u.unit, u.base, u.arc, u.rrc
        FROM health_charges ch CROSS JOIN LATERAL (
            SELECT coalesce(l.item_code, '') AS unit,
                   coalesce(sum(l.amount) FILTER (WHERE l.kind = 'base'), 0) AS base,
                   coalesce(sum(l.amount) FILTER (WHERE l.kind = 'arc'), 0) AS arc,
                   abs(coalesce(sum(l.amount) FILTER (WHERE l.kind = 'rrc'), 0)) AS rrc
            FROM jsonb_to_recordset(ch.lines) AS l(kind text, item_code text, amount numeric)
            WHERE l.kind IN ('base', 'arc', 'rrc')
            GROUP BY 1
        ) AS u
        WHERE {filters.where("ch")}
    )
    SELECT unit, count(DISTINCT contract_id), count(*),
           {_dist("arc / base * 100")}, {_dist("rrc / base * 100")},
           {_dist("(arc - rrc) / base * 100")}
    FROM units WHERE base <> 0 {unit}
    GROUP BY unit"""
    out = [
        UnitRow(
            name,
            contracts,
            periods,
            _summary(*rest[0:2]),
            _summary(*rest[2:4]),
            _summary(*rest[4:6]),
        )
        for name, contracts, periods, *rest in await session.execute(sa.text(sql), params)
    ]
    return sorted(out, key=lambda u: u.resource_unit)
