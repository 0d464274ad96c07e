"""What a batch of consumption records does, decided from the state loaded before it.

`decide` is pure: given the stored records of the batch's record ids, the contracts' price
books (every version, effective-dated) and the batch, it says which records to insert or
update, which versions to keep, which items are duplicates, which conflict or name a unit
the contract does not have (each with its location), and how the totals per contract,
period and resource unit move. The service loads that state under the contracts' locks and
applies the decision; nothing here reads or writes a database.

Rules, item by item in the batch's order (a record id may appear more than once):
- the item's resource unit must be in the price book in force on the period's first day
  (the version the period is charged with), else it is refused;
- a record id not seen before is a new record (revision 1);
- the same quantity again is a duplicate and changes nothing;
- a different quantity is a conflict unless the item says `correction`, which replaces the
  quantity (one revision more); a correction may not move a record to another contract,
  unit or period.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from crm_events.schemas.consumption import ConsumptionItem
from crm_platform import periods

Locator = Callable[[int, str], str]
RecordKey = tuple[str, str]  # (tenant, record id): record ids are unique per tenant
TotalKey = tuple[uuid.UUID, str, str]  # (contract, period, resource unit)


def body_items(index: int, field_name: str) -> str:
    return f"body.items[{index}].{field_name}"


@dataclass(frozen=True)
class StoredRecord:
    """A consumption record as stored (or as the batch leaves it)."""

    contract_id: uuid.UUID
    resource_unit: str
    period_label: str
    quantity: Decimal
    revision: int


@dataclass(frozen=True)
class PriceBookVersion:
    """The resource units of one version of a contract's terms."""

    version: int
    effective_from: date
    units: frozenset[str]


@dataclass(frozen=True)
class ConsumptionState:
    """Everything a decision needs, loaded beforehand."""

    tenants: Mapping[uuid.UUID, str]  # contract → tenant
    records: Mapping[RecordKey, StoredRecord]  # the stored records among the batch's ids
    price_books: Mapping[uuid.UUID, Sequence[PriceBookVersion]]  # contract → every version


@dataclass(frozen=True)
class RecordVersion:
    """One version of a record: what the batch stores for it."""

    tenant_id: str
    record_id: str
    record: StoredRecord


@dataclass(frozen=True)
class TotalDelta:
    tenant_id: str
    quantity: Decimal  # added to the unit's actual volume of the period
    record_count: int  # new records of the unit and period


@dataclass
class ConsumptionDecision:
    inserts: list[RecordVersion] = field(default_factory=list)  # records not stored before
    updates: list[RecordVersion] = field(default_factory=list)  # stored records corrected
    versions: list[RecordVersion] = field(default_factory=list)  # every version to keep
    accepted: int = 0  # new records
    corrected: int = 0
    duplicates: list[int] = field(default_factory=list)  # item indexes
    conflicts: list[dict[str, str]] = field(default_factory=list)  # loc and message
    unknown_units: list[dict[str, str]] = field(default_factory=list)  # loc and message
    deltas: dict[TotalKey, TotalDelta] = field(default_factory=dict)
    # (contract, period) whose actual volumes changed, with the record ids that changed them.
    changed: dict[tuple[uuid.UUID, str], list[str]] = field(default_factory=dict)


def price_book_in_force(versions: Sequence[PriceBookVersion], on: date) -> PriceBookVersion:
    """The latest version effective on a date, else the first one (the rule every period
    is computed with)."""
    ordered = sorted(versions, key=lambda v: v.version)
    effective = [v for v in ordered if v.effective_from <= on]
    return effective[-1] if effective else ordered[0]


def _unknown_unit(
    state: ConsumptionState, item: ConsumptionItem, index: int, loc: Locator
) -> dict[str, str] | None:
    book = price_book_in_force(
        state.price_books[item.contract_id], periods.first_day(item.period_label)
    )
    if item.resource_unit in book.units:
        return None
    units = ", ".join(sorted(book.units)) or "none"
    return {
        "loc": loc(index, "resource_unit"),
        "message": f"resource unit {item.resource_unit!r} is not in the price book of "
        f"contract {item.contract_id} for {item.period_label} (version {book.version}); "
        f"its resource units: {units}",
    }


def _conflict(
    current: StoredRecord, item: ConsumptionItem, index: int, loc: Locator
) -> dict[str, str] | None:
    if (current.contract_id, current.resource_unit, current.period_label) != (
        item.contract_id,
        item.resource_unit,
        item.period_label,
    ):
        return {
            "loc": loc(index, "record_id"),
            "message": f"record {item.record_id} belongs to contract "
            f"{current.contract_id}, {current.resource_unit}, {current.period_label}; "
            "a correction may change only the quantity (send a new record id)",
        }
    if item.quantity != current.quantity and not item.correction:
        return {
            "loc": loc(index, "quantity"),
            "message": f"record {item.record_id} was received with quantity "
            f"{current.quantity}; send correction=true to replace it",
        }
    return None


def decide(
    state: ConsumptionState, items: Sequence[ConsumptionItem], loc: Locator = body_items
) -> ConsumptionDecision:
    """What the batch does to the stored records and the totals (see the module's rules).
    Every item's contract must be in `state.tenants` and `state.price_books`."""
    out = ConsumptionDecision()
    current: dict[RecordKey, StoredRecord] = {}  # records the batch touched, as it leaves them
    for index, item in enumerate(items):
        unknown = _unknown_unit(state, item, index, loc)
        if unknown is not None:
            out.unknown_units.append(unknown)
            continue
        tenant = state.tenants[item.contract_id]
        key = (tenant, item.record_id)
        before = current.get(key) or state.records.get(key)
        if before is None:
            after = StoredRecord(
                item.contract_id, item.resource_unit, item.period_label, item.quantity, 1
            )
            out.accepted += 1
        elif (problem := _conflict(before, item, index, loc)) is not None:
            out.conflicts.append(problem)
            continue
        elif item.quantity == before.quantity:
            out.duplicates.append(index)
            continue
        else:
            after = replace(before, quantity=item.quantity, revision=before.revision + 1)
            out.corrected += 1
        current[key] = after
        out.versions.append(RecordVersion(tenant, item.record_id, after))
    for (tenant, record_id), after in current.items():
        _settle(
            out, state.records.get((tenant, record_id)), RecordVersion(tenant, record_id, after)
        )
    return out


def _settle(out: ConsumptionDecision, stored: StoredRecord | None, final: RecordVersion) -> None:
    """Record a touched record's final state: its write and what it adds to the totals."""
    (out.inserts if stored is None else out.updates).append(final)
    record = final.record
    delta = record.quantity - (stored.quantity if stored is not None else Decimal(0))
    if stored is not None and delta == 0:
        return  # corrected back to what it was: the totals do not move
    key = (record.contract_id, record.period_label, record.resource_unit)
    total = out.deltas.get(key, TotalDelta(final.tenant_id, Decimal(0), 0))
    out.deltas[key] = TotalDelta(
        final.tenant_id,
        total.quantity + delta,
        total.record_count + (1 if stored is None else 0),
    )
    out.changed.setdefault((record.contract_id, record.period_label), []).append(final.record_id)
