"""pytest fixtures for tests that need the real infrastructure.

    postgres_server_url   session: an async URL on a server where databases can be created
    kafka_bootstrap       session: bootstrap servers of a real broker; topics exist
    database_url          function: a fresh, empty database (dropped afterwards)
    stack                 session: the four services as processes (fresh databases each)
    span_receiver         session: where the stack's services export their spans (OTLP/HTTP)

Every test session uses its own topic namespace (CRM_TOPIC_NAMESPACE), so runs never read
each other's events.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from crm_events.kafka import delete_topics, ensure_topics
from crm_events.topics import NAMESPACE_ENV, all_topics
from crm_testing.infra import create_database, drop_database, kafka_broker, postgres_server
from crm_testing.stack import SERVICES, Stack, new_stack
from crm_testing.webhooks import WebhookReceiver


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def topic_namespace() -> Iterator[str]:
    previous = os.environ.get(NAMESPACE_ENV)
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    os.environ[NAMESPACE_ENV] = namespace
    yield namespace
    if previous is None:
        os.environ.pop(NAMESPACE_ENV, None)
    else:
        os.environ[NAMESPACE_ENV] = previous


@pytest.fixture(scope="session")
async def kafka_bootstrap(topic_namespace: str) -> AsyncIterator[str]:
    with kafka_broker() as bootstrap:
        await ensure_topics(bootstrap, partitions=3)
        yield bootstrap
        await delete_topics(bootstrap, all_topics())


@pytest.fixture
async def database_url(
    postgres_server_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    prefix = "t_" + request.node.name[:30]
    url = await create_database(
        postgres_server_url, "".join(c if c.isalnum() else "_" for c in prefix)
    )
    yield url
    await drop_database(postgres_server_url, url)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by folder, so `-m "not e2e"` and friends work without decorators."""
    for item in items:
        parts = item.path.parts
        if "e2e" in parts:
            item.add_marker(pytest.mark.e2e)
        elif "integration" in parts:
            item.add_marker(pytest.mark.integration)


_timings: dict[str, object] = {}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "stack_ready_seconds" in _timings:
        terminalreporter.write_line(
            f"e2e: four service processes ready in {_timings['stack_ready_seconds']:.1f} s "
            f"(logs: {_timings['log_dir']})"
        )


@pytest.fixture(scope="session")
async def span_receiver() -> AsyncIterator[WebhookReceiver]:
    """An OTLP/HTTP endpoint that keeps every export request (`crm_testing.tracing.
    exported_spans` decodes them): the stack's services export their spans to it, the way
    an operator turns tracing on (OTEL_* variables)."""
    async with WebhookReceiver() as receiver:
        yield receiver


def _tracing_env(receiver: WebhookReceiver) -> dict[str, str]:
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{receiver.host}:{receiver.port}",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: a test waits for spans, not for batching
    }


@pytest.fixture(scope="session")
async def stack(
    postgres_server_url: str,
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
    span_receiver: WebhookReceiver,
) -> AsyncIterator[Stack]:
    databases = {
        name: await create_database(postgres_server_url, "e2e_" + name.split("-")[0])
        for name in SERVICES
    }
    log_dir = Path(tmp_path_factory.mktemp("e2e-logs"))
    # The session's topics already hold every integration test's events: the stack's new
    # consumer groups start at their end (pinned before the services report ready), so an
    # e2e test waits for its own events, not for a backlog it has nothing to do with.
    # Gauges sampled every second, so a test sees them move (15 s by default).
    env = {
        "{PREFIX}CONSUMER_OFFSET_RESET": "latest",
        "{PREFIX}METRICS_SAMPLE_INTERVAL_SECONDS": "1",
        **_tracing_env(span_receiver),
    }
    running = new_stack(databases, log_dir, env)
    started = time.monotonic()
    try:
        for svc in running.services.values():
            svc.start(kafka_bootstrap)
        await running.wait_ready()
        running.started_in = time.monotonic() - started
        _timings["stack_ready_seconds"] = running.started_in
        _timings["log_dir"] = str(log_dir)
        yield running
    finally:
        running.stop()
        for url in databases.values():
            await drop_database(postgres_server_url, url)
