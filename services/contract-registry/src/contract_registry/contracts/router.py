from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from contract_registry.contracts import amendments, service, termination
from contract_registry.contracts.schemas import (
    AmendmentCreate,
    AmendmentUpdate,
    ContractCreate,
    ContractPage,
    ContractRead,
    DraftUpdate,
    TerminationRequest,
    VersionPage,
    VersionRead,
)
from crm_events.types import Date
from crm_platform.audit import AuditDep
from crm_platform.deps import ClockDep, CurrentPrincipal, EmitDep, IdempotencyDep, SessionDep
from crm_platform.pagination import PageDep
from crm_platform.params import TEXT_INT

router = APIRouter(prefix="/contracts", tags=["contracts"])

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: {"description": "The version has problems; all are listed, each with its loc"}
}
VersionNumber = Annotated[
    int, Path(ge=1, description="Version number (1 is the original)."), TEXT_INT
]


@router.post(
    "",
    status_code=201,
    response_model=ContractRead,
    summary="Create a draft contract",
    description="Creates version 1 as an editable draft. Nothing is published until "
    "activation. Accepts `Idempotency-Key`.",
    responses={409: {"description": "The reference is already used by this tenant"}},
)
async def create_contract(
    body: ContractCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    async def work() -> ContractRead:
        return await service.create_draft(
            session=session, principal=principal, clock=clock, body=body
        )

    return await idempotency.run(work, status_code=201)


@router.put(
    "/{contract_id:uuid}",
    operation_id="updateDraftContract",
    response_model=ContractRead,
    summary="Replace the document of a draft contract",
    description="Drafts are editable as a whole; an active contract changes by amendment "
    "(409 here).",
    responses={409: {"description": "Not a draft, or the reference is taken"}},
)
async def update_draft(
    contract_id: uuid.UUID,
    body: DraftUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> ContractRead:
    return await service.update_draft(
        session=session, principal=principal, clock=clock, contract_id=contract_id, body=body
    )


@router.post(
    "/{contract_id:uuid}/activate",
    response_model=ContractRead,
    summary="Activate a draft contract",
    description="Validates the whole contract and reports every problem at once, each with its "
    "JSON path in the contract document (422, code `activation_rejected`). On success the "
    "contract is active and `contract.activated` carries its full terms to the other services.",
    responses={409: {"description": "The contract is not a draft"}, **_PROBLEMS},
)
async def activate_contract(
    contract_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    emit: EmitDep,
    idempotency: IdempotencyDep,
    audit: AuditDep,
) -> JSONResponse:
    work = service.activate(
        session=session,
        principal=principal,
        clock=clock,
        emit=emit,
        audit=audit,
        contract_id=contract_id,
    )
    return await idempotency.run(work)


@router.get(
    "/{contract_id:uuid}",
    response_model=ContractRead,
    summary="One contract, with the terms in force today or on a date",
    description="Without `as_of`: the version in force today in the contract's time zone (a "
    "draft shows its draft; a contract not yet started, its first version). With `as_of`: "
    "the latest activated version whose `effective_from` is on or before that date "
    "(404 `not_in_force` before the first one).",
)
async def get_contract(
    contract_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    as_of: Annotated[Date | None, Query(description="A date, e.g. 2026-07-15.")] = None,
) -> ContractRead:
    return await service.get(
        session=session, principal=principal, clock=clock, contract_id=contract_id, as_of=as_of
    )


@router.get(
    "",
    response_model=ContractPage,
    summary="List and search contracts",
    description="In creation order, a page at a time. Filters combine: "
    "customer and supplier match the whole name (any case); `q` searches reference, "
    "customer and supplier; `expiring_within_days` keeps active contracts whose end (end "
    "date or a scheduled termination) falls within that many days from now.",
)
async def list_contracts(
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    supplier: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(pattern="^(draft|active|terminated|expired)$")] = None,
    expiring_within_days: Annotated[int | None, Query(ge=0, le=3650), TEXT_INT] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    *,
    page: PageDep,
) -> ContractPage:
    return await service.list_contracts(
        session=session,
        principal=principal,
        clock=clock,
        customer=customer,
        supplier=supplier,
        status=status,
        expiring_within_days=expiring_within_days,
        q=q,
        page=page,
    )


@router.get(
    "/{contract_id:uuid}/versions",
    operation_id="listContractVersions",
    response_model=VersionPage,
    summary="The contract's versions",
    description="Every version, oldest first: activated ones (the history), a draft "
    "amendment if one is pending, discarded drafts.",
)
async def list_versions(
    contract_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> VersionPage:
    return await service.list_versions(
        session=session, principal=principal, contract_id=contract_id, page=page
    )


@router.get(
    "/{contract_id:uuid}/versions/{version}",
    operation_id="getContractVersion",
    response_model=VersionRead,
    summary="One version with its terms",
    description="Any version, whatever its state: earlier versions stay readable as they were.",
)
async def get_version(
    contract_id: uuid.UUID, version: VersionNumber, session: SessionDep, principal: CurrentPrincipal
) -> VersionRead:
    return await service.get_version(
        session=session, principal=principal, contract_id=contract_id, version=version
    )


@router.post(
    "/{contract_id:uuid}/amendments",
    status_code=201,
    response_model=VersionRead,
    tags=["amendments"],
    summary="Amend an active contract (a new version)",
    description="Creates the next version with its full terms and effective date, as a "
    "draft; with `activate: true` it is validated and activated in the same call (on any "
    "problem nothing is created). One draft amendment at a time. Accepts `Idempotency-Key`.",
    responses={
        409: {"description": "Not active, or another amendment is being drafted"},
        **_PROBLEMS,
    },
)
async def create_amendment(
    contract_id: uuid.UUID,
    body: AmendmentCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    emit: EmitDep,
    idempotency: IdempotencyDep,
    audit: AuditDep,
) -> JSONResponse:
    async def work() -> VersionRead:
        return await amendments.create(
            session=session,
            principal=principal,
            clock=clock,
            emit=emit,
            audit=audit,
            contract_id=contract_id,
            body=body,
        )

    return await idempotency.run(work, status_code=201)


@router.put(
    "/{contract_id:uuid}/amendments/{version}",
    response_model=VersionRead,
    tags=["amendments"],
    summary="Replace a draft amendment",
    description="Its effective date, note and full terms; nothing is checked until activation.",
    responses={409: {"description": "The version is not a draft amendment"}},
)
async def update_amendment(
    contract_id: uuid.UUID,
    version: VersionNumber,
    body: AmendmentUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> VersionRead:
    return await amendments.update(
        session=session, principal=principal, contract_id=contract_id, version=version, body=body
    )


@router.post(
    "/{contract_id:uuid}/amendments/{version}/activate",
    response_model=VersionRead,
    tags=["amendments"],
    summary="Activate a draft amendment",
    description="Validates the new version (every problem at once) and its place in the "
    "history: reference, currency, time zone and start date unchanged; effective_from not "
    "before the version it amends, nor after the end. Publishes `contract.amended` with the "
    "version's full terms.",
    responses={409: {"description": "Not active, or not a draft amendment"}, **_PROBLEMS},
)
async def activate_amendment(
    contract_id: uuid.UUID,
    version: VersionNumber,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    emit: EmitDep,
    idempotency: IdempotencyDep,
    audit: AuditDep,
) -> JSONResponse:
    work = amendments.activate(
        session=session,
        principal=principal,
        clock=clock,
        emit=emit,
        audit=audit,
        contract_id=contract_id,
        version=version,
    )
    return await idempotency.run(work)


@router.delete(
    "/{contract_id:uuid}/amendments/{version}",
    response_model=VersionRead,
    tags=["amendments"],
    summary="Discard a draft amendment",
    description="The version stays in the history as `discarded`.",
    responses={409: {"description": "The version is not a draft amendment"}},
)
async def discard_amendment(
    contract_id: uuid.UUID, version: VersionNumber, session: SessionDep, principal: CurrentPrincipal
) -> VersionRead:
    return await amendments.discard(
        session=session, principal=principal, contract_id=contract_id, version=version
    )


@router.post(
    "/{contract_id:uuid}/terminate",
    response_model=ContractRead,
    summary="Terminate an active contract, now or on a later date",
    description="With `effective_on` today or earlier (or omitted) the contract is terminated "
    "at once and `contract.terminated` carries the terms of its last version in force. A "
    "later date schedules it: the contract stays active until then and a periodic job ends "
    "it (the same job expires contracts past their end date, reason `expired`).",
    responses={409: {"description": "The contract is not active"}},
)
async def terminate_contract(
    contract_id: uuid.UUID,
    body: TerminationRequest,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    emit: EmitDep,
    idempotency: IdempotencyDep,
    audit: AuditDep,
) -> JSONResponse:
    work = termination.terminate(
        session=session,
        principal=principal,
        clock=clock,
        emit=emit,
        audit=audit,
        contract_id=contract_id,
        body=body,
    )
    return await idempotency.run(work)
