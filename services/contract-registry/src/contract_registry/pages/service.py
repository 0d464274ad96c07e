"""What the contract page shows: the health of its periods and each SLA's attainment, read
from the health read model the registry keeps from sla.v1, billing.v1 and obligations.v1
(the registry never asks the other services)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.contracts.dates import local_today
from contract_registry.contracts.repository import load_contract
from contract_registry.health.queries import period_totals
from contract_registry.health.scoring import PeriodHealth, score_period
from contract_registry.models import Contract, HealthSlaPeriod
from contract_registry.pages.charts import SlaPoint
from crm_platform import periods
from crm_platform.auth import Principal
from crm_platform.clock import Clock

DEFAULT_PERIODS = 12
MAX_PERIODS = 36


def _first_day(label: str) -> date:
    try:
        return periods.first_day(label)
    except periods.InvalidPeriod:
        return date.min  # not a label of ours: shown, never a 500


@dataclass(frozen=True)
class PeriodWindow:
    """Which periods to show: the last `last` ones with data within [period_from,
    period_to]; without `period_to`, only periods begun by today (obligations falling due
    in later months would otherwise push the figures off the page)."""

    period_from: str | None = None
    period_to: str | None = None
    last: int = DEFAULT_PERIODS

    def pick(self, labels: set[str], today: date) -> list[str]:
        """In time order (a quarter where its first month is); bounds by first days."""
        first = _first_day(self.period_from) if self.period_from else date.min
        last = _first_day(self.period_to) if self.period_to else today
        inside = sorted(
            (label for label in labels if first <= _first_day(label) <= last),
            key=lambda label: (_first_day(label), label),
        )
        return inside[-self.last :]


@dataclass(frozen=True)
class ContractView:
    contract: Contract
    today: date
    generated_at: datetime
    periods: list[PeriodHealth]
    slas: dict[str, tuple[str, list[SlaPoint]]]  # sla_code → (metric_kind, points)


async def _sla_points(
    session: AsyncSession, contract: Contract, window: PeriodWindow, today: date
) -> dict[str, tuple[str, list[SlaPoint]]]:
    rows = (
        await session.scalars(
            sa.select(HealthSlaPeriod)
            .where(
                HealthSlaPeriod.contract_id == contract.id,
                HealthSlaPeriod.tenant_id == contract.tenant_id,
            )
            .order_by(HealthSlaPeriod.sla_code, HealthSlaPeriod.period_label)
        )
    ).all()
    by_sla: dict[str, list[HealthSlaPeriod]] = defaultdict(list)
    for row in rows:
        by_sla[row.sla_code].append(row)
    out = {}
    for code, sla_rows in by_sla.items():
        shown = set(window.pick({r.period_label for r in sla_rows}, today))
        points = [
            SlaPoint(r.period_label, r.attainment, r.expected_level, r.minimum_level, r.outcome)
            for r in sla_rows
            if r.period_label in shown
        ]
        out[code] = (sla_rows[-1].metric_kind, points)
    return out


async def view(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    contract_id: uuid.UUID,
    window: PeriodWindow,
) -> ContractView:
    """The contract (404 for another tenant's, as everywhere) and its figures."""
    contract = await load_contract(session, principal, contract_id)
    now = clock.now()
    today = local_today(now, contract.timezone)
    totals = await period_totals(
        session, tenant_id=contract.tenant_id, contract_id=contract.id, today=today
    )
    periods = [score_period(totals[label]) for label in window.pick(set(totals), today)]
    slas = await _sla_points(session, contract, window, today)
    return ContractView(contract, today, now, periods, slas)
