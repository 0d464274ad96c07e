"""obligation-tracker: every obligation owned, dated and followed up; alerts."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from crm_platform.app import ConsumerSpec, ServiceDefinition, create_service_app
from crm_platform.clock import Clock
from crm_platform.contract_terms import terms_router
from obligation_tracker.alerts.router import router as alerts_router
from obligation_tracker.handlers import HANDLERS, TOPICS
from obligation_tracker.models import Base
from obligation_tracker.obligations.router import router as obligations_router
from obligation_tracker.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

DEFINITION = ServiceDefinition(
    title="obligation-tracker",
    description="Obligation instances (from contract definitions and from events such as a "
    "failed SLA period) and alerts; publishes `obligations.v1` and `alerts.v1`.",
    version="0.1.0",
    routers=[obligations_router, alerts_router, terms_router()],
    metadata=Base.metadata,
    migrations_dir=MIGRATIONS,
    consumers=[ConsumerSpec(topics=TOPICS, handlers=HANDLERS)],
    openapi_tags=[
        {"name": "obligations", "description": "Obligations and their due dates."},
        {"name": "alerts", "description": "Alerts raised from events, deduplicated."},
    ],
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or Settings(), clock=clock)
