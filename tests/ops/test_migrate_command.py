"""What the chart's migration Job runs: `python -m <service> migrate` brings a fresh database
to the head revision and exits; the service then starts without migrating (as the chart's
pods do, RUN_MIGRATIONS_ON_STARTUP=false) and is ready."""

import asyncio
import os
import subprocess
import sys

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from crm_testing.apps import running_app, settings_for
from sla_monitor.main import create_app
from sla_monitor.settings import Settings


async def tables(database_url: str) -> set[str]:
    engine = create_async_engine(database_url.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
            version = (
                await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
                if "alembic_version" in names
                else None
            )
            return set(names) | ({f"revision:{version.scalar_one()}"} if version else set())
    finally:
        await engine.dispose()


async def test_migrate_then_serve_without_migrating(
    database_url: str, kafka_bootstrap: str
) -> None:
    assert "outbox_events" not in await tables(database_url)
    env = {**os.environ, "SLA_MONITOR_DATABASE_URL": database_url}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "sla_monitor", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    migrated = await tables(database_url)
    assert {"outbox_events", "inbox_events", "idempotency_keys", "api_keys"} <= migrated
    assert any(name.startswith("revision:") for name in migrated)

    settings = settings_for(
        Settings,
        database_url=database_url,
        bootstrap=kafka_bootstrap,
        run_migrations_on_startup=False,
    )
    async with running_app(create_app(settings)) as (_, client):
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
