"""Keyset cursors: they carry the sort key of the last item, belong to one list, and any
other string is a 422 on `query.cursor`."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from crm_platform.errors import Unprocessable
from crm_platform.pagination import Keyset, PageRequest, SortKey, page_of

rows = sa.Table(
    "rows",
    sa.MetaData(),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("label", sa.Text, nullable=True),
)
ORDER = Keyset(
    "rows",
    SortKey(rows.c.at, descending=True),
    SortKey(rows.c.day),
    SortKey(rows.c.seq),
    SortKey(rows.c.label, if_null=""),
    SortKey(rows.c.id),
)


@dataclass
class Row:
    id: uuid.UUID
    at: datetime
    day: date
    seq: int
    label: str | None


def _row(seq: int, label: str | None = "x") -> Row:
    at = datetime(2026, 3, 14, 3, seq, tzinfo=UTC)
    return Row(uuid.uuid4(), at, date(2026, 3, 1), seq, label)


def _raw(values: list[object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_a_cursor_carries_the_sort_key_of_its_item_and_reads_back_typed() -> None:
    row = _row(7, label=None)
    position = ORDER.position(ORDER.cursor_of(row))
    assert position == (row.at, row.day, 7, "", row.id)
    assert "=" not in ORDER.cursor_of(row)  # safe in a query string as it is


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "!!!",
        _raw(["rows"]),  # too few values
        _raw(["alerts", "2026-03-14T03:07:00+00:00", "2026-03-01", 7, "", str(uuid.uuid4())]),
        _raw(["rows", "2026-03-14T03:07:00", "2026-03-01", 7, "", str(uuid.uuid4())]),  # no offset
        _raw(["rows", "2026-03-14T03:07:00Z", "2026-03-01", "7", "", str(uuid.uuid4())]),
        _raw(["rows", "2026-03-14T03:07:00Z", "2026-03-01", 7, "", "not-a-uuid"]),
        _raw({"rows": 1}),  # type: ignore[arg-type]
    ],
)
def test_anything_but_a_cursor_of_this_list_is_a_422_on_query_cursor(cursor: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        ORDER.position(cursor)
    assert refused.value.details[0]["loc"] == "query.cursor"


def test_mixed_directions_compare_key_by_key() -> None:
    sql = str(ORDER.after((datetime.now(UTC), date(2026, 3, 1), 1, "", uuid.uuid4())))
    assert sql.count(" OR ") == 4  # one branch per key: no row comparison across directions
    same = Keyset("same", SortKey(rows.c.at), SortKey(rows.c.id))
    assert "(rows.at, rows.id) >" in str(same.after((datetime.now(UTC), uuid.uuid4())))


def test_an_in_memory_list_pages_to_the_end_without_repeats() -> None:
    items = sorted((_row(i) for i in range(7)), key=lambda r: r.at, reverse=True)
    seen: list[Row] = []
    cursor = None
    while True:
        window, cursor = page_of(items, ORDER, PageRequest(cursor=cursor, limit=3))
        seen += window
        if cursor is None:
            break
    assert seen == items
    last, none = page_of(items, ORDER, PageRequest(limit=7))
    assert last == items and none is None
