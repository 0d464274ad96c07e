"""Reading a contract's health: the facts of each period, scored (see scoring.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.contracts.dates import local_today
from contract_registry.contracts.repository import load_contract
from contract_registry.health.queries import period_totals
from contract_registry.health.schemas import (
    PeriodHealthPage,
    PeriodHealthRead,
    ScoreComponent,
    SlaResult,
)
from contract_registry.health.scoring import (
    CreditFact,
    InvoiceFact,
    ObligationFact,
    PeriodFacts,
    PeriodHealth,
    SlaFact,
    score_period,
)
from contract_registry.models import (
    HealthCharges,
    HealthCredit,
    HealthInvoice,
    HealthObligation,
    HealthSlaPeriod,
)
from crm_events.types import round_money
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.pagination import Keyset, PageRequest, SortKey, page_of

HEALTH = Keyset("health", SortKey(name="period_label", kind=str))

Fact = TypeVar(
    "Fact", HealthSlaPeriod, HealthCredit, HealthCharges, HealthInvoice, HealthObligation
)


async def _rows(
    session: AsyncSession, model: type[Fact], tenant_id: str, contract_id: uuid.UUID
) -> Sequence[Fact]:
    query = sa.select(model).where(model.contract_id == contract_id, model.tenant_id == tenant_id)
    return (await session.scalars(query)).all()


async def period_facts(
    session: AsyncSession, tenant_id: str, contract_id: uuid.UUID
) -> dict[str, PeriodFacts]:
    """The contract's rows as they are, per period: what scoring.totals_of aggregates in
    Python (the reference health/queries.py is checked against; the service reads
    queries.period_totals)."""
    periods: dict[str, PeriodFacts] = {}

    def of(label: str) -> PeriodFacts:
        return periods.setdefault(label, PeriodFacts(period_label=label))

    for s in await _rows(session, HealthSlaPeriod, tenant_id, contract_id):
        of(s.period_label).slas.append(SlaFact(s.sla_code, s.metric_kind, s.outcome, s.attainment))
    for c in await _rows(session, HealthCredit, tenant_id, contract_id):
        of(c.period_label).credits.append(
            CreditFact(c.sla_code, c.credit_amount, c.monthly_charges, c.at_risk_amount)
        )
    for ch in await _rows(session, HealthCharges, tenant_id, contract_id):
        of(ch.period_label).monthly_charges = ch.monthly_charges
    for i in await _rows(session, HealthInvoice, tenant_id, contract_id):
        of(i.period_label).invoices.append(
            InvoiceFact(
                i.invoice_number,
                i.expected_total,
                i.invoiced_total,
                i.discrepancies,
                {k: Decimal(v) for k, v in i.sums_by_class.items()},
            )
        )
    for o in await _rows(session, HealthObligation, tenant_id, contract_id):
        of(o.period_label).obligations.append(
            ObligationFact(o.due_date, o.status, o.went_overdue, o.fulfilled_on)
        )
    return periods


def to_read(health: PeriodHealth, currency: str) -> PeriodHealthRead:
    return PeriodHealthRead(
        period_label=health.period_label,
        score=health.score,
        components=[
            ScoreComponent(
                name=c.name, weight=c.weight, score=c.score, formula=c.formula, inputs=c.inputs
            )
            for c in health.components
        ],
        slas_met=health.outcomes["met"],
        slas_below_expected=health.outcomes["below_expected"],
        slas_failed=health.outcomes["failed"],
        slas_no_data=health.outcomes["no_data"],
        sla_results=[
            SlaResult(
                sla_code=s.sla_code,
                metric_kind=s.metric_kind,
                outcome=s.outcome,
                attainment=s.attainment,
            )
            for s in health.slas
        ],
        credits_total=round_money(health.credits_total, currency),
        monthly_charges=health.monthly_charges,
        credits_pct_of_charges=health.credits_pct_of_charges,
        obligations_opened=health.obligations["opened"],
        obligations_on_time=health.obligations["on_time"],
        obligations_late=health.obligations["late"],
        obligations_pending=health.obligations["pending"],
        obligations_on_time_pct=health.obligations_on_time_pct,
        invoices=health.invoices,
        invoices_accurate=health.invoices_accurate,
        invoice_accuracy_pct=health.invoice_accuracy_pct,
        leakage_total=round_money(health.leakage_total, currency),
        leakage_by_class={k: round_money(v, currency) for k, v in health.leakage_by_class.items()},
        leakage_pct_of_expected=health.leakage_pct_of_expected,
    )


async def get(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    contract_id: uuid.UUID,
    period_from: str | None = None,
    period_to: str | None = None,
    page: PageRequest,
) -> PeriodHealthPage:
    contract = await load_contract(session, principal, contract_id)
    today = local_today(clock.now(), contract.timezone)
    totals = await period_totals(
        session,
        tenant_id=contract.tenant_id,
        contract_id=contract.id,
        today=today,
        period_from=period_from,
        period_to=period_to,
    )
    reads = [to_read(score_period(totals[label]), contract.currency) for label in sorted(totals)]
    items, next_cursor = page_of(reads, HEALTH, page)
    return PeriodHealthPage(items=items, next_cursor=next_cursor)
