"""contract-registry: the single source of truth for a contract's terms and its health."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fastapi import FastAPI

from contract_registry.benchmarks.router import router as benchmarks_router
from contract_registry.contracts.router import router as contracts_router
from contract_registry.contracts.termination import end_due_contracts
from contract_registry.handlers import HANDLERS, TOPICS
from contract_registry.handover.router import router as handover_router
from contract_registry.health.router import router as health_router
from contract_registry.models import Base
from contract_registry.pages.router import router as pages_router
from contract_registry.settings import Settings
from contract_registry.transfer.router import router as transfer_router
from crm_platform.apikeys import admin_router
from crm_platform.app import ConsumerSpec, ServiceDefinition, create_service_app
from crm_platform.clock import Clock
from crm_platform.scheduler import every

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
EXAMPLES = Path(__file__).resolve().parent / "openapi_examples.json"
END_CONTRACTS_JOB = "end_due_contracts"

DEFINITION = ServiceDefinition(
    scope_domain="contracts",
    title="contract-registry",
    description="Contracts, their versions and terms (price books, SLA definitions, credit "
    "terms, obligations, rebates); activation and amendments publish the full terms on "
    "`contracts.v1`. Import/export of a whole contract, the handover brief for a new "
    "governance team, and each contract's health and the portfolio's benchmarks from the "
    "other services' events, also as a page with SVG charts for a browser.",
    version="0.2.0",
    routers=[
        transfer_router,
        contracts_router,
        handover_router,
        health_router,
        pages_router,
        benchmarks_router,
        admin_router(),
    ],
    metadata=Base.metadata,
    migrations_dir=MIGRATIONS,
    response_examples=EXAMPLES,
    consumers=[ConsumerSpec(topics=TOPICS, handlers=HANDLERS)],
    openapi_tags=[
        {"name": "administration", "description": "API keys (admin scope)."},
        {"name": "contracts", "description": "Drafts, activation, reads, versions, termination."},
        {"name": "amendments", "description": "New versions of an active contract."},
        {"name": "transfer", "description": "A whole contract as one JSON document."},
        {"name": "handover", "description": "What a new governance team must know."},
        {"name": "health", "description": "Contract health per period."},
        {
            "name": "contract page",
            "description": "The contract's health as a page (text/html) and its charts "
            "(image/svg+xml) for a browser or for embedding.",
        },
        {"name": "benchmarks", "description": "Portfolio distributions for negotiations."},
    ],
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    definition = dataclasses.replace(
        DEFINITION,
        workers=[every(settings.expiry_interval_seconds, END_CONTRACTS_JOB, end_due_contracts)],
    )
    return create_service_app(definition, settings, clock=clock)
