from __future__ import annotations

from pydantic import Field, field_validator

from crm_platform.settings import ServiceSettings, service_settings_config

MIN_RETENTION_DAYS = 400


class Settings(ServiceSettings):
    model_config = service_settings_config("SLA_MONITOR_")

    service_name: str = "sla-monitor"
    database_url: str = "postgresql+asyncpg://crm:crm@127.0.0.1:5432/crm_sla_monitor"
    telemetry_max_batch_items: int = Field(default=10_000, ge=1, le=10_000)
    telemetry_max_ndjson_lines: int = Field(default=100_000, ge=1)
    # An NDJSON stream of 100,000 lines is ~20 MB; the platform default is 16 MiB.
    max_request_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    telemetry_retention_days: int = Field(
        default=0,
        ge=0,
        description="Raw telemetry older than the first of the UTC month this many days back "
        "is given up (whole month partitions dropped); items before that horizon are refused "
        "and the periods starting before it are sealed. 0: kept forever. At least 400 (a "
        "year-long period and its close); set it above your longest period plus its close "
        "grace plus the longest restatement window.",
    )

    @field_validator("telemetry_retention_days")
    @classmethod
    def _whole_periods(cls, days: int) -> int:
        if 0 < days < MIN_RETENTION_DAYS:
            raise ValueError(
                f"must be 0 (keep forever) or at least {MIN_RETENTION_DAYS}: a year-long "
                "period and its close must lie inside the retention"
            )
        return days

    telemetry_partition_interval_seconds: float = Field(
        default=3600,
        ge=0,
        description="How often month partitions are made ahead (and, with a retention, the "
        "old ones dropped); 0: never (the DEFAULT partition takes every new month).",
    )
    telemetry_partition_months_ahead: int = Field(
        default=3, ge=1, le=24, description="Month partitions kept ready after this month."
    )
    close_job_interval_seconds: float = Field(
        default=60, gt=0, description="How often due periods are looked for and closed."
    )
    close_job_max_periods: int = Field(
        default=2_000,
        ge=1,
        description="Periods one run of the close job closes (oldest first, in one "
        "transaction); with more due, the next run follows at once, so a month end's "
        "thousands are committed, and their events sent, a part at a time.",
    )
    close_job_shards: int = Field(
        default=8,
        ge=1,
        le=1024,
        description="Parts the close job's contracts are split into (by a hash of the "
        "contract id), each with its own lock: instances close different parts at once, so "
        "a month end's closes spread over every instance. Give all instances the same value "
        "(during a change, two instances may try the same period: one closes it, the other "
        "logs period.close_failed and finds it closed on its next run).",
    )
