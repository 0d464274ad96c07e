"""How a JSON resource becomes CSV: cells, columns, the documented examples and the chunks a
file is streamed in."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

import pytest

from billing_reconciler.csv_format import CHUNK_BYTES, cell, csv_chunks
from billing_reconciler.exports.tables import CHARGES, CREDITS, DISCREPANCIES, LEAKAGE, Export
from billing_reconciler.main import create_app
from billing_reconciler.reconciliation.schemas import DiscrepancyRead

EXPORTS = {
    "credits": CREDITS,
    "charges": CHARGES,
    "discrepancies": DISCREPANCIES,
    "leakage": LEAKAGE,
}


def test_a_cell_is_the_json_value_as_text() -> None:
    assert [cell(v) for v in (None, True, False, 2, "4414.08", "")] == [
        "",
        "true",
        "false",
        "2",
        "4414.08",
        "",
    ]
    assert cell({"formula": "14 × 140.00", "ids": ["a", "b"]}) == (
        '{"formula":"14 × 140.00","ids":["a","b"]}'
    )
    assert cell([]) == "[]"


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_the_columns_are_the_json_fields_in_their_order(name: str) -> None:
    export = EXPORTS[name]
    item = export.table.model.model_validate(export.example_items[0])
    fields = list(item.model_dump(mode="json"))
    if export.table.expand is None:
        assert list(export.table.columns) == fields
    else:
        kept = [f for f in fields if f not in export.table.drop]
        at = kept.index("lines")
        line = list(item.model_dump(mode="json")["lines"][0])
        assert list(export.table.columns) == kept[:at] + line + kept[at + 1 :]


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_the_documented_example_parses_into_the_json_values(name: str) -> None:
    export: Export = EXPORTS[name]
    spec = create_app().openapi()
    operation = spec["paths"][f"/{name}/csv"]["get"]
    documented = operation["responses"]["200"]["content"]["text/csv"]["example"]
    assert documented == export.example
    header, *rows = csv.reader(io.StringIO(documented, newline=""))
    assert header == list(export.table.columns)
    items = [export.table.model.model_validate(i) for i in export.example_items]
    expected = [r for i in items for r in export.table.rows(i)]
    assert rows == expected
    first = items[0].model_dump(mode="json")
    for column, text in zip(header, rows[0], strict=True):
        if column in first and isinstance(first[column], dict | list):
            assert json.loads(text) == first[column]
        elif column in first:
            assert text == cell(first[column])


async def test_a_file_is_written_in_chunks_as_the_rows_come() -> None:
    one = DiscrepancyRead.model_validate(DISCREPANCIES.example_items[0])
    produced = 0

    async def items() -> AsyncIterator[DiscrepancyRead]:
        nonlocal produced
        for _ in range(2_000):
            produced += 1
            yield one

    seen_when: list[int] = []
    chunks: list[bytes] = []
    async for chunk in csv_chunks(DISCREPANCIES.table, items()):
        seen_when.append(produced)
        chunks.append(chunk)
    assert len(chunks) > 10
    assert all(len(c) >= CHUNK_BYTES for c in chunks[:-1])
    assert seen_when[0] < 200  # the first chunk leaves before the 200th row is read
    assert b"".join(chunks).decode() == DISCREPANCIES.table.render([one] * 2_000)
