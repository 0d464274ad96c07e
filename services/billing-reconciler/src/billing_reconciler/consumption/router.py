from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from billing_reconciler.consumption.schemas import ConsumptionAccepted, ConsumptionBatch
from billing_reconciler.csv_format import parse_consumption
from billing_reconciler.workflows import consumption_received
from crm_platform.deps import ClockDep, CurrentPrincipal, EmitDep, IdempotencyDep, SessionDep

router = APIRouter(prefix="/consumption", tags=["consumption"])
CONFLICTS: dict[int | str, dict[str, Any]] = {
    409: {"description": "A record id already received with another quantity, not a correction"}
}

CSV_EXAMPLE = (
    "record_id,contract_id,resource_unit,period_label,quantity,correction\n"
    "ERP-2026-03-0001,7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f,SRV-WIN,2026-03,214,\n"
    "ERP-2026-03-0002,7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f,TCK-L1,2026-03,4700,\n"
)


@router.post(
    "",
    status_code=202,
    response_model=ConsumptionAccepted,
    summary="Post consumption records (up to 10,000)",
    description="Actual volumes per contract, resource unit and period. A record id already "
    "received with the same quantity is a duplicate and changes nothing; a different quantity "
    "is refused (409) unless the item says `correction: true`, which replaces it (the history "
    "is kept). Periods already computed are recomputed and their invoices reconciled again. "
    "The batch is accepted or rejected whole.",
    responses=CONFLICTS,
)
async def post_consumption(
    batch: ConsumptionBatch,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
    emit: EmitDep,
    clock: ClockDep,
) -> JSONResponse:
    async def work() -> ConsumptionAccepted:
        done = await consumption_received(
            session=session,
            principal=principal,
            items=batch.items,
            emit=emit,
            now=clock.now(),
            cause="consumption:" + ",".join(i.record_id for i in batch.items[:5]),
        )
        return ConsumptionAccepted(
            accepted=done.accepted, duplicates=done.duplicates, corrected=done.corrected
        )

    return await idempotency.run(work, status_code=202)


@router.post(
    "/csv",
    status_code=202,
    response_model=ConsumptionAccepted,
    summary="Post consumption records as CSV (up to 10,000 rows)",
    description="Columns: record_id, contract_id, resource_unit, period_label, quantity and "
    "optionally correction (true/false). One header row; comma or semicolon separated; "
    "UTF-8. Same rules as the JSON endpoint; errors name the file line: `body.line[3].quantity`.",
    responses=CONFLICTS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
        }
    },
)
async def post_consumption_csv(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
    emit: EmitDep,
    clock: ClockDep,
) -> JSONResponse:
    items, lines = parse_consumption(await request.body())

    async def work() -> ConsumptionAccepted:
        done = await consumption_received(
            session=session,
            principal=principal,
            items=items,
            emit=emit,
            now=clock.now(),
            cause="consumption:" + ",".join(i.record_id for i in items[:5]),
            loc=lambda index, name: f"body.line[{lines[index]}].{name}",
        )
        return ConsumptionAccepted(
            accepted=done.accepted, duplicates=done.duplicates, corrected=done.corrected
        )

    return await idempotency.run(work, status_code=202)
