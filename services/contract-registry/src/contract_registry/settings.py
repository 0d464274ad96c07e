from __future__ import annotations

from crm_platform.settings import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("CONTRACT_REGISTRY_")

    service_name: str = "contract-registry"
    database_url: str = "postgresql+asyncpg://crm:crm@127.0.0.1:5432/crm_contract_registry"
