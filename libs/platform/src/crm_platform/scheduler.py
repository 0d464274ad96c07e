"""Periodic jobs (period close, overdue checks…) that run once across N instances.

    DEFINITION = ServiceDefinition(..., workers=[every(60, "close_periods", close_due_periods)])

    async def close_due_periods(job: JobContext) -> None:
        ...  # job.session is in a transaction; job.emit stages events in the outbox

Each run is one transaction that first takes a transaction-scoped advisory lock named after
the job: a second instance finds the lock taken and skips that run. The transaction commits
when the job returns and rolls back when it raises (the next run tries again). A job with
more to do than one transaction should hold (a month end's closes) does a bounded part and
sets `job.again`: the worker runs it again at once instead of after its interval, so each
part commits and its events flow while the rest is done.

A job whose work divides by contract can be run in `shards`: each shard has a lock of its
own and does the work of its contracts only (`job.shard.of(column)` selects them), so
several instances share one run, each taking the shards no other holds. An instance starts
at a shard of its own choosing (random) and goes round, so two instances start apart.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from fastapi import FastAPI
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from crm_platform.clock import Clock
from crm_platform.emitter import RequestEmitter
from crm_platform.settings import ServiceSettings

log = structlog.get_logger(__name__)

# The label is `job_name`: Prometheus sets `job` on every series (the scrape job), and a
# scraped `job` label would be renamed `exported_job`.
JOB_RUNS = Counter("crm_job_runs_total", "Scheduled job runs", ["job_name", "result"])
# Alert on `time() - max by (job_name) (last success) > N * interval`: the max across instances,
# since a run another instance holds the lock for is skipped here. 0 until a run succeeds.
JOB_LAST_SUCCESS = Gauge(
    "crm_job_last_success_timestamp_seconds",
    "Unix time of the job's last successful run",
    ["job_name"],
)
JOB_INTERVAL = Gauge("crm_job_interval_seconds", "How often the job is meant to run", ["job_name"])


@dataclass(frozen=True)
class Shard:
    """Which part of a sharded job's work a run does: the contracts whose id hashes to
    `index` modulo `count` (the single shard 0 of 1 is all of them)."""

    index: int = 0
    count: int = 1

    def of(self, contract_id: Any) -> sa.ColumnElement[bool]:
        """A SQL condition on a contract id column: the row belongs to this shard."""
        if self.count == 1:
            return sa.true()
        # hashtext is stable for a running database, which is what instances share.
        bucket = sa.func.abs(sa.func.hashtext(sa.cast(contract_id, sa.Text)) % self.count)
        return bucket == self.index

    def lock_name(self, name: str) -> str:
        return name if self.count == 1 else f"{name}:{self.index}/{self.count}"


ALL = Shard()


@dataclass
class JobContext:
    session: AsyncSession
    clock: Clock
    emit: RequestEmitter
    settings: ServiceSettings
    run_id: str
    shard: Shard = ALL
    # Set by a job that stopped at its bound with work left: run again without waiting.
    again: bool = False


Job = Callable[[JobContext], Awaitable[None]]


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def run_once(app: FastAPI, name: str, job: Job, shards: int = 1, start: int = 0) -> bool:
    """Run the job now, every shard of it that no other instance is running (from shard
    `start` round); True when every shard ran here."""
    ran = [await _run(app, name, job, shard) for shard in _round(shards, start=start)]
    return all(r is not None for r in ran)


def _round(shards: int, *, start: int) -> list[Shard]:
    return [Shard((start + i) % shards, shards) for i in range(shards)]


async def _run(app: FastAPI, name: str, job: Job, shard: Shard = ALL) -> JobContext | None:
    """One run of one shard in one transaction; its context (None when another instance
    holds it)."""
    state = app.state
    async with state.session_factory() as session, session.begin():
        key = lock_key(shard.lock_name(name))
        got = await session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(key)))
        if not got:
            JOB_RUNS.labels(name, "skipped").inc()
            return None
        run_id = f"job-{name}-{uuid.uuid4()}"
        emitter = RequestEmitter(session, state.settings.service_name, run_id)
        context = JobContext(
            session=session,
            clock=state.clock,
            emit=emitter,
            settings=state.settings,
            run_id=run_id,
            shard=shard,
        )
        await job(context)
    JOB_RUNS.labels(name, "ok").inc()
    JOB_LAST_SUCCESS.labels(name).set_to_current_time()
    return context


def every(
    seconds: float, name: str, job: Job, *, shards: int = 1
) -> Callable[[FastAPI], Coroutine[Any, Any, None]]:
    """A worker for `ServiceDefinition.workers` that runs `job` every `seconds` (each of its
    `shards` in turn, those another instance holds skipped)."""
    if shards < 1:
        raise ValueError(f"{name}: shards must be at least 1, not {shards}")

    async def worker(app: FastAPI) -> None:
        JOB_INTERVAL.labels(name).set(seconds)
        JOB_LAST_SUCCESS.labels(name)  # the series exists (0) before the first success
        start = random.randrange(shards)
        while True:
            again = False
            for shard in _round(shards, start=start):
                try:
                    ran = await _run(app, name, job, shard)
                    again = again or (ran is not None and ran.again)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # logged and retried at the next tick
                    JOB_RUNS.labels(name, "error").inc()
                    log.exception("job.failed", job=name, shard=shard.index, error=repr(exc))
            await asyncio.sleep(0 if again else seconds)

    worker.__name__ = f"job:{name}"
    return worker
