"""Feeding the health read model: one row per reported fact, the latest revision wins.

A redelivered event is stopped by the inbox; a restatement or a revised credit replaces
the row it revises (guarded by its revision, so an older revision arriving late changes
nothing). Nothing is incremented, so nothing is counted twice.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.contracts.dates import local_today
from contract_registry.models import (
    Contract,
    HealthCharges,
    HealthCredit,
    HealthGeneration,
    HealthInvoice,
    HealthObligation,
    HealthSlaPeriod,
)
from crm_events.schemas.billing import ChargesComputed, CreditCalculated, ReconciliationCompleted
from crm_events.schemas.obligations import ObligationCreated, ObligationTransitioned
from crm_events.schemas.sla import SlaPeriodClosed


def _table(model: type[Any]) -> sa.Table:
    return cast(sa.Table, model.__table__)


async def _upsert_latest(
    session: AsyncSession,
    model: type[Any],
    keys: list[str],
    values: dict[str, Any],
    revision_column: str,
) -> None:
    """Insert, or replace the row when the incoming revision is at least the stored one."""
    t = _table(model)
    stmt = pg_insert(t).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=keys,
            set_={k: stmt.excluded[k] for k in values if k not in keys},
            where=t.c[revision_column] <= stmt.excluded[revision_column],
        )
    )


async def _bump_generation(session: AsyncSession, tenant_id: str) -> None:
    """The benchmarks' inputs changed for this tenant (see HealthGeneration)."""
    t = _table(HealthGeneration)
    await session.execute(
        pg_insert(t)
        .values(tenant_id=tenant_id, generation=1)
        .on_conflict_do_update(
            index_elements=["tenant_id"], set_={"generation": t.c.generation + 1}
        )
    )


async def record_sla_period(
    session: AsyncSession, tenant_id: str, event: SlaPeriodClosed, restatement: int, now: datetime
) -> None:
    await _upsert_latest(
        session,
        HealthSlaPeriod,
        ["contract_id", "period_label", "sla_code"],
        {
            "contract_id": event.contract_id,
            "period_label": event.period.label,
            "sla_code": event.sla_code,
            "tenant_id": tenant_id,
            "metric_kind": event.metric_kind.value,
            # Measurement SLAs' attainment is a value in their unit: benchmarks split by it.
            "unit": event.measurement_figures.unit if event.measurement_figures else None,
            "outcome": event.outcome.value,
            "attainment": event.attainment,
            "expected_level": event.expected_level,
            "minimum_level": event.minimum_level,
            "restatement": restatement,
            "updated_at": now,
        },
        "restatement",
    )
    await _bump_generation(session, tenant_id)


async def record_credit(
    session: AsyncSession, tenant_id: str, event: CreditCalculated, now: datetime
) -> None:
    # credit_amount is the credit after this revision (previous + delta): storing the
    # latest revision per SLA and period is the same as summing deltas, without the risk.
    await _upsert_latest(
        session,
        HealthCredit,
        ["contract_id", "period_label", "sla_code"],
        {
            "contract_id": event.contract_id,
            "period_label": event.period_label,
            "sla_code": event.sla_code,
            "tenant_id": tenant_id,
            "credit_amount": event.credit_amount,
            "monthly_charges": event.monthly_charges,
            "at_risk_amount": event.at_risk_amount,
            "revision": event.revision,
            "updated_at": now,
        },
        "revision",
    )
    await _bump_generation(session, tenant_id)


async def record_charges(
    session: AsyncSession, tenant_id: str, event: ChargesComputed, now: datetime
) -> None:
    await _upsert_latest(
        session,
        HealthCharges,
        ["contract_id", "period_label"],
        {
            "contract_id": event.contract_id,
            "period_label": event.period_label,
            "tenant_id": tenant_id,
            "monthly_charges": event.monthly_charges,
            "expected_total": event.expected_total,
            "lines": [line.model_dump(mode="json") for line in event.lines],
            "revision": event.revision,
            "updated_at": now,
        },
        "revision",
    )
    await _bump_generation(session, tenant_id)


async def record_reconciliation(
    session: AsyncSession, tenant_id: str, event: ReconciliationCompleted, now: datetime
) -> None:
    await _upsert_latest(
        session,
        HealthInvoice,
        ["contract_id", "invoice_id"],
        {
            "contract_id": event.contract_id,
            "invoice_id": event.invoice_id,
            "tenant_id": tenant_id,
            "period_label": event.period_label,
            "invoice_number": event.invoice_number,
            "expected_total": event.expected_total,
            "invoiced_total": event.invoiced_total,
            "discrepancies": event.discrepancies,
            "sums_by_class": {k: format(v, "f") for k, v in event.sums_by_class.items()},
            "revision": event.revision,
            "updated_at": now,
        },
        "revision",
    )


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


async def record_obligation_created(
    session: AsyncSession, tenant_id: str, event: ObligationCreated, now: datetime
) -> None:
    # An obligation counts in the period it follows up, else in the month it is due.
    t = _table(HealthObligation)
    await session.execute(
        pg_insert(t)
        .values(
            contract_id=event.contract_id,
            obligation_id=event.obligation_id,
            tenant_id=tenant_id,
            period_label=event.period_label or month_label(event.due_date),
            kind=event.kind,
            due_date=event.due_date,
            status="open",
            went_overdue=False,
            fulfilled_on=None,
            updated_at=now,
        )
        .on_conflict_do_update(
            index_elements=["contract_id", "obligation_id"],
            # A transition seen first guessed the period; the creation knows it.
            set_={"period_label": event.period_label or month_label(event.due_date)},
        )
    )


async def _contract_timezone(session: AsyncSession, contract_id: uuid.UUID) -> str:
    tz = await session.scalar(sa.select(Contract.timezone).where(Contract.id == contract_id))
    return tz or "UTC"


async def record_obligation_transition(
    session: AsyncSession, tenant_id: str, event: ObligationTransitioned, now: datetime
) -> None:
    """fulfilled → done on its local date; overdue/escalated → late; waived → not counted."""
    changes: dict[str, Any] = {"due_date": event.due_date, "updated_at": now}
    if event.status == "fulfilled":
        timezone = await _contract_timezone(session, event.contract_id)
        changes |= {"status": "fulfilled", "fulfilled_on": local_today(event.at, timezone)}
    elif event.status in ("overdue", "escalated"):
        changes["went_overdue"] = True
    elif event.status == "waived":
        changes["status"] = "waived"
    else:
        return
    new_row: dict[str, Any] = {
        "contract_id": event.contract_id,
        "obligation_id": event.obligation_id,
        "tenant_id": tenant_id,
        "period_label": month_label(event.due_date),
        "kind": event.kind,
        "status": "open",
        "went_overdue": False,
        "fulfilled_on": None,
        **changes,
    }
    await session.execute(
        pg_insert(_table(HealthObligation))
        .values(**new_row)
        .on_conflict_do_update(index_elements=["contract_id", "obligation_id"], set_=changes)
    )
