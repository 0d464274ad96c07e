"""sla-monitor: telemetry in, SLA attainment per period out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from crm_platform.app import ConsumerSpec, ServiceDefinition, create_service_app
from crm_platform.clock import Clock
from crm_platform.contract_terms import terms_router
from crm_platform.scheduler import every
from sla_monitor.attainment.jobs import close_due_periods
from sla_monitor.attainment.router import periods_router
from sla_monitor.attainment.router import router as attainment_router
from sla_monitor.handlers import HANDLERS, TOPICS
from sla_monitor.models import Base
from sla_monitor.settings import Settings
from sla_monitor.telemetry.retention import telemetry_partitions
from sla_monitor.telemetry.router import router as telemetry_router
from sla_monitor.telemetry.schemas import TelemetryBatch

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
EXAMPLES = Path(__file__).resolve().parent / "openapi_examples.json"

CLOSE_JOB = "sla-monitor.close_periods"
PARTITION_JOB = "sla-monitor.telemetry_partitions"


def definition(settings: Settings) -> ServiceDefinition:
    workers = [
        every(
            settings.close_job_interval_seconds,
            CLOSE_JOB,
            close_due_periods,
            shards=settings.close_job_shards,
        )
    ]
    if settings.telemetry_partition_interval_seconds > 0:
        workers.append(
            every(
                settings.telemetry_partition_interval_seconds, PARTITION_JOB, telemetry_partitions
            )
        )
    return ServiceDefinition(
        scope_domain="sla",
        title="sla-monitor",
        description="Ingests service telemetry (outages, up/down samples, incidents, "
        "measurements) and computes SLA attainment per period in the contract's time zone; "
        "publishes `sla.at_risk`, `sla.breached`, `sla.period_closed` and "
        "`sla.period_restated` on `sla.v1`.",
        version="0.2.0",
        routers=[telemetry_router, attainment_router, periods_router, terms_router()],
        metadata=Base.metadata,
        migrations_dir=MIGRATIONS,
        response_examples=EXAMPLES,
        consumers=[ConsumerSpec(topics=TOPICS, handlers=HANDLERS)],
        workers=workers,
        openapi_tags=[
            {"name": "telemetry", "description": "Telemetry ingestion from monitoring systems."},
            {
                "name": "attainment",
                "description": "SLA attainment per period, scorecards, explanations, "
                "period close and restatements, ad-hoc maintenance windows.",
            },
        ],
    )


def _with_body_schemas(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The telemetry routes read raw bytes (bulk validation), so their body schema is
    added to the OpenAPI components by hand."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        batch = TelemetryBatch.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, sub in batch.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components["TelemetryBatch"] = batch
        app.openapi_schema = schema
        return schema

    return openapi


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(definition(settings), settings, clock=clock)
    app.openapi = _with_body_schemas(app)  # type: ignore[method-assign]
    return app
