"""Engine, session factory and the request-scoped unit of work.

The session dependency commits when the route returns and rolls back when it raises;
services never call `commit()`. Its scope is "function" so the commit happens before the
response is sent: a client never sees 2xx for a transaction that then failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Annotated, Any, cast

import orjson
import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from crm_platform.settings import ServiceSettings


def json_text(value: Any) -> str:
    """A JSON/JSONB column's value as the text PostgreSQL stores: orjson (several times
    the standard library's speed on statements, explanations and outbox payloads), keys
    that are not strings written as strings, as `json.dumps` writes them."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(settings: ServiceSettings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        json_serializer=json_text,
        json_deserializer=orjson.loads,
    )


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    async with factory() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def table_of(model: type[Any]) -> sa.Table:
    """A mapped class's table, for Core statements that skip the ORM's per-row work (bulk
    inserts and updates of a run of events)."""
    return cast(sa.Table, model.__table__)


# Keys bound as arrays ----------------------------------------------------------------------
#
# A statement that reads or locks "these keys" binds them as arrays, never as an IN list or
# a VALUES list of literals: the statement is then the same whatever the keys, so SQLAlchemy
# compiles it once and PostgreSQL prepares it once per connection. An IN list is rendered
# anew on every call (one placeholder per key) and prepared anew for every new length; a
# VALUES list of literals is compiled anew on every call. At month end that compilation
# cost more than PostgreSQL's own work.


def any_of(column: Any, values: Iterable[Any]) -> sa.ColumnElement[bool]:
    """`column IN values` as `column = ANY(:array)`, one array parameter."""
    return cast(
        sa.ColumnElement[bool],
        column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type))),
    )


def keyed_rows(name: str, keys: Sequence[tuple[object, ...]], *types: Any) -> Any:
    """The keys as rows `name(i, c0, c1, …)`, `i` their position: one array parameter per
    column, unnested (a table-valued FROM, to join or probe with)."""
    columns = [list(column) for column in zip(*keys, strict=True)] or [[] for _ in types]
    # unique: two sets of keys of the same name in one statement keep their own values
    arrays = [
        sa.bindparam(f"{name}_i", list(range(len(keys))), type_=ARRAY(sa.Integer), unique=True)
    ]
    arrays += [
        sa.bindparam(f"{name}_c{n}", column, type_=ARRAY(t), unique=True)
        for n, (column, t) in enumerate(zip(columns, types, strict=True))
    ]
    return (
        sa.func.unnest(*arrays)
        .table_valued(
            sa.column("i", sa.Integer), *(sa.column(f"c{n}", t) for n, t in enumerate(types))
        )
        .render_derived(name=name)
    )


def tuple_in(columns: Sequence[Any], keys: Iterable[tuple[object, ...]]) -> sa.ColumnElement[bool]:
    """`(a, b, …) IN keys` with the keys bound as one array per column (`keyed_rows`)."""
    name = "k_" + "_".join(c.key for c in columns)
    rows = keyed_rows(name, list(keys), *(c.type for c in columns))
    selected = sa.select(*(rows.c[f"c{n}"] for n in range(len(columns))))
    return sa.tuple_(*columns).in_(selected)
