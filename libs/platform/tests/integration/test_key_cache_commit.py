"""`invalidate_after_commit` on a real PostgreSQL session: what a request read while the
revoking transaction was open is dropped when it commits; a rolled-back revocation drops
nothing more."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from crm_platform.keycache import CachedKey, KeyCache, invalidate_after_commit, sha256_hex


def key(key_id: str) -> CachedKey:
    return CachedKey(key_id, "acme", frozenset({"sla:read"}), sha256_hex("s"), None)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(database_url)
    yield async_sessionmaker(engine)
    await engine.dispose()


async def test_a_read_during_the_revoking_transaction_is_dropped_at_its_commit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    cache = KeyCache(ttl_seconds=60, max_entries=10)
    cache.put(key("a"), cache.ticket())
    async with sessions() as session, session.begin():
        invalidate_after_commit(session, cache, "a")
        assert cache.get("a") is None  # dropped at once too
        # A request reads the row before the revocation commits (it sees it unrevoked)...
        cache.put(key("a"), cache.ticket())
        assert cache.get("a") is not None
    # ...and the commit drops what it kept.
    assert cache.get("a") is None


async def test_a_rolled_back_revocation_drops_nothing_more(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    cache = KeyCache(ttl_seconds=60, max_entries=10)
    async with sessions() as session, session.begin():
        invalidate_after_commit(session, cache, "a")
        cache.put(key("a"), cache.ticket())
        await session.rollback()
    assert cache.get("a") is not None


async def test_the_drop_happens_at_the_first_commit_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    cache = KeyCache(ttl_seconds=60, max_entries=10)
    async with sessions() as session:
        async with session.begin():
            invalidate_after_commit(session, cache, "a")
        cache.put(key("a"), cache.ticket())
        async with session.begin():
            pass  # a later transaction of the same session is not the revocation's
        assert cache.get("a") is not None
