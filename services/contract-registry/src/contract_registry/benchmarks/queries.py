"""Portfolio benchmarks read from the counts kept per value (summaries.py): per series and
group, PostgreSQL sums the counts of the periods asked for, walks the distinct values in
order and returns the count and the values either side of p50 and p90 (the two a
percentile_cont interpolates between); the interpolation is stats.interpolate's, in
Decimal. A request reads a few thousand rows however many contracts there are. Groups are
never pooled: SLA figures per metric kind and unit, ARC/RRC per resource unit.
reference.py computes the same from every row in Python; the tests hold the two equal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.benchmarks.contributions import contracts_series
from contract_registry.benchmarks.stats import Summary, interpolate, ranks
from contract_registry.benchmarks.summaries import ALL_PERIODS

P50, P90 = Decimal(50), Decimal(90)
Group = tuple[str, str]  # series, group


@dataclass(frozen=True)
class Filters:
    tenant_id: str | None  # None: every tenant (an all-tenant operator)
    period_from: str | None
    period_to: str | None

    @property
    def all_periods(self) -> bool:
        return not self.period_from and not self.period_to

    def where(self, alias: str) -> str:
        """The WHERE clause over one summary table (its parameters: `params`); its
        period_label compares as Python does (collation "C")."""
        clauses = ["true"]
        if self.tenant_id is not None:
            clauses.append(f"{alias}.tenant_id = :tenant_id")
        if self.period_from:
            clauses.append(f"{alias}.period_label >= :period_from")
        if self.period_to:
            clauses.append(f"{alias}.period_label <= :period_to")
        return " AND ".join(clauses)

    def where_tenant(self, alias: str) -> str:
        return "true" if self.tenant_id is None else f"{alias}.tenant_id = :tenant_id"

    @property
    def params(self) -> dict[str, Any]:
        given = {
            "tenant_id": self.tenant_id,
            "period_from": self.period_from or None,
            "period_to": self.period_to or None,
        }
        return {k: v for k, v in given.items() if v is not None}


def _positions(pct: Decimal, name: str) -> str:
    """The 0-based positions of the values either side of the pct-th percentile, as
    stats.ranks gives them (integer division: the floor): l<name> and h<name>."""
    low = f"(total - 1) * {int(pct)} / 100"
    return f"{low} AS l{name}, least({low} + 1, total - 1) AS h{name}"


# One tenant over all periods: its rows as they are, in primary-key order, which is the
# walk's order; else the counts of the tenants and periods asked for, summed per value.
ROWS = "SELECT series, grp, value, n FROM benchmark_counts b WHERE {where}"
SUMMED = """SELECT series, grp, value, sum(n) AS n FROM benchmark_counts b
    WHERE {where} GROUP BY series, grp, value HAVING sum(n) <> 0"""
DISTRIBUTIONS = f"""
WITH h AS (
    {{counts}}
), c AS (
    SELECT series, grp, value,
           (sum(n) OVER (PARTITION BY series, grp ORDER BY value ROWS UNBOUNDED PRECEDING))::bigint
               AS upto,
           (sum(n) OVER (PARTITION BY series, grp))::bigint AS total
    FROM h
), r AS (
    SELECT series, grp, value, upto, total, {_positions(P50, "50")}, {_positions(P90, "90")}
    FROM c
)
SELECT series, grp, max(total),
       min(value) FILTER (WHERE upto > l50), min(value) FILTER (WHERE upto > h50),
       min(value) FILTER (WHERE upto > l90), min(value) FILTER (WHERE upto > h90)
FROM r GROUP BY series, grp"""


def _summary(count: int, *values: Decimal) -> Summary:
    l50, h50, l90, h90 = values
    _, _, at50 = ranks(count, P50)
    _, _, at90 = ranks(count, P90)
    return Summary(count, interpolate(l50, h50, at50), interpolate(l90, h90, at90))


async def distributions(session: AsyncSession, filters: Filters) -> dict[Group, Summary]:
    """Every series and group with a figure in the filters: its count and p50/p90."""
    # Over all periods, the counts kept for them; over a range, the periods' own summed.
    where = f"{filters.where('b')} AND b.period_label {'=' if filters.all_periods else '<>'} :all"
    params = filters.params | {"all": ALL_PERIODS}
    one = filters.all_periods and filters.tenant_id is not None
    sql = DISTRIBUTIONS.format(counts=(ROWS if one else SUMMED).format(where=where))
    rows = await session.execute(sa.text(sql), params)
    return {(series, group): _summary(int(n), *values) for series, group, n, *values in rows}


async def contracts(
    session: AsyncSession, filters: Filters, kept: dict[Group, Summary]
) -> dict[Group, int]:
    """Per family and group, the contracts with a figure in the filters: over all
    periods, kept with the counts; over a range, the contracts whose periods in the group
    (benchmark_contracts) include one in the range."""
    if filters.all_periods:
        return {
            (family, group): s.count
            for (series, group), s in kept.items()
            if series == contracts_series(family := series.partition(":")[2])
        }
    # The labels in range (a walk over the index, one probe per label), then the contracts
    # with a period among them in each group.
    sql = f"""
    WITH RECURSIVE labels(p) AS (
        SELECT min(a.period_label) FROM benchmark_periods a WHERE {filters.where("a")}
        UNION ALL
        SELECT (SELECT min(a.period_label) FROM benchmark_periods a
                WHERE {filters.where("a")} AND a.period_label > labels.p)
        FROM labels WHERE labels.p IS NOT NULL
    )
    SELECT c.family, c.grp, count(*) FROM benchmark_contracts c
    WHERE {filters.where_tenant("c")}
      AND c.periods && ARRAY(SELECT p::varchar FROM labels WHERE p IS NOT NULL)
    GROUP BY c.family, c.grp"""
    rows = await session.execute(sa.text(sql), filters.params)
    return {(family, group): int(n) for family, group, n in rows}


def kind_order(metric_kind: str, unit: str | None) -> tuple[str, bool, str]:
    return metric_kind, unit is not None, unit or ""
