from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from crm_platform.audit import AuditDep
from crm_platform.deps import ClockDep, CurrentPrincipal, EmitDep, IdempotencyDep, SessionDep
from crm_platform.pagination import PageDep
from crm_platform.params import TEXT_INT
from crm_platform.periods import LABEL_PATTERN
from sla_monitor.attainment import maintenance, service
from sla_monitor.attainment.schemas import (
    AttainmentRead,
    ExplanationRead,
    MaintenanceWindowCreate,
    MaintenanceWindowPage,
    MaintenanceWindowRead,
    PeriodsCloseRequest,
    PeriodsCloseResult,
    RestatementPage,
    ScorecardRead,
)

router = APIRouter(prefix="/contracts/{contract_id:uuid}", tags=["attainment"])
# Calls across contracts (a month end's close).
periods_router = APIRouter(prefix="/periods", tags=["attainment"])

PeriodLabel = Annotated[
    str,
    Path(
        pattern=LABEL_PATTERN,
        examples=["2026-03", "2026-Q1"],
        description="The SLA's calendar period in the contract's time zone, of the kind its "
        "`measurement_period` says: a month `2026-03`, a quarter `2026-Q1` or a year `2026` "
        "(another kind is a 422 that names the form the SLA takes).",
    ),
]
ScorecardMonth = Annotated[
    str,
    Path(
        pattern=LABEL_PATTERN,
        examples=["2026-03"],
        description="A calendar month `YYYY-MM` in the contract's time zone; quarterly and "
        "annual SLAs show the quarter or year that holds it.",
    ),
]


@router.get(
    "/slas/{sla_code}/periods",
    operation_id="listSlaAttainment",
    response_model=list[AttainmentRead],
    summary="Attainment history of one SLA (closed periods as published, the open one live)",
    description="The last `last` periods of the SLA's own kind (months, quarters or years) "
    "up to the current one.",
)
async def list_attainment(
    contract_id: uuid.UUID,
    sla_code: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    last: Annotated[
        int, Query(ge=1, le=36, description="How many periods, up to now."), TEXT_INT
    ] = 12,
) -> list[AttainmentRead]:
    return await service.history(
        session=session,
        principal=principal,
        clock=clock,
        contract_id=contract_id,
        sla_code=sla_code,
        last=last,
    )


@router.get(
    "/slas/{sla_code}/periods/{period}",
    operation_id="getSlaAttainment",
    response_model=AttainmentRead,
    summary="Attainment of one SLA in one period (live while open)",
    description="While the period is open the figures are computed from the stored "
    "telemetry at the time of the request; once closed, the published figures (restated "
    "ones included) are returned.",
)
async def get_attainment(
    contract_id: uuid.UUID,
    sla_code: str,
    period: PeriodLabel,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> AttainmentRead:
    return await service.get(
        session=session,
        principal=principal,
        contract_id=contract_id,
        sla_code=sla_code,
        period_label=period,
    )


@router.get(
    "/slas/{sla_code}/periods/{period}/explanation",
    operation_id="explainSlaAttainment",
    response_model=ExplanationRead,
    summary="Why a period came out as it did",
    description="Period minutes, excluded minutes (maintenance and outside service hours), "
    "the downtime intervals that counted; the incidents that missed their target; the "
    "measured statistic.",
)
async def explain_attainment(
    contract_id: uuid.UUID,
    sla_code: str,
    period: PeriodLabel,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> ExplanationRead:
    return await service.explain(
        session=session,
        principal=principal,
        contract_id=contract_id,
        sla_code=sla_code,
        period_label=period,
    )


@router.get(
    "/slas/{sla_code}/periods/{period}/restatements",
    operation_id="listSlaRestatements",
    response_model=RestatementPage,
    summary="Audit trail of a closed period's restatements",
    description="Oldest first, each with the figures before and after and the reason.",
)
async def list_restatements(
    contract_id: uuid.UUID,
    sla_code: str,
    period: PeriodLabel,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
) -> RestatementPage:
    return await service.restatements(
        session=session,
        principal=principal,
        contract_id=contract_id,
        sla_code=sla_code,
        period_label=period,
        page=page,
    )


@router.post(
    "/slas/{sla_code}/periods/{period}/close",
    operation_id="closeSlaPeriod",
    response_model=AttainmentRead,
    summary="Close a period now (operator)",
    description="Freezes the period's figures and publishes `sla.period_closed` with "
    "the attainment, the outcome and the figures behind it. 409 if already closed. "
    "Periods also close by themselves once they ended and the contract's grace time "
    "(`period_close_grace_hours`, 72 by default) has passed.",
    responses={409: {"description": "The period is already closed"}},
)
async def close_period(
    contract_id: uuid.UUID,
    sla_code: str,
    period: PeriodLabel,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    emit: EmitDep,
    idempotency: IdempotencyDep,
    audit: AuditDep,
) -> JSONResponse:
    work = service.close(
        session=session,
        principal=principal,
        clock=clock,
        emit=emit,
        audit=audit,
        contract_id=contract_id,
        sla_code=sla_code,
        period_label=period,
    )
    return await idempotency.run(work)


@periods_router.post(
    "/{period}/close",
    operation_id="closeSlaPeriods",
    response_model=PeriodsCloseResult,
    summary="Close a period for every SLA of some contracts (month end)",
    description="What `closeSlaPeriod` does, for each SLA of up to 500 contracts measured in "
    "periods of the label's kind, in one transaction: each period closed now publishes "
    "`sla.period_closed` and is listed under `closed`; periods closed before (by the close "
    "job, an operator or an earlier call) are listed under `already_closed` and keep their "
    "published figures, so calling again after a timeout is safe (send an "
    "`Idempotency-Key` to get the first answer back). SLAs with no such period (quarterly "
    "ones for a month, outside the term) are listed under `not_measured`. One audit entry "
    "per contract (`sla_periods.close`). A contract with no SLA known here is a 404 naming "
    "it (`body.contract_ids[i]`), an SLA code in none of the contracts a 422 "
    "(`body.sla_codes[i]`); then nothing closes.",
    responses={404: {"description": "A contract has no SLA known to this service"}},
)
async def close_periods(
    period: PeriodLabel,
    body: PeriodsCloseRequest,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    emit: EmitDep,
    idempotency: IdempotencyDep,
    audit: AuditDep,
) -> JSONResponse:
    work = service.close_periods(
        session=session,
        principal=principal,
        clock=clock,
        emit=emit,
        audit=audit,
        period_label=period,
        body=body,
    )
    return await idempotency.run(work)


@router.get(
    "/scorecard/{period}",
    response_model=ScorecardRead,
    summary="Every SLA of a contract in one month",
    description="Monthly SLAs show the month; quarterly and annual SLAs show the quarter or "
    "year that holds it (each line's `period` says which, with its `kind`).",
)
async def get_scorecard(
    contract_id: uuid.UUID,
    period: ScorecardMonth,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> ScorecardRead:
    return await service.scorecard(
        session=session, principal=principal, contract_id=contract_id, period_label=period
    )


@router.post(
    "/maintenance-windows",
    status_code=201,
    response_model=MaintenanceWindowRead,
    summary="Record an ad-hoc maintenance window the customer approved",
    description="Downtime inside it is excluded like the contract's own windows, for the "
    "listed SLAs (every SLA of the contract when `sla_codes` is empty). Closed periods it "
    "touches are restated (within the restatement window) and listed in the answer.",
)
async def approve_maintenance_window(
    contract_id: uuid.UUID,
    body: MaintenanceWindowCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    emit: EmitDep,
    idempotency: IdempotencyDep,
    audit: AuditDep,
) -> JSONResponse:
    work = maintenance.approve(
        session=session,
        principal=principal,
        clock=clock,
        emit=emit,
        audit=audit,
        contract_id=contract_id,
        body=body,
    )
    return await idempotency.run(work, status_code=201)


@router.get(
    "/maintenance-windows",
    response_model=MaintenanceWindowPage,
    summary="Ad-hoc maintenance windows of a contract",
    description="In the order they start.",
)
async def list_maintenance_windows(
    contract_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> MaintenanceWindowPage:
    return await maintenance.list_windows(
        session=session, principal=principal, contract_id=contract_id, page=page
    )
