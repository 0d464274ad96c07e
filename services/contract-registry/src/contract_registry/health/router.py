from __future__ import annotations

import uuid

from fastapi import APIRouter

from contract_registry.health import service
from contract_registry.health.schemas import PeriodHealthRead
from crm_platform.deps import CurrentPrincipal, SessionDep

router = APIRouter(prefix="/contracts/{contract_id}", tags=["health"])


@router.get(
    "/health",
    response_model=list[PeriodHealthRead],
    summary="Contract health per period (SLA outcomes, credits, obligations)",
)
async def get_health(
    contract_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> list[PeriodHealthRead]:
    return await service.get(session=session, principal=principal, contract_id=contract_id)
