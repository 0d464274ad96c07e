"""Key sets bound as arrays (`crm_platform.db`) on a real PostgreSQL: `any_of` and
`tuple_in` select exactly the rows an `IN` list selects, for any set of keys (none, one,
repeated, unknown), and the statement is the same whatever the number of keys, so it is
compiled once."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crm_platform.db import any_of, keyed_rows, tuple_in

metadata = sa.MetaData()
rows_table = sa.Table(
    "keyed",
    metadata,
    sa.Column("contract_id", sa.Uuid, primary_key=True),
    sa.Column("period_label", sa.Text, primary_key=True),
    sa.Column("amount", sa.Numeric(18, 2), nullable=False),
)
t = rows_table.c
CONTRACTS = [uuid.UUID(int=n + 1) for n in range(12)]
PERIODS = ["2026-01", "2026-02", "2026-03", "2026-Q1"]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                sa.insert(rows_table),
                [
                    {"contract_id": c, "period_label": p, "amount": n}
                    for n, (c, p) in enumerate((c, p) for c in CONTRACTS for p in PERIODS)
                    if n % 3  # some pairs missing
                ],
            )
        yield engine
    finally:
        await engine.dispose()


async def _ids(engine: AsyncEngine, where: sa.ColumnElement[bool]) -> set[tuple[object, ...]]:
    async with engine.connect() as conn:
        found = await conn.execute(sa.select(t.contract_id, t.period_label).where(where))
        return {tuple(r) for r in found}


async def test_any_of_and_tuple_in_select_what_an_in_list_selects(engine: AsyncEngine) -> None:
    rng = random.Random(7)
    unknown = uuid.uuid4()
    for _ in range(40):
        contracts = rng.sample([*CONTRACTS, unknown], rng.randrange(0, 6))
        pairs = [(rng.choice([*CONTRACTS, unknown]), rng.choice(PERIODS)) for _ in range(5)]
        pairs = rng.sample(pairs + pairs[:2], rng.randrange(0, 8))  # repeats, any count
        assert await _ids(engine, any_of(t.contract_id, contracts)) == await _ids(
            engine, t.contract_id.in_(contracts)
        )
        assert await _ids(engine, tuple_in((t.contract_id, t.period_label), pairs)) == await _ids(
            engine, sa.tuple_(t.contract_id, t.period_label).in_(pairs)
        )


async def test_two_key_sets_in_one_statement_keep_their_own_keys(engine: AsyncEngine) -> None:
    key = (t.contract_id, t.period_label)
    first = [(CONTRACTS[2], "2026-01"), (CONTRACTS[2], "2026-03")]
    second = [(CONTRACTS[2], "2026-03"), (CONTRACTS[2], "2026-Q1")]
    assert await _ids(engine, tuple_in(key, first)) == set(first)  # all stored
    assert await _ids(engine, tuple_in(key, second)) == set(second)
    both = sa.and_(tuple_in(key, first), tuple_in(key, second))
    assert await _ids(engine, both) == {(CONTRACTS[2], "2026-03")}


async def test_keyed_rows_keep_their_positions(engine: AsyncEngine) -> None:
    keys = [(CONTRACTS[3], "2026-03"), (CONTRACTS[0], "2026-01"), (CONTRACTS[3], "2026-03")]
    v = keyed_rows("v", keys, sa.Uuid, sa.Text)
    async with engine.connect() as conn:
        found = (await conn.execute(sa.select(v.c.i, v.c.c0, v.c.c1).order_by(v.c.i))).all()
    assert [tuple(r) for r in found] == [(i, *k) for i, k in enumerate(keys)]


def test_the_statement_is_the_same_whatever_the_number_of_keys() -> None:
    """What SQLAlchemy caches a compiled statement under does not depend on the keys (an
    `IN` list's does not either, but its SQL is rendered again for every length)."""

    def key_of(n: int) -> object:
        pairs = [(CONTRACTS[i % 12], PERIODS[i % 4]) for i in range(n)]
        query = sa.select(t.amount).where(
            any_of(t.contract_id, [c for c, _ in pairs]),
            tuple_in((t.contract_id, t.period_label), pairs),
        )
        cache_key = query._generate_cache_key()
        assert cache_key is not None
        return cache_key.key

    assert key_of(1) == key_of(3) == key_of(11)
    sql = {
        str(
            sa.select(t.amount)
            .where(any_of(t.contract_id, CONTRACTS[:n]))
            .compile(compile_kwargs={"render_postcompile": True})
        )
        for n in (1, 5)
    }
    assert len(sql) == 1
