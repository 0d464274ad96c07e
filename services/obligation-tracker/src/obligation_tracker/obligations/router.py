from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from crm_events.types import Date
from crm_platform.audit import AuditDep
from crm_platform.deps import (
    ClockDep,
    CurrentPrincipal,
    EmitDep,
    IdempotencyDep,
    SessionDep,
)
from crm_platform.pagination import PageDep
from crm_platform.params import TEXT_INT
from obligation_tracker.models import OPEN_STATUSES
from obligation_tracker.obligations import service
from obligation_tracker.obligations.ical import calendar_response
from obligation_tracker.obligations.schemas import (
    FulfilRequest,
    HistoryPage,
    ObligationPage,
    ObligationRead,
    ObligationUpdate,
    WaiveRequest,
)

router = APIRouter(tags=["obligations"])

Status = Literal["open", "overdue", "escalated", "fulfilled", "waived"]
OPEN = list(OPEN_STATUSES)


@router.get(
    "/obligations",
    response_model=ObligationPage,
    summary="List obligations, soonest due first",
    description="Filter by contract, status (repeatable), owner (a person), owner role, kind "
    "and due-date range.",
)
async def list_obligations(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    contract_id: uuid.UUID | None = None,
    status: Annotated[list[Status] | None, Query()] = None,
    owner: str | None = None,
    owner_role: str | None = None,
    kind: str | None = None,
    due_from: Date | None = None,
    due_to: Date | None = None,
) -> ObligationPage:
    return await service.list_obligations(
        session=session,
        principal=principal,
        contract_id=contract_id,
        statuses=status,
        owner=owner,
        owner_role=owner_role,
        kind=kind,
        due_from=due_from,
        due_to=due_to,
        page=page,
    )


@router.get(
    "/obligations/due",
    operation_id="listObligationsDueSoon",
    response_model=ObligationPage,
    summary="Open obligations due in the next N days",
    description="From today to today + `within_days`, in each contract's local dates.",
)
async def due_soon(
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    page: PageDep,
    within_days: Annotated[int, Query(ge=0, le=366), TEXT_INT] = 7,
    owner: str | None = None,
    owner_role: str | None = None,
    contract_id: uuid.UUID | None = None,
) -> ObligationPage:
    return await service.due_within(
        session=session,
        principal=principal,
        now=clock.now(),
        days=within_days,
        owner=owner,
        owner_role=owner_role,
        contract_id=contract_id,
        page=page,
    )


@router.get(
    "/obligations/overdue",
    operation_id="listOverdueObligations",
    response_model=ObligationPage,
    summary="Overdue and escalated obligations",
)
async def overdue(
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    page: PageDep,
    owner: str | None = None,
    owner_role: str | None = None,
    contract_id: uuid.UUID | None = None,
) -> ObligationPage:
    return await service.overdue(
        session=session,
        principal=principal,
        now=clock.now(),
        owner=owner,
        owner_role=owner_role,
        contract_id=contract_id,
        page=page,
    )


@router.get(
    "/obligations/{obligation_id:uuid}", response_model=ObligationRead, summary="One obligation"
)
async def get_obligation(
    obligation_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> ObligationRead:
    return await service.get(session=session, principal=principal, obligation_id=obligation_id)


@router.patch(
    "/obligations/{obligation_id:uuid}",
    operation_id="assignObligation",
    response_model=ObligationRead,
    summary="Assign an obligation to a person (or unassign it)",
)
async def assign(
    obligation_id: uuid.UUID,
    body: ObligationUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    audit: AuditDep,
) -> ObligationRead:
    return await service.assign(
        session=session,
        principal=principal,
        clock=clock,
        audit=audit,
        obligation_id=obligation_id,
        body=body,
    )


@router.post(
    "/obligations/{obligation_id:uuid}/fulfil",
    operation_id="fulfilObligation",
    response_model=ObligationRead,
    summary="Fulfil an obligation, with its evidence",
    description="Evidence is a note, a link and/or the SHA-256 of an uploaded document; "
    "required (422 on `body.evidence`) when the obligation says so. 409 when it is already "
    "fulfilled or waived. Publishes `obligation.fulfilled`. Send an `Idempotency-Key` to make "
    "retries safe.",
    responses={409: {"description": "The obligation is already fulfilled or waived"}},
)
async def fulfil(
    obligation_id: uuid.UUID,
    body: FulfilRequest,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    emit: EmitDep,
    idempotency: IdempotencyDep,
    audit: AuditDep,
) -> JSONResponse:
    async def work() -> ObligationRead:
        return await service.fulfil(
            session=session,
            principal=principal,
            clock=clock,
            emit=emit,
            audit=audit,
            obligation_id=obligation_id,
            body=body,
        )

    return await idempotency.run(work)


@router.post(
    "/obligations/{obligation_id:uuid}/waive",
    operation_id="waiveObligation",
    response_model=ObligationRead,
    summary="Waive an obligation, with the reason and who waived it",
    description="409 when it is already fulfilled or waived. Publishes `obligation.waived`.",
    responses={409: {"description": "The obligation is already fulfilled or waived"}},
)
async def waive(
    obligation_id: uuid.UUID,
    body: WaiveRequest,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    emit: EmitDep,
    idempotency: IdempotencyDep,
    audit: AuditDep,
) -> JSONResponse:
    async def work() -> ObligationRead:
        return await service.waive(
            session=session,
            principal=principal,
            clock=clock,
            emit=emit,
            audit=audit,
            obligation_id=obligation_id,
            body=body,
        )

    return await idempotency.run(work)


@router.get(
    "/obligations/{obligation_id:uuid}/history",
    operation_id="listObligationHistory",
    response_model=HistoryPage,
    summary="Every transition of an obligation, oldest first",
)
async def obligation_history(
    obligation_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> HistoryPage:
    return await service.history(
        session=session, principal=principal, obligation_id=obligation_id, page=page
    )


@router.get(
    "/contracts/{contract_id:uuid}/obligations",
    operation_id="listContractObligations",
    response_model=ObligationPage,
    summary="A contract's obligations",
)
async def contract_obligations(
    contract_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    status: Annotated[list[Status] | None, Query()] = None,
    kind: str | None = None,
) -> ObligationPage:
    return await service.list_obligations(
        session=session,
        principal=principal,
        contract_id=contract_id,
        statuses=status,
        kind=kind,
        page=page,
    )


@router.get(
    "/owners/{owner}/obligations",
    operation_id="listOwnerObligations",
    response_model=ObligationPage,
    summary="A person's obligations (open ones unless a status is given)",
)
async def owner_obligations(
    owner: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    status: Annotated[list[Status] | None, Query()] = None,
) -> ObligationPage:
    return await service.list_obligations(
        session=session,
        principal=principal,
        owner=owner,
        statuses=status or list(OPEN_STATUSES),
        page=page,
    )


@router.get(
    "/owners/{owner}/calendar.ics",
    operation_id="getOwnerCalendar",
    summary="iCalendar feed of a person's open obligations (API key in the header)",
    description="One all-day event per open obligation on its due date. `role` (repeatable) "
    "adds the open obligations of those roles that nobody is assigned to yet. This route "
    "takes the API key in the `Authorization` header (and `X-Tenant-Id`), as every other; a "
    "calendar client, which cannot send headers, subscribes to a calendar feed instead "
    "(`POST /calendar-feeds` issues its URL, with a feed token). An API key is never "
    "accepted in a URL.",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {"schema": {"type": "string"}}}}},
)
async def owner_calendar(
    owner: str,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    role: Annotated[list[str] | None, Query()] = None,
) -> Response:
    rows = await service.calendar_obligations(
        session=session, principal=principal, owner=owner, roles=role or []
    )
    return calendar_response(rows, name=f"Obligations: {owner}", now=clock.now(), request=request)
