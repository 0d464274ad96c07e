"""access.v1 — emitted by contract-registry, where administrators manage API keys. Every
service keeps the keys it must accept from these events; only the SHA-256 of a key's secret
ever leaves the registry."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from crm_events.types import Instant


class ApiKeyIssued(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key_id: str = Field(pattern=r"^[0-9a-f]{12}$")
    name: str
    tenant_id: str | None = Field(description="The tenant the key acts for; null: all tenants.")
    scopes: list[str] = Field(examples=[["contracts:read", "billing:read"]])
    secret_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    issued_at: Instant
    expires_at: Instant | None = None


class ApiKeyRevoked(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key_id: str
    reason: str = ""
    revoked_at: Instant
