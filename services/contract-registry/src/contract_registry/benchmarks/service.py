"""Portfolio benchmarks from the health read model: what deal teams bring to the next
negotiation (how SLAs of a kind usually perform, what credits usually cost, how far
consumption usually runs from baseline). Aggregated in PostgreSQL (queries.py)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.benchmarks import cache, queries
from contract_registry.benchmarks.schemas import (
    Benchmarks,
    Distribution,
    ResourceUnitBenchmark,
    SlaKindBenchmark,
)
from contract_registry.benchmarks.stats import Summary
from crm_platform.auth import Principal

WORK_MEM = "64MB"
METHOD = (
    "p50 and p90 with linear interpolation between closest ranks (PostgreSQL's "
    "percentile_cont), over the tenant's contracts visible to the caller; latest revision of "
    "every fact; percentages to 4 places; never pooled across metric kinds or resource units."
)


def _dist(s: Summary) -> Distribution:
    return Distribution(count=s.count, p50=s.p50, p90=s.p90)


async def benchmarks(
    *,
    session: AsyncSession,
    principal: Principal,
    metric_kind: str | None,
    resource_unit: str | None,
    period_from: str | None,
    period_to: str | None,
) -> Benchmarks:
    """The answer kept from an earlier request while the inputs are unchanged (cache.py),
    else computed."""
    key = (principal.tenant_id, metric_kind, resource_unit, period_from, period_to)
    at = await cache.generation(session, principal.tenant_id)
    kept = cache.get(session, key, at)
    if kept is not None:
        return kept
    fresh = await compute(
        session=session,
        principal=principal,
        metric_kind=metric_kind,
        resource_unit=resource_unit,
        period_from=period_from,
        period_to=period_to,
    )
    cache.put(session, key, at, fresh)
    return fresh


async def compute(
    *,
    session: AsyncSession,
    principal: Principal,
    metric_kind: str | None,
    resource_unit: str | None,
    period_from: str | None,
    period_to: str | None,
) -> Benchmarks:
    """The benchmarks aggregated in PostgreSQL now."""
    # Room to sort and hash a large portfolio in memory (this transaction only).
    await session.execute(sa.text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    filters = queries.Filters(principal.tenant_id, period_from, period_to)
    kinds = await queries.sla_kinds(session, filters, metric_kind)
    units = await queries.resource_units(session, filters, resource_unit)
    return Benchmarks(
        period_from=period_from,
        period_to=period_to,
        contracts=await queries.contracts(session, filters),
        credit_rate_pct=_dist(await queries.contract_credit_rates(session, filters)),
        sla_metric_kinds=[
            SlaKindBenchmark(
                metric_kind=k.metric_kind,
                unit=k.unit,
                contracts=k.contracts,
                sla_periods=k.sla_periods,
                outcomes=k.outcomes,
                attainment=_dist(k.attainment),
                credit_rate_pct=_dist(k.credit_rate_pct),
            )
            for k in kinds
        ],
        resource_units=[
            ResourceUnitBenchmark(
                resource_unit=u.resource_unit,
                contracts=u.contracts,
                periods=u.periods,
                arc_pct=_dist(u.arc_pct),
                rrc_pct=_dist(u.rrc_pct),
                net_variance_pct=_dist(u.net_variance_pct),
            )
            for u in units
        ],
        method=METHOD,
    )
