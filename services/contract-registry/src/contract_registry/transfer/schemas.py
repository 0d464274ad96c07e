"""The one-file form of a whole contract: its state and every version, with their terms."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from crm_events.schemas.contracts import ContractDocument
from crm_events.types import Date, Instant

ExportFormat = Literal["contract-registry.contract/1"]
EXPORT_FORMAT: ExportFormat = "contract-registry.contract/1"
ContractStatus = Literal["draft", "active", "terminated", "expired"]
VersionState = Literal["draft", "activated", "discarded"]


class ExportedContract(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = Field(
        default=None, description="The id in the exporting registry; an import assigns a new one."
    )
    tenant_id: str | None = Field(default=None, min_length=1, max_length=100)
    status: ContractStatus = "draft"
    created_at: Instant | None = None
    terminates_on: Date | None = None
    termination_reason: str | None = Field(default=None, max_length=500)
    terminated_at: Instant | None = None


class ExportedVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: StrictInt = Field(ge=1)
    state: VersionState
    effective_from: Date
    note: str = Field(default="", max_length=2000)
    created_at: Instant | None = None
    activated_at: Instant | None = None
    terms: ContractDocument


class ContractExport(BaseModel):
    """Everything the registry holds about one contract (not its health, which other
    services' events rebuild)."""

    model_config = ConfigDict(extra="forbid")

    format: ExportFormat = Field(
        default=EXPORT_FORMAT, description="The document's format and version."
    )
    exported_at: Instant | None = None
    contract: ExportedContract
    versions: list[ExportedVersion] = Field(min_length=1, max_length=1000)
