from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from crm_events.schemas.telemetry import OutageItem


class TelemetryBatch(BaseModel):
    """A batch of telemetry, accepted or rejected whole."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "acme-bank",
                    "items": [
                        {
                            "kind": "outage",
                            "service_key": "core-banking",
                            "started_at": "2026-03-10T14:00:00Z",
                            "ended_at": "2026-03-10T19:00:00Z",
                            "source_id": "INC-4711",
                        }
                    ],
                }
            ]
        },
    )

    tenant_id: str | None = Field(
        default=None,
        max_length=100,
        description="The tenant the telemetry belongs to; required unless the caller acts "
        "for one tenant (X-Tenant-Id).",
    )
    items: list[OutageItem] = Field(min_length=1, max_length=10_000)


class TelemetryAccepted(BaseModel):
    accepted: int = Field(description="Items stored by this request.")
    duplicates: int = Field(description="Items already known (same interval); nothing changed.")
