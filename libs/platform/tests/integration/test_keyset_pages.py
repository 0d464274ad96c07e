"""Keyset pages on a real PostgreSQL: walking a list while rows are inserted anywhere in
its order neither repeats nor skips a row that was there when the walk began."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page

metadata = sa.MetaData()
items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("bucket", sa.Text, nullable=True),
)
START = datetime(2026, 3, 1, tzinfo=UTC)

NEWEST_FIRST = Keyset(
    "items", SortKey(items.c.raised_at, descending=True), SortKey(items.c.id, descending=True)
)
BY_BUCKET = Keyset(
    "by-bucket",
    SortKey(items.c.bucket, if_null=""),
    SortKey(items.c.raised_at, descending=True),
    SortKey(items.c.id),
)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


def _rows(rng: random.Random, n: int) -> list[dict[str, object]]:
    # Few distinct instants and buckets: ties are the point.
    return [
        {
            "id": uuid.UUID(int=rng.getrandbits(128)),
            "raised_at": START + timedelta(minutes=rng.randrange(5)),
            "bucket": rng.choice([None, "a", "b"]),
        }
        for _ in range(n)
    ]


@pytest.mark.parametrize("keyset", [NEWEST_FIRST, BY_BUCKET], ids=lambda k: k.name)
async def test_a_walk_meets_every_row_once_while_rows_are_inserted(
    sessions: async_sessionmaker[AsyncSession], keyset: Keyset
) -> None:
    rng = random.Random(20261202)
    before = _rows(rng, 40)
    async with sessions.begin() as session:
        await session.execute(sa.insert(items), before)
    seen: list[uuid.UUID] = []
    cursor = None
    pages = 0
    while True:
        async with sessions.begin() as session:
            rows, cursor = await fetch_page(
                session, sa.select(items), keyset, PageRequest(cursor=cursor, limit=3)
            )
            # Concurrent writers: new rows land before, inside and after the walk's position.
            await session.execute(sa.insert(items), _rows(rng, 2))
        seen += [r.id for r in rows]
        pages += 1
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "an item came twice"
    assert {r["id"] for r in before} <= set(seen), "an item that was there was skipped"
    assert pages >= 14
    async with sessions() as session:
        ordered = (await session.execute(sa.select(items).order_by(*keyset.order_by()))).all()
    expected = [r.id for r in ordered if r.id in set(seen)]
    assert seen == expected, "pages are in the list's order"
