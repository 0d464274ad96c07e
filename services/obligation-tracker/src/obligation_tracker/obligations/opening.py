"""An obligation's opening (pure): the row it is stored as, the `obligation.created` it
publishes and the history entry that names that event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from crm_events.schemas.obligations import ObligationCreated


@dataclass
class NewObligation:
    tenant_id: str
    contract_id: uuid.UUID
    kind: str
    title: str
    clause: str
    owner_role: str
    severity: str
    due_date: date
    timezone: str
    dedup_key: str
    source_event_id: str | None = None
    details: dict[str, Any] | None = None
    definition_code: str | None = None
    occurrence_date: date | None = None
    contract_version: int | None = None
    period_label: str | None = None
    evidence_required: bool = False
    owner: str | None = None


def obligation_row(new: NewObligation, obligation_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """The row of an obligation opened at `now`."""
    return {
        "id": obligation_id,
        "tenant_id": new.tenant_id,
        "contract_id": new.contract_id,
        "kind": new.kind,
        "title": new.title,
        "clause": new.clause,
        "owner_role": new.owner_role,
        "owner": new.owner,
        "severity": new.severity,
        "status": "open",
        "due_date": new.due_date,
        "timezone": new.timezone,
        "dedup_key": new.dedup_key,
        "source_event_id": new.source_event_id,
        "details": new.details or {},
        "created_at": now,
        "updated_at": now,
        "definition_code": new.definition_code,
        "occurrence_date": new.occurrence_date,
        "contract_version": new.contract_version,
        "period_label": new.period_label,
        "evidence_required": new.evidence_required,
        "escalation_level": 0,
    }


def created_event(new: NewObligation, obligation_id: uuid.UUID, now: datetime) -> ObligationCreated:
    return ObligationCreated(
        obligation_id=obligation_id,
        contract_id=new.contract_id,
        kind=new.kind,
        title=new.title,
        owner_role=new.owner_role,
        severity=new.severity,
        due_date=new.due_date,
        source_event_id=new.source_event_id,
        # Recurring instances count in the month they are due.
        period_label=new.period_label or f"{new.due_date:%Y-%m}",
        created_at=now,
    )


def created_history(
    new: NewObligation, obligation_id: uuid.UUID, event_id: str, now: datetime
) -> dict[str, Any]:
    """The history entry of an obligation's opening, published as `event_id`."""
    return {
        "obligation_id": obligation_id,
        "tenant_id": new.tenant_id,
        "action": "created",
        "from_status": None,
        "to_status": "open",
        "by": None,
        "reason": None,
        "details": {"due_date": new.due_date.isoformat(), "owner_role": new.owner_role},
        "event_id": event_id,
        "at": now,
    }
