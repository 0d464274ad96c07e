from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from contract_registry.health import service
from contract_registry.health.schemas import PeriodHealthPage
from crm_platform.deps import ClockDep, CurrentPrincipal, SessionDep
from crm_platform.pagination import PageDep

router = APIRouter(prefix="/contracts/{contract_id:uuid}", tags=["health"])

PeriodLabel = Annotated[
    str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$", examples=["2026-03"])
]


@router.get(
    "/health",
    operation_id="listContractHealth",
    response_model=PeriodHealthPage,
    summary="Contract health per period, with its score and the components behind it",
    description="Per period (oldest first): SLA outcomes, credits as % of charges, obligations "
    "on time, invoice accuracy and leakage, from sla.v1, billing.v1 and obligations.v1. The "
    "score (0–100) is the weighted mean of the components that have data: sla_outcomes 35, "
    "service_credits 15, obligations_on_time 20, invoice_accuracy 15, leakage 15; each "
    "component shows its formula and inputs.",
)
async def get_health(
    contract_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    page: PageDep,
    period_from: PeriodLabel = None,
    period_to: PeriodLabel = None,
) -> PeriodHealthPage:
    return await service.get(
        session=session,
        principal=principal,
        clock=clock,
        contract_id=contract_id,
        period_from=period_from,
        period_to=period_to,
        page=page,
    )
