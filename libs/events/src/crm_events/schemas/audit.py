"""audit.v1 — emitted by every service: one event per audited operator action (a period
closed, a maintenance window approved, an obligation fulfilled or waived, a webhook or an
API key changed...), from the same transaction as the action and its audit row. Archives
and security tooling read it; no service consumes it."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crm_events.types import Instant


class AuditRecorded(BaseModel):
    model_config = ConfigDict(extra="ignore")

    audit_id: uuid.UUID = Field(description="The audit row's id in the emitting service.")
    action: str = Field(
        description="What was done, `<subject type>.<verb>`.",
        examples=["sla_period.close", "obligation.waive", "webhook.rotate_secret"],
    )
    subject_type: str = Field(examples=["sla_period", "obligation", "webhook", "api_key"])
    subject_id: str = Field(description="The changed object's id within its type.")
    contract_id: uuid.UUID | None = Field(
        description="The contract the action touched; null for tenant-wide objects (webhooks, "
        "API keys)."
    )
    tenant_id: str = Field(description="The tenant acted for; `*` for all tenants.")
    actor_key_id: str = Field(
        description="The id of the caller's API key (`bootstrap` for the administrator key)."
    )
    recorded_at: Instant = Field(description="When, by the service's clock.")
    before: dict[str, Any] | None = Field(
        description="The changed fields before the action; null when the object is new. "
        "Never a secret."
    )
    after: dict[str, Any] | None = Field(
        description="The changed fields after the action; null when the object is gone. "
        "Never a secret."
    )
