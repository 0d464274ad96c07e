"""Obligations born from events; reads."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.errors import RetryableEventError
from crm_events.schemas.obligations import ObligationCreated
from crm_events.schemas.sla import Outcome, SlaPeriodClosed
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.contract_terms import latest_terms
from crm_platform.emitter import Emit
from crm_platform.errors import NotFound
from obligation_tracker.models import Obligation
from obligation_tracker.obligations.calendar import add_business_days
from obligation_tracker.obligations.schemas import ObligationRead

ROOT_CAUSE = "root_cause_report"


async def open_root_cause(
    *, session: AsyncSession, clock: Clock, emit: Emit, event: SlaPeriodClosed, source_event_id: str
) -> Obligation | None:
    """A failed or below-expected period opens a root-cause report, due in the contract's
    number of business days after the close, in the contract's time zone."""
    if event.outcome not in (Outcome.FAILED, Outcome.BELOW_EXPECTED):
        return None
    terms = await latest_terms(session, event.contract_id)
    if terms is None:
        raise RetryableEventError(f"contract {event.contract_id} is not known yet")
    days = terms.credit_terms.root_cause_due_business_days
    closed_local = event.closed_at.astimezone(ZoneInfo(terms.timezone)).date()
    now = clock.now()
    obligation_id = uuid.uuid4()
    values = dict(
        id=obligation_id,
        tenant_id=terms.tenant_id,
        contract_id=event.contract_id,
        kind=ROOT_CAUSE,
        title=f"Root-cause report: {event.sla_code} {event.outcome.value} in {event.period.label}",
        clause=f"SLA {event.sla_code}",
        owner_role="service_delivery_manager",
        severity="high" if event.outcome is Outcome.FAILED else "medium",
        status="open",
        due_date=add_business_days(closed_local, days),
        dedup_key=f"{ROOT_CAUSE}:{event.contract_id}:{event.sla_code}:{event.period.label}",
        source_event_id=source_event_id,
        details={
            "sla_code": event.sla_code,
            "period": event.period.label,
            "attainment": str(event.attainment),
            "outcome": event.outcome.value,
            "due_rule": f"{days} business days after close ({closed_local})",
        },
        created_at=now,
    )
    inserted = await session.scalar(
        pg_insert(Obligation)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Obligation.id)
    )
    if inserted is None:
        return None  # the same period was already followed up
    await emit(
        "obligation.created",
        subject=str(event.contract_id),
        tenant=terms.tenant_id,
        data=ObligationCreated(
            obligation_id=obligation_id,
            contract_id=event.contract_id,
            kind=ROOT_CAUSE,
            title=values["title"],
            owner_role=values["owner_role"],
            severity=values["severity"],
            due_date=values["due_date"],
            source_event_id=source_event_id,
            period_label=event.period.label,
            created_at=now,
        ),
    )
    return await session.get(Obligation, obligation_id)


async def list_obligations(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID | None,
    status: str | None,
    owner_role: str | None,
    limit: int,
) -> list[ObligationRead]:
    query = sa.select(Obligation).where(principal.tenant_filter(Obligation.tenant_id))
    if contract_id is not None:
        query = query.where(Obligation.contract_id == contract_id)
    if status is not None:
        query = query.where(Obligation.status == status)
    if owner_role is not None:
        query = query.where(Obligation.owner_role == owner_role)
    rows = (
        await session.scalars(query.order_by(Obligation.due_date, Obligation.id).limit(limit))
    ).all()
    return [ObligationRead.model_validate(r) for r in rows]


async def get(
    *, session: AsyncSession, principal: Principal, obligation_id: uuid.UUID
) -> ObligationRead:
    row = await session.get(Obligation, obligation_id)
    if row is None or not principal.can_access(row.tenant_id):
        raise NotFound(f"obligation {obligation_id} not found")
    return ObligationRead.model_validate(row)
