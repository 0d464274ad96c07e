"""The four services as processes for a benchmark, on the PostgreSQL and Kafka of the
environment, isolated from everything else there: a fresh database per service and a private
topic namespace (topics with `partitions` partitions), dropped again at the end.

    async with bench_stack(prefix="soak") as bench:
        bench.stack.url("sla-monitor") ...

Also what several benchmarks read from the running services: their `/metrics` counters,
the outbox backlog of each database and the lag of each consumer group; the environment
check, private namespace and percentile every benchmark needs.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.ext.asyncio import create_async_engine

from crm_events.kafka import delete_topics, ensure_topics
from crm_events.tables import OUTBOX
from crm_events.topics import NAMESPACE_ENV, all_topics, namespace
from crm_testing.infra import create_database, drop_database, to_async_url
from crm_testing.stack import REPO_ROOT, SERVICES, Stack, new_stack

RESULTS = REPO_ROOT / "bench" / "results"  # where benchmarks write their reports


def require_infra() -> tuple[str, str]:
    """(async server URL, bootstrap servers) from the environment, or exit with a hint."""
    server = os.environ.get("DATABASE_URL")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not server or not bootstrap:
        print(
            "set DATABASE_URL (a server where databases can be created) and "
            "KAFKA_BOOTSTRAP_SERVERS, e.g. after `make infra`",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return to_async_url(server), bootstrap


def private_namespace(prefix: str = "bench") -> str:
    """Give this process (and the services it starts) topics and groups of their own."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    os.environ[NAMESPACE_ENV] = name
    return name


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


@dataclass
class BenchStack:
    stack: Stack
    databases: dict[str, str]  # service name → async database URL
    server: str
    bootstrap: str
    log_dir: Path
    started_in: float


@asynccontextmanager
async def bench_stack(
    *, prefix: str, partitions: int = 6, extra_env: dict[str, str] | None = None
) -> AsyncIterator[BenchStack]:
    server, bootstrap = require_infra()
    private_namespace(prefix)
    await ensure_topics(bootstrap, partitions=partitions)
    databases = {
        name: await create_database(server, f"{prefix}_" + name.split("-")[0]) for name in SERVICES
    }
    log_dir = Path(tempfile.mkdtemp(prefix=f"crm-{prefix}-"))
    stack = new_stack(databases, log_dir, extra_env)
    try:
        t0 = time.monotonic()
        stack.start(bootstrap)
        await stack.wait_ready()
        yield BenchStack(stack, databases, server, bootstrap, log_dir, time.monotonic() - t0)
    finally:
        stack.stop()
        for url in databases.values():
            await drop_database(server, url)
        await delete_topics(bootstrap, all_topics())


async def metric_sums(
    http: httpx.AsyncClient, url: str, names: tuple[str, ...]
) -> dict[str, float]:
    """The sum over all label sets of each named sample in a service's `/metrics`."""
    text = (await http.get(f"{url}/metrics")).text
    return {name: sum(v for _, v in metric_samples(text, name)) for name in names}


def metric_samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of one metric in Prometheus text: (labels, value)."""
    out = []
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, value = line.rsplit(" ", 1)
        labels: dict[str, str] = {}
        if "{" in head:
            for pair in head[head.index("{") + 1 : head.rindex("}")].split('",'):
                if "=" in pair:
                    key, val = pair.split("=", 1)
                    labels[key.strip()] = val.strip().strip('"')
        out.append((labels, float(value)))
    return out


async def consumed(http: httpx.AsyncClient, urls: dict[str, str]) -> dict[str, Counter[str]]:
    """Per service, the events its consumers handled so far by `type/result`
    (`crm_events_consumed_total`)."""
    out: dict[str, Counter[str]] = {}
    for name, url in urls.items():
        text = (await http.get(f"{url}/metrics")).text
        counts: Counter[str] = Counter()
        for labels, value in metric_samples(text, "crm_events_consumed_total"):
            counts[f"{labels.get('type', '?')}/{labels.get('result', '?')}"] += int(value)
        out[name] = counts
    return out


async def handle_times(http: httpx.AsyncClient, urls: dict[str, str]) -> dict[str, str]:
    """Mean time each service's consumers took per event (from their /metrics)."""
    out = {}
    for name, url in urls.items():
        text = (await http.get(f"{url}/metrics")).text
        total = sum(v for _, v in metric_samples(text, "crm_events_handle_seconds_sum"))
        count = sum(v for _, v in metric_samples(text, "crm_events_handle_seconds_count"))
        if count:
            out[name] = f"{total / count * 1000:.1f} ms × {int(count)} events"
    return out


async def outbox_backlog(databases: dict[str, str]) -> dict[str, int]:
    """Events written to each service's outbox and not yet published."""
    out = {}
    for name, url in databases.items():
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                pending = await conn.scalar(
                    sa.text(f"SELECT count(*) FROM {OUTBOX} WHERE published_at IS NULL")
                )
            out[name] = int(pending or 0)
        finally:
            await engine.dispose()
    return out


async def consumer_lag(bootstrap: str) -> dict[str, int]:
    """Per consumer group of this namespace: records not yet committed, summed over the
    partitions it has committed offsets for (end offset minus committed offset)."""
    prefix = namespace() + "."
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await reader.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups() if g[0].startswith(prefix)]
        out = {}
        for group in sorted(groups):
            committed = await admin.list_consumer_group_offsets(group)
            tps = list(committed)
            end = await reader.end_offsets(tps) if tps else {}
            out[group.removeprefix(prefix)] = sum(
                max(end[tp] - max(meta.offset, 0), 0) for tp, meta in committed.items()
            )
        return out
    finally:
        await reader.stop()
        await admin.close()
