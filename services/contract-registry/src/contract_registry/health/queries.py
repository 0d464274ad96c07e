"""A contract's period totals, aggregated in PostgreSQL (load → decide: scoring.score_period
decides on them). The same figures as scoring.totals_of over the rows, which the tests
check on random data; every query reads one contract through its primary key's prefix."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.health.scoring import TIMELINESS, ZERO, PeriodTotals, SlaFact
from contract_registry.models import (
    HealthCharges,
    HealthCredit,
    HealthInvoice,
    HealthObligation,
    HealthSlaPeriod,
)

Where = Callable[[Any], list[Any]]


def _where(
    model: Any, tenant_id: str, contract_id: uuid.UUID, bounds: tuple[str | None, str | None]
) -> list[Any]:
    period_from, period_to = bounds
    clauses = [model.contract_id == contract_id, model.tenant_id == tenant_id]
    label = model.period_label.collate("C")  # compared as Python compares them
    if period_from is not None:
        clauses.append(label >= period_from)
    if period_to is not None:
        clauses.append(label <= period_to)
    return clauses


def timeliness(today: date) -> sa.ColumnElement[str]:
    """ObligationFact.timeliness as SQL: on_time, late, pending or waived."""
    o = HealthObligation
    return sa.case(
        (o.status == "waived", "waived"),
        (o.went_overdue, "late"),
        (
            o.status == "fulfilled",
            sa.case(
                (sa.and_(o.fulfilled_on.is_not(None), o.fulfilled_on <= o.due_date), "on_time"),
                else_="late",
            ),
        ),
        (o.due_date < today, "late"),
        else_="pending",
    )


class _Totals:
    """The period totals being gathered, one dict of fields per period."""

    def __init__(self) -> None:
        self.fields: dict[str, dict[str, Any]] = {}

    def of(self, label: str) -> dict[str, Any]:
        return self.fields.setdefault(label, {})

    def build(self) -> dict[str, PeriodTotals]:
        return {
            label: PeriodTotals(
                period_label=label,
                slas=f.get("slas", []),
                credits=f.get("credits", 0),
                credits_total=f.get("credits_total", ZERO),
                credit_charges=f.get("credit_charges"),
                at_risk_amount=f.get("at_risk_amount", ZERO),
                monthly_charges=f.get("monthly_charges"),
                obligations=f.get("obligations", {"opened": 0} | dict.fromkeys(TIMELINESS, 0)),
                invoices=f.get("invoices", 0),
                invoices_accurate=f.get("invoices_accurate", 0),
                expected_total=f.get("expected_total", ZERO),
                leakage_total=f.get("leakage_total", ZERO),
                leakage_by_class=dict(sorted(f.get("leakage_by_class", {}).items())),
            )
            for label, f in self.fields.items()
        }


async def _slas(session: AsyncSession, totals: _Totals, where: Where) -> None:
    s = HealthSlaPeriod
    rows = await session.execute(
        sa.select(s.period_label, s.sla_code, s.metric_kind, s.outcome, s.attainment)
        .where(*where(s))
        .order_by(s.period_label, s.sla_code.collate("C"))  # Python's order, not the locale's
    )
    for label, code, kind, outcome, attainment in rows:
        totals.of(label).setdefault("slas", []).append(SlaFact(code, kind, outcome, attainment))


async def _credits(session: AsyncSession, totals: _Totals, where: Where) -> None:
    c = HealthCredit
    rows = await session.execute(
        sa.select(
            c.period_label,
            sa.func.count(),
            sa.func.sum(c.credit_amount),
            sa.func.max(c.monthly_charges),
            sa.func.max(c.at_risk_amount),
        )
        .where(*where(c))
        .group_by(c.period_label)
    )
    for label, count, total, charges, at_risk in rows:
        totals.of(label).update(
            credits=count, credits_total=total, credit_charges=charges, at_risk_amount=at_risk
        )
    ch = HealthCharges
    for label, monthly in await session.execute(
        sa.select(ch.period_label, ch.monthly_charges).where(*where(ch))
    ):
        totals.of(label)["monthly_charges"] = monthly


async def _obligations(session: AsyncSession, totals: _Totals, where: Where, today: date) -> None:
    o = HealthObligation
    when = timeliness(today)
    rows = await session.execute(
        sa.select(
            o.period_label,
            sa.func.count(),
            *(sa.func.count().filter(when == kind) for kind in TIMELINESS),
        )
        .where(*where(o))
        .group_by(o.period_label)
    )
    for label, opened, *counts in rows:
        totals.of(label)["obligations"] = {"opened": opened} | dict(
            zip(TIMELINESS, counts, strict=True)
        )


async def _invoices(session: AsyncSession, totals: _Totals, where: Where) -> None:
    i = HealthInvoice
    rows = await session.execute(
        sa.select(
            i.period_label,
            sa.func.count(),
            sa.func.count().filter(i.discrepancies == 0),
            sa.func.sum(i.expected_total),
        )
        .where(*where(i))
        .group_by(i.period_label)
    )
    for label, count, accurate, expected in rows:
        totals.of(label).update(invoices=count, invoices_accurate=accurate, expected_total=expected)
    sums = sa.func.jsonb_each_text(i.sums_by_class).table_valued("key", "value").alias("c")
    amount = sa.cast(sums.c.value, sa.Numeric)
    rows = await session.execute(
        sa.select(i.period_label, sums.c.key, sa.func.sum(amount), sa.func.sum(sa.func.abs(amount)))
        .select_from(i)
        .join(sums, sa.true())
        .where(*where(i))
        .group_by(i.period_label, sums.c.key)
    )
    for label, name, signed, absolute in rows:
        f = totals.of(label)
        f.setdefault("leakage_by_class", {})[name] = signed
        f["leakage_total"] = f.get("leakage_total", ZERO) + absolute


async def period_totals(
    session: AsyncSession,
    *,
    tenant_id: str,
    contract_id: uuid.UUID,
    today: date,
    period_from: str | None = None,
    period_to: str | None = None,
) -> dict[str, PeriodTotals]:
    """Every period of the contract with a fact in [period_from, period_to], aggregated."""
    totals = _Totals()

    def where(model: Any) -> list[Any]:
        return _where(model, tenant_id, contract_id, (period_from, period_to))

    await _slas(session, totals, where)
    await _credits(session, totals, where)
    await _obligations(session, totals, where, today)
    await _invoices(session, totals, where)
    return totals.build()
