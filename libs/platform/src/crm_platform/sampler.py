"""Gauges operators alert on, sampled in the background so /metrics never waits.

Every `metrics_sample_interval_seconds` one task per instance sets:
- the outbox backlog and the age of its oldest unsent row (`crm_events.outbox`);
- the lag of each consumer group per assigned partition (end offset minus the next offset
  to handle), and the depth of the DLQ topics of the topics it consumes;
- how many idempotency keys and API keys are stored;
- whatever the service adds (`ServiceDefinition.samplers`, e.g. webhook deliveries).

Each sampler runs under `metrics_sample_timeout_seconds`; one that fails or times out keeps
its previous values and counts in `crm_metrics_sample_errors_total`, and
`crm_metrics_sampled_timestamp_seconds{sampler}` says when each last succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import sqlalchemy as sa
import structlog
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from prometheus_client import Counter, Gauge

from crm_events.dlq import dlq_depths
from crm_events.outbox import sample_outbox
from crm_events.topics import dlq_topic
from crm_platform.apikeys import api_keys_table
from crm_platform.idempotency import idempotency_table

log = structlog.get_logger(__name__)

Sampler = Callable[[FastAPI], Awaitable[None]]

CONSUMER_LAG = Gauge(
    "crm_consumer_lag",
    "Records in a partition not yet handled by the consumer group",
    ["group", "topic", "partition"],
)
DLQ_DEPTH = Gauge("crm_dlq_depth", "Records held in a dead-letter topic", ["topic"])
IDEMPOTENCY_KEYS = Gauge("crm_idempotency_stored_keys", "Stored Idempotency-Key responses")
API_KEYS = Gauge("crm_api_keys", "API keys in this service's store", ["state"])
SAMPLED_AT = Gauge(
    "crm_metrics_sampled_timestamp_seconds", "When a sampler last succeeded", ["sampler"]
)
SAMPLE_ERRORS = Counter(
    "crm_metrics_sample_errors_total", "Sampler runs that failed or timed out", ["sampler"]
)


async def sample_database(app: FastAPI) -> None:
    """Outbox backlog, stored idempotency keys and API keys: three cheap queries."""
    now = app.state.clock.now()
    async with app.state.session_factory() as session:
        await sample_outbox(session)
        IDEMPOTENCY_KEYS.set(
            await session.scalar(sa.select(sa.func.count()).select_from(idempotency_table)) or 0
        )
        t = api_keys_table
        active = sa.and_(
            t.c.revoked_at.is_(None), sa.or_(t.c.expires_at.is_(None), t.c.expires_at > now)
        )
        counts = (
            await session.execute(
                sa.select(sa.func.count().filter(active), sa.func.count().filter(sa.not_(active)))
            )
        ).one()
    for state, n in zip(("active", "inactive"), counts, strict=True):
        API_KEYS.labels(state).set(n)


class _LagSampler:
    """Sets `crm_consumer_lag` for the partitions each group holds now, and removes the
    series of partitions handed to another instance (they are that instance's to report)."""

    def __init__(self) -> None:
        self._shown: set[tuple[str, str, str]] = set()

    async def __call__(self, app: FastAPI) -> None:
        shown: set[tuple[str, str, str]] = set()
        for runner in app.state.consumers:
            for tp, lag in (await runner.lag()).items():
                labels = (runner.group_id, tp.topic, str(tp.partition))
                CONSUMER_LAG.labels(*labels).set(lag)
                shown.add(labels)
        for labels in self._shown - shown:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(*labels)
        self._shown = shown


class _DlqSampler:
    """Depth of the DLQs of every topic this service consumes, through one consumer of no
    group (it reads offsets only), started on first use."""

    def __init__(self) -> None:
        self.consumer: AIOKafkaConsumer | None = None

    async def __call__(self, app: FastAPI) -> None:
        dlqs = sorted({dlq_topic(t) for runner in app.state.consumers for t in runner.topics})
        if not dlqs:
            return
        if self.consumer is None:
            settings = app.state.settings
            # Kept before it starts, so a start cut short (timeout, shutdown) is still closed.
            self.consumer = AIOKafkaConsumer(
                bootstrap_servers=settings.kafka_bootstrap_servers,
                client_id=f"{settings.service_name}-metrics",
                enable_auto_commit=False,
            )
            await self.consumer.start()
        for topic, depth in (await dlq_depths(self.consumer, dlqs)).items():
            DLQ_DEPTH.labels(topic).set(depth)

    async def close(self) -> None:
        if self.consumer is not None:
            consumer, self.consumer = self.consumer, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 5.0)


async def sample_once(
    app: FastAPI, samplers: dict[str, Sampler], timeout: float, lock: asyncio.Lock
) -> None:
    """One round of every sampler; rounds never overlap (the DLQ probe is one consumer)."""
    async with lock:
        for name, sampler in samplers.items():
            await _sample(app, name, sampler, timeout)


async def _sample(app: FastAPI, name: str, sampler: Sampler, timeout: float) -> None:
    try:
        await asyncio.wait_for(sampler(app), timeout)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # stale values stay; the error counter and timestamp tell
        SAMPLE_ERRORS.labels(name).inc()
        log.warning("metrics.sample_failed", sampler=name, error=repr(exc))
    else:
        SAMPLED_AT.labels(name).set_to_current_time()


def metrics_worker(extra: Sequence[tuple[str, Sampler]] = ()) -> Callable[[FastAPI], Any]:
    """The background worker `create_service_app` starts (with the service's own samplers)."""

    async def worker(app: FastAPI) -> None:
        settings = app.state.settings
        dlq = _DlqSampler()
        samplers: dict[str, Sampler] = {"database": sample_database}
        if app.state.consumers:
            samplers |= {"consumer_lag": _LagSampler(), "dlq": dlq}
        samplers |= dict(extra)
        lock = asyncio.Lock()
        app.state.sample_metrics = lambda: sample_once(
            app, samplers, settings.metrics_sample_timeout_seconds, lock
        )
        try:
            while True:
                await app.state.sample_metrics()
                await asyncio.sleep(settings.metrics_sample_interval_seconds)
        finally:
            await dlq.close()

    worker.__name__ = "metrics-sampler"
    return worker
