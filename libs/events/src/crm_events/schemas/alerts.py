"""alerts.v1 — emitted by obligation-tracker."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict

from crm_events.types import Instant


class AlertRaised(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alert_id: uuid.UUID
    contract_id: uuid.UUID
    severity: str
    title: str
    dedup_key: str
    source_event_id: str
    source_event_type: str
    details: dict[str, Any]
    raised_at: Instant
