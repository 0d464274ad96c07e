from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crm_events.schemas.contracts import ContractDocument

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


class ContractRead(BaseModel):
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
    current_version: int
    created_at: datetime
    updated_at: datetime
    terms: ContractDocument = Field(description="The terms of the current version.")


class ActivationProblem(BaseModel):
    loc: str
    message: str
