"""Retention: expired inbox rows and Idempotency-Keys are deleted in batches, the rest kept."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from crm_events.tables import attach_messaging_tables
from crm_platform.idempotency import attach_idempotency_table
from crm_platform.retention import cutoffs, prune_retained
from crm_platform.scheduler import run_once
from crm_platform.settings import ServiceSettings

from .jobapp import job_app

metadata = sa.MetaData()
_, inbox = attach_messaging_tables(metadata)
idempotency = attach_idempotency_table(metadata)


class _Settings(ServiceSettings):
    service_name: str = "retention-test"


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    settings = _Settings(database_url=database_url, retention_batch_rows=7)
    # A service clock far from the database's: retention goes by the database's.
    async with job_app(metadata, settings, datetime(2031, 1, 1, tzinfo=UTC)) as app:
        yield app


async def _seed(app: FastAPI, ages: list[timedelta]) -> None:
    async with app.state.session_factory() as session, session.begin():
        now = await session.scalar(sa.select(sa.func.now()))
        await session.execute(
            sa.insert(inbox),
            [
                {
                    "consumer": "g",
                    "event_id": f"e{i}",
                    "event_type": "t",
                    "topic": "x",
                    "partition": 0,
                    "offset": i,
                    "processed_at": now - age,
                }
                for i, age in enumerate(ages)
            ],
        )
        await session.execute(
            sa.insert(idempotency),
            [
                {"scope": "s", "key": f"k{i}", "fingerprint": "f", "created_at": now - age}
                for i, age in enumerate(ages)
            ],
        )


async def _left(app: FastAPI) -> tuple[list[str], list[str]]:
    async with app.state.session_factory() as session:
        events = list(await session.scalars(sa.select(inbox.c.event_id).order_by(inbox.c.offset)))
        keys = list(await session.scalars(sa.select(idempotency.c.key).order_by("key")))
        return events, keys


async def test_rows_past_retention_go_in_batches_and_the_rest_stay(app: FastAPI) -> None:
    day = timedelta(days=1)
    # 20 inbox rows 40 days old (three batches of 7), 2 at 29 days, 1 fresh.
    ages = [40 * day] * 20 + [29 * day, 29 * day, timedelta(0)]
    await _seed(app, ages)
    assert await run_once(app, "retention", prune_retained) is True
    events, keys = await _left(app)
    assert events == ["e20", "e21", "e22"]
    # Idempotency-Keys are kept 168 hours: the 29-day-old ones go too.
    assert keys == ["k22"]


async def test_a_run_deletes_at_most_its_limit_and_the_next_goes_on(app: FastAPI) -> None:
    app.state.settings = _Settings(
        database_url=app.state.settings.database_url, retention_batch_rows=5, retention_max_rows=10
    )
    await _seed(app, [timedelta(days=60)] * 23)
    await run_once(app, "retention", prune_retained)
    assert [len(x) for x in await _left(app)] == [13, 13]
    await run_once(app, "retention", prune_retained)
    await run_once(app, "retention", prune_retained)
    assert await _left(app) == ([], [])


def test_each_table_keeps_what_its_setting_says() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    settings = _Settings(inbox_retention_days=3, idempotency_retention_hours=5)
    assert {(r.table, r.column, r.cutoff) for r in cutoffs(now, settings)} == {
        ("inbox_events", "processed_at", now - timedelta(days=3)),
        ("idempotency_keys", "created_at", now - timedelta(hours=5)),
    }
