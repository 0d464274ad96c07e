from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from crm_events.schemas.telemetry import TelemetryItem


class TelemetryBatch(BaseModel):
    """A batch of telemetry, accepted or rejected whole (documentation of the body; the
    route validates the raw bytes itself, in bulk)."""

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
                        },
                        {
                            "kind": "sample",
                            "service_key": "core-banking",
                            "observed_at": "2026-03-10T19:01:00Z",
                            "status": "up",
                        },
                        {
                            "kind": "incident",
                            "service_key": "core-banking",
                            "ticket_id": "INC0012345",
                            "revision": 3,
                            "priority": "P1",
                            "opened_at": "2026-03-10T14:02:00Z",
                            "responded_at": "2026-03-10T14:10:00Z",
                            "resolved_at": "2026-03-10T17:45:00Z",
                        },
                        {
                            "kind": "measurement",
                            "service_key": "core-banking",
                            "measured_at": "2026-03-10T14:00:00Z",
                            "value": "287.5",
                            "unit": "ms",
                        },
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
    items: list[TelemetryItem] = Field(min_length=1, max_length=10_000)


class TelemetryAccepted(BaseModel):
    accepted: int = Field(description="Items that changed something (stored or upserted).")
    duplicates: int = Field(
        description="Items already known (same interval, sample, measurement, or a ticket "
        "revision not newer than the stored one); nothing changed."
    )
    by_kind: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="accepted/duplicates per kind.",
        examples=[{"outage": {"accepted": 1, "duplicates": 0}}],
    )
