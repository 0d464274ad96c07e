from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
)

from crm_platform.pagination import Page
from obligation_tracker.webhooks.signing import check_new_secret

WebhookEventType = Literal[
    "alert.raised",
    "obligation.created",
    "obligation.due_soon",
    "obligation.overdue",
    "obligation.escalated",
    "obligation.fulfilled",
    "obligation.waived",
]


def _alerts_only() -> list[WebhookEventType]:
    return ["alert.raised"]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://erp.example.com/hooks/crm",
                    "event_types": ["alert.raised", "obligation.escalated"],
                    "description": "ERP incident queue",
                    "tenant_id": "acme-bank",
                }
            ]
        },
    )

    url: AnyHttpUrl = Field(
        description="Where deliveries are POSTed: http or https, to a host whose addresses "
        "are all public (loopback, private, link-local and cloud metadata addresses are "
        "refused unless the operator allows them)."
    )
    event_types: list[WebhookEventType] = Field(
        default_factory=_alerts_only,
        min_length=1,
        description="Event types delivered to this URL.",
    )
    secret: str | None = Field(
        default=None,
        max_length=200,
        description="Signing secret, `whsec_` and the base64 of 24 to 64 random bytes (the "
        "Standard Webhooks form); generated when omitted. Returned only in this response.",
        examples=["whsec_93XSB+fOIGAB0nqoca7iqn0Ak/EC2vtK"],
    )
    description: str = Field(default="", max_length=500)
    tenant_id: str | None = Field(
        default=None, description="The tenant whose events are delivered (operators only)."
    )

    @field_validator("secret")
    @classmethod
    def _standard_secret(cls, secret: str | None) -> str | None:
        return None if secret is None else check_new_secret(secret)


class SecretRotation(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"overlap_seconds": 3600}]}
    )

    overlap_seconds: StrictInt | None = Field(
        default=None,
        ge=0,
        le=7 * 86400,
        description="How long the replaced secret keeps signing beside the new one (every "
        "delivery then carries both signatures). Default: the service's "
        "`WEBHOOK_SECRET_OVERLAP_SECONDS` (a day); 0 stops it at once (a leaked secret).",
    )


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl | None = None
    event_types: list[WebhookEventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=500)
    enabled: StrictBool | None = Field(
        default=None,
        description="true re-enables a subscription disabled after failures (and resets the "
        "failure count); false pauses it. Pending deliveries wait while it is disabled.",
    )


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: str
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failures: int
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation: until when the previous secret signs too."
    )
    created_at: datetime
    updated_at: datetime | None


class WebhookCreated(WebhookRead):
    secret: str | None = Field(
        description="The signing secret (`whsec_<base64>`). Store it now: it is not shown "
        "again. Null on an idempotent replay (`Idempotent-Replayed: true`); rotate it if the "
        "first response was lost."
    )


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int
    at: datetime


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: str
    event_type: str
    contract_id: uuid.UUID | None
    status: str = Field(description="pending, delivered or failed (attempts exhausted)")
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[AttemptRead] = Field(default_factory=list)


class WebhookPage(Page[WebhookRead]):
    """A page of webhook subscriptions."""


class DeliveryPage(Page[DeliveryRead]):
    """A page of a subscription's delivery log."""
