"""Feeding the health read model: one row per reported fact, the latest revision wins.

A redelivered event is stopped by the inbox; a restatement or a revised credit replaces
the row it revises (guarded by its revision, so an older revision arriving late changes
nothing). Nothing is incremented, so nothing is counted twice. A batch of events is one
statement per table; the contract periods whose SLA periods, credits or charges it
touched are handed back for the benchmarks' counts (benchmarks/summaries.refresh).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.contracts.dates import local_today
from contract_registry.models import (
    Contract,
    HealthCharges,
    HealthCredit,
    HealthInvoice,
    HealthObligation,
    HealthSlaPeriod,
)
from crm_events.schemas.billing import ChargesComputed, CreditCalculated, ReconciliationCompleted
from crm_events.schemas.obligations import ObligationCreated, ObligationTransitioned
from crm_events.schemas.sla import SlaPeriodClosed
from crm_platform.db import table_of

Key = tuple[uuid.UUID, str]  # contract id, period label


def latest(rows: Sequence[dict[str, Any]], keys: list[str], revision: str) -> list[dict[str, Any]]:
    """One row per key: what applying the rows one after another leaves (the highest
    revision; of equal ones, the last)."""
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key not in kept or kept[key][revision] <= row[revision]:
            kept[key] = row
    return [kept[k] for k in sorted(kept, key=str)]


async def _upsert_latest(
    session: AsyncSession,
    model: type[Any],
    keys: list[str],
    rows: Sequence[dict[str, Any]],
    revision_column: str,
) -> None:
    """Insert, or replace each row when its revision is at least the stored one: one
    statement for a batch, its rows as executemany parameters (compiled once and cached);
    a key twice in it: the row `latest` keeps."""
    if not rows:
        return
    t = table_of(model)
    stmt = pg_insert(t)
    upsert = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={k: stmt.excluded[k] for k in rows[0] if k not in keys},
        where=t.c[revision_column] <= stmt.excluded[revision_column],
    )
    await session.execute(upsert, latest(rows, keys, revision_column))


def sla_period_row(
    tenant_id: str, event: SlaPeriodClosed, restatement: int, now: datetime
) -> dict[str, Any]:
    return {
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
    }


def credit_row(tenant_id: str, event: CreditCalculated, now: datetime) -> dict[str, Any]:
    # credit_amount is the credit after this revision (previous + delta): storing the
    # latest revision per SLA and period is the same as summing deltas, without the risk.
    return {
        "contract_id": event.contract_id,
        "period_label": event.period_label,
        "sla_code": event.sla_code,
        "tenant_id": tenant_id,
        "credit_amount": event.credit_amount,
        "monthly_charges": event.monthly_charges,
        "at_risk_amount": event.at_risk_amount,
        "revision": event.revision,
        "updated_at": now,
    }


def charges_row(tenant_id: str, event: ChargesComputed, now: datetime) -> dict[str, Any]:
    return {
        "contract_id": event.contract_id,
        "period_label": event.period_label,
        "tenant_id": tenant_id,
        "monthly_charges": event.monthly_charges,
        "expected_total": event.expected_total,
        "lines": [line.model_dump(mode="json") for line in event.lines],
        "revision": event.revision,
        "updated_at": now,
    }


def invoice_row(tenant_id: str, event: ReconciliationCompleted, now: datetime) -> dict[str, Any]:
    return {
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
    }


def _periods(rows: Sequence[dict[str, Any]]) -> dict[Key, str]:
    """The contract periods the rows belong to, with their tenant."""
    return {(r["contract_id"], r["period_label"]): r["tenant_id"] for r in rows}


async def record_sla_periods(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> dict[Key, str]:
    """Store the closed or restated SLA periods (sla_period_row); the contract periods
    they change, for the benchmarks' refresh."""
    keys = ["contract_id", "period_label", "sla_code"]
    await _upsert_latest(session, HealthSlaPeriod, keys, rows, "restatement")
    return _periods(rows)


async def record_credits(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[Key, str]:
    keys = ["contract_id", "period_label", "sla_code"]
    await _upsert_latest(session, HealthCredit, keys, rows, "revision")
    return _periods(rows)


async def record_charges(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[Key, str]:
    await _upsert_latest(session, HealthCharges, ["contract_id", "period_label"], rows, "revision")
    return _periods(rows)


async def record_invoices(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await _upsert_latest(session, HealthInvoice, ["contract_id", "invoice_id"], rows, "revision")


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


async def record_obligation_created(
    session: AsyncSession, tenant_id: str, event: ObligationCreated, now: datetime
) -> None:
    # An obligation counts in the period it follows up, else in the month it is due.
    t = table_of(HealthObligation)
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
        pg_insert(table_of(HealthObligation))
        .values(**new_row)
        .on_conflict_do_update(index_elements=["contract_id", "obligation_id"], set_=changes)
    )
