from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from crm_platform.pagination import Page


class ObligationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contract_id: uuid.UUID
    kind: str = Field(
        description="contractual, governance_review, root_cause_report, dispute_resolution "
        "or renegotiation"
    )
    title: str
    clause: str
    owner_role: str
    owner: str | None = Field(description="The person it is assigned to, if any.")
    severity: str
    status: str = Field(description="open, overdue, escalated, fulfilled or waived")
    due_date: date = Field(description="Local date in the contract's time zone.")
    timezone: str
    definition_code: str | None
    occurrence_date: date | None
    contract_version: int | None
    period_label: str | None
    evidence_required: bool
    evidence: dict[str, str] | None
    resolved_at: datetime | None
    resolved_by: str | None
    reason: str | None
    overdue_at: datetime | None
    escalation_level: int
    escalated_to: str | None
    escalated_at: datetime | None
    source_event_id: str | None
    details: dict[str, Any]
    created_at: datetime
    updated_at: datetime | None


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, min_length=1, max_length=5000)
    link: AnyHttpUrl | None = Field(default=None, description="Where the evidence lives.")
    document_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="SHA-256 of an uploaded document (64 hex digits).",
    )
    document_name: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _something(self) -> Evidence:
        if self.note is None and self.link is None and self.document_sha256 is None:
            raise ValueError("give at least one of note, link or document_sha256")
        return self

    def as_dict(self) -> dict[str, str]:
        out = {
            "note": self.note,
            "link": str(self.link) if self.link is not None else None,
            "document_sha256": self.document_sha256.lower() if self.document_sha256 else None,
            "document_name": self.document_name,
        }
        return {k: v for k, v in out.items() if v is not None}


class FulfilRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "by": "j.doe@globex.example",
                    "evidence": {
                        "link": "https://docs.example.com/rca/2026-03-avail-core.pdf",
                        "document_sha256": "9f86d081884c7d659a2feaa0c55ad015"
                        "a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    },
                }
            ]
        },
    )

    by: str = Field(min_length=1, max_length=200, description="Who fulfilled it.")
    evidence: Evidence | None = Field(
        default=None, description="Required when the obligation requires evidence."
    )


class WaiveRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"by": "a.lee@acme.example", "reason": "Agreed at the March review"}]
        },
    )

    by: str = Field(min_length=1, max_length=200, description="Who waived it.")
    reason: str = Field(min_length=3, max_length=2000)


class ObligationUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"owner": "j.doe@globex.example"}]}
    )

    owner: str | None = Field(
        min_length=1, max_length=200, description="The person who owns it; null unassigns."
    )
    by: str | None = Field(default=None, max_length=200, description="Who assigned it.")


class HistoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str
    from_status: str | None
    to_status: str
    by: str | None
    reason: str | None
    details: dict[str, Any]
    event_id: str | None
    at: datetime


class ObligationPage(Page[ObligationRead]):
    """A page of obligations."""


class HistoryPage(Page[HistoryRead]):
    """A page of an obligation's transitions."""
