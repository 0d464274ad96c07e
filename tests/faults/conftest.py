"""The fault suite runs the four services on a PostgreSQL and a Kafka broker of its own, so
it can kill and restart anything without disturbing other test runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from crm_testing.infra import create_database
from crm_testing.stack import SERVICES, PrivateInfra, Stack, new_stack

from .workload import REPORT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("fault suite figures")
        for line in REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def private_infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateInfra]:
    import uuid

    infra = PrivateInfra(state_dir=Path(f"/var/tmp/crm-faults-{uuid.uuid4().hex[:8]}"))
    try:
        infra.start()
        yield infra
    finally:
        infra.stop()
        import shutil

        shutil.rmtree(infra.state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def fault_stack(
    private_infra: PrivateInfra, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    databases = {
        name: await create_database(private_infra.server_url, name.split("-")[0])
        for name in SERVICES
    }
    log_dir = Path(tmp_path_factory.mktemp("fault-logs"))
    stack = new_stack(
        databases,
        log_dir,
        extra_env={
            # Reconnect quickly after the broker or the database comes back.
            "{PREFIX}CONSUMER_BACKOFF_MAX_SECONDS": "1.0",
        },
    )
    try:
        stack.start(private_infra.bootstrap)
        await stack.wait_ready()
        yield stack
    finally:
        stack.stop()
