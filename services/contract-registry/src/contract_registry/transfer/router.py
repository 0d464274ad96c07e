from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from contract_registry.transfer import service
from contract_registry.transfer.schemas import ContractExport
from crm_platform.audit import AuditDep
from crm_platform.deps import ClockDep, CurrentPrincipal, EmitDep, IdempotencyDep, SessionDep

router = APIRouter(prefix="/contracts", tags=["transfer"])


@router.get(
    "/{contract_id:uuid}/export",
    response_model=ContractExport,
    summary="The whole contract as one JSON document",
    description="Its state (status, termination) and every version (activated, draft, "
    "discarded) with its full terms, effective date, note and timestamps. POST it to "
    "/contracts/import on any registry to recreate the contract.",
)
async def export_contract(
    contract_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep
) -> ContractExport:
    return await service.export(
        session=session, principal=principal, clock=clock, contract_id=contract_id
    )


@router.post(
    "/import",
    status_code=201,
    response_model=ContractExport,
    summary="Create a contract from one JSON document (an export, or a deal team's file)",
    description='The minimal file is `{"contract": {"tenant_id": …}, "versions": '
    '[{"version": 1, "state": "draft", "effective_from": <start_date>, "terms": '
    "{…}}]}`: a draft to review and activate. A history (activated versions, a termination) "
    "is checked whole (every problem at once, 422 `import_rejected`, paths under `body.`) "
    "and replayed on contracts.v1 (activated, amended…, terminated). A new id is assigned; "
    "the reference must be free for the tenant (409). Accepts `Idempotency-Key`.",
    responses={409: {"description": "The reference is already used by this tenant"}},
)
async def import_contract(
    body: ContractExport,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    emit: EmitDep,
    idempotency: IdempotencyDep,
    audit: AuditDep,
) -> JSONResponse:
    async def work() -> ContractExport:
        return await service.import_contract(
            session=session, principal=principal, clock=clock, emit=emit, audit=audit, body=body
        )

    return await idempotency.run(work, status_code=201)
