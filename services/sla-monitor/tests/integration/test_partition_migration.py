"""The partitioning migration on a database that already holds telemetry: the rows are not
copied but kept, readable, as the `<table>_legacy` partition up to the month after the
newest of them; later months get partitions of their own; downgrading makes the tables
plain again with every row."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from crm_platform.migrations import alembic_config, upgrade
from sla_monitor.main import MIGRATIONS
from sla_monitor.telemetry.partitions import ensure_months, partitions

BEFORE = "7d0e11c5a9b2"  # the revision before partitioning


async def test_existing_rows_become_the_legacy_partition(database_url: str) -> None:
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, BEFORE)
    engine = create_async_engine(database_url, poolclass=NullPool)
    newest = datetime(2027, 2, 10, tzinfo=UTC)  # after now: the bound follows the rows
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO samples VALUES ('t', 'k', '2025-06-01T00:00:00Z', 'up', NULL),"
                    " ('t', 'k', :newest, 'down', NULL)"
                ),
                {"newest": newest},
            )
            await conn.execute(
                sa.text("INSERT INTO measurements VALUES ('t', 'k', 'ms', :at, '', 12)"),
                {"at": newest},
            )
        await asyncio.to_thread(upgrade, MIGRATIONS, database_url)
        async with engine.begin() as conn:
            [legacy] = await partitions(conn, "samples")
            assert (legacy.name, legacy.lower) == ("samples_legacy", None)
            assert legacy.upper == datetime(2027, 3, 1, tzinfo=UTC)
            count = await conn.scalar(sa.text("SELECT count(*) FROM samples"))
            assert count == 2
            assert [p.name for p in await partitions(conn, "measurements")] == [
                "measurements_legacy"
            ]
        async with engine.begin() as conn:
            # No partition holds March 2027 yet; telemetry for it gets one.
            session = AsyncSession(bind=conn)
            made = await ensure_months(session, "samples", [datetime(2027, 3, 1, tzinfo=UTC)])
            assert made == ["samples_y2027m03"]
            await session.execute(
                sa.text("INSERT INTO samples VALUES ('t', 'k', '2027-03-02T00:00:00Z', 'up', NULL)")
            )
        await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, database_url), BEFORE)
        async with engine.begin() as conn:
            kind = await conn.scalar(
                sa.text("SELECT relkind::text FROM pg_class WHERE relname = 'samples'")
            )
            assert kind == "r"  # a plain table again
            assert await conn.scalar(sa.text("SELECT count(*) FROM samples")) == 3
    finally:
        await engine.dispose()
