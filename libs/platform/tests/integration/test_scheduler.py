"""Periodic jobs run once across instances and roll back when they fail."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy import Uuid

from crm_platform.scheduler import JobContext, Shard, every, run_once
from crm_platform.settings import ServiceSettings

from .jobapp import job_app

metadata = sa.MetaData()
done = sa.Table(  # what a sharded job did: each shard's work once, by the instance that did it
    "done",
    metadata,
    sa.Column("shard", sa.Integer, primary_key=True),
    sa.Column("instance", sa.Text, nullable=False),
)
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


async def test_two_instances_share_a_sharded_job_each_shard_done_once(app: FastAPI) -> None:
    """Two instances' workers (one app standing for both: the locks are the database's)
    run a job of 4 shards at once, each shard's work taking 0.2 s: a shard done before is
    found done (as the close job finds its periods closed), so the work is shared."""
    worked: dict[str, list[int]] = {"a": [], "b": []}

    def job_of(instance: str) -> Any:
        async def close(job: JobContext) -> None:
            shard = job.shard.index
            if await job.session.scalar(sa.select(done.c.instance).where(done.c.shard == shard)):
                return
            worked[instance].append(shard)
            await job.session.execute(sa.insert(done).values(shard=shard, instance=instance))
            await asyncio.sleep(0.2)  # the work; the other instance finds the shard held

        return close

    workers = [
        asyncio.create_task(every(60, "sharded", job_of(name), shards=4)(app)) for name in "ab"
    ]
    try:
        await asyncio.sleep(1.5)  # one tick each, then they wait their minute
    finally:
        for worker in workers:
            worker.cancel()
    async with app.state.session_factory() as session:
        rows = dict((await session.execute(sa.select(done.c.shard, done.c.instance))).all())
    assert sorted(rows) == [0, 1, 2, 3]  # every shard's work, once (its primary key)
    assert sorted(worked["a"] + worked["b"]) == [0, 1, 2, 3], worked
    assert worked["a"] and worked["b"], worked  # shared: each instance did a part


async def test_a_shard_selects_each_contract_once(app: FastAPI) -> None:
    ids = [uuid.uuid4() for _ in range(400)]
    values = sa.values(sa.column("id", Uuid), name="ids").data([(i,) for i in ids])
    found: dict[int, set[uuid.UUID]] = {}
    async with app.state.session_factory() as session:
        for index in range(8):
            shard = Shard(index, 8)
            found[index] = set(
                await session.scalars(sa.select(values.c.id).where(shard.of(values.c.id)))
            )
        everything = set(
            await session.scalars(sa.select(values.c.id).where(Shard().of(values.c.id)))
        )
    assert sum(len(f) for f in found.values()) == len(ids)  # each in exactly one shard
    assert set().union(*found.values()) == set(ids) == everything
    assert all(20 <= len(f) <= 80 for f in found.values()), [len(f) for f in found.values()]
    assert Shard(3, 8).lock_name("close") == "close:3/8" and Shard().lock_name("close") == "close"
