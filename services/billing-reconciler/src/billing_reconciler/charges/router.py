from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path

from billing_reconciler.charges import service
from billing_reconciler.charges.schemas import PeriodChargesRead
from crm_platform.deps import CurrentPrincipal, SessionDep

router = APIRouter(prefix="/contracts/{contract_id}", tags=["charges"])

PeriodLabel = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-03"])]


@router.get(
    "/charges/{period}",
    response_model=PeriodChargesRead,
    summary="Expected charges of a period, line by line, with their formulas",
)
async def get_charges(
    contract_id: uuid.UUID, period: PeriodLabel, session: SessionDep, principal: CurrentPrincipal
) -> PeriodChargesRead:
    return await service.get(
        session=session, principal=principal, contract_id=contract_id, period_label=period
    )
