"""obligations.v1 — emitted by obligation-tracker."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class ObligationCreated(BaseModel):
    model_config = ConfigDict(extra="ignore")

    obligation_id: uuid.UUID
    contract_id: uuid.UUID
    kind: str
    title: str
    owner_role: str
    severity: str
    due_date: date
    source_event_id: str | None = None
    period_label: str | None = Field(
        default=None, description="The contract period the obligation follows up, if any."
    )
    created_at: datetime
