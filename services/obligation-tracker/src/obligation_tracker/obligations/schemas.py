from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ObligationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contract_id: uuid.UUID
    kind: str
    title: str
    clause: str
    owner_role: str
    severity: str
    status: str
    due_date: date
    source_event_id: str | None
    details: dict[str, Any]
    created_at: datetime
