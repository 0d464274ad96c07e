"""obligations.v1 — emitted by obligation-tracker."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from crm_events.types import Date, Instant


class ObligationCreated(BaseModel):
    model_config = ConfigDict(extra="ignore")

    obligation_id: uuid.UUID
    contract_id: uuid.UUID
    kind: str
    title: str
    owner_role: str
    severity: str
    due_date: Date
    source_event_id: str | None = None
    period_label: str | None = Field(
        default=None, description="The contract period the obligation follows up, if any."
    )
    created_at: Instant


class ObligationTransitioned(BaseModel):
    """An obligation changed state: due_soon, overdue, fulfilled, waived or escalated."""

    model_config = ConfigDict(extra="ignore")

    obligation_id: uuid.UUID
    contract_id: uuid.UUID
    kind: str
    title: str
    from_status: str
    status: str
    due_date: Date
    owner_role: str
    owner: str | None = None
    escalation_level: StrictInt = 0
    escalated_to: str | None = None
    evidence: dict[str, str] | None = None
    reason: str | None = None
    by: str | None = None
    at: Instant
