from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crm_testing.infra import create_database, drop_database

from .stack import SERVICES, Stack, new_stack


@pytest.fixture(scope="session")
async def stack(
    postgres_server_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    import time

    databases = {
        name: await create_database(postgres_server_url, "e2e_" + name.split("-")[0])
        for name in SERVICES
    }
    log_dir = Path(tmp_path_factory.mktemp("e2e-logs"))
    running = new_stack(databases, log_dir)
    started = time.monotonic()
    try:
        for svc in running.services.values():
            svc.start(kafka_bootstrap)
        await running.wait_ready()
        running.started_in = time.monotonic() - started
        print(f"\n[e2e] four services ready in {running.started_in:.1f}s; logs in {log_dir}")
        yield running
    finally:
        running.stop()
        for url in databases.values():
            await drop_database(postgres_server_url, url)
