"""Consumption records: one path for HTTP (JSON and CSV) and consumption.v1.

A record id is stored once per tenant. The same record again is a duplicate and changes
nothing; a different quantity under a known id is refused unless the item says
`correction: true`, which replaces the quantity and keeps every earlier version in
`consumption_record_revisions`. The actual volume per contract, period and resource unit is
kept in `consumption_totals` as records arrive, so charges read one row per unit.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.common import lock_contract
from billing_reconciler.models import (
    ConsumptionRecord,
    ConsumptionRecordRevision,
    ConsumptionTotal,
)
from crm_events.schemas.consumption import ConsumptionItem
from crm_platform.auth import Principal
from crm_platform.contract_terms import contract_terms_table
from crm_platform.errors import Conflict, NotFound, Unprocessable

Locator = Callable[[int, str], str]


def body_items(index: int, field_name: str) -> str:
    return f"body.items[{index}].{field_name}"


@dataclass
class Ingested:
    accepted: int = 0
    duplicates: int = 0
    corrected: int = 0
    # (contract, period) whose actual volumes changed, with the record ids that changed them.
    changed: dict[tuple[uuid.UUID, str], list[str]] = field(default_factory=dict)


async def contract_tenants(
    session: AsyncSession, contract_ids: set[uuid.UUID]
) -> dict[uuid.UUID, str]:
    t = contract_terms_table
    rows = await session.execute(
        sa.select(t.c.contract_id, t.c.tenant_id)
        .where(t.c.contract_id.in_(contract_ids))
        .distinct()
    )
    return {r.contract_id: r.tenant_id for r in rows}


@dataclass
class _State:
    contract_id: uuid.UUID
    resource_unit: str
    period_label: str
    quantity: Decimal
    revision: int
    in_db: bool
    initial: Decimal | None  # quantity before this batch (None: new record)


async def record(
    *,
    session: AsyncSession,
    principal: Principal,
    items: Sequence[ConsumptionItem],
    now: datetime,
    loc: Locator = body_items,
) -> Ingested:
    """Store a batch of consumption records, accepted or refused whole."""
    tenants = await contract_tenants(session, {i.contract_id for i in items})
    problems = []
    for index, item in enumerate(items):
        tenant = tenants.get(item.contract_id)
        if tenant is None or not principal.can_access(tenant):
            problems.append(
                {
                    "loc": loc(index, "contract_id"),
                    "message": f"contract {item.contract_id} is not known here",
                }
            )
    if problems:
        raise Unprocessable(f"{len(problems)} item(s) refer to unknown contracts", details=problems)
    for contract_id in sorted({i.contract_id for i in items}):
        await lock_contract(session, contract_id)

    record_ids = list({i.record_id for i in items})
    existing = (
        await session.execute(
            sa.select(
                ConsumptionRecord.tenant_id,
                ConsumptionRecord.record_id,
                ConsumptionRecord.contract_id,
                ConsumptionRecord.resource_unit,
                ConsumptionRecord.period_label,
                ConsumptionRecord.quantity,
                ConsumptionRecord.revision,
            ).where(
                ConsumptionRecord.record_id.in_(record_ids),
                ConsumptionRecord.tenant_id.in_(set(tenants.values())),
            )
        )
    ).all()
    state: dict[tuple[str, str], _State] = {
        (r.tenant_id, r.record_id): _State(
            r.contract_id,
            r.resource_unit,
            r.period_label,
            Decimal(r.quantity),
            r.revision,
            in_db=True,
            initial=Decimal(r.quantity),
        )
        for r in existing
    }
    result = Ingested()
    versions: list[dict[str, object]] = []
    conflicts = []
    for index, item in enumerate(items):
        tenant = tenants[item.contract_id]
        key = (tenant, item.record_id)
        current = state.get(key)
        if current is None:
            state[key] = _State(
                item.contract_id,
                item.resource_unit,
                item.period_label,
                item.quantity,
                1,
                in_db=False,
                initial=None,
            )
            result.accepted += 1
            versions.append(_version(tenant, item, 1, now))
            continue
        moved = (current.contract_id, current.resource_unit, current.period_label) != (
            item.contract_id,
            item.resource_unit,
            item.period_label,
        )
        if moved:
            conflicts.append(
                {
                    "loc": loc(index, "record_id"),
                    "message": f"record {item.record_id} belongs to contract "
                    f"{current.contract_id}, {current.resource_unit}, {current.period_label}; "
                    "a correction may change only the quantity (send a new record id)",
                }
            )
            continue
        if item.quantity == current.quantity:
            result.duplicates += 1
            continue
        if not item.correction:
            conflicts.append(
                {
                    "loc": loc(index, "quantity"),
                    "message": f"record {item.record_id} was received with quantity "
                    f"{current.quantity}; send correction=true to replace it",
                }
            )
            continue
        current.quantity = item.quantity
        current.revision += 1
        result.corrected += 1
        versions.append(_version(tenant, item, current.revision, now))
    if conflicts:
        raise Conflict(
            f"{len(conflicts)} item(s) conflict with records already received",
            details=conflicts,
            code="consumption_conflict",
        )

    new_rows = [
        {
            "tenant_id": tenant,
            "record_id": record_id,
            "contract_id": s.contract_id,
            "resource_unit": s.resource_unit,
            "period_label": s.period_label,
            "quantity": s.quantity,
            "revision": s.revision,
        }
        for (tenant, record_id), s in state.items()
        if not s.in_db
    ]
    for start in range(0, len(new_rows), 5000):
        chunk = new_rows[start : start + 5000]
        inserted = await session.execute(
            pg_insert(ConsumptionRecord)
            .values(chunk)
            .on_conflict_do_nothing(constraint="uq_consumption_record")
            .returning(ConsumptionRecord.id)
        )
        if len(inserted.all()) != len(chunk):  # cannot happen under the contract lock
            raise Conflict("consumption records were stored concurrently; retry the request")
    for (tenant, record_id), s in state.items():
        if s.in_db and s.initial is not None and s.quantity != s.initial:
            await session.execute(
                sa.update(ConsumptionRecord)
                .where(
                    ConsumptionRecord.tenant_id == tenant,
                    ConsumptionRecord.record_id == record_id,
                )
                .values(quantity=s.quantity, revision=s.revision, received_at=now)
            )
    for start in range(0, len(versions), 5000):
        await session.execute(
            sa.insert(ConsumptionRecordRevision).values(versions[start : start + 5000])
        )

    deltas: dict[tuple[uuid.UUID, str, str], tuple[Decimal, int, str]] = {}
    for (tenant, record_id), s in state.items():
        if s.in_db and (s.initial is None or s.quantity == s.initial):
            continue
        key3 = (s.contract_id, s.period_label, s.resource_unit)
        quantity, count, _ = deltas.get(key3, (Decimal(0), 0, tenant))
        quantity += s.quantity - (s.initial or Decimal(0))
        count += 0 if s.in_db else 1
        deltas[key3] = (quantity, count, tenant)
        result.changed.setdefault((s.contract_id, s.period_label), []).append(record_id)
    if deltas:
        stmt = pg_insert(ConsumptionTotal).values(
            [
                {
                    "contract_id": c,
                    "period_label": p,
                    "resource_unit": u,
                    "tenant_id": tenant,
                    "quantity": q,
                    "record_count": n,
                    "updated_at": now,
                }
                for (c, p, u), (q, n, tenant) in deltas.items()
            ]
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["contract_id", "period_label", "resource_unit"],
                set_={
                    "quantity": ConsumptionTotal.quantity + stmt.excluded.quantity,
                    "record_count": ConsumptionTotal.record_count + stmt.excluded.record_count,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )
    return result


def _version(tenant: str, item: ConsumptionItem, revision: int, now: datetime) -> dict[str, object]:
    return {
        "tenant_id": tenant,
        "record_id": item.record_id,
        "revision": revision,
        "contract_id": item.contract_id,
        "resource_unit": item.resource_unit,
        "period_label": item.period_label,
        "quantity": item.quantity,
        "received_at": now,
    }


async def actuals(
    *, session: AsyncSession, contract_id: uuid.UUID, period_labels: Sequence[str]
) -> dict[str, dict[str, Decimal]]:
    """Actual volume per period and resource unit, from the aggregate kept on ingest."""
    rows = await session.execute(
        sa.select(
            ConsumptionTotal.period_label, ConsumptionTotal.resource_unit, ConsumptionTotal.quantity
        ).where(
            ConsumptionTotal.contract_id == contract_id,
            ConsumptionTotal.period_label.in_(list(period_labels)),
            ConsumptionTotal.record_count > 0,
        )
    )
    out: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for r in rows:
        out[r.period_label][r.resource_unit] = _plain(Decimal(r.quantity))
    return out


def _plain(value: Decimal) -> Decimal:
    """214.000 → 214, 12.50 → 12.5: quantities read as people write them."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral() else normal


MAX_IDS_PER_UNIT = 50


async def record_ids(
    *, session: AsyncSession, contract_id: uuid.UUID, period_label: str
) -> dict[str, list[str]]:
    """The record ids behind each unit's actual volume (the first 50 per unit; the
    consumption endpoint lists them all)."""
    numbered = (
        sa.select(
            ConsumptionRecord.resource_unit,
            ConsumptionRecord.record_id,
            ConsumptionRecord.revision,
            sa.func.row_number()
            .over(
                partition_by=ConsumptionRecord.resource_unit,
                order_by=ConsumptionRecord.record_id,
            )
            .label("n"),
        )
        .where(
            ConsumptionRecord.contract_id == contract_id,
            ConsumptionRecord.period_label == period_label,
        )
        .subquery()
    )
    rows = await session.execute(
        sa.select(numbered.c.resource_unit, numbered.c.record_id, numbered.c.revision)
        .where(numbered.c.n <= MAX_IDS_PER_UNIT)
        .order_by(numbered.c.resource_unit, numbered.c.record_id)
    )
    out: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        out[r.resource_unit].append(
            r.record_id if r.revision == 1 else f"{r.record_id} (revision {r.revision})"
        )
    return out


async def list_records(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID,
    period_label: str,
) -> list[dict[str, object]]:
    """Every record of a contract's period with its revisions, oldest first."""
    await ensure_contract(session, principal, contract_id)
    rows = (
        await session.execute(
            sa.select(ConsumptionRecordRevision)
            .where(
                ConsumptionRecordRevision.contract_id == contract_id,
                ConsumptionRecordRevision.period_label == period_label,
                principal.tenant_filter(ConsumptionRecordRevision.tenant_id),
            )
            .order_by(
                ConsumptionRecordRevision.resource_unit,
                ConsumptionRecordRevision.record_id,
                ConsumptionRecordRevision.revision,
            )
        )
    ).scalars()
    records: dict[str, dict[str, object]] = {}
    for r in rows:
        entry = records.setdefault(
            r.record_id,
            {"record_id": r.record_id, "resource_unit": r.resource_unit, "revisions": []},
        )
        entry["quantity"] = r.quantity
        entry["revision"] = r.revision
        revisions = entry["revisions"]
        assert isinstance(revisions, list)
        revisions.append(
            {"revision": r.revision, "quantity": r.quantity, "received_at": r.received_at}
        )
    return list(records.values())


async def ensure_contract(
    session: AsyncSession, principal: Principal, contract_id: uuid.UUID
) -> str:
    tenant = (await contract_tenants(session, {contract_id})).get(contract_id)
    if tenant is None or not principal.can_access(tenant):
        raise NotFound(f"contract {contract_id} is not known to billing-reconciler")
    return tenant
