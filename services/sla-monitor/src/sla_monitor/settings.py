from __future__ import annotations

from pydantic import Field

from crm_platform.settings import ServiceSettings, service_settings_config


class Settings(ServiceSettings):
    model_config = service_settings_config("SLA_MONITOR_")

    service_name: str = "sla-monitor"
    database_url: str = "postgresql+asyncpg://crm:crm@127.0.0.1:5432/crm_sla_monitor"
    telemetry_max_batch_items: int = Field(default=10_000, ge=1)
