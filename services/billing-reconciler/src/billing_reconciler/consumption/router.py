from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from billing_reconciler.consumption import service
from billing_reconciler.consumption.schemas import ConsumptionAccepted, ConsumptionBatch
from crm_platform.deps import CurrentPrincipal, IdempotencyDep, SessionDep

router = APIRouter(prefix="/consumption", tags=["consumption"])


@router.post(
    "",
    status_code=202,
    response_model=ConsumptionAccepted,
    summary="Post consumption records (up to 10,000)",
    description="Actual volumes per contract, resource unit and period. A record id already "
    "received is a duplicate and changes nothing. The batch is accepted or rejected whole.",
)
async def post_consumption(
    batch: ConsumptionBatch,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    async def work() -> ConsumptionAccepted:
        stored, duplicates = await service.record(
            session=session, principal=principal, items=batch.items
        )
        return ConsumptionAccepted(accepted=stored, duplicates=duplicates)

    return await idempotency.run(work, status_code=202)
