"""The one way a service is assembled: `create_service_app(...)`.

The lifespan owns everything with a lifetime: migrations, the engine, the Kafka producer,
the outbox relay, the consumers and any background workers; it stops them in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI

from crm_events.consumer import ConsumerRunner, Handlers
from crm_events.kafka import ensure_topics, make_producer
from crm_events.outbox import OutboxRelay
from crm_events.tables import attach_messaging_tables
from crm_events.topics import Topic
from crm_platform.apikeys import access_handlers, attach_api_keys_table
from crm_platform.audit import attach_audit_table, audit_router
from crm_platform.auth import authenticate
from crm_platform.clock import Clock, SystemClock
from crm_platform.db import make_engine, make_session_factory
from crm_platform.docs import router as docs_router
from crm_platform.errors import install_error_handlers
from crm_platform.event_docs import router as event_docs_router
from crm_platform.idempotency import attach_idempotency_table, document_refusals
from crm_platform.keycache import KeyCache
from crm_platform.logging import configure_logging
from crm_platform.migrations import upgrade
from crm_platform.observability import RequestContextMiddleware
from crm_platform.observability import router as ops_router
from crm_platform.openapi import install_openapi, operation_id, require_content_type
from crm_platform.ratelimit import RateLimiter
from crm_platform.retention import prune_retained
from crm_platform.sampler import Sampler, metrics_worker
from crm_platform.scheduler import every
from crm_platform.settings import ServiceSettings
from crm_platform.tracing import configure_tracing, flush_tracing, trace_database

log = structlog.get_logger(__name__)

Worker = Callable[[FastAPI], Coroutine[Any, Any, None]]


@dataclass
class ConsumerSpec:
    """One consumer group of a service: the topics it reads and its handler table."""

    topics: Sequence[str]
    handlers: Handlers
    name: str = ""  # group id suffix, when a service runs more than one group


@dataclass
class ServiceDefinition:
    title: str
    description: str
    version: str
    routers: Sequence[APIRouter]
    metadata: sa.MetaData
    migrations_dir: Path
    consumers: Sequence[ConsumerSpec] = field(default_factory=list)
    workers: Sequence[Worker] = field(default_factory=list)
    openapi_tags: list[dict[str, Any]] = field(default_factory=list)
    scope_domain: str = "admin"  # routes need <domain>:read / <domain>:write by default
    # Success examples per operationId (crm_platform.openapi), recorded from real answers.
    response_examples: Path | None = None
    # Feeds read with a token in their URL (`crm_platform.auth.feed_token`), not an API key.
    feed_routers: Sequence[APIRouter] = field(default_factory=list)
    # Gauges of the service's own (name, sampler), sampled with the platform's (sampler.py).
    samplers: Sequence[tuple[str, Sampler]] = field(default_factory=list)
    # Checks of the settings run first at start-up (before migrations); one that raises
    # stops the service with its message (a required key missing, say).
    preflight: Sequence[Callable[[], None]] = field(default_factory=list)


def attach_platform_tables(metadata: sa.MetaData) -> None:
    """Call once on a service's metadata so its models and Alembic see the shared tables."""
    attach_messaging_tables(metadata)
    attach_idempotency_table(metadata)
    attach_api_keys_table(metadata)
    attach_audit_table(metadata)


async def _start_producer(settings: ServiceSettings, attempts: int = 60) -> Any:
    for attempt in range(1, attempts + 1):
        producer = make_producer(settings.kafka_bootstrap_servers, client_id=settings.service_name)
        try:
            await producer.start()
            return producer
        except KafkaError as exc:
            with contextlib.suppress(Exception):
                await producer.stop()
            if attempt == attempts:
                raise
            log.warning("kafka.unavailable", attempt=attempt, error=repr(exc))
            await asyncio.sleep(1.0)
    raise RuntimeError("unreachable")


def _platform_workers(definition: ServiceDefinition, settings: ServiceSettings) -> list[Worker]:
    """Workers every service runs: the metrics sampler and, unless turned off, retention."""
    workers = [metrics_worker(definition.samplers)]
    if settings.retention_interval_seconds > 0:
        workers.append(every(settings.retention_interval_seconds, "retention", prune_retained))
    return workers


# The youngest generation's threshold (CPython's default is 700): a request or a consumer
# transaction allocates tens of thousands of short-lived objects, and with the default every
# 700 of them start a collection that also visits the ones still in use.
GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Collect once, then leave what start-up built (modules, schemas, mappers) out of every
    later collection, and collect the young less often (see `ServiceSettings.gc_tuned`)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _lifespan(
    definition: ServiceDefinition, settings: ServiceSettings
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start-up and shutdown: logging and tracing, preflight checks, migrations, the engine,
    messaging and workers; stopped in reverse, each step bounded."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(
            service=settings.service_name, level=settings.log_level, json=settings.log_json
        )
        exporting = configure_tracing(service=settings.service_name, version=definition.version)
        log.info("service.starting", settings=settings.safe_dump())
        for check in definition.preflight:
            try:
                check()
            except Exception as exc:
                log.error("service.refused_to_start", reason=str(exc))
                raise
        if settings.run_migrations_on_startup:
            await asyncio.to_thread(upgrade, definition.migrations_dir, settings.database_url)
        if settings.gc_tuned:
            tune_gc()
        engine = make_engine(settings)
        if exporting:
            trace_database(engine)
        app.state.engine = engine
        app.state.session_factory = make_session_factory(engine)
        app.state.producer = None
        app.state.relay = None
        app.state.consumers = []
        workers: list[asyncio.Task[None]] = []
        try:
            await _start_messaging(app, definition, settings, publish_spans=exporting)
            for worker in [*definition.workers, *_platform_workers(definition, settings)]:
                workers.append(asyncio.create_task(worker(app), name=worker.__name__))
            log.info("service.started")
            yield
        finally:
            log.info("service.stopping")
            stopping = asyncio.get_running_loop().time()
            await _stop(app, workers)
            await _bounded_step("database engine", engine.dispose())
            flush_tracing()
            log.info(
                "service.stopped", seconds=round(asyncio.get_running_loop().time() - stopping, 2)
            )

    return lifespan


def create_service_app(
    definition: ServiceDefinition, settings: ServiceSettings, *, clock: Clock | None = None
) -> FastAPI:
    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version=definition.version,
        lifespan=_lifespan(definition, settings),
        # The server span is RequestContextMiddleware's: FastAPI's own would record the raw
        # query string (a calendar feed's key) and duplicate it.
        telemetry={"tracing": False},
        generate_unique_id_function=operation_id,
        # crm_platform.docs serves these, with assets of its own instead of a CDN's.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        openapi_tags=[
            *definition.openapi_tags,
            {"name": "operations", "description": "Health, readiness and metrics."},
        ],
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.key_cache = KeyCache(
        ttl_seconds=settings.api_key_cache_ttl_seconds,
        max_entries=settings.api_key_cache_max_entries,
    )
    # In memory, a share per instance: no database round trip per request (ratelimit.py).
    app.state.rate_limiter = (
        RateLimiter.from_settings(settings) if settings.rate_limit_enabled else None
    )
    app.state.scope_domain = definition.scope_domain
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_request_body_bytes)
    app.include_router(ops_router)
    app.include_router(docs_router)
    app.include_router(event_docs_router)
    # Every service keeps the audit log of its operator actions (crm_platform.audit).
    for router in [*definition.routers, audit_router()]:
        document_refusals(router)
        # Authenticate first, before any parameter is validated or a session is opened: an
        # anonymous request costs no database connection. Then the body's Content-Type;
        # routes check their scope next.
        app.include_router(
            router, dependencies=[Depends(authenticate), Depends(require_content_type)]
        )
    for router in definition.feed_routers:
        app.include_router(router)
    install_openapi(app, domain=definition.scope_domain, examples_file=definition.response_examples)
    return app


async def _start_messaging(
    app: FastAPI, definition: ServiceDefinition, settings: ServiceSettings, *, publish_spans: bool
) -> None:
    """Topics, the producer, the outbox relay and the consumers (each kept on app.state,
    so a failure part-way is stopped by `_stop`); the relay makes publish spans only where
    spans are exported (`publish_spans`)."""
    if settings.kafka_create_topics:
        await ensure_topics(
            settings.kafka_bootstrap_servers, partitions=settings.kafka_topic_partitions
        )
    producer = await _start_producer(settings)
    app.state.producer = producer
    if settings.relay_enabled:
        relay = OutboxRelay(
            app.state.session_factory,
            producer,
            idle_interval=settings.relay_idle_interval_seconds,
            publish_spans=publish_spans,
        )
        relay.start()
        app.state.relay = relay
    if not settings.consumers_enabled:
        return
    # Every service keeps the API keys it accepts (access.v1), in its own group.
    access = ConsumerSpec(
        topics=[Topic.ACCESS.value], handlers=access_handlers(app.state.key_cache), name="access"
    )
    for spec in [*definition.consumers, access]:
        group = (
            settings.service_name
            + (f".{spec.name}" if spec.name else "")
            + settings.consumer_group_suffix
        )
        runner = ConsumerRunner(
            group_id=group,
            topics=spec.topics,
            handlers=spec.handlers,
            session_factory=app.state.session_factory,
            producer=producer,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            source=settings.service_name,
            max_attempts=settings.consumer_max_attempts,
            batch_size=settings.consumer_batch_size,
            concurrency=settings.consumer_concurrency,
            backoff_initial=settings.consumer_backoff_initial_seconds,
            backoff_max=settings.consumer_backoff_max_seconds,
            not_yet_seconds=settings.consumer_not_yet_seconds,
            clock=app.state.clock,
            offset_reset=settings.consumer_offset_reset,
        )
        await runner.start()
        app.state.consumers.append(runner)


async def _stop(app: FastAPI, workers: list[asyncio.Task[None]]) -> None:
    """Workers, then consumers, the relay and the producer, each whatever the others do,
    each within `STOP_STEP_SECONDS`: a shutdown stays inside the 30 s a supervisor (uvicorn,
    Kubernetes' grace period) allows, and a step that overruns is named in the log."""
    for task in workers:
        task.cancel()
    for task in workers:
        await _bounded_step(f"worker {task.get_name()}", _settled(task))
    for runner in reversed(app.state.consumers):
        await _bounded_step(f"consumer {runner.group_id}", runner.stop())
    if app.state.relay is not None:
        await _bounded_step("outbox relay", app.state.relay.stop())
    if app.state.producer is not None:
        await _bounded_step("producer", app.state.producer.stop())


STOP_STEP_SECONDS = 8.0


async def _settled(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _bounded_step(step: str, stopping: Coroutine[Any, Any, Any]) -> None:
    started = asyncio.get_running_loop().time()
    try:
        await asyncio.wait_for(stopping, STOP_STEP_SECONDS)
    except TimeoutError:
        log.warning("service.stop_step_abandoned", step=step, seconds=STOP_STEP_SECONDS)
    except Exception as exc:  # a step that fails must not keep the others from stopping
        log.warning("service.stop_step_failed", step=step, error=repr(exc))
    else:
        seconds = asyncio.get_running_loop().time() - started
        if seconds > 2.0:
            log.warning("service.stop_step_slow", step=step, seconds=round(seconds, 1))
