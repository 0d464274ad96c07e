from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response

from contract_registry.handover import service
from contract_registry.handover.markdown import render_markdown
from contract_registry.handover.schemas import HandoverBrief
from crm_events.types import Date
from crm_platform.deps import ClockDep, CurrentPrincipal, SessionDep

router = APIRouter(prefix="/contracts/{contract_id:uuid}", tags=["handover"])


@router.get(
    "/handover",
    operation_id="getHandoverBrief",
    response_model=HandoverBrief,
    summary="The handover brief: what a new governance team must know",
    description="For the version in force on `as_of` (default today in the contract's zone): "
    "key dates; monthly charges at baseline and the at-risk amount; each SLA with its levels, "
    "how it is measured, its credit as % of monthly charges and in money at baseline, and the "
    "agreed interpretation of its clause; the price book with the volumes between which no "
    "ARC/RRC applies; obligations with their next due dates (RRULE occurrence + due offset "
    "in business days, holidays skipped); governance reviews; escalation; rebates; clauses "
    "and interpretation notes; versions; the last three periods' health. "
    "`format=markdown` returns the same as a text/markdown document.",
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}},
)
async def get_handover(
    contract_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    as_of: Annotated[Date | None, Query(description="A date, e.g. 2026-03-16.")] = None,
    format: Annotated[Literal["json", "markdown"], Query()] = "json",
) -> Response | HandoverBrief:
    brief = await service.brief(
        session=session, principal=principal, clock=clock, contract_id=contract_id, as_of=as_of
    )
    if format == "markdown":
        return PlainTextResponse(render_markdown(brief), media_type="text/markdown; charset=utf-8")
    return brief
