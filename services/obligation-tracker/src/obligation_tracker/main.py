"""obligation-tracker: every obligation owned, dated and followed up; alerts that reach
people (calendars) and systems (webhooks, Kafka)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from crm_platform.app import ConsumerSpec, ServiceDefinition, Worker, create_service_app
from crm_platform.clock import Clock
from crm_platform.contract_terms import terms_router
from crm_platform.scheduler import every
from obligation_tracker.alerts.router import router as alerts_router
from obligation_tracker.alerts.router import rules_router
from obligation_tracker.calendars.router import feed_router as calendar_feed_router
from obligation_tracker.calendars.router import router as calendars_router
from obligation_tracker.handlers import TOPICS, make_handlers
from obligation_tracker.models import Base
from obligation_tracker.obligations.checks import check_obligations
from obligation_tracker.obligations.router import router as obligations_router
from obligation_tracker.obligations.scheduling import extend_horizons
from obligation_tracker.settings import Settings
from obligation_tracker.webhooks.delivery import delivery_worker, sample_deliveries
from obligation_tracker.webhooks.router import router as webhooks_router
from obligation_tracker.webhooks.secret_box import require_secret_keys
from obligation_tracker.webhooks.service import purge_delivery_log

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
EXAMPLES = Path(__file__).resolve().parent / "openapi_examples.json"

CHECK_JOB = "obligations.check"
HORIZON_JOB = "obligations.extend_horizon"
PURGE_JOB = "webhooks.purge_delivery_log"


def definition(settings: Settings) -> ServiceDefinition:
    workers: list[Worker] = []
    if settings.jobs_enabled:
        workers += [
            every(settings.check_interval_seconds, CHECK_JOB, check_obligations),
            every(settings.horizon_interval_seconds, HORIZON_JOB, extend_horizons),
            every(3600, PURGE_JOB, purge_delivery_log),
        ]
    if settings.webhooks_enabled:
        workers.append(delivery_worker)
    return ServiceDefinition(
        scope_domain="obligations",
        title="obligation-tracker",
        description="Obligation instances from the contract's recurring definitions and "
        "governance cadence, and from events (a missed SLA period, an invoice that differs, "
        "volume outside its band), with owners, due dates in business days, evidence and "
        "escalation; alerts by rule, deduplicated per breach, delivered to signed webhooks "
        "and `alerts.v1`; iCalendar feeds per owner or role, behind revocable feed tokens.",
        version="0.2.0",
        routers=[
            obligations_router,
            alerts_router,
            rules_router,
            webhooks_router,
            calendars_router,
            terms_router(),
        ],
        feed_routers=[calendar_feed_router],
        metadata=Base.metadata,
        migrations_dir=MIGRATIONS,
        response_examples=EXAMPLES,
        consumers=[ConsumerSpec(topics=TOPICS, handlers=make_handlers(settings))],
        workers=workers,
        samplers=[("webhooks", sample_deliveries)] if settings.webhooks_enabled else [],
        preflight=[lambda: require_secret_keys(settings)],
        openapi_tags=[
            {"name": "obligations", "description": "Obligations, their owners and lifecycle."},
            {"name": "alerts", "description": "Alerts raised from events, one per breach."},
            {"name": "alert rules", "description": "Which events raise alerts."},
            {"name": "webhooks", "description": "Signed deliveries to other systems."},
            {
                "name": "calendars",
                "description": "Calendar feeds: a URL per owner or role, with a revocable, "
                "read-only feed token, for calendar clients to subscribe to.",
            },
        ],
    )


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(definition(settings), settings, clock=clock)
