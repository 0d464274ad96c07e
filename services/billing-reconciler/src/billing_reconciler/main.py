"""billing-reconciler: what the contract says is owed, checked against every invoice."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from billing_reconciler.charges.router import router as charges_router
from billing_reconciler.consumption.router import router as consumption_router
from billing_reconciler.credits.router import router as credits_router
from billing_reconciler.handlers import HANDLERS, TOPICS
from billing_reconciler.models import Base
from billing_reconciler.settings import Settings
from crm_platform.app import ConsumerSpec, ServiceDefinition, create_service_app
from crm_platform.clock import Clock
from crm_platform.contract_terms import terms_router

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

DEFINITION = ServiceDefinition(
    title="billing-reconciler",
    description="Consumption, charges (base, ARC/RRC) and service credits per contract and "
    "period, each amount with its explanation; publishes `billing.v1`.",
    version="0.1.0",
    routers=[consumption_router, charges_router, credits_router, terms_router()],
    metadata=Base.metadata,
    migrations_dir=MIGRATIONS,
    consumers=[ConsumerSpec(topics=TOPICS, handlers=HANDLERS)],
    openapi_tags=[
        {"name": "consumption", "description": "Consumption records from ERP systems."},
        {"name": "charges", "description": "Expected charges per period."},
        {"name": "credits", "description": "Service credits for failed SLA periods."},
    ],
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or Settings(), clock=clock)
