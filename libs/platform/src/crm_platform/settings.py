"""Settings every service shares. A service subclasses `ServiceSettings` with its env prefix.

class Settings(ServiceSettings):
    model_config = service_settings_config("SLA_MONITOR_")
    service_name: str = "sla-monitor"
"""

from __future__ import annotations

import os
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def service_settings_config(env_prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=env_prefix, env_file=None, extra="ignore")


def _admin_key_default() -> SecretStr | None:
    # One bootstrap administrator key serves every service, like the broker list.
    value = os.environ.get("CRM_ADMIN_API_KEY", "").strip()
    return SecretStr(value) if value else None


def _kafka_default() -> str:
    # One broker list serves every service, so the unprefixed variable is a fallback.
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


class ScopeRateLimit(BaseModel):
    """The limit of one scope class, per API key, for all instances together."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_second: float = Field(gt=0, description="Requests per second, sustained.")
    burst: float = Field(ge=1, description="Requests a key may send at once after a pause.")


# Generous for what the limits guard against (a client in a loop), not a quota: ingestion
# (telemetry, consumption) and reads at 1,000 requests/s per key, far above what the
# benchmarks send (bench/sla_ingest.py: about 5 requests/s of 10,000 items; auth_lookup:
# about 300 small reads/s on two cores); key administration at 20/s.
DEFAULT_SCOPE_RATE_LIMITS = {
    "*:read": ScopeRateLimit(per_second=1000, burst=2000),
    "telemetry:write": ScopeRateLimit(per_second=1000, burst=2000),
    "billing:write": ScopeRateLimit(per_second=1000, burst=2000),
    "admin": ScopeRateLimit(per_second=20, burst=100),
}
_SCOPE_CLASS = re.compile(r"^(admin|\*:(read|write)|[a-z]+:(read|write))$")


class ServiceSettings(BaseSettings):
    service_name: str
    database_url: str = Field(
        description="SQLAlchemy URL of this service's own database "
        "(postgresql+asyncpg://user:password@host:port/db)."
    )
    kafka_bootstrap_servers: str = Field(default_factory=_kafka_default)
    kafka_topic_partitions: int = Field(default=6, ge=1)
    kafka_create_topics: bool = True

    admin_api_key: SecretStr | None = Field(
        default_factory=_admin_key_default,
        description="The bootstrap administrator key (else $CRM_ADMIN_API_KEY): all scopes, "
        "all tenants. Use it to issue the real keys, then keep it in a vault.",
    )

    api_key_cache_ttl_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="How long an instance trusts an API key it checked without reading the "
        "table again: the most a revocation can go unseen once it reached this service's "
        "database (access.v1 usually makes it sooner). 0 turns the cache off.",
    )
    api_key_cache_max_entries: int = Field(
        default=10_000, ge=0, description="API keys an instance keeps in memory at most (LRU)."
    )

    rate_limit_enabled: bool = Field(
        default=True, description="Rate limits per API key and scope class (429 past them)."
    )
    rate_limit_per_second: float = Field(
        default=500,
        gt=0,
        description="Requests per second a key may send to a scope class that "
        "`rate_limit_scopes` does not name, for all instances together.",
    )
    rate_limit_burst: float = Field(
        default=1000, ge=1, description="The burst of that default limit (a full bucket)."
    )
    rate_limit_scopes: dict[str, ScopeRateLimit] = Field(
        default_factory=lambda: dict(DEFAULT_SCOPE_RATE_LIMITS),
        description="Limits per scope class, as JSON: a scope (`telemetry:write`, `admin`) "
        "or every scope of an action (`*:read`, `*:write`) -> {per_second, burst}. "
        "Entries given are merged over the defaults.",
    )
    rate_limit_instances: int = Field(
        default=1,
        ge=1,
        description="Processes enforcing the limits together (replicas x worker "
        "processes): each enforces its share, the rate and burst divided by this.",
    )
    rate_limit_max_buckets: int = Field(
        default=10_000,
        ge=1,
        description="Token buckets (API key, scope class) an instance keeps at most (LRU).",
    )

    log_level: str = "INFO"
    log_json: bool = True

    run_migrations_on_startup: bool = True
    consumers_enabled: bool = True
    relay_enabled: bool = True
    relay_idle_interval_seconds: float = Field(default=0.2, gt=0)

    gc_tuned: bool = Field(
        default=True,
        description="After start-up, take the objects of the imports and start-up out of "
        "the garbage collector's sight (gc.freeze) and collect the youngest generation "
        "every 20,000 allocations instead of 700: a 10,000-item telemetry batch or a run of "
        "consumed events no longer sets off full collections of every object the process "
        "holds. Off where many apps share one process (the tests).",
    )

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)

    inbox_retention_days: int = Field(
        default=30,
        ge=1,
        description="Days an inbox row (a consumed event's id) is kept: longer than the "
        "topics keep records (7 days), so a redelivery always finds it.",
    )
    idempotency_retention_hours: int = Field(
        default=168,
        ge=1,
        description="Hours a POST's Idempotency-Key and first response are kept for retries.",
    )
    retention_interval_seconds: float = Field(
        default=3600,
        ge=0,
        description="How often expired inbox rows and Idempotency-Keys are deleted (0: never).",
    )
    retention_batch_rows: int = Field(default=10_000, ge=1)
    retention_max_rows: int = Field(
        default=1_000_000,
        ge=1,
        description="Rows deleted per table per run at most; the next run goes on.",
    )

    consumer_group_suffix: str = Field(
        default="",
        description="Appended to the consumer group ids (tests give every app its own).",
    )
    consumer_offset_reset: str = Field(
        default="earliest",
        pattern="^(earliest|latest)$",
        description="Where a consumer group without committed offsets starts.",
    )
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_batch_size: int = Field(
        default=100,
        ge=1,
        description="Records of one partition handled in one transaction (1: one each).",
    )
    consumer_concurrency: int = Field(
        default=2,
        ge=1,
        description="Partitions a consumer handles at once, each in its own transaction and "
        "database connection (1: one after another). Each partition keeps its order; two "
        "let one partition's Python work run while another's waits for PostgreSQL.",
    )
    consumer_backoff_initial_seconds: float = Field(default=0.2, gt=0)
    consumer_backoff_max_seconds: float = Field(default=5.0, gt=0)
    consumer_not_yet_seconds: float = Field(
        default=15.0,
        ge=0,
        description="How old (by its Kafka timestamp) an event that refers to something not "
        "arrived yet (a contract's terms) may get while it is parked and read again, beyond "
        "CONSUMER_MAX_ATTEMPTS, before it is dead-lettered (0: the attempts alone). Above the "
        "session timeout (10 s), it rides out a rebalance that holds contracts.v1 back. Only "
        "the event's partition waits; the consumer's other partitions go on.",
    )

    metrics_sample_interval_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often the operational gauges (consumer lag, outbox backlog, DLQ "
        "depth...) are sampled; /metrics shows the last sample.",
    )
    metrics_sample_timeout_seconds: float = Field(default=5.0, gt=0)

    max_request_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        return value

    @field_validator("rate_limit_scopes")
    @classmethod
    def _known_scope_classes(cls, value: dict[str, ScopeRateLimit]) -> dict[str, ScopeRateLimit]:
        unknown = sorted(scope for scope in value if not _SCOPE_CLASS.match(scope))
        if unknown:
            raise ValueError(
                f"not a scope class: {unknown}; name a scope (telemetry:write, admin) or "
                "*:read / *:write"
            )
        return {**DEFAULT_SCOPE_RATE_LIMITS, **value}

    def safe_dump(self) -> dict[str, Any]:
        """Settings for the start-up log line, with passwords masked."""
        out = self.model_dump()
        url = out.get("database_url", "")
        if "@" in url and ":" in url.split("@", 1)[0].split("://", 1)[-1]:
            scheme, rest = url.split("://", 1)
            creds, host = rest.split("@", 1)
            out["database_url"] = f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
        return out
