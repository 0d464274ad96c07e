"""Consumption records: one path for HTTP (JSON and CSV) and consumption.v1.

A record id is stored once per tenant. The same record again is a duplicate and changes
nothing; a different quantity under a known id is refused unless the item says
`correction: true`, which replaces the quantity and keeps every earlier version in
`consumption_record_revisions`. A record whose resource unit is not in the contract's price
book for its period is refused. The actual volume per contract, period and resource unit is
kept in `consumption_totals` as records arrive, so charges read one row per unit.

`record` loads the state a batch needs (under the contracts' locks), lets
`consumption.domain.decide` decide, and applies the decision.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.common import lock_contracts
from billing_reconciler.consumption.domain import (
    ConsumptionDecision,
    ConsumptionState,
    Locator,
    PriceBookVersion,
    RecordVersion,
    StoredRecord,
    body_items,
    decide,
)
from billing_reconciler.models import (
    ConsumptionRecord,
    ConsumptionRecordRevision,
    ConsumptionTotal,
)
from billing_reconciler.periods.schemas import (
    ConsumptionRecordPage,
    ConsumptionRecordRead,
    ConsumptionRevisionRead,
)
from crm_events.schemas.consumption import ConsumptionItem
from crm_platform.auth import Principal
from crm_platform.contract_terms import contract_terms_table
from crm_platform.db import any_of, tuple_in
from crm_platform.errors import Conflict, NotFound, Unprocessable
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page

__all__ = ["Ingested", "Locator", "UnknownResourceUnit", "body_items", "record"]

CHUNK = 5000


class UnknownResourceUnit(Unprocessable):
    """Consumption for a resource unit the contract's price book does not have. Unlike an
    unknown contract (whose activation may still be on its way), waiting will not help."""

    code = "unknown_resource_unit"


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
        .where(any_of(t.c.contract_id, contract_ids))
        .distinct()
    )
    return {r.contract_id: r.tenant_id for r in rows}


async def record(
    *,
    session: AsyncSession,
    principal: Principal,
    items: Sequence[ConsumptionItem],
    now: datetime,
    loc: Locator = body_items,
) -> Ingested:
    """Store a batch of consumption records, accepted or refused whole."""
    state = await _load(session, principal, items, loc)
    decision = decide(state, items, loc)
    if decision.unknown_units:
        first = decision.unknown_units[0]["message"]
        raise UnknownResourceUnit(
            f"{len(decision.unknown_units)} item(s) name a resource unit their contract does "
            f"not have: {first}",
            details=decision.unknown_units,
        )
    if decision.conflicts:
        raise Conflict(
            f"{len(decision.conflicts)} item(s) conflict with records already received",
            details=decision.conflicts,
            code="consumption_conflict",
        )
    await _apply(session, decision, now)
    return Ingested(
        accepted=decision.accepted,
        duplicates=len(decision.duplicates),
        corrected=decision.corrected,
        changed=decision.changed,
    )


async def _price_books(
    session: AsyncSession, contract_ids: set[uuid.UUID]
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, list[PriceBookVersion]]]:
    """Every version's resource units (and each contract's tenant) from the terms projection."""
    t = contract_terms_table
    rows = await session.execute(
        sa.select(
            t.c.contract_id,
            t.c.tenant_id,
            t.c.version,
            t.c.effective_from,
            t.c.terms["price_book"].label("price_book"),
        ).where(any_of(t.c.contract_id, contract_ids))
    )
    tenants: dict[uuid.UUID, str] = {}
    books: dict[uuid.UUID, list[PriceBookVersion]] = defaultdict(list)
    for r in rows:
        tenants[r.contract_id] = r.tenant_id
        units = frozenset(unit["code"] for unit in r.price_book or [])
        books[r.contract_id].append(PriceBookVersion(r.version, r.effective_from, units))
    return tenants, dict(books)


async def _load(
    session: AsyncSession, principal: Principal, items: Sequence[ConsumptionItem], loc: Locator
) -> ConsumptionState:
    """The contracts (refused when unknown here: 422, their activation may be on its way),
    their locks, their price books and the stored records among the batch's ids."""
    tenants, books = await _price_books(session, {i.contract_id for i in items})
    problems = [
        {
            "loc": loc(index, "contract_id"),
            "message": f"contract {item.contract_id} is not known here",
        }
        for index, item in enumerate(items)
        if item.contract_id not in tenants or not principal.can_access(tenants[item.contract_id])
    ]
    if problems:
        raise Unprocessable(f"{len(problems)} item(s) refer to unknown contracts", details=problems)
    await lock_contracts(session, tenants)
    r = ConsumptionRecord
    rows = await session.execute(
        sa.select(
            r.tenant_id,
            r.record_id,
            r.contract_id,
            r.resource_unit,
            r.period_label,
            r.quantity,
            r.revision,
        ).where(
            any_of(r.record_id, {i.record_id for i in items}),
            any_of(r.tenant_id, set(tenants.values())),
        )
    )
    stored = {
        (row.tenant_id, row.record_id): StoredRecord(
            row.contract_id,
            row.resource_unit,
            row.period_label,
            Decimal(row.quantity),
            row.revision,
        )
        for row in rows
    }
    return ConsumptionState(tenants=tenants, records=stored, price_books=books)


def _row(version: RecordVersion) -> dict[str, object]:
    r = version.record
    return {
        "tenant_id": version.tenant_id,
        "record_id": version.record_id,
        "contract_id": r.contract_id,
        "resource_unit": r.resource_unit,
        "period_label": r.period_label,
        "quantity": r.quantity,
        "revision": r.revision,
    }


async def _apply(session: AsyncSession, decision: ConsumptionDecision, now: datetime) -> None:
    """Write a decision: new records, corrected ones, every version, the totals' deltas."""
    new_rows = [_row(v) for v in decision.inserts]
    for start in range(0, len(new_rows), CHUNK):
        chunk = new_rows[start : start + CHUNK]
        inserted = await session.execute(
            pg_insert(ConsumptionRecord)
            .values(chunk)
            .on_conflict_do_nothing(constraint="uq_consumption_record")
            .returning(ConsumptionRecord.id)
        )
        if len(inserted.all()) != len(chunk):  # cannot happen under the contract lock
            raise Conflict("consumption records were stored concurrently; retry the request")
    for update in decision.updates:
        await session.execute(
            sa.update(ConsumptionRecord)
            .where(
                ConsumptionRecord.tenant_id == update.tenant_id,
                ConsumptionRecord.record_id == update.record_id,
            )
            .values(
                quantity=update.record.quantity,
                revision=update.record.revision,
                received_at=now,
            )
        )
    versions = [{**_row(v), "received_at": now} for v in decision.versions]
    for start in range(0, len(versions), CHUNK):
        await session.execute(
            sa.insert(ConsumptionRecordRevision).values(versions[start : start + CHUNK])
        )
    if decision.deltas:
        stmt = pg_insert(ConsumptionTotal).values(
            [
                {
                    "contract_id": c,
                    "period_label": p,
                    "resource_unit": u,
                    "tenant_id": d.tenant_id,
                    "quantity": d.quantity,
                    "record_count": d.record_count,
                    "updated_at": now,
                }
                for (c, p, u), d in decision.deltas.items()
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


async def actuals(
    *, session: AsyncSession, contract_id: uuid.UUID, period_labels: Sequence[str]
) -> dict[str, dict[str, Decimal]]:
    """Actual volume per period and resource unit, from the aggregate kept on ingest."""
    found = await actuals_between(
        session=session,
        contract_ids=[contract_id],
        where=any_of(ConsumptionTotal.period_label, period_labels),
    )
    return found.get(contract_id, {})


async def actuals_between(
    *, session: AsyncSession, contract_ids: Sequence[uuid.UUID], where: Any
) -> dict[uuid.UUID, dict[str, dict[str, Decimal]]]:
    """Actual volumes of several contracts (contract → period → unit), the periods chosen
    by `where` (a clause on `ConsumptionTotal.period_label`)."""
    rows = await session.execute(
        sa.select(
            ConsumptionTotal.contract_id,
            ConsumptionTotal.period_label,
            ConsumptionTotal.resource_unit,
            ConsumptionTotal.quantity,
        ).where(
            any_of(ConsumptionTotal.contract_id, contract_ids),
            where,
            ConsumptionTotal.record_count > 0,
        )
    )
    out: dict[uuid.UUID, dict[str, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        out[r.contract_id][r.period_label][r.resource_unit] = _plain(Decimal(r.quantity))
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
    found = await record_ids_of(session=session, periods=[(contract_id, period_label)])
    return found.get((contract_id, period_label), {})


async def record_ids_of(
    *, session: AsyncSession, periods: Sequence[tuple[uuid.UUID, str]]
) -> dict[tuple[uuid.UUID, str], dict[str, list[str]]]:
    """`record_ids` of several (contract, period) pairs in one query."""
    if not periods:
        return {}
    r = ConsumptionRecord
    numbered = (
        sa.select(
            r.contract_id,
            r.period_label,
            r.resource_unit,
            r.record_id,
            r.revision,
            sa.func.row_number()
            .over(
                partition_by=(r.contract_id, r.period_label, r.resource_unit),
                order_by=r.record_id,
            )
            .label("n"),
        )
        .where(tuple_in((r.contract_id, r.period_label), periods))
        .subquery()
    )
    c = numbered.c
    rows = await session.execute(
        sa.select(c.contract_id, c.period_label, c.resource_unit, c.record_id, c.revision)
        .where(c.n <= MAX_IDS_PER_UNIT)
        .order_by(c.contract_id, c.period_label, c.resource_unit, c.record_id)
    )
    out: dict[tuple[uuid.UUID, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        out[(row.contract_id, row.period_label)][row.resource_unit].append(
            row.record_id if row.revision == 1 else f"{row.record_id} (revision {row.revision})"
        )
    return out


RECORDS = Keyset(
    "consumption-records",
    SortKey(ConsumptionRecord.resource_unit),
    SortKey(ConsumptionRecord.record_id),
    SortKey(ConsumptionRecord.id),
)


async def list_records(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID,
    period_label: str,
    page: PageRequest,
) -> ConsumptionRecordPage:
    """A contract's records of a period, by resource unit and record id, each with its
    revisions (oldest first)."""
    await ensure_contract(session, principal, contract_id)
    query = sa.select(ConsumptionRecord).where(
        ConsumptionRecord.contract_id == contract_id,
        ConsumptionRecord.period_label == period_label,
        principal.tenant_filter(ConsumptionRecord.tenant_id),
    )
    records, next_cursor = await fetch_page(session, query, RECORDS, page)
    keys = [(r.tenant_id, r.record_id) for r in records]
    revisions = await session.scalars(
        sa.select(ConsumptionRecordRevision)
        .where(
            tuple_in(
                (ConsumptionRecordRevision.tenant_id, ConsumptionRecordRevision.record_id), keys
            )
        )
        .order_by(ConsumptionRecordRevision.revision)
    )
    history: dict[tuple[str, str], list[ConsumptionRevisionRead]] = defaultdict(list)
    for v in revisions:
        history[(v.tenant_id, v.record_id)].append(ConsumptionRevisionRead.model_validate(v))
    items = [
        ConsumptionRecordRead(
            record_id=r.record_id,
            resource_unit=r.resource_unit,
            quantity=r.quantity,
            revision=r.revision,
            revisions=history[(r.tenant_id, r.record_id)],
        )
        for r in records
    ]
    return ConsumptionRecordPage(items=items, next_cursor=next_cursor)


async def ensure_contract(
    session: AsyncSession, principal: Principal, contract_id: uuid.UUID
) -> str:
    tenant = (await contract_tenants(session, {contract_id})).get(contract_id)
    if tenant is None or not principal.can_access(tenant):
        raise NotFound(f"contract {contract_id} is not known to billing-reconciler")
    return tenant
