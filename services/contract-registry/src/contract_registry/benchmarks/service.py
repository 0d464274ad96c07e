"""Portfolio benchmarks from the health read model: what deal teams bring to the next
negotiation (how SLAs of a kind usually perform, what credits usually cost, how far
consumption usually runs from baseline). Aggregated in PostgreSQL (queries.py)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.benchmarks import cache, queries
from contract_registry.benchmarks.contributions import (
    ANY,
    ARC,
    ATTAINMENT,
    CREDIT_RATE,
    NET,
    OUTCOMES,
    RRC,
    SLA,
    SLA_CREDIT_RATE,
    SLA_PERIODS,
    UNIT,
    outcome_series,
    parse_sla_group,
)
from contract_registry.benchmarks.queries import Group, kind_order
from contract_registry.benchmarks.schemas import (
    Benchmarks,
    Distribution,
    ResourceUnitBenchmark,
    SlaKindBenchmark,
)
from contract_registry.benchmarks.stats import Summary
from crm_platform.auth import Principal

NONE = Summary(0, None, None)
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
    """The benchmarks from the counts kept in PostgreSQL now (summaries.py, queries.py)."""
    filters = queries.Filters(principal.tenant_id, period_from, period_to)
    kept = await queries.distributions(session, filters)
    contracts = await queries.contracts(session, filters, kept)
    return Benchmarks(
        period_from=period_from,
        period_to=period_to,
        contracts=contracts.get((ANY, ""), 0),
        credit_rate_pct=_dist(kept.get((CREDIT_RATE, ""), NONE)),
        sla_metric_kinds=_sla_kinds(kept, contracts, metric_kind),
        resource_units=_resource_units(kept, contracts, resource_unit),
        method=METHOD,
    )


def _sla_kinds(
    kept: Mapping[Group, Summary], contracts: Mapping[Group, int], metric_kind: str | None
) -> list[SlaKindBenchmark]:
    groups = [(parse_sla_group(group), group) for series, group in kept if series == SLA_PERIODS]
    if metric_kind is not None:
        groups = [g for g in groups if g[0][0] == metric_kind]
    return [
        SlaKindBenchmark(
            metric_kind=kind,
            unit=unit,
            contracts=contracts.get((SLA, group), 0),
            sla_periods=kept[(SLA_PERIODS, group)].count,
            outcomes={o: kept.get((outcome_series(o), group), NONE).count for o in OUTCOMES},
            attainment=_dist(kept.get((ATTAINMENT, group), NONE)),
            credit_rate_pct=_dist(kept.get((SLA_CREDIT_RATE, group), NONE)),
        )
        for (kind, unit), group in sorted(groups, key=lambda g: kind_order(*g[0]))
    ]


def _resource_units(
    kept: Mapping[Group, Summary], contracts: Mapping[Group, int], resource_unit: str | None
) -> list[ResourceUnitBenchmark]:
    units = sorted(
        group
        for series, group in kept
        if series == ARC and (resource_unit is None or group == resource_unit)
    )
    return [
        ResourceUnitBenchmark(
            resource_unit=unit,
            contracts=contracts.get((UNIT, unit), 0),
            periods=kept[(ARC, unit)].count,
            arc_pct=_dist(kept[(ARC, unit)]),
            rrc_pct=_dist(kept[(RRC, unit)]),
            net_variance_pct=_dist(kept[(NET, unit)]),
        )
        for unit in units
    ]
