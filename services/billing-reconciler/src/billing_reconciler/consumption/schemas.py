from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from crm_events.schemas.consumption import ConsumptionItem


class ConsumptionBatch(BaseModel):
    """Consumption records from the ERP, accepted or rejected whole."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "record_id": "ERP-2026-03-0001",
                            "contract_id": "7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f",
                            "resource_unit": "SRV-WIN",
                            "period_label": "2026-03",
                            "quantity": "214",
                        },
                        {
                            "record_id": "ERP-2026-02-0007",
                            "contract_id": "7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f",
                            "resource_unit": "TCK-L1",
                            "period_label": "2026-02",
                            "quantity": "4810",
                            "correction": True,
                        },
                    ]
                }
            ]
        },
    )

    items: list[ConsumptionItem] = Field(min_length=1, max_length=10_000)


class ConsumptionAccepted(BaseModel):
    accepted: int = Field(description="New records stored.")
    duplicates: int = Field(description="Records already received with the same quantity.")
    corrected: int = Field(description="Records whose quantity a correction replaced.")
