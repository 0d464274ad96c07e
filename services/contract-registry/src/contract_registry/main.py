"""contract-registry: the single source of truth for a contract's terms and its health."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contract_registry.contracts.router import router as contracts_router
from contract_registry.handlers import HANDLERS, TOPICS
from contract_registry.health.router import router as health_router
from contract_registry.models import Base
from contract_registry.settings import Settings
from crm_platform.app import ConsumerSpec, ServiceDefinition, create_service_app
from crm_platform.clock import Clock

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

DEFINITION = ServiceDefinition(
    title="contract-registry",
    description="Contracts, their versions and terms (price books, SLA definitions, credit "
    "terms, obligations, rebates); activation publishes the full terms on `contracts.v1`. "
    "Keeps each contract's health from the other services' events.",
    version="0.1.0",
    routers=[contracts_router, health_router],
    metadata=Base.metadata,
    migrations_dir=MIGRATIONS,
    consumers=[ConsumerSpec(topics=TOPICS, handlers=HANDLERS)],
    openapi_tags=[
        {"name": "contracts", "description": "Drafts, activation and reads."},
        {"name": "health", "description": "Contract health per period."},
    ],
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    return create_service_app(DEFINITION, settings or Settings(), clock=clock)
