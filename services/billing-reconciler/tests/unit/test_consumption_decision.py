"""consumption.domain.decide: what a batch of consumption records does, decided in pure code
from the state loaded before it; exact Decimals, and properties over any arrival order."""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from billing_reconciler.consumption.domain import (
    ConsumptionDecision,
    ConsumptionState,
    PriceBookVersion,
    RecordKey,
    StoredRecord,
    TotalKey,
    decide,
    price_book_in_force,
)
from crm_events.schemas.consumption import ConsumptionItem

ACME = uuid.UUID("7b0c6f2e-8f7d-4a59-9d0e-2a1c3e5b6d7f")
GLOBEX = uuid.UUID("0f3c2a9e-1d4b-4c8e-9a7f-5b6d3e2c1a00")
TENANTS = {ACME: "acme-bank", GLOBEX: "globex"}
BOOKS = {
    ACME: [
        PriceBookVersion(1, date(2026, 1, 1), frozenset({"SRV-WIN", "TCK-L1"})),
        # An amendment from July adds Linux servers.
        PriceBookVersion(2, date(2026, 7, 1), frozenset({"SRV-WIN", "TCK-L1", "SRV-LNX"})),
    ],
    GLOBEX: [PriceBookVersion(1, date(2026, 1, 1), frozenset({"SRV-WIN"}))],
}


def item(
    record_id: str,
    quantity: str,
    *,
    unit: str = "SRV-WIN",
    period: str = "2026-03",
    contract: uuid.UUID = ACME,
    correction: bool = False,
) -> ConsumptionItem:
    return ConsumptionItem(
        record_id=record_id,
        contract_id=contract,
        resource_unit=unit,
        period_label=period,
        quantity=Decimal(quantity),
        correction=correction,
    )


def state(records: dict[RecordKey, StoredRecord] | None = None) -> ConsumptionState:
    return ConsumptionState(tenants=TENANTS, records=records or {}, price_books=BOOKS)


def stored(quantity: str, revision: int = 1, unit: str = "SRV-WIN") -> StoredRecord:
    return StoredRecord(ACME, unit, "2026-03", Decimal(quantity), revision)


# --- examples ------------------------------------------------------------------------------


def test_new_records_add_up_per_contract_period_and_unit() -> None:
    decision = decide(
        state(),
        [item("r1", "200.5"), item("r2", "13.5"), item("r3", "4700", unit="TCK-L1")],
    )
    assert decision.accepted == 3
    assert [v.record.revision for v in decision.inserts] == [1, 1, 1]
    assert [(k, d.quantity, d.record_count) for k, d in decision.deltas.items()] == [
        ((ACME, "2026-03", "SRV-WIN"), Decimal("214.0"), 2),
        ((ACME, "2026-03", "TCK-L1"), Decimal("4700"), 1),
    ]
    assert decision.changed == {(ACME, "2026-03"): ["r1", "r2", "r3"]}


def test_the_same_record_again_is_a_duplicate_and_changes_nothing() -> None:
    decision = decide(state({("acme-bank", "r1"): stored("214")}), [item("r1", "214.00")])
    assert decision.duplicates == [0]
    assert (decision.inserts, decision.updates, decision.versions) == ([], [], [])
    assert decision.deltas == {} and decision.changed == {}


def test_a_different_quantity_without_correction_conflicts_at_the_quantity() -> None:
    decision = decide(state({("acme-bank", "r1"): stored("214")}), [item("r1", "216")])
    assert decision.conflicts == [
        {
            "loc": "body.items[0].quantity",
            "message": "record r1 was received with quantity 214; send correction=true to "
            "replace it",
        }
    ]
    assert decision.deltas == {}


def test_a_correction_replaces_the_quantity_and_moves_the_total_by_the_difference() -> None:
    decision = decide(
        state({("acme-bank", "r1"): stored("214")}), [item("r1", "216", correction=True)]
    )
    assert decision.corrected == 1
    [update] = decision.updates
    assert (update.record.quantity, update.record.revision) == (Decimal(216), 2)
    assert [v.record.revision for v in decision.versions] == [2]
    delta = decision.deltas[(ACME, "2026-03", "SRV-WIN")]
    assert (delta.quantity, delta.record_count) == (Decimal(2), 0)


def test_a_correction_may_not_move_a_record_to_another_unit() -> None:
    decision = decide(
        state({("acme-bank", "r1"): stored("214")}),
        [item("r1", "214", unit="TCK-L1", correction=True)],
    )
    assert [c["loc"] for c in decision.conflicts] == ["body.items[0].record_id"]
    assert "may change only the quantity" in decision.conflicts[0]["message"]


def test_new_then_corrected_in_one_batch_stores_the_last_quantity_and_both_versions() -> None:
    decision = decide(state(), [item("r1", "10"), item("r1", "12.25", correction=True)])
    assert (decision.accepted, decision.corrected) == (1, 1)
    [insert] = decision.inserts
    assert (insert.record.quantity, insert.record.revision) == (Decimal("12.25"), 2)
    assert [(v.record.quantity, v.record.revision) for v in decision.versions] == [
        (Decimal(10), 1),
        (Decimal("12.25"), 2),
    ]
    delta = decision.deltas[(ACME, "2026-03", "SRV-WIN")]
    assert (delta.quantity, delta.record_count) == (Decimal("12.25"), 1)


def test_corrected_back_to_the_stored_quantity_keeps_the_revisions_but_no_total_moves() -> None:
    decision = decide(
        state({("acme-bank", "r1"): stored("214")}),
        [item("r1", "216", correction=True), item("r1", "214", correction=True)],
    )
    [update] = decision.updates
    assert (update.record.quantity, update.record.revision) == (Decimal(214), 3)
    assert [v.record.revision for v in decision.versions] == [2, 3]
    assert decision.deltas == {} and decision.changed == {}


def test_a_unit_not_in_the_price_book_in_force_for_the_period_is_refused_by_name() -> None:
    decision = decide(
        state(),
        [
            item("r1", "214"),
            item("r2", "12", unit="SRV-LNX", period="2026-03"),  # before the amendment
            item("r3", "12", unit="SRV-LNX", period="2026-07"),  # in force from July
        ],
    )
    assert decision.unknown_units == [
        {
            "loc": "body.items[1].resource_unit",
            "message": f"resource unit 'SRV-LNX' is not in the price book of contract {ACME} "
            "for 2026-03 (version 1); its resource units: SRV-WIN, TCK-L1",
        }
    ]
    assert decision.accepted == 2


def test_locations_come_from_the_locator_csv_lines_for_files() -> None:
    decision = decide(
        state(),
        [item("r1", "1", unit="X")],
        loc=lambda index, name: f"body.line[{index + 2}].{name}",
    )
    assert decision.unknown_units[0]["loc"] == "body.line[2].resource_unit"


def test_the_price_book_in_force_is_the_latest_effective_version_else_the_first() -> None:
    assert price_book_in_force(BOOKS[ACME], date(2026, 6, 1)).version == 1
    assert price_book_in_force(BOOKS[ACME], date(2026, 7, 1)).version == 2
    assert price_book_in_force(BOOKS[ACME], date(2025, 12, 1)).version == 1


# --- properties ----------------------------------------------------------------------------

Totals = dict[TotalKey, tuple[Decimal, int]]
Records = dict[RecordKey, StoredRecord]
UNITS = [(ACME, "SRV-WIN"), (ACME, "TCK-L1"), (GLOBEX, "SRV-WIN")]
quantities = st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False)


@st.composite
def distinct_records(draw: st.DrawFn) -> list[ConsumptionItem]:
    """Records with distinct ids over two contracts, their units and three periods."""
    count = draw(st.integers(1, 25))
    out = []
    for n in range(count):
        contract, unit = draw(st.sampled_from(UNITS))
        period = draw(st.sampled_from(["2026-02", "2026-03", "2026-04"]))
        quantity = draw(quantities)
        out.append(item(f"r{n}", str(quantity), unit=unit, period=period, contract=contract))
    return out


def apply(decision: ConsumptionDecision, records: Records, totals: Totals) -> None:
    """What the service writes, in memory."""
    assert not decision.conflicts and not decision.unknown_units
    for version in [*decision.inserts, *decision.updates]:
        records[(version.tenant_id, version.record_id)] = version.record
    for key, delta in decision.deltas.items():
        quantity, count = totals.get(key, (Decimal(0), 0))
        totals[key] = (quantity + delta.quantity, count + delta.record_count)


def run(
    batches: Sequence[Sequence[ConsumptionItem]],
) -> tuple[Records, Totals]:
    records: Records = {}
    totals: Totals = {}
    for batch in batches:
        apply(decide(state(records), batch), records, totals)
    return records, totals


def expected_totals(items: Sequence[ConsumptionItem]) -> Totals:
    totals: Totals = {}
    for i in items:
        key = (i.contract_id, i.period_label, i.resource_unit)
        quantity, count = totals.get(key, (Decimal(0), 0))
        totals[key] = (quantity + i.quantity, count + 1)
    return totals


def split(items: Sequence[Any], cuts: Sequence[int]) -> list[list[Any]]:
    bounds = [0, *sorted(c % (len(items) + 1) for c in cuts), len(items)]
    return [list(items[a:b]) for a, b in itertools.pairwise(bounds) if a < b]


@given(st.data())
def test_totals_do_not_depend_on_arrival_order_or_on_how_records_are_batched(
    data: st.DataObject,
) -> None:
    items = data.draw(distinct_records())
    order = data.draw(st.permutations(items))
    cuts = data.draw(st.lists(st.integers(0, 100), max_size=5))
    _, in_one_batch = run([items])
    _, in_any_order = run(split(order, cuts))
    assert in_one_batch == in_any_order == expected_totals(items)


@given(distinct_records(), st.data())
def test_a_duplicate_never_changes_the_totals(
    items: list[ConsumptionItem], data: st.DataObject
) -> None:
    records, totals = run([items])
    again = data.draw(st.lists(st.sampled_from(items), min_size=1, max_size=30))
    flagged = [i.model_copy(update={"correction": data.draw(st.booleans())}) for i in again]
    decision = decide(state(records), flagged)
    assert decision.duplicates == list(range(len(flagged)))
    assert (decision.inserts, decision.updates, decision.versions) == ([], [], [])
    assert decision.deltas == {} and decision.changed == {}
    assert run([items, flagged])[1] == totals


@given(distinct_records(), st.data())
def test_deciding_again_on_the_same_inputs_gives_the_same_decision_and_changes_nothing(
    items: list[ConsumptionItem], data: st.DataObject
) -> None:
    records, _ = run([items[: len(items) // 2]])
    batch = data.draw(st.permutations(items))
    before = state(records)
    snapshot = copy.deepcopy(before)
    first = decide(before, batch)
    assert decide(before, batch) == first
    assert before == snapshot  # the inputs are left as they were


@given(distinct_records(), st.data())
def test_a_correction_replaces_the_quantity_exactly_once(
    items: list[ConsumptionItem], data: st.DataObject
) -> None:
    chosen = data.draw(
        st.lists(st.sampled_from(items), min_size=1, unique_by=lambda i: i.record_id)
    )
    new = {i.record_id: data.draw(quantities) for i in chosen}
    corrections = [
        i.model_copy(update={"quantity": new[i.record_id], "correction": True}) for i in chosen
    ]
    # Delivered twice (a retry): the second delivery is a duplicate.
    after, totals = run([items, corrections, corrections])
    final = [i.model_copy(update={"quantity": new.get(i.record_id, i.quantity)}) for i in items]
    assert totals == expected_totals(final)
    for i in chosen:
        record = after[(TENANTS[i.contract_id], i.record_id)]
        assert record.quantity == new[i.record_id]
        assert record.revision == (1 if new[i.record_id] == i.quantity else 2)
