"""An obligation's life: opened, then due soon, overdue, escalated, fulfilled or waived.

Every step is written to the obligation, kept in its history and published on
`obligations.v1` (and to the webhooks that want it) in the same transaction. Overdue and
escalated obligations also go through the alert rules.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.envelope import Envelope
from crm_events.schemas.obligations import ObligationTransitioned
from crm_platform.clock import Clock
from crm_platform.emitter import Emit
from obligation_tracker.alerts.service import evaluate as evaluate_alert_rules
from obligation_tracker.models import Obligation, ObligationHistory
from obligation_tracker.obligations.opening import (
    NewObligation,
    created_event,
    created_history,
    obligation_row,
)
from obligation_tracker.outbound import publish_outbound


async def open_obligation(
    session: AsyncSession, clock: Clock, emit: Emit, new: NewObligation
) -> uuid.UUID | None:
    """Insert the obligation unless its key exists; its id, or None when it was already
    opened."""
    now = clock.now()
    obligation_id = uuid.uuid4()
    inserted = await session.scalar(
        pg_insert(Obligation)
        .values(**obligation_row(new, obligation_id, now))
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Obligation.id)
    )
    if inserted is None:
        return None
    envelope = await publish_outbound(
        session,
        emit,
        "obligation.created",
        subject=str(new.contract_id),
        tenant=new.tenant_id,
        data=created_event(new, obligation_id, now),
    )
    session.add(ObligationHistory(**created_history(new, obligation_id, envelope.id, now)))
    return obligation_id


async def transition(
    session: AsyncSession,
    clock: Clock,
    emit: Emit,
    row: Obligation,
    *,
    event: str,
    to_status: str,
    by: str | None = None,
    reason: str | None = None,
    evidence: dict[str, str] | None = None,
) -> Envelope:
    """Move the obligation (already changed by the caller where needed) to `to_status` and
    publish `obligation.<event>`."""
    now = clock.now()
    from_status = row.status
    row.status = to_status
    row.updated_at = now
    envelope = await publish_outbound(
        session,
        emit,
        f"obligation.{event}",
        subject=str(row.contract_id),
        tenant=row.tenant_id,
        data=ObligationTransitioned(
            obligation_id=row.id,
            contract_id=row.contract_id,
            kind=row.kind,
            title=row.title,
            from_status=from_status,
            status=to_status,
            due_date=row.due_date,
            owner_role=row.owner_role,
            owner=row.owner,
            escalation_level=row.escalation_level,
            escalated_to=row.escalated_to,
            evidence=evidence,
            reason=reason,
            by=by,
            at=now,
        ),
    )
    record(
        session,
        row,
        action=event,
        from_status=from_status,
        by=by,
        reason=reason,
        details=_history_details(row, event, evidence),
        event_id=envelope.id,
        at=now,
    )
    if event in ("overdue", "escalated"):
        await evaluate_alert_rules(
            session=session,
            clock=clock,
            emit=emit,
            tenant_id=row.tenant_id,
            event_type=envelope.type,
            payload=ObligationTransitioned.model_validate(envelope.data),
            source_event_id=envelope.id,
        )
    return envelope


def record(
    session: AsyncSession,
    row: Obligation,
    *,
    action: str,
    from_status: str | None,
    at: Any,
    by: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> None:
    """A history entry for a change that is not a status transition (assignment, snapshot)
    or for one that is (called by `transition`)."""
    session.add(
        ObligationHistory(
            obligation_id=row.id,
            tenant_id=row.tenant_id,
            action=action,
            from_status=from_status,
            to_status=row.status,
            by=by,
            reason=reason,
            details=details or {},
            event_id=event_id,
            at=at,
        )
    )


def _history_details(
    row: Obligation, event: str, evidence: dict[str, str] | None
) -> dict[str, Any]:
    if event == "escalated":
        return {"escalation_level": row.escalation_level, "escalated_to": row.escalated_to}
    if evidence:
        return {"evidence": evidence}
    if event in ("overdue", "due_soon"):
        return {"due_date": row.due_date.isoformat()}
    return {}
