from __future__ import annotations

from pydantic import Field

from crm_platform.settings import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("CONTRACT_REGISTRY_")

    service_name: str = "contract-registry"
    database_url: str = "postgresql+asyncpg://crm:crm@127.0.0.1:5432/crm_contract_registry"
    expiry_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often the job ends contracts past their end date or a scheduled "
        "termination (one instance runs it at a time).",
    )
