from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from contract_registry.contracts import service
from contract_registry.contracts.schemas import ContractCreate, ContractRead
from crm_platform.deps import ClockDep, CurrentPrincipal, EmitDep, SessionDep

router = APIRouter(prefix="/contracts", tags=["contracts"])


@router.post(
    "",
    status_code=201,
    response_model=ContractRead,
    summary="Create a draft contract",
    responses={409: {"description": "The reference is already used by this tenant"}},
)
async def create_contract(
    body: ContractCreate, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep
) -> ContractRead:
    return await service.create_draft(session=session, principal=principal, clock=clock, body=body)


@router.post(
    "/{contract_id}/activate",
    response_model=ContractRead,
    summary="Activate a draft contract",
    description="Validates the whole contract and reports every problem at once, each with its "
    "JSON path (422). On success the contract is active and `contract.activated` carries its "
    "full terms to the other services.",
    responses={
        409: {"description": "The contract is not a draft"},
        422: {"description": "The contract has problems; all are listed"},
    },
)
async def activate_contract(
    contract_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    emit: EmitDep,
) -> ContractRead:
    return await service.activate(
        session=session, principal=principal, clock=clock, emit=emit, contract_id=contract_id
    )


@router.get("/{contract_id}", response_model=ContractRead, summary="One contract")
async def get_contract(
    contract_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> ContractRead:
    return await service.get(session=session, principal=principal, contract_id=contract_id)


@router.get("", response_model=list[ContractRead], summary="List contracts")
async def list_contracts(
    session: SessionDep,
    principal: CurrentPrincipal,
    customer: str | None = None,
    supplier: str | None = None,
    status: Annotated[str | None, Query(pattern="^(draft|active|terminated|expired)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ContractRead]:
    return await service.list_contracts(
        session=session,
        principal=principal,
        customer=customer,
        supplier=supplier,
        status=status,
        limit=limit,
    )
