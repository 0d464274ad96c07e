from __future__ import annotations

from crm_platform.settings import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("OBLIGATION_TRACKER_")

    service_name: str = "obligation-tracker"
    database_url: str = "postgresql+asyncpg://crm:crm@127.0.0.1:5432/crm_obligation_tracker"
