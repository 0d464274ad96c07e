from __future__ import annotations

import uuid

from fastapi import APIRouter

from billing_reconciler.credits import service
from billing_reconciler.credits.schemas import CreditRead
from crm_platform.deps import CurrentPrincipal, SessionDep

router = APIRouter(prefix="/contracts/{contract_id}", tags=["credits"])


@router.get(
    "/credits",
    response_model=list[CreditRead],
    summary="Service credits of a contract, with the explanation of each amount",
)
async def list_credits(
    contract_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> list[CreditRead]:
    return await service.list_for_contract(
        session=session, principal=principal, contract_id=contract_id
    )
