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
from contract_registry.health.scoring import PeriodHealth, period_health
from contract_registry.health.service import period_facts
from contract_registry.models import Contract, HealthSlaPeriod
from contract_registry.pages.charts import SlaPoint
from crm_platform.auth import Principal
from crm_platform.clock import Clock

DEFAULT_PERIODS = 12
MAX_PERIODS = 36


@dataclass(frozen=True)
class PeriodWindow:
    """Which periods to show: the last `last` ones with data, within [period_from, period_to]."""

    period_from: str | None = None
    period_to: str | None = None
    last: int = DEFAULT_PERIODS

    def pick(self, labels: set[str]) -> list[str]:
        inside = sorted(
            label
            for label in labels
            if (self.period_from is None or label >= self.period_from)
            and (self.period_to is None or label <= self.period_to)
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
    session: AsyncSession, contract: Contract, window: PeriodWindow
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
        shown = set(window.pick({r.period_label for r in sla_rows}))
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
    facts = await period_facts(session, contract.tenant_id, contract.id)
    periods = [period_health(facts[label], today) for label in window.pick(set(facts))]
    slas = await _sla_points(session, contract, window)
    return ContractView(contract, today, now, periods, slas)
