"""Engine, session factory and the request-scoped unit of work.

The session dependency commits when the route returns and rolls back when it raises;
services never call `commit()`. Its scope is "function" so the commit happens before the
response is sent: a client never sees 2xx for a transaction that then failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

import orjson
import sqlalchemy as sa
from fastapi import Depends, Request
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
