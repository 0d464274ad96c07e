from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from billing_reconciler.common import PERIOD_PATTERN
from billing_reconciler.consumption.service import ensure_contract, list_records
from billing_reconciler.periods import service
from billing_reconciler.periods.schemas import (
    ConsumptionRecordPage,
    PeriodChargesRead,
    PriceBookRead,
)
from billing_reconciler.periods.statement import load_book, year_start
from crm_events.types import Date
from crm_platform.audit import AuditDep
from crm_platform.deps import ClockDep, CurrentPrincipal, EmitDep, SessionDep
from crm_platform.errors import NotFound
from crm_platform.idempotency import refuse_idempotency_key
from crm_platform.pagination import PageDep

router = APIRouter(prefix="/contracts/{contract_id:uuid}", tags=["charges"])

PeriodLabel = Annotated[str, Path(pattern=PERIOD_PATTERN, examples=["2026-03"])]
COMPUTE_IS_IDEMPOTENT = (
    "computing is idempotent by itself (again with nothing changed it stores and publishes "
    "nothing), and a retry should answer the figures as they are now."
)


@router.get(
    "/charges/{period}",
    operation_id="getPeriodCharges",
    response_model=PeriodChargesRead,
    summary="What a period owes, line by line, each with its explanation",
    description="Base, ARC/RRC, service credits, earn-back and rebate lines as of now, each "
    "with the clause, contract version, formula, inputs and the ids of the records behind "
    "it. Reading stores and publishes nothing; `revision` is set when the figures are those "
    "of the latest stored computation.",
)
async def get_charges(
    contract_id: uuid.UUID, period: PeriodLabel, session: SessionDep, principal: CurrentPrincipal
) -> PeriodChargesRead:
    return await service.read(
        session=session, principal=principal, contract_id=contract_id, period_label=period
    )


@router.post(
    "/periods/{period}/compute",
    operation_id="computePeriodCharges",
    response_model=PeriodChargesRead,
    summary="Compute a period's charges now (and publish them when they changed)",
    description="Settles the period's credits, stores the statement as a new revision when "
    "it changed and then publishes `billing.charges_computed` and reconciles the period's "
    "invoices again. Idempotent: computing again with nothing changed publishes nothing.",
)
async def compute_period(
    contract_id: uuid.UUID,
    period: PeriodLabel,
    session: SessionDep,
    principal: CurrentPrincipal,
    emit: EmitDep,
    clock: ClockDep,
    _key: Annotated[None, refuse_idempotency_key(COMPUTE_IS_IDEMPOTENT)],
    audit: AuditDep,
) -> PeriodChargesRead:
    return await service.compute(
        session=session,
        principal=principal,
        contract_id=contract_id,
        period_label=period,
        emit=emit,
        audit=audit,
        now=clock.now(),
    )


@router.get(
    "/periods/{period}/consumption",
    operation_id="listPeriodConsumption",
    response_model=ConsumptionRecordPage,
    summary="Consumption records of a period, with every revision",
    description="The records behind the period's actual volumes: current quantity and the "
    "history of corrections. By resource unit, then record id.",
)
async def get_consumption(
    contract_id: uuid.UUID,
    period: PeriodLabel,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
) -> ConsumptionRecordPage:
    return await list_records(
        session=session,
        principal=principal,
        contract_id=contract_id,
        period_label=period,
        page=page,
    )


@router.get(
    "/price-book",
    response_model=PriceBookRead,
    summary="The price book and credit terms in force on a date",
    description="From the contract versions received on `contracts.v1`: the latest version "
    "effective on `on` (today when omitted).",
)
async def get_price_book(
    contract_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    on: Annotated[Date | None, Query(description="Date, e.g. 2026-03-01")] = None,
) -> PriceBookRead:
    await ensure_contract(session, principal, contract_id)
    book = await load_book(session, contract_id)
    if book is None:
        raise NotFound(f"contract {contract_id} is not known to billing-reconciler")
    terms = book.terms_on(on or clock.now().date())
    return PriceBookRead(
        contract_id=contract_id,
        version=terms.version,
        effective_from=terms.effective_from,
        currency=terms.currency,
        price_book=terms.price_book,
        credit_terms=terms.credit_terms,
        rebate_tiers=terms.rebate_tiers,
        contract_year_start=year_start(terms),
        reconciliation_tolerance=terms.reconciliation_tolerance,
    )
