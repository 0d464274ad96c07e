"""The value-leakage ledger: discrepancies of the current reconciliation of every invoice,
summed by contract, period, class and direction. A re-reconciled invoice's newer revision
replaces its earlier rows (only current rows count), so numbers never add up twice."""

from __future__ import annotations

import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

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
    where = [d.is_current, principal.tenant_filter(d.tenant_id)]
    if contract_id is not None:
        where.append(d.contract_id == contract_id)
    if period_from is not None:
        where.append(d.period_label >= period_from)
    if period_to is not None:
        where.append(d.period_label <= period_to)
    keys = [GROUPS[n] for n in group_by]
    # One row per group: the group columns and the currency identify it (none is NULL).
    order = Keyset(
        "leakage:" + ",".join(group_by), *(SortKey(k) for k in keys), SortKey(d.currency)
    )
    query = (
        sa.select(*keys, d.currency, sa.func.sum(d.amount), sa.func.count())
        .where(*where)
        .group_by(*keys, d.currency)
    )
    rows, next_cursor = await fetch_page(session, query, order, page)
    out = []
    for r in rows:
        values = dict(zip(group_by, r[: len(keys)], strict=True))
        currency = str(r[len(keys)])
        out.append(
            LeakageRow(
                **{FIELD[k]: v for k, v in values.items()},
                currency=currency,
                amount=round_money(Decimal(str(r[len(keys) + 1])), currency),
                count=r[len(keys) + 2],
            )
        )
    over = sa.func.coalesce(sa.func.sum(sa.case((d.amount > 0, d.amount), else_=0)), 0)
    under = sa.func.coalesce(sa.func.sum(sa.case((d.amount < 0, d.amount), else_=0)), 0)
    totals = await session.execute(
        sa.select(d.currency, over, under, sa.func.count())
        .where(*where)
        .group_by(d.currency)
        .order_by(d.currency)
    )
    return LeakageLedger(
        group_by=group_by,
        items=out,
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
