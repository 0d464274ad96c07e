"""The value-leakage ledger: discrepancies of the current reconciliation of every invoice,
summed by contract, period, class and direction. A re-reconciled invoice's newer revision
replaces its earlier rows (only current rows count), so numbers never add up twice."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.common import EXPORT_BATCH, ContractPeriods
from billing_reconciler.leakage.schemas import LeakageLedger, LeakageRow, LeakageTotal
from billing_reconciler.models import DiscrepancyRow
from crm_events.types import round_money
from crm_platform.auth import Principal
from crm_platform.errors import Unprocessable
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page

GROUPS = {
    "contract": DiscrepancyRow.contract_id,
    "period": DiscrepancyRow.period_label,
    "class": DiscrepancyRow.discrepancy_class,
    "direction": DiscrepancyRow.direction,
}
FIELD = {
    "contract": "contract_id",
    "period": "period_label",
    "class": "discrepancy_class",
    "direction": "direction",
}


def parse_group_by(raw: str) -> list[str]:
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        raise Unprocessable(
            f"cannot group by {', '.join(unknown)}",
            details=[{"loc": "query.group_by", "message": f"use any of {', '.join(GROUPS)}"}],
        )
    return list(dict.fromkeys(names))


def _grouped(principal: Principal, scope: ContractPeriods, group_by: list[str]) -> Any:
    """One row per group: the group columns and the currency identify it (none is NULL)."""
    d = DiscrepancyRow
    keys = [GROUPS[n] for n in group_by]
    return (
        sa.select(*keys, d.currency, sa.func.sum(d.amount), sa.func.count())
        .where(*_where(principal, scope))
        .group_by(*keys, d.currency)
    )


def _order(group_by: list[str]) -> Keyset:
    """The ledger's order (the group columns, then the currency), as a keyset."""
    keys = [GROUPS[n] for n in group_by]
    return Keyset(
        "leakage:" + ",".join(group_by),
        *(SortKey(k) for k in keys),
        SortKey(DiscrepancyRow.currency),
    )


def _where(principal: Principal, scope: ContractPeriods) -> list[Any]:
    d = DiscrepancyRow
    return [
        d.is_current,
        principal.tenant_filter(d.tenant_id),
        *scope.where(d.contract_id, d.period_label),
    ]


def _row(r: sa.Row[Any], group_by: list[str]) -> LeakageRow:
    n = len(group_by)
    currency = str(r[n])
    return LeakageRow(
        **{FIELD[k]: v for k, v in zip(group_by, r[:n], strict=True)},
        currency=currency,
        amount=round_money(Decimal(str(r[n + 1])), currency),
        count=r[n + 2],
    )


async def ledger(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID | None,
    period_from: str | None,
    period_to: str | None,
    group_by: list[str],
    page: PageRequest,
) -> LeakageLedger:
    d = DiscrepancyRow
    scope = ContractPeriods(contract_id, period_from, period_to)
    rows, next_cursor = await fetch_page(
        session, _grouped(principal, scope, group_by), _order(group_by), page
    )
    over = sa.func.coalesce(sa.func.sum(sa.case((d.amount > 0, d.amount), else_=0)), 0)
    under = sa.func.coalesce(sa.func.sum(sa.case((d.amount < 0, d.amount), else_=0)), 0)
    totals = await session.execute(
        sa.select(d.currency, over, under, sa.func.count())
        .where(*_where(principal, scope))
        .group_by(d.currency)
        .order_by(d.currency)
    )
    return LeakageLedger(
        group_by=group_by,
        items=[_row(r, group_by) for r in rows],
        next_cursor=next_cursor,
        totals=[
            LeakageTotal(
                currency=t[0],
                over_billed=round_money(Decimal(str(t[1])), t[0]),
                under_billed=round_money(Decimal(str(t[2])), t[0]),
                net=round_money(Decimal(str(t[1])) + Decimal(str(t[2])), t[0]),
                count=t[3],
            )
            for t in totals
        ],
    )


async def export_rows(
    *, session: AsyncSession, principal: Principal, scope: ContractPeriods, group_by: list[str]
) -> AsyncIterator[LeakageRow]:
    """The ledger's rows, read through a server-side cursor."""
    query = _grouped(principal, scope, group_by).order_by(*_order(group_by).order_by())
    result = await session.stream(query.execution_options(yield_per=EXPORT_BATCH))
    async for r in result:
        yield _row(r, group_by)
