"""Obligations born from events: a root-cause report for a missed SLA period, a dispute for
an invoice that differs from the contract, a renegotiation when volume leaves its band."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.errors import RetryableEventError
from crm_events.schemas.billing import DiscrepancyFound, VolumeBandExceeded
from crm_events.schemas.contracts import ContractTerms
from crm_events.schemas.sla import Outcome, SlaPeriodClosed
from crm_platform.clock import Clock
from crm_platform.contract_calendar import add_business_days
from crm_platform.contract_terms import latest_terms
from crm_platform.emitter import Emit
from obligation_tracker.alerts.rules import merge_details
from obligation_tracker.models import OPEN_STATUSES, Obligation
from obligation_tracker.obligations.lifecycle import NewObligation, open_obligation
from obligation_tracker.settings import Settings

ROOT_CAUSE = "root_cause_report"
DISPUTE = "dispute_resolution"
RENEGOTIATION = "renegotiation"


async def _terms(session: AsyncSession, contract_id: uuid.UUID) -> ContractTerms:
    terms = await latest_terms(session, contract_id)
    if terms is None:
        # The contract's activation has not reached us yet: retry, then DLQ.
        raise RetryableEventError(f"contract {contract_id} is not known yet")
    return terms


async def open_root_cause(
    *,
    session: AsyncSession,
    clock: Clock,
    emit: Emit,
    settings: Settings,
    event: SlaPeriodClosed,
    source_event_id: str,
) -> uuid.UUID | None:
    """A failed or below-expected period opens a root-cause report, due the contract's number
    of business days after the close (its local date, its holidays)."""
    if event.outcome not in (Outcome.FAILED, Outcome.BELOW_EXPECTED):
        return None
    terms = await _terms(session, event.contract_id)
    days = terms.credit_terms.root_cause_due_business_days
    closed_local = event.closed_at.astimezone(ZoneInfo(terms.timezone)).date()
    due = add_business_days(closed_local, days, set(terms.holidays))
    return await open_obligation(
        session,
        clock,
        emit,
        NewObligation(
            tenant_id=terms.tenant_id,
            contract_id=event.contract_id,
            kind=ROOT_CAUSE,
            title=(
                f"Root-cause report: {event.sla_code} {event.outcome.value} in {event.period.label}"
            ),
            clause=f"SLA {event.sla_code}",
            owner_role=settings.root_cause_owner_role,
            severity="high" if event.outcome is Outcome.FAILED else "medium",
            due_date=due,
            timezone=terms.timezone,
            dedup_key=f"{ROOT_CAUSE}:{event.contract_id}:{event.sla_code}:{event.period.label}",
            source_event_id=source_event_id,
            period_label=event.period.label,
            contract_version=event.contract_version,
            evidence_required=True,
            details={
                "sla_code": event.sla_code,
                "period": event.period.label,
                "attainment": None if event.attainment is None else str(event.attainment),
                "outcome": event.outcome.value,
                "due_rule": f"{days} business days after close ({closed_local})",
            },
        ),
    )


async def _open_of_kind(
    session: AsyncSession, contract_id: uuid.UUID, kind: str, **match: str
) -> Obligation | None:
    query = sa.select(Obligation).where(
        Obligation.contract_id == contract_id,
        Obligation.kind == kind,
        Obligation.status.in_(OPEN_STATUSES),
    )
    for key, value in match.items():
        query = query.where(Obligation.details[key].astext == value)
    return await session.scalar(query.order_by(Obligation.created_at).limit(1).with_for_update())


async def open_dispute(
    *,
    session: AsyncSession,
    clock: Clock,
    emit: Emit,
    settings: Settings,
    event: DiscrepancyFound,
    source_event_id: str,
) -> uuid.UUID | None:
    """One dispute-resolution obligation per invoice; its discrepancies gather on it."""
    terms = await _terms(session, event.contract_id)
    line = (
        f"{event.discrepancy_class} {event.direction} {event.amount} {event.currency}"
        + (f" on {event.item_code}" if event.item_code else "")
        + (f" (line {event.line_number})" if event.line_number is not None else "")
    )
    existing = await _open_of_kind(
        session, event.contract_id, DISPUTE, invoice_id=str(event.invoice_id)
    )
    if existing is not None:
        existing.details = merge_details(existing.details, {"discrepancies": [line]})
        existing.updated_at = clock.now()
        return None
    found_local = event.found_at.astimezone(ZoneInfo(terms.timezone)).date()
    days = settings.dispute_due_business_days
    return await open_obligation(
        session,
        clock,
        emit,
        NewObligation(
            tenant_id=terms.tenant_id,
            contract_id=event.contract_id,
            kind=DISPUTE,
            title=(
                f"Resolve the differences on invoice {event.invoice_number} ({event.period_label})"
            ),
            clause="Invoicing and disputes",
            owner_role=settings.dispute_owner_role,
            severity="high" if event.direction == "over_billed" else "medium",
            due_date=add_business_days(found_local, days, set(terms.holidays)),
            timezone=terms.timezone,
            dedup_key=f"{DISPUTE}:{event.contract_id}:{event.invoice_id}:r{event.revision}",
            source_event_id=source_event_id,
            period_label=event.period_label,
            evidence_required=True,
            details={
                "invoice_id": str(event.invoice_id),
                "invoice_number": event.invoice_number,
                "period": event.period_label,
                "currency": event.currency,
                "discrepancies": [line],
                "due_rule": f"{days} business days after the reconciliation ({found_local})",
            },
        ),
    )


async def open_renegotiation(
    *,
    session: AsyncSession,
    clock: Clock,
    emit: Emit,
    settings: Settings,
    event: VolumeBandExceeded,
    source_event_id: str,
) -> uuid.UUID | None:
    """Volume outside its band opens one renegotiation per resource unit; later periods
    outside the band join the open one."""
    terms = await _terms(session, event.contract_id)
    fact = (
        f"{event.period_label}: {event.actual} ({event.direction} "
        f"{event.floor_pct}%–{event.ceiling_pct}% of {event.baseline})"
    )
    existing = await _open_of_kind(
        session, event.contract_id, RENEGOTIATION, resource_unit=event.resource_unit
    )
    if existing is not None:
        existing.details = merge_details(existing.details, {"periods": [fact]})
        existing.updated_at = clock.now()
        return None
    detected_local = event.detected_at.astimezone(ZoneInfo(terms.timezone)).date()
    days = settings.renegotiation_due_business_days
    return await open_obligation(
        session,
        clock,
        emit,
        NewObligation(
            tenant_id=terms.tenant_id,
            contract_id=event.contract_id,
            kind=RENEGOTIATION,
            title=f"Renegotiate {event.resource_unit}: volume {event.direction} its band",
            clause="Price book: volume bands",
            owner_role=settings.renegotiation_owner_role,
            severity="medium",
            due_date=add_business_days(detected_local, days, set(terms.holidays)),
            timezone=terms.timezone,
            dedup_key=(
                f"{RENEGOTIATION}:{event.contract_id}:{event.resource_unit}:{event.period_label}"
            ),
            source_event_id=source_event_id,
            period_label=event.period_label,
            details={
                "resource_unit": event.resource_unit,
                "periods": [fact],
                "due_rule": f"{days} business days after detection ({detected_local})",
            },
        ),
    )
