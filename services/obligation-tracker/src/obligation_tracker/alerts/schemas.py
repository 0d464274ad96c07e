from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contract_id: uuid.UUID
    severity: str
    title: str
    dedup_key: str
    source_event_id: str
    source_event_type: str
    details: dict[str, Any]
    raised_at: datetime
