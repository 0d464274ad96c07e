"""Service credits from closed SLA periods."""

from __future__ import annotations

import uuid
from decimal import Decimal

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.charges.service import for_period
from billing_reconciler.consumption.service import ensure_contract
from billing_reconciler.credits.domain import service_credit
from billing_reconciler.credits.schemas import CreditRead
from billing_reconciler.models import ServiceCredit
from crm_events.errors import RetryableEventError
from crm_events.schemas.billing import CreditCalculated, Explanation
from crm_events.schemas.sla import Outcome, SlaPeriodClosed
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.emitter import Emit
from crm_platform.errors import NotFound

log = structlog.get_logger(__name__)


async def on_period_closed(
    *, session: AsyncSession, clock: Clock, emit: Emit, event: SlaPeriodClosed, source_event_id: str
) -> ServiceCredit | None:
    """A failed period earns the customer a credit of ARA × allocation, within the cap."""
    if event.outcome is not Outcome.FAILED:
        return None
    existing = await session.scalar(
        sa.select(ServiceCredit).where(
            ServiceCredit.contract_id == event.contract_id,
            ServiceCredit.sla_code == event.sla_code,
            ServiceCredit.period_label == event.period.label,
        )
    )
    if existing is not None:
        return existing  # the period was already credited; a second close pays nothing more
    try:
        terms, charges = await for_period(
            session=session, contract_id=event.contract_id, period_label=event.period.label
        )
    except NotFound as exc:  # the contract's activation has not reached us yet
        raise RetryableEventError(str(exc)) from exc
    sla = next((s for s in terms.sla_definitions if s.code == event.sla_code), None)
    if sla is None:
        log.warning("credit.unknown_sla", sla_code=event.sla_code, version=terms.version)
        return None
    category_pct = None
    if sla.performance_category:
        category = next(
            (
                c
                for c in terms.credit_terms.performance_categories
                if c.name == sla.performance_category
            ),
            None,
        )
        category_pct = category.allocation_pct if category else None
    already = await session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ServiceCredit.credit_amount), 0)).where(
            ServiceCredit.contract_id == event.contract_id,
            ServiceCredit.period_label == event.period.label,
        )
    ) or Decimal(0)
    credit = service_credit(
        at_risk=charges.at_risk_amount,
        allocation_pct=sla.allocation_pct,
        currency=terms.currency,
        already_credited=Decimal(already),
        category_pct=category_pct,
    )
    explanation = Explanation(
        clause=f"Service credits: SLA {sla.code} ({sla.name or sla.metric_kind.value}), "
        f"at-risk {terms.credit_terms.at_risk_pct}% of monthly charges",
        contract_version=terms.version,
        formula=(
            f"M = base + ARC − RRC = {charges.monthly_charges}; "
            f"ARA = {terms.credit_terms.at_risk_pct}% × M = {charges.at_risk_amount}; "
            f"credit = {credit.formula}"
        ),
        inputs={
            "attainment": str(event.attainment),
            "outcome": event.outcome.value,
            "expected_level": str(event.expected_level),
            "minimum_level": str(event.minimum_level),
            "monthly_charges": str(charges.monthly_charges),
            "at_risk_pct": str(terms.credit_terms.at_risk_pct),
            "at_risk_amount": str(charges.at_risk_amount),
            "allocation_pct": str(sla.allocation_pct),
            "already_credited_in_period": str(already),
            **{
                f"charge.{line.kind}.{line.resource_unit}": str(line.amount)
                for line in charges.lines
            },
        },
        source_ids=[source_event_id, *charges.consumption_record_ids],
    )
    now = clock.now()
    row = ServiceCredit(
        id=uuid.uuid4(),
        tenant_id=terms.tenant_id,
        contract_id=event.contract_id,
        contract_version=terms.version,
        sla_code=event.sla_code,
        period_label=event.period.label,
        currency=terms.currency,
        monthly_charges=charges.monthly_charges,
        at_risk_pct=terms.credit_terms.at_risk_pct,
        at_risk_amount=charges.at_risk_amount,
        allocation_pct=sla.allocation_pct,
        credit_amount=credit.amount,
        explanation=explanation.model_dump(mode="json"),
        source_event_id=source_event_id,
        calculated_at=now,
    )
    session.add(row)
    await session.flush()
    await emit(
        "billing.credit_calculated",
        subject=str(event.contract_id),
        tenant=terms.tenant_id,
        data=CreditCalculated(
            credit_id=row.id,
            contract_id=row.contract_id,
            sla_code=row.sla_code,
            period_label=row.period_label,
            currency=row.currency,
            monthly_charges=row.monthly_charges,
            at_risk_pct=row.at_risk_pct,
            at_risk_amount=row.at_risk_amount,
            allocation_pct=row.allocation_pct,
            credit_amount=row.credit_amount,
            outcome=event.outcome.value,
            explanation=explanation,
            calculated_at=now,
        ),
    )
    return row


async def list_for_contract(
    *, session: AsyncSession, principal: Principal, contract_id: uuid.UUID
) -> list[CreditRead]:
    await ensure_contract(session, principal, contract_id)
    rows = (
        await session.scalars(
            sa.select(ServiceCredit)
            .where(
                ServiceCredit.contract_id == contract_id,
                principal.tenant_filter(ServiceCredit.tenant_id),
            )
            .order_by(ServiceCredit.period_label, ServiceCredit.sla_code)
        )
    ).all()
    return [CreditRead.model_validate(r) for r in rows]
