from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from contract_registry.benchmarks import service
from contract_registry.benchmarks.schemas import Benchmarks
from contract_registry.health.router import PeriodLabel
from crm_events.schemas.contracts import MetricKind
from crm_platform.deps import CurrentPrincipal, SessionDep

router = APIRouter(tags=["benchmarks"])


@router.get(
    "/benchmarks",
    response_model=Benchmarks,
    summary="Portfolio benchmarks: attainment, credit rate and ARC/RRC variance (p50/p90)",
    description="Across the contracts the caller sees (one tenant with X-Tenant-Id, else all): "
    "per SLA metric kind, the distribution of attainment and of credit rate (credit ÷ monthly "
    "charges) over closed SLA periods; per resource unit, ARC, RRC and net variance as % of "
    "the base charge over contract periods (from billing.charges_computed lines); and the "
    "credit rate per contract period. Fed by sla.v1 and billing.v1; restatements replace "
    "earlier figures.",
)
async def get_benchmarks(
    session: SessionDep,
    principal: CurrentPrincipal,
    metric_kind: MetricKind | None = None,
    resource_unit: Annotated[str | None, Query(max_length=100)] = None,
    period_from: PeriodLabel = None,
    period_to: PeriodLabel = None,
) -> Benchmarks:
    return await service.benchmarks(
        session=session,
        principal=principal,
        metric_kind=metric_kind.value if metric_kind else None,
        resource_unit=resource_unit,
        period_from=period_from,
        period_to=period_to,
    )
