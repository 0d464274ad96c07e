"""The contract's health as this service sees it, for the governance review.

obligation-tracker never asks contract-registry: it keeps the SLA outcomes and credits it
hears on `sla.v1` / `billing.v1`, and it owns the obligations and alerts. A review's
snapshot covers what happened between the previous review's date and its own.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.billing import CreditCalculated
from crm_events.schemas.sla import SlaPeriodClosed
from crm_platform.db import table_of
from obligation_tracker.models import (
    LATE_STATUSES,
    OPEN_STATUSES,
    Alert,
    Obligation,
    SlaPeriodResult,
)

PeriodKey = tuple[uuid.UUID, str, str]  # (contract_id, sla_code, period_label)


@dataclass(frozen=True)
class PeriodFact:
    """What one event says of an SLA period: its outcome (`sla.period_closed`, restated) or
    its credit (`billing.credit_calculated`)."""

    key: PeriodKey
    tenant_id: str
    values: dict[str, Any]


def period_fact(event: Any, *, tenant_id: str, now: datetime) -> PeriodFact | None:
    if isinstance(event, SlaPeriodClosed):
        key = (event.contract_id, event.sla_code, event.period.label)
        values = {"outcome": event.outcome.value, "attainment": event.attainment}
    elif isinstance(event, CreditCalculated):
        # The SLA's own period (the one sla.period_closed names), not the billing month.
        key = (event.contract_id, event.sla_code, event.measurement_period or event.period_label)
        values = {"credit_amount": event.credit_amount, "currency": event.currency}
    else:
        return None
    return PeriodFact(key, tenant_id, {**values, "updated_at": now})


def latest_facts(facts: Sequence[PeriodFact]) -> list[PeriodFact]:
    """One fact per period, as the facts in order leave it: later values replace earlier."""
    merged: dict[PeriodKey, PeriodFact] = {}
    for fact in facts:
        before = merged.get(fact.key)
        values = fact.values if before is None else {**before.values, **fact.values}
        merged[fact.key] = PeriodFact(
            fact.key, before.tenant_id if before else fact.tenant_id, values
        )
    return list(merged.values())


async def record_period_facts(session: AsyncSession, facts: Sequence[PeriodFact]) -> None:
    """Upsert the periods' facts: one statement per set of columns they write (a period's
    outcome does not blank its credit, nor the other way round)."""
    by_columns: dict[tuple[str, ...], list[PeriodFact]] = {}
    for fact in latest_facts(facts):
        by_columns.setdefault(tuple(sorted(fact.values)), []).append(fact)
    table = table_of(SlaPeriodResult)
    for columns, group in by_columns.items():
        insert = pg_insert(table)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=["contract_id", "sla_code", "period_label"],
                set_={c: insert.excluded[c] for c in columns},
            ),
            [
                {
                    "contract_id": f.key[0],
                    "sla_code": f.key[1],
                    "period_label": f.key[2],
                    "tenant_id": f.tenant_id,
                    **f.values,
                }
                for f in group
            ],
        )


async def health_snapshot(
    session: AsyncSession,
    *,
    contract_id: uuid.UUID,
    timezone: str,
    window_from: date,
    window_to: date,
    now: datetime,
) -> dict[str, Any]:
    """Facts for [window_from, window_to) in the contract's zone, as of `now`."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(window_from, time(), zone)
    end = datetime.combine(window_to, time(), zone)
    results = (
        await session.scalars(
            sa.select(SlaPeriodResult)
            .where(
                SlaPeriodResult.contract_id == contract_id,
                SlaPeriodResult.updated_at >= start,
                SlaPeriodResult.updated_at < end,
            )
            .order_by(SlaPeriodResult.period_label, SlaPeriodResult.sla_code)
        )
    ).all()
    outcomes = Counter(r.outcome for r in results if r.outcome is not None)
    credits: dict[str, Decimal] = {}
    for r in results:
        if r.credit_amount is not None and r.currency is not None:
            credits[r.currency] = credits.get(r.currency, Decimal("0")) + r.credit_amount
    obligations = (
        await session.scalars(sa.select(Obligation).where(Obligation.contract_id == contract_id))
    ).all()
    in_window = [
        o for o in obligations if o.resolved_at is not None and start <= o.resolved_at < end
    ]
    alerts = await session.scalar(
        sa.select(sa.func.count())
        .select_from(Alert)
        .where(Alert.contract_id == contract_id, Alert.raised_at >= start, Alert.raised_at < end)
    )
    return {
        "as_of": now.isoformat(),
        "window": {"from": window_from.isoformat(), "to": window_to.isoformat()},
        "sla_periods": {
            outcome: outcomes.get(outcome, 0)
            for outcome in ("met", "below_expected", "failed", "no_data")
        },
        "missed_periods": [
            {
                "sla_code": r.sla_code,
                "period": r.period_label,
                "outcome": r.outcome,
                "attainment": None
                if r.attainment is None
                else format(r.attainment.normalize(), "f"),
                "credit": None if r.credit_amount is None else f"{r.credit_amount} {r.currency}",
            }
            for r in results
            if r.outcome in ("failed", "below_expected")
        ],
        "credits": {currency: str(amount) for currency, amount in sorted(credits.items())},
        "obligations": {
            "open": sum(1 for o in obligations if o.status == "open"),
            "overdue": sum(1 for o in obligations if o.status in LATE_STATUSES),
            "fulfilled_in_window": sum(1 for o in in_window if o.status == "fulfilled"),
            "waived_in_window": sum(1 for o in in_window if o.status == "waived"),
            "open_disputes": sum(
                1
                for o in obligations
                if o.kind == "dispute_resolution" and o.status in OPEN_STATUSES
            ),
        },
        "alerts_raised": int(alerts or 0),
    }
