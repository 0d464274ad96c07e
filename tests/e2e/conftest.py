import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crm_testing.infra import create_database, drop_database
from crm_testing.stack import SERVICES, Stack, new_stack

_timings: dict[str, object] = {}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "stack_ready_seconds" in _timings:
        terminalreporter.write_line(
            f"e2e: four service processes ready in {_timings['stack_ready_seconds']:.1f} s "
            f"(logs: {_timings['log_dir']})"
        )


@pytest.fixture(scope="session")
async def stack(
    postgres_server_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
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
        _timings["stack_ready_seconds"] = running.started_in
        _timings["log_dir"] = str(log_dir)
        yield running
    finally:
        running.stop()
        for url in databases.values():
            await drop_database(postgres_server_url, url)
