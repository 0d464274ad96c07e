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
"""

from __future__ import annotations

import asyncio
import hashlib
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


@dataclass
class JobContext:
    session: AsyncSession
    clock: Clock
    emit: RequestEmitter
    settings: ServiceSettings
    run_id: str
    # Set by a job that stopped at its bound with work left: run again without waiting.
    again: bool = False


Job = Callable[[JobContext], Awaitable[None]]


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def run_once(app: FastAPI, name: str, job: Job) -> bool:
    """Run the job now if no other instance is running it; True when it ran."""
    return await _run(app, name, job) is not None


async def _run(app: FastAPI, name: str, job: Job) -> JobContext | None:
    """One run in one transaction; its context (None when another instance holds it)."""
    state = app.state
    async with state.session_factory() as session, session.begin():
        got = await session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(lock_key(name))))
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
        )
        await job(context)
    JOB_RUNS.labels(name, "ok").inc()
    JOB_LAST_SUCCESS.labels(name).set_to_current_time()
    return context


def every(seconds: float, name: str, job: Job) -> Callable[[FastAPI], Coroutine[Any, Any, None]]:
    """A worker for `ServiceDefinition.workers` that runs `job` every `seconds`."""

    async def worker(app: FastAPI) -> None:
        JOB_INTERVAL.labels(name).set(seconds)
        JOB_LAST_SUCCESS.labels(name)  # the series exists (0) before the first success
        while True:
            again = False
            try:
                ran = await _run(app, name, job)
                again = ran is not None and ran.again
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # logged and retried at the next tick
                JOB_RUNS.labels(name, "error").inc()
                log.exception("job.failed", job=name, error=repr(exc))
            await asyncio.sleep(0 if again else seconds)

    worker.__name__ = f"job:{name}"
    return worker
