from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from crm_platform.deps import CurrentPrincipal, SessionDep
from obligation_tracker.obligations import service
from obligation_tracker.obligations.schemas import ObligationRead

router = APIRouter(prefix="/obligations", tags=["obligations"])


@router.get("", response_model=list[ObligationRead], summary="List obligations")
async def list_obligations(
    session: SessionDep,
    principal: CurrentPrincipal,
    contract_id: uuid.UUID | None = None,
    status: Annotated[str | None, Query(pattern="^(open|fulfilled|waived|overdue)$")] = None,
    owner_role: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ObligationRead]:
    return await service.list_obligations(
        session=session,
        principal=principal,
        contract_id=contract_id,
        status=status,
        owner_role=owner_role,
        limit=limit,
    )


@router.get("/{obligation_id}", response_model=ObligationRead, summary="One obligation")
async def get_obligation(
    obligation_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> ObligationRead:
    return await service.get(session=session, principal=principal, obligation_id=obligation_id)
