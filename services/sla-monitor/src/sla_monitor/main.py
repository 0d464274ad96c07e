"""sla-monitor: telemetry in, SLA attainment per period out."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from crm_platform.app import ConsumerSpec, ServiceDefinition, create_service_app
from crm_platform.clock import Clock
from crm_platform.contract_terms import terms_router
from sla_monitor.attainment.router import router as attainment_router
from sla_monitor.handlers import HANDLERS, TOPICS
from sla_monitor.models import Base
from sla_monitor.settings import Settings
from sla_monitor.telemetry.router import router as telemetry_router

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

DEFINITION = ServiceDefinition(
    scope_domain="sla",
    title="sla-monitor",
    description="Ingests service telemetry and computes SLA attainment per period in the "
    "contract's time zone; publishes `sla.period_closed` on `sla.v1`.",
    version="0.1.0",
    routers=[telemetry_router, attainment_router, terms_router()],
    metadata=Base.metadata,
    migrations_dir=MIGRATIONS,
    consumers=[ConsumerSpec(topics=TOPICS, handlers=HANDLERS)],
    openapi_tags=[
        {"name": "telemetry", "description": "Telemetry ingestion from monitoring systems."},
        {"name": "attainment", "description": "SLA attainment per period; period close."},
    ],
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or Settings(), clock=clock)
