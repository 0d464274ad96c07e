from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import NoDecode

from crm_platform.settings import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("OBLIGATION_TRACKER_")

    service_name: str = "obligation-tracker"
    database_url: str = "postgresql+asyncpg://crm:crm@127.0.0.1:5432/crm_obligation_tracker"

    # Recurring obligations
    horizon_months: int = Field(
        default=12, ge=1, le=60, description="Recurring instances are generated this far ahead."
    )
    due_soon_days: int = Field(
        default=3, ge=0, description="obligation.due_soon is sent this many days before due."
    )

    # Periodic jobs (one instance runs each, through an advisory lock)
    jobs_enabled: bool = True
    check_interval_seconds: float = Field(
        default=60, gt=0, description="due-soon, overdue, escalation, review snapshots"
    )
    horizon_interval_seconds: float = Field(default=3600, gt=0)

    # Obligations born from events
    root_cause_owner_role: str = "service_delivery_manager"
    dispute_owner_role: str = "commercial_manager"
    dispute_due_business_days: int = Field(default=10, ge=0)
    renegotiation_owner_role: str = "account_executive"
    renegotiation_due_business_days: int = Field(default=20, ge=0)

    # Webhook delivery
    webhooks_enabled: bool = Field(default=True, description="Run the delivery worker.")
    webhook_timeout_seconds: float = Field(default=10, gt=0)
    webhook_max_attempts: int = Field(default=10, ge=1)
    webhook_backoff_initial_seconds: float = Field(default=1.0, gt=0)
    webhook_backoff_max_seconds: float = Field(default=3600, gt=0)
    webhook_disable_after_failures: int = Field(
        default=30, ge=1, description="Consecutive failed attempts before a subscription stops."
    )
    webhook_poll_interval_seconds: float = Field(default=1.0, gt=0)
    webhook_batch_size: int = Field(default=50, ge=1)
    webhook_concurrency: int = Field(default=20, ge=1)
    webhook_secret_overlap_seconds: int = Field(
        default=86400,
        ge=0,
        le=7 * 86400,
        description="After a secret rotation the previous secret signs too for this long.",
    )
    webhook_log_retention_days: int = Field(
        default=30, ge=1, description="Delivered deliveries (and their attempts) kept this long."
    )
    webhook_secret_keys: SecretStr | None = Field(
        default=None,
        description="Fernet keys, comma-separated, that encrypt webhook signing secrets in "
        "the database: the first encrypts, every one decrypts (key rotation: see the guide). "
        "Required: the service refuses to start without it.",
    )
    # Where deliveries may go although the address is not public (SSRF guard, egress.py).
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names (comma-separated) a webhook may name although they resolve "
        "to loopback, private, link-local or other non-public addresses.",
    )
    webhook_allowed_networks: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=list,
        description="CIDRs (comma-separated, e.g. 10.20.0.0/16) whose addresses a webhook may "
        "reach although they are not public.",
    )

    @field_validator("webhook_allowed_hosts", "webhook_allowed_networks", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_allowed_hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        return [host.lower().rstrip(".") for host in value]
