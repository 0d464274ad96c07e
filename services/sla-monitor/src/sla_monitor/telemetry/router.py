from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from crm_platform.deps import CurrentPrincipal, IdempotencyDep, SessionDep
from sla_monitor.telemetry import service
from sla_monitor.telemetry.schemas import TelemetryAccepted, TelemetryBatch

router = APIRouter(prefix="/telemetry", tags=["telemetry"])


@router.post(
    "",
    status_code=202,
    response_model=TelemetryAccepted,
    summary="Post a batch of telemetry (up to 10,000 items)",
    description="Outage intervals per service key. The batch is validated whole: one invalid "
    "item rejects the batch and the 422 lists every invalid item by index and field. The "
    "same interval sent twice is stored once. Send an `Idempotency-Key` to make retries safe.",
)
async def post_telemetry(
    batch: TelemetryBatch,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    tenant_id = principal.resolve_tenant(batch.tenant_id)

    async def work() -> TelemetryAccepted:
        stored, duplicates = await service.ingest(
            session=session, tenant_id=tenant_id, items=batch.items
        )
        return TelemetryAccepted(accepted=stored, duplicates=duplicates)

    return await idempotency.run(work, status_code=202)
