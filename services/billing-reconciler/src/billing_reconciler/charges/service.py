"""Charges of a contract for a period, from the terms in force and the consumption aggregate."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.charges.domain import monthly_charges
from billing_reconciler.charges.schemas import ChargeLineRead, PeriodChargesRead
from billing_reconciler.consumption.service import actuals, ensure_contract
from billing_reconciler.credits.domain import at_risk_amount
from crm_events.schemas.contracts import ContractTerms
from crm_platform.auth import Principal
from crm_platform.contract_terms import terms_in_force
from crm_platform.errors import NotFound, Unprocessable


def period_start(label: str) -> date:
    try:
        year, month = (int(p) for p in label.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise Unprocessable(f"period {label!r} is not YYYY-MM") from None


async def for_period(
    *, session: AsyncSession, contract_id: uuid.UUID, period_label: str
) -> tuple[ContractTerms, PeriodChargesRead]:
    terms = await terms_in_force(session, contract_id, period_start(period_label))
    if terms is None:
        raise NotFound(f"contract {contract_id} is not known to billing-reconciler")
    volumes, record_ids = await actuals(
        session=session, contract_id=contract_id, period_label=period_label
    )
    charges = monthly_charges(terms.price_book, volumes, terms.currency)
    ara = at_risk_amount(charges.total, terms.credit_terms.at_risk_pct, terms.currency)
    return terms, PeriodChargesRead(
        contract_id=contract_id,
        contract_version=terms.version,
        period_label=period_label,
        currency=terms.currency,
        lines=[
            ChargeLineRead(
                kind=line.kind.value,
                resource_unit=line.resource_unit,
                quantity=line.quantity,
                rate=line.rate,
                amount=line.amount,
                formula=line.formula,
                inputs=line.inputs,
            )
            for line in charges.lines
        ],
        monthly_charges=charges.total,
        at_risk_pct=terms.credit_terms.at_risk_pct,
        at_risk_amount=ara,
        units_without_consumption=charges.units_without_consumption,
        consumption_record_ids=record_ids,
    )


async def get(
    *, session: AsyncSession, principal: Principal, contract_id: uuid.UUID, period_label: str
) -> PeriodChargesRead:
    await ensure_contract(session, principal, contract_id)
    _, charges = await for_period(
        session=session, contract_id=contract_id, period_label=period_label
    )
    return charges
