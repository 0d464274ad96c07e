"""The contract-health read model, fed by sla.v1, billing.v1 and obligations.v1."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.health.schemas import PeriodHealthRead
from contract_registry.models import Contract, ContractHealth
from crm_platform.auth import Principal
from crm_platform.errors import NotFound

_OUTCOME_COLUMN = {
    "met": "slas_met",
    "below_expected": "slas_below_expected",
    "failed": "slas_failed",
    "no_data": "slas_no_data",
}


async def bump(
    *,
    session: AsyncSession,
    contract_id: uuid.UUID,
    tenant_id: str,
    period_label: str,
    now: datetime,
    **changes: Any,
) -> None:
    """Add to the counters of one contract-period (the inbox guarantees once per event)."""
    t = cast(sa.Table, ContractHealth.__table__)
    insert_values = {
        "contract_id": contract_id,
        "period_label": period_label,
        "tenant_id": tenant_id,
        "updated_at": now,
        "slas_met": 0,
        "slas_below_expected": 0,
        "slas_failed": 0,
        "slas_no_data": 0,
        "credits_total": Decimal(0),
        "obligations_opened": 0,
    }
    update_values: dict[str, Any] = {"updated_at": now}
    for column, delta in changes.items():
        if column == "monthly_charges":
            insert_values[column] = delta
            update_values[column] = delta
        else:
            insert_values[column] = delta
            update_values[column] = t.c[column] + delta
    await session.execute(
        pg_insert(t)
        .values(**insert_values)
        .on_conflict_do_update(index_elements=["contract_id", "period_label"], set_=update_values)
    )


def outcome_column(outcome: str) -> str:
    return _OUTCOME_COLUMN[outcome]


async def get(
    *, session: AsyncSession, principal: Principal, contract_id: uuid.UUID
) -> list[PeriodHealthRead]:
    contract = await session.get(Contract, contract_id)
    if contract is None or not principal.can_access(contract.tenant_id):
        raise NotFound(f"contract {contract_id} not found")
    rows = (
        await session.scalars(
            sa.select(ContractHealth)
            .where(ContractHealth.contract_id == contract_id)
            .order_by(ContractHealth.period_label)
        )
    ).all()
    return [PeriodHealthRead.model_validate(r) for r in rows]
