"""billing-reconciler: what the contract says is owed, checked against every invoice."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from billing_reconciler.consumption.router import router as consumption_router
from billing_reconciler.credits.router import router as credits_router
from billing_reconciler.exports.router import router as exports_router
from billing_reconciler.handlers import HANDLERS, TOPICS
from billing_reconciler.invoices.router import router as invoices_router
from billing_reconciler.leakage.router import router as leakage_router
from billing_reconciler.models import Base
from billing_reconciler.periods.router import router as charges_router
from billing_reconciler.settings import Settings
from crm_platform.app import ConsumerSpec, ServiceDefinition, create_service_app
from crm_platform.clock import Clock
from crm_platform.contract_terms import terms_router

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
EXAMPLES = Path(__file__).resolve().parent / "openapi_examples.json"

DEFINITION = ServiceDefinition(
    scope_domain="billing",
    title="billing-reconciler",
    description="What the contract says is owed, checked against every invoice: consumption, "
    "charges (base, ARC/RRC with deadbands and bands), service credits (cap, repeated "
    "defaults, earn-back, restatements), rebates, invoice reconciliation and the "
    "value-leakage ledger — every amount with its clause, inputs and formula. Publishes "
    "`billing.v1`. Guide: docs/billing-reconciler.md.",
    version="0.2.0",
    routers=[
        consumption_router,
        charges_router,
        credits_router,
        invoices_router,
        leakage_router,
        exports_router,
        terms_router(),
    ],
    metadata=Base.metadata,
    migrations_dir=MIGRATIONS,
    response_examples=EXAMPLES,
    consumers=[ConsumerSpec(topics=TOPICS, handlers=HANDLERS)],
    openapi_tags=[
        {"name": "consumption", "description": "Consumption records from ERP systems."},
        {"name": "charges", "description": "What each period owes, line by line, explained."},
        {"name": "credits", "description": "Service credits, their revisions and earn-back."},
        {"name": "invoices", "description": "Supplier invoices and their reconciliation."},
        {"name": "leakage", "description": "The value-leakage ledger."},
    ],
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or Settings(), clock=clock)
