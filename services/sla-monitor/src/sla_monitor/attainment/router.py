from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path

from crm_platform.deps import ClockDep, CurrentPrincipal, EmitDep, SessionDep
from sla_monitor.attainment import service
from sla_monitor.attainment.schemas import AttainmentRead

router = APIRouter(prefix="/contracts/{contract_id}/slas/{sla_code}/periods", tags=["attainment"])

PeriodLabel = Annotated[
    str,
    Path(
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        examples=["2026-03"],
        description="Calendar month in the contract's time zone.",
    ),
]


@router.get(
    "/{period}",
    response_model=AttainmentRead,
    summary="Attainment of one SLA in one period (live while open)",
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


@router.post(
    "/{period}/close",
    response_model=AttainmentRead,
    summary="Close a period now (operator)",
    description="Freezes the period's figures and publishes `sla.period_closed` with "
    "the attainment, the outcome and the figures behind it. 409 if already closed.",
)
async def close_period(
    contract_id: uuid.UUID,
    sla_code: str,
    period: PeriodLabel,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    emit: EmitDep,
) -> AttainmentRead:
    return await service.close(
        session=session,
        principal=principal,
        clock=clock,
        emit=emit,
        contract_id=contract_id,
        sla_code=sla_code,
        period_label=period,
    )
