"""Consumption records: one path for HTTP and consumption.v1."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.models import ConsumptionRecord
from crm_events.schemas.consumption import ConsumptionItem
from crm_platform.auth import Principal
from crm_platform.contract_terms import contract_terms_table
from crm_platform.errors import NotFound, Unprocessable


async def _contract_tenants(
    session: AsyncSession, contract_ids: set[uuid.UUID]
) -> dict[uuid.UUID, str]:
    t = contract_terms_table
    rows = await session.execute(
        sa.select(t.c.contract_id, t.c.tenant_id)
        .where(t.c.contract_id.in_(contract_ids))
        .distinct()
    )
    return {r.contract_id: r.tenant_id for r in rows}


async def record(
    *, session: AsyncSession, principal: Principal, items: Sequence[ConsumptionItem]
) -> tuple[int, int]:
    """Store consumption records; a record id already stored is a duplicate."""
    tenants = await _contract_tenants(session, {i.contract_id for i in items})
    problems = []
    for index, item in enumerate(items):
        tenant = tenants.get(item.contract_id)
        if tenant is None or not principal.can_access(tenant):
            problems.append(
                {
                    "loc": f"body.items[{index}].contract_id",
                    "message": f"contract {item.contract_id} is not known here",
                }
            )
    if problems:
        raise Unprocessable(f"{len(problems)} item(s) refer to unknown contracts", details=problems)
    rows = [
        {
            "tenant_id": tenants[i.contract_id],
            "record_id": i.record_id,
            "contract_id": i.contract_id,
            "resource_unit": i.resource_unit,
            "period_label": i.period_label,
            "quantity": i.quantity,
        }
        for i in items
    ]
    stored = 0
    for start in range(0, len(rows), 5000):
        result = await session.execute(
            pg_insert(ConsumptionRecord)
            .values(rows[start : start + 5000])
            .on_conflict_do_nothing(constraint="uq_consumption_record")
            .returning(ConsumptionRecord.id)
        )
        stored += len(result.all())
    return stored, len(rows) - stored


async def actuals(
    *, session: AsyncSession, contract_id: uuid.UUID, period_label: str
) -> tuple[dict[str, Decimal], list[str]]:
    """Actual volume per resource unit for a period (an aggregate, not every record),
    with the ids of the records behind it."""
    rows = (
        await session.execute(
            sa.select(
                ConsumptionRecord.resource_unit,
                sa.func.sum(ConsumptionRecord.quantity).label("quantity"),
                sa.func.array_agg(ConsumptionRecord.record_id).label("record_ids"),
            )
            .where(
                ConsumptionRecord.contract_id == contract_id,
                ConsumptionRecord.period_label == period_label,
            )
            .group_by(ConsumptionRecord.resource_unit)
        )
    ).all()
    ids = sorted(rid for r in rows for rid in r.record_ids)
    return {r.resource_unit: Decimal(r.quantity).normalize() for r in rows}, ids


async def ensure_contract(
    session: AsyncSession, principal: Principal, contract_id: uuid.UUID
) -> str:
    tenant = (await _contract_tenants(session, {contract_id})).get(contract_id)
    if tenant is None or not principal.can_access(tenant):
        raise NotFound(f"contract {contract_id} is not known to billing-reconciler")
    return tenant
