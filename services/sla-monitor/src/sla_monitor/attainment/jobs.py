"""The period-close job: every period whose end plus the contract's grace time has passed
is closed once, by whichever instance holds the advisory lock of its contract's shard
(`CLOSE_JOB_SHARDS`: instances close different shards at the same time)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog
from prometheus_client import Counter

from crm_events.infrastructure import is_infrastructure_error
from crm_platform.db import tuple_in
from crm_platform.scheduler import JobContext
from sla_monitor.attainment.compute import Computation, SlaRef
from sla_monitor.attainment.domain import PeriodBounds
from sla_monitor.attainment.inputs import ContractVersions
from sla_monitor.attainment.schedule import measured_periods
from sla_monitor.attainment.service import close_many
from sla_monitor.models import SlaDefinitionRow, SlaPeriod
from sla_monitor.settings import Settings

log = structlog.get_logger(__name__)

# Periods closed per statement: a month end's thousands in a few dozen round trips, and a
# chunk that fails is retried one period at a time.
CHUNK = 200

CLOSE_FAILURES = Counter(
    "crm_sla_period_close_failures_total",
    "Periods the close job could not close (left for its next run; see period.close_failed)",
)


async def close_due_periods(job: JobContext) -> None:
    """Periods of each SLA's own kind (a quarter for a quarterly SLA) that ended after the
    SLA became known here are closed automatically once their end plus the contract's
    grace hours has passed; periods that had already ended (history loaded afterwards)
    wait for an operator."""
    session = job.session
    now = job.clock.now()
    rows = (
        await session.scalars(
            sa.select(SlaDefinitionRow).where(
                SlaDefinitionRow.active.is_(True),
                SlaDefinitionRow.tracked_since.is_not(None),
                job.shard.of(SlaDefinitionRow.contract_id),
            )
        )
    ).all()
    versions = ContractVersions(session)
    await versions.load(r.contract_id for r in rows)
    due: list[tuple[SlaRef, PeriodBounds]] = []
    for row in rows:
        assert row.tracked_since is not None
        due += [
            (ref, period)
            for ref, period in measured_periods(
                versions,
                contract_id=row.contract_id,
                tenant_id=row.tenant_id,
                sla_code=row.sla_code,
                timezone=row.timezone,
                touching=(row.tracked_since, now),
            )
            if period.end > row.tracked_since
            and period.end + timedelta(hours=ref.terms.period_close_grace_hours) <= now
        ]
    if not due:
        return
    closed = set(
        (
            await session.execute(
                sa.select(SlaPeriod.contract_id, SlaPeriod.sla_code, SlaPeriod.period_label).where(
                    tuple_in(
                        (SlaPeriod.contract_id, SlaPeriod.sla_code, SlaPeriod.period_label),
                        [(r.contract_id, r.sla.code, p.label) for r, p in due],
                    )
                )
            )
        ).all()
    )
    due = [(r, p) for r, p in due if (r.contract_id, r.sla.code, p.label) not in closed]
    # Oldest periods first; what is over this run's bound is left to the next, at once.
    due.sort(key=lambda rp: (rp[1].end, str(rp[0].contract_id), rp[0].sla.code))
    settings = job.settings
    assert isinstance(settings, Settings)
    if len(due) > settings.close_job_max_periods:
        due, job.again = due[: settings.close_job_max_periods], True
    for at in range(0, len(due), CHUNK):
        chunk = due[at : at + CHUNK]
        try:
            async with session.begin_nested():
                results = await close_many(session=session, emit=job.emit, now=now, due=chunk)
        except Exception as exc:
            if is_infrastructure_error(exc):
                raise  # the whole run fails and is retried; nothing half-done
            # Some period of the chunk cannot be closed: close them one by one, so only
            # that one waits for the next run.
            results = [await _close_alone(job, now, ref, period) for ref, period in chunk]
        for (ref, period), result in zip(chunk, results, strict=True):
            if result is not None:
                log.info(
                    "period.closed",
                    contract_id=str(ref.contract_id),
                    sla_code=ref.sla.code,
                    period=period.label,
                    outcome=result.outcome.value,
                )


async def _close_alone(
    job: JobContext, now: datetime, ref: SlaRef, period: PeriodBounds
) -> Computation | None:
    """One period in its own savepoint: one that cannot be closed (a bug, bad data) is
    logged and left for the next run, it does not roll back the month end's others."""
    try:
        async with job.session.begin_nested():
            return (
                await close_many(session=job.session, emit=job.emit, now=now, due=[(ref, period)])
            )[0]
    except Exception as exc:
        if is_infrastructure_error(exc):
            raise
        CLOSE_FAILURES.inc()
        log.error(
            "period.close_failed",
            contract_id=str(ref.contract_id),
            sla_code=ref.sla.code,
            period=period.label,
            error=repr(exc),
        )
        return None
