from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from crm_events.schemas.contracts import ContractDocument
from crm_events.types import Date
from crm_platform.pagination import Page

EXAMPLE: dict[str, Any] = {
    "tenant_id": "acme-bank",
    "reference": "ACME-ITO-2026",
    "customer": "Acme Bank",
    "supplier": "Globex Services",
    "currency": "USD",
    "timezone": "America/New_York",
    "start_date": "2026-01-01",
    "end_date": "2028-12-31",
    "price_book": [
        {
            "code": "SRV-WIN",
            "name": "Windows server",
            "unit": "server",
            "unit_price": "150.00",
            "baseline_volume": "200",
            "arc_rate": "140.00",
            "rrc_rate": "120.00",
            "deadband_pct": "5",
        },
    ],
    "sla_definitions": [
        {
            "code": "AVAIL-CORE",
            "name": "Core banking availability",
            "metric_kind": "availability",
            "service_key": "core-banking",
            "expected_level": "99.9",
            "minimum_level": "99.5",
            "allocation_pct": "40",
        },
    ],
    "credit_terms": {"at_risk_pct": "12", "pool_pct": "200"},
}
_TERMS_EXAMPLE = {k: v for k, v in EXAMPLE.items() if k != "tenant_id"}

VERSION_STATES = "draft, activated or discarded"


class ContractCreate(ContractDocument):
    """A new contract, created as a draft (version 1)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})

    tenant_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The customer account the contract belongs to; required unless the "
        "caller acts for one tenant (X-Tenant-Id).",
    )


class DraftUpdate(ContractDocument):
    """The whole document of a draft contract, replacing the previous one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_TERMS_EXAMPLE]})


class ContractSummary(BaseModel):
    """A contract without its terms (listings)."""

    id: uuid.UUID
    tenant_id: str
    reference: str
    customer: str
    supplier: str
    currency: str
    timezone: str
    status: str = Field(description="draft, active, terminated or expired")
    start_date: date
    end_date: date | None
    current_version: int = Field(
        description="The latest activated version (1 while the contract is a draft)."
    )
    draft_version: int | None = Field(
        default=None, description="An amendment being drafted, if any."
    )
    terminates_on: date | None = Field(
        default=None,
        description="The day a termination takes effect (the contract is not in force from "
        "then); in the future while it is scheduled.",
    )
    termination_reason: str | None = None
    terminated_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class ContractRead(ContractSummary):
    version: int = Field(description="The version whose terms are shown.")
    version_state: str = Field(description=VERSION_STATES)
    effective_from: date = Field(description="When the shown version took effect.")
    as_of: date | None = Field(
        default=None, description="The date asked for (as_of), if any: the terms in force then."
    )
    terms: ContractDocument = Field(description="The terms of the shown version.")


class VersionSummary(BaseModel):
    version: int
    state: str = Field(description=VERSION_STATES)
    effective_from: date
    note: str = Field(description="What the amendment changes, in the deal team's words.")
    created_at: datetime
    activated_at: datetime | None


class VersionRead(VersionSummary):
    contract_id: uuid.UUID
    terms: ContractDocument


_AMENDMENT_EXAMPLE: dict[str, Any] = {
    "effective_from": "2026-07-01",
    "note": "Change request CR-12: SRV-WIN baseline raised to 240 servers",
    "terms": {
        **_TERMS_EXAMPLE,
        "price_book": [{**EXAMPLE["price_book"][0], "baseline_volume": "240"}],
    },
    "activate": False,
}


class AmendmentCreate(BaseModel):
    """A new version of an active contract: its full terms and the date they take effect."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_AMENDMENT_EXAMPLE]})

    effective_from: Date = Field(description="The first day the new terms are in force.")
    note: str = Field(default="", max_length=2000)
    terms: ContractDocument
    activate: StrictBool = Field(
        default=False,
        description="Validate and activate at once (publishes contract.amended); on any "
        "problem nothing is created. False keeps the version as an editable draft.",
    )


class AmendmentUpdate(BaseModel):
    """Replaces a draft amendment."""

    model_config = ConfigDict(extra="forbid")

    effective_from: Date
    note: str = Field(default="", max_length=2000)
    terms: ContractDocument


class TerminationRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "Termination for convenience (clause 19.2)",
                    "effective_on": "2026-09-01",
                }
            ]
        },
    )

    reason: str = Field(min_length=1, max_length=500)
    effective_on: Date | None = Field(
        default=None,
        description="The first day the contract is no longer in force; today (in the "
        "contract's time zone) when omitted. A future date schedules the termination.",
    )


class ContractPage(Page[ContractSummary]):
    """A page of contracts."""


class VersionPage(Page[VersionSummary]):
    """A page of a contract's versions."""
