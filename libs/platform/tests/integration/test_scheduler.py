"""Periodic jobs run once across instances and roll back when they fail."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from crm_platform.scheduler import JobContext, every, run_once
from crm_platform.settings import ServiceSettings

from .jobapp import job_app

metadata = sa.MetaData()
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)


class _Settings(ServiceSettings):
    service_name: str = "scheduler-test"


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    settings = _Settings(database_url=database_url)
    async with job_app(metadata, settings, datetime(2026, 4, 4, tzinfo=UTC)) as app:
        yield app


async def _count(app: FastAPI) -> int:
    async with app.state.session_factory() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(runs)) or 0)


async def test_two_instances_run_a_job_once_at_a_time(app: FastAPI) -> None:
    gate = asyncio.Event()

    async def slow_job(job: JobContext) -> None:
        await job.session.execute(sa.insert(runs).values(at=job.clock.now()))
        await gate.wait()

    first = asyncio.create_task(run_once(app, "close", slow_job))
    await asyncio.sleep(0.3)
    assert await run_once(app, "close", slow_job) is False  # the other instance holds it
    gate.set()
    assert await first is True
    assert await _count(app) == 1


async def test_a_failing_run_changes_nothing(app: FastAPI) -> None:
    async def broken(job: JobContext) -> None:
        await job.session.execute(sa.insert(runs).values(at=job.clock.now()))
        raise RuntimeError("half-way")

    with pytest.raises(RuntimeError):
        await run_once(app, "broken", broken)
    assert await _count(app) == 0


async def test_a_successful_run_sets_the_jobs_last_success_and_a_failed_one_does_not(
    app: FastAPI,
) -> None:
    from prometheus_client import REGISTRY

    def last_success(job: str) -> float | None:
        return REGISTRY.get_sample_value(
            "crm_job_last_success_timestamp_seconds", {"job_name": job}
        )

    async def ok(job: JobContext) -> None:
        await job.session.execute(sa.insert(runs).values(at=job.clock.now()))

    async def broken(job: JobContext) -> None:
        raise RuntimeError("job bug")

    worker = asyncio.create_task(every(60, "metrics.broken", broken)(app))
    await asyncio.sleep(0.3)  # one failed run, then it sleeps its minute
    worker.cancel()
    assert (
        REGISTRY.get_sample_value("crm_job_interval_seconds", {"job_name": "metrics.broken"}) == 60
    )
    assert last_success("metrics.broken") == 0  # shown, and never succeeded: alertable

    before = time.time()
    assert await run_once(app, "metrics.ok", ok) is True
    assert before <= (last_success("metrics.ok") or 0) <= time.time()


async def test_a_job_with_work_left_runs_again_at_once_each_part_committed(app: FastAPI) -> None:
    parts: list[int] = []
    third = asyncio.Event()

    async def in_parts(job: JobContext) -> None:
        # Each part sees the rows the parts before it committed.
        done = int(await job.session.scalar(sa.select(sa.func.count()).select_from(runs)) or 0)
        parts.append(done)
        await job.session.execute(sa.insert(runs).values(at=job.clock.now()))
        job.again = done < 2
        if len(parts) == 3:
            third.set()

    worker = asyncio.create_task(every(60, "in-parts", in_parts)(app))
    try:
        await asyncio.wait_for(third.wait(), timeout=10)
        await asyncio.sleep(0.3)  # the third part left nothing: the worker waits its minute
    finally:
        worker.cancel()
    assert parts == [0, 1, 2]
    assert await _count(app) == 3
