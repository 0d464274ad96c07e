"""Where the real PostgreSQL and Kafka are.

`DATABASE_URL` (any database on a server where the user may create databases) and
`KAFKA_BOOTSTRAP_SERVERS` from the environment win. Without them, and with a Docker engine,
testcontainers starts both. Without either, the tests fail with instructions: they are
never silently skipped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

HOW_TO = (
    "start them with `make infra` (scripts/postgres.sh and scripts/kafka.sh) and set "
    "DATABASE_URL=postgresql://crm:crm@127.0.0.1:5432/postgres "
    "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092, or run the suite with `make test`"
)


class InfrastructureMissing(RuntimeError):
    pass


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def postgres_server() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield to_async_url(url)
        return
    if docker_available():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver="asyncpg") as pg:
            yield pg.get_connection_url()
        return
    raise InfrastructureMissing(
        f"no PostgreSQL: DATABASE_URL is not set and no Docker engine; {HOW_TO}"
    )


@contextmanager
def kafka_broker() -> Iterator[str]:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if bootstrap:
        yield bootstrap
        return
    if docker_available():
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    raise InfrastructureMissing(
        f"no Kafka: KAFKA_BOOTSTRAP_SERVERS is not set and no Docker engine; {HOW_TO}"
    )


def to_async_url(url: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


async def create_database(server_url: str, prefix: str) -> str:
    """A new empty database on the server; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}".lower().replace("-", "_")
    engine = create_async_engine(
        server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, database_url: str) -> None:
    name = make_url(database_url).database
    engine = create_async_engine(
        server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    try:
        for attempt in range(1, 21):
            try:
                async with engine.connect() as conn:
                    await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                return
            except sa.exc.DBAPIError as exc:
                # An autovacuum worker (a superuser's process) on the fresh database cannot
                # be terminated by a non-superuser: it finishes in a moment, so try again.
                if attempt == 20 or "pg_signal_backend" not in str(exc):
                    raise
                await asyncio.sleep(0.25)
    finally:
        await engine.dispose()
