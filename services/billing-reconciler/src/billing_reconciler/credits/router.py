from __future__ import annotations

import uuid

from fastapi import APIRouter

from billing_reconciler.credits import service
from billing_reconciler.credits.schemas import CreditPage
from crm_platform.deps import CurrentPrincipal, SessionDep
from crm_platform.pagination import PageDep

router = APIRouter(prefix="/contracts/{contract_id:uuid}", tags=["credits"])


@router.get(
    "/credits",
    response_model=CreditPage,
    summary="Service credits of a contract, with explanations, revisions and earn-back",
    description="One credit per SLA and period: its current amount and explanation, every "
    "revision (restatements and corrected consumption change a credit by a delta) and the "
    "earn-back state machine with its transitions. By period, then SLA code.",
)
async def list_credits(
    contract_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> CreditPage:
    return await service.list_for_contract(
        session=session, principal=principal, contract_id=contract_id, page=page
    )
