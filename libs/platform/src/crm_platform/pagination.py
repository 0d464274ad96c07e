"""One way to page a list that can grow: `{"items": [...], "next_cursor": "..."}`.

A page holds at most `limit` items (default 100, at most 1000; more is a 422 on
`query.limit`) in the list's fixed order. `next_cursor` is null on the last page; otherwise
pass it back as `cursor`, with the same filters, for the next page.

The cursor is a keyset cursor: it encodes the sort key of the last item returned (the
list's name and the values of its ordering columns, as base64url JSON) and the next page
starts strictly after that key. So rows inserted or deleted meanwhile never shift a page:
an item already returned is not returned again and an item not yet returned is not skipped
(a new row shows up later only when it sorts after the cursor). Every ordering ends with a
unique column, so two items never share a sort key. The cursor is opaque to clients; one
this list did not return is a 422 on `query.cursor`.

    ALERTS = Keyset("alerts", SortKey(Alert.raised_at, descending=True),
                    SortKey(Alert.id, descending=True))
    rows, next_cursor = await fetch_page(session, query, ALERTS, page)

`page_of` pages a list computed in memory with the same cursors.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from crm_platform.errors import Unprocessable
from crm_platform.params import TEXT_INT

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CURSOR_LENGTH = 1000

CURSOR_DESCRIPTION = (
    "Where the page starts: the `next_cursor` of the previous page (omit it for the first "
    "page). Opaque; a cursor this list did not return is a 422."
)
LIMIT_DESCRIPTION = f"Items per page: 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."
NEXT_CURSOR_DESCRIPTION = (
    "Pass as `cursor`, with the same filters, for the next page; null on the last page."
)

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a list (see `crm_platform.pagination`).

    Each list names its page (`class ObligationPage(Page[ObligationRead])`): OpenAPI and
    generated clients then call it `ObligationPage`, not `Page_ObligationRead_`.
    """

    items: list[T] = Field(description="This page's items, in the list's order.")
    next_cursor: str | None = Field(description=NEXT_CURSOR_DESCRIPTION)


@dataclass(frozen=True)
class PageRequest:
    """The `cursor` and `limit` a client asked for."""

    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


def _page_request(
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_CURSOR_LENGTH, description=CURSOR_DESCRIPTION),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=LIMIT_DESCRIPTION), TEXT_INT
    ] = DEFAULT_LIMIT,
) -> PageRequest:
    return PageRequest(cursor=cursor, limit=limit)


PageDep = Annotated[PageRequest, Depends(_page_request)]
"""`cursor` and `limit` query parameters, documented once."""

EVERYTHING = PageRequest(limit=MAX_LIMIT)
"""For in-service callers that want the first `MAX_LIMIT` items (a calendar feed)."""


# --- sort keys and cursors ----------------------------------------------------------------


def _parse_datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("instant without offset")
    return parsed


_DECODE: dict[type, Callable[[Any], Any]] = {
    datetime: _parse_datetime,
    date: date.fromisoformat,
    uuid.UUID: uuid.UUID,
    Decimal: lambda v: Decimal(str(v)),
}


def _decode(kind: type, value: Any) -> Any:
    if kind is int:
        if type(value) is not int:
            raise ValueError("not an integer")
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a {kind.__name__}")
    return _DECODE.get(kind, str)(value)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value


@dataclass(frozen=True)
class SortKey:
    """One ordering column of a list: a mapped attribute or table column (`column`), or,
    for a list computed in memory, an attribute `name` of its items with its `kind`."""

    column: Any = None
    descending: bool = False
    if_null: Any = None  # what a NULL sorts as; None when the column is never NULL
    name: str = ""
    kind: type | None = None

    @property
    def attribute(self) -> str:
        return self.name or str(self.column.key)

    @property
    def python_type(self) -> type:
        if self.kind is not None:
            return self.kind
        kind: type = self.column.type.python_type
        return kind

    @property
    def expression(self) -> Any:
        if self.if_null is None:
            return self.column
        return sa.func.coalesce(self.column, self.if_null)

    def value_of(self, item: Any) -> Any:
        value = getattr(item, self.attribute)
        return self.if_null if value is None else value


@dataclass(frozen=True)
class Keyset:
    """A list's order (its last key unique) and the cursors that point into it."""

    name: str
    keys: tuple[SortKey, ...] = field(default_factory=tuple)

    def __init__(self, name: str, *keys: SortKey) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "keys", keys)

    def order_by(self) -> list[Any]:
        return [k.expression.desc() if k.descending else k.expression.asc() for k in self.keys]

    def cursor_of(self, item: Any) -> str:
        values = [self.name, *(_encode(k.value_of(item)) for k in self.keys)]
        raw = json.dumps(values, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def position(self, cursor: str) -> tuple[Any, ...]:
        """The sort key a cursor points after; 422 on `query.cursor` for anything else."""
        try:
            raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
            values = json.loads(raw)
            if not isinstance(values, list) or len(values) != len(self.keys) + 1:
                raise ValueError("not a cursor")
            if values[0] != self.name:
                raise ValueError(f"a cursor of another list ({values[0]!r})")
            return tuple(
                _decode(k.python_type, v) for k, v in zip(self.keys, values[1:], strict=True)
            )
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise Unprocessable(
                "cursor is not one this list returned: pass `next_cursor` as it came",
                details=[{"loc": "query.cursor", "message": f"invalid cursor ({exc})"}],
            ) from None

    def after(self, position: Sequence[Any]) -> Any:
        """SQL: the rows that sort strictly after `position`."""
        exprs = [k.expression for k in self.keys]
        if len({k.descending for k in self.keys}) == 1:
            row = sa.tuple_(*exprs)
            return row < tuple(position) if self.keys[0].descending else row > tuple(position)
        clauses = []
        for i, key in enumerate(self.keys):
            equal = [exprs[j] == position[j] for j in range(i)]
            beyond = exprs[i] < position[i] if key.descending else exprs[i] > position[i]
            clauses.append(sa.and_(*equal, beyond))
        return sa.or_(*clauses)

    def follows(self, item: Any, position: Sequence[Any]) -> bool:
        """In memory: whether `item` sorts strictly after `position`."""
        for key, at in zip(self.keys, position, strict=True):
            value = key.value_of(item)
            if value != at:
                return bool(value < at) if key.descending else bool(value > at)
        return False


async def fetch_page(
    session: AsyncSession, query: Any, keyset: Keyset, page: PageRequest
) -> tuple[list[Any], str | None]:
    """One page of `query` (a select of one mapped class, or of columns that include the
    keyset's) in the keyset's order: its rows and the next cursor (None on the last)."""
    if page.cursor is not None:
        query = query.where(keyset.after(keyset.position(page.cursor)))
    result = await session.execute(query.order_by(*keyset.order_by()).limit(page.limit + 1))
    descriptions = query.column_descriptions
    entity = len(descriptions) == 1 and isinstance(descriptions[0]["expr"], type)
    rows = list(result.scalars() if entity else result)
    return _split(rows, keyset, page.limit)


def page_of(
    items: Sequence[Any], keyset: Keyset, page: PageRequest
) -> tuple[list[Any], str | None]:
    """A page of a list computed in memory, already in the keyset's order: its items and
    the next cursor (None on the last)."""
    rest = list(items)
    if page.cursor is not None:
        position = keyset.position(page.cursor)
        rest = [item for item in rest if keyset.follows(item, position)]
    return _split(rest[: page.limit + 1], keyset, page.limit)


def _split(rows: list[Any], keyset: Keyset, limit: int) -> tuple[list[Any], str | None]:
    window = rows[:limit]
    more = len(rows) > limit
    return window, keyset.cursor_of(window[-1]) if more and window else None
