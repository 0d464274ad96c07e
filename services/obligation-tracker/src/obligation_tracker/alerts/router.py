from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from crm_platform.deps import CurrentPrincipal, SessionDep
from obligation_tracker.alerts import service
from obligation_tracker.alerts.schemas import AlertRead

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=list[AlertRead], summary="List alerts, newest first")
async def list_alerts(
    session: SessionDep,
    principal: CurrentPrincipal,
    contract_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AlertRead]:
    return await service.list_alerts(
        session=session, principal=principal, contract_id=contract_id, limit=limit
    )
