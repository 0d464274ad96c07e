"""Alembic, the same way for every service.

A service's `migrations/env.py` is three lines:

    from crm_platform.migrations import run_env
    from sla_monitor.models import Base
    run_env(Base.metadata)

Migrations run at start-up (`run_migrations_on_startup`) or by `python -m <service> migrate`.
Instances starting together serialise on a PostgreSQL advisory lock.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from crm_events.tables import create_messaging_tables, drop_messaging_tables
from crm_platform.idempotency import IDEMPOTENCY, create_idempotency_table

MIGRATION_LOCK_KEY = 0x0C7B_0002


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.set_main_option(
        "file_template", "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    cfg.set_main_option("timezone", "UTC")
    return cfg


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, database_url), revision)


def _do_run(connection: sa.Connection, target_metadata: sa.MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str, target_metadata: sa.MetaData) -> None:
    engine = create_async_engine(url, poolclass=sa.pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
            await connection.commit()
            try:
                await connection.run_sync(_do_run, target_metadata)
                await connection.commit()
            finally:
                await connection.execute(
                    sa.text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
                )
                await connection.commit()
    finally:
        await engine.dispose()


def run_env(target_metadata: sa.MetaData) -> None:
    """Body of every service's env.py (online mode, async driver)."""
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "sqlalchemy.url is not set; run migrations through `python -m <service> migrate`"
        )
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_async(url, target_metadata))


def create_platform_tables(op: Any) -> None:
    """The shared tables of every service: outbox, inbox, idempotency keys."""
    create_messaging_tables(op)
    create_idempotency_table(op)


def drop_platform_tables(op: Any) -> None:
    op.drop_table(IDEMPOTENCY)
    drop_messaging_tables(op)
