"""Alerts: events that need a person's attention, raised once per deduplication key."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.alerts import AlertRaised
from crm_events.schemas.billing import CreditCalculated
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.emitter import Emit
from obligation_tracker.alerts.schemas import AlertRead
from obligation_tracker.models import Alert


async def raise_alert(
    *,
    session: AsyncSession,
    clock: Clock,
    emit: Emit,
    tenant_id: str,
    contract_id: uuid.UUID,
    severity: str,
    title: str,
    dedup_key: str,
    source_event_id: str,
    source_event_type: str,
    details: dict[str, str],
) -> uuid.UUID | None:
    """Record the alert and publish `alert.raised`; None when the key was already alerted."""
    alert_id = uuid.uuid4()
    now = clock.now()
    inserted = await session.scalar(
        pg_insert(Alert)
        .values(
            id=alert_id,
            tenant_id=tenant_id,
            contract_id=contract_id,
            severity=severity,
            title=title,
            dedup_key=dedup_key,
            source_event_id=source_event_id,
            source_event_type=source_event_type,
            details=details,
            raised_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Alert.id)
    )
    if inserted is None:
        return None
    await emit(
        "alert.raised",
        subject=str(contract_id),
        tenant=tenant_id,
        data=AlertRaised(
            alert_id=alert_id,
            contract_id=contract_id,
            severity=severity,
            title=title,
            dedup_key=dedup_key,
            source_event_id=source_event_id,
            source_event_type=source_event_type,
            details=details,
            raised_at=now,
        ),
    )
    return alert_id


async def on_credit_calculated(
    *,
    session: AsyncSession,
    clock: Clock,
    emit: Emit,
    tenant_id: str,
    event: CreditCalculated,
    source_event_id: str,
) -> uuid.UUID | None:
    return await raise_alert(
        session=session,
        clock=clock,
        emit=emit,
        tenant_id=tenant_id,
        contract_id=event.contract_id,
        severity="high",
        title=(
            f"SLA {event.sla_code} failed in {event.period_label}: service credit "
            f"{event.credit_amount} {event.currency}"
        ),
        # Keyed on the breach, not on the event: one failed SLA period is one alert.
        dedup_key=f"sla_failure:{event.contract_id}:{event.sla_code}:{event.period_label}",
        source_event_id=source_event_id,
        source_event_type="billing.credit_calculated",
        details={
            "credit_id": str(event.credit_id),
            "credit_amount": str(event.credit_amount),
            "currency": event.currency,
            "sla_code": event.sla_code,
            "period": event.period_label,
            "formula": event.explanation.formula,
        },
    )


async def list_alerts(
    *, session: AsyncSession, principal: Principal, contract_id: uuid.UUID | None, limit: int
) -> list[AlertRead]:
    query = sa.select(Alert).where(principal.tenant_filter(Alert.tenant_id))
    if contract_id is not None:
        query = query.where(Alert.contract_id == contract_id)
    rows = (await session.scalars(query.order_by(Alert.raised_at.desc()).limit(limit))).all()
    return [AlertRead.model_validate(r) for r in rows]
