"""consumption.v1 — produced by ERP integrations (directly, or via billing-reconciler's API)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from crm_events.types import Quantity


class ConsumptionItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: str = Field(
        min_length=1, max_length=200, description="The ERP's id; idempotency key."
    )
    contract_id: uuid.UUID
    resource_unit: str = Field(examples=["SRV-WIN"])
    period_label: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-03"])
    quantity: Quantity = Field(ge=0)
    correction: StrictBool = Field(
        default=False,
        description="True to replace an earlier record with the same record_id (the "
        "history is kept); without it a different quantity under a known id is refused.",
    )


class ConsumptionRecorded(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ConsumptionItem] = Field(min_length=1, max_length=10_000)
