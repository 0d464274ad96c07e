"""The periodic check: due soon, overdue, escalation, and the governance review's snapshot.

Runs as one job across all instances (advisory lock); rows a request is changing right now
are skipped (`SKIP LOCKED`) and looked at again on the next run. Dates are the contract's
local dates, from the service's injectable clock.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog

from crm_events.schemas.contracts import ContractTerms
from crm_platform.contract_terms import latest_terms
from crm_platform.scheduler import JobContext
from obligation_tracker.governance.snapshot import health_snapshot
from obligation_tracker.models import OPEN_STATUSES, Obligation
from obligation_tracker.obligations.escalation import steps_due
from obligation_tracker.obligations.lifecycle import record, transition
from obligation_tracker.obligations.recurrence import GOVERNANCE_REVIEW, previous_occurrence
from obligation_tracker.settings import Settings

log = structlog.get_logger(__name__)

BATCH = 500


async def check_obligations(job: JobContext) -> None:
    settings = job.settings
    assert isinstance(settings, Settings)
    now = job.clock.now()
    # No zone is more than a day ahead of UTC; the exact local date is taken per row.
    horizon = now.date() + timedelta(days=settings.due_soon_days + 1)
    terms_cache: dict[uuid.UUID, ContractTerms | None] = {}
    counts = {"due_soon": 0, "overdue": 0, "escalated": 0}
    async for row in _candidates(job, horizon):
        if row.contract_id not in terms_cache:
            terms_cache[row.contract_id] = await latest_terms(job.session, row.contract_id)
        terms = terms_cache[row.contract_id]
        holidays = set(terms.holidays) if terms else set()
        escalation = terms.escalation if terms else None
        today = now.astimezone(ZoneInfo(row.timezone)).date()
        for step in steps_due(
            status=row.status,
            due=row.due_date,
            today=today,
            escalation_level=row.escalation_level,
            due_soon_sent=row.due_soon_notified_at is not None,
            due_soon_days=settings.due_soon_days,
            delay_business_days=escalation.delay_business_days if escalation else 0,
            levels=escalation.levels if escalation else [],
            holidays=holidays,
        ):
            if step.event == "due_soon":
                row.due_soon_notified_at = now
                await transition(
                    job.session, job.clock, job.emit, row, event="due_soon", to_status=row.status
                )
            elif step.event == "overdue":
                row.overdue_at = now
                await transition(
                    job.session, job.clock, job.emit, row, event="overdue", to_status="overdue"
                )
            else:
                row.escalation_level = step.level
                row.escalated_to = step.escalated_to
                row.escalated_at = now
                await transition(
                    job.session, job.clock, job.emit, row, event="escalated", to_status="escalated"
                )
            counts[step.event] += 1
    snapshots = await attach_review_snapshots(job)
    if any(counts.values()) or snapshots:
        log.info("obligations.checked", snapshots=snapshots, **counts)


async def _candidates(job: JobContext, horizon: date) -> AsyncIterator[Obligation]:
    """Every open obligation due by `horizon`, in batches (keyset on due date and id), so
    obligations that have reached their last escalation level never crowd out the others."""
    after: tuple[date, uuid.UUID] | None = None
    while True:
        query = sa.select(Obligation).where(
            Obligation.status.in_(OPEN_STATUSES), Obligation.due_date <= horizon
        )
        if after is not None:
            query = query.where(sa.tuple_(Obligation.due_date, Obligation.id) > after)
        rows = (
            await job.session.scalars(
                query.order_by(Obligation.due_date, Obligation.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            yield row
        if len(rows) < BATCH:
            return
        after = (rows[-1].due_date, rows[-1].id)


async def attach_review_snapshots(job: JobContext) -> int:
    """On its day, a governance review gets the contract's health since the last review."""
    now = job.clock.now()
    rows = (
        await job.session.scalars(
            sa.select(Obligation)
            .where(
                Obligation.kind == GOVERNANCE_REVIEW,
                Obligation.status.in_(OPEN_STATUSES),
                Obligation.occurrence_date <= now.date() + timedelta(days=1),
                ~Obligation.details.has_key("health_snapshot"),
            )
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    ).all()
    attached = 0
    for row in rows:
        assert row.occurrence_date is not None
        today = now.astimezone(ZoneInfo(row.timezone)).date()
        if row.occurrence_date > today:
            continue
        terms = await latest_terms(job.session, row.contract_id)
        window_from = terms.start_date if terms else row.occurrence_date
        rule = row.details.get("rrule")
        if terms is not None and rule:
            before = previous_occurrence(rule, dtstart=terms.start_date, before=row.occurrence_date)
            if before is not None:
                window_from = before
        snapshot = await health_snapshot(
            job.session,
            contract_id=row.contract_id,
            timezone=row.timezone,
            window_from=window_from,
            window_to=row.occurrence_date + timedelta(days=1),
            now=now,
        )
        row.details = {**row.details, "health_snapshot": snapshot}
        row.updated_at = now
        record(
            job.session,
            row,
            action="snapshot_attached",
            from_status=row.status,
            at=now,
            details={"window": snapshot["window"]},
        )
        attached += 1
    return attached
