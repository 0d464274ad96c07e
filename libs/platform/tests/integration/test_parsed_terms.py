"""Parsed contract terms: a stored version is parsed once per process, and a version stored
again under another receipt (another database served by the same process) is never
answered from the first one's entry."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_platform.contract_terms import (
    attach_contract_terms_table,
    contract_terms_table,
    parsed_terms,
    record_terms,
)
from crm_platform.db import make_engine, make_session_factory
from crm_platform.settings import ServiceSettings
from crm_testing import examples


class _Settings(ServiceSettings):
    service_name: str = "parsed-terms-test"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(_Settings(database_url=database_url))
    metadata = sa.MetaData()
    attach_contract_terms_table(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def _keys(session: Any) -> list[Any]:
    t = contract_terms_table
    rows = await session.execute(sa.select(t.c.contract_id, t.c.version, t.c.received_at))
    return [tuple(r) for r in rows]


async def test_a_version_is_read_once_and_a_new_receipt_is_read_again(
    engine: AsyncEngine,
) -> None:
    statements: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: statements.append(statement),
    )
    factory = make_session_factory(engine)
    terms = examples.contract_terms()
    async with factory() as session, session.begin():
        await record_terms(session, terms, "active")
    async with factory() as session, session.begin():
        [key] = await _keys(session)
        first = await parsed_terms(session, [key])
        assert first == {key: terms}  # written (orjson) and read back unchanged

        statements.clear()
        again = await parsed_terms(session, [key])
        assert again[key] is first[key]
        assert statements == []  # from the cache: no statement at all

    # The same contract id and version received again with other terms (another database,
    # or a test that reuses ids): its own receipt, read and parsed afresh.
    changed = terms.model_copy(update={"reference": "OTHER-REF"})
    async with factory() as session, session.begin():
        await session.execute(sa.delete(contract_terms_table))
        await session.execute(sa.select(sa.func.pg_sleep(0.01)))
    async with factory() as session, session.begin():
        await record_terms(session, changed, "active")
    async with factory() as session, session.begin():
        [new_key] = await _keys(session)
        assert new_key != key
        statements.clear()
        found = await parsed_terms(session, [new_key])
        assert found[new_key].reference == "OTHER-REF"
        assert len(statements) == 1


async def test_versions_not_stored_are_left_out(engine: AsyncEngine) -> None:
    factory = make_session_factory(engine)
    terms = examples.contract_terms()
    async with factory() as session, session.begin():
        await record_terms(session, terms, "active")
        [key] = await _keys(session)
        missing = (key[0], 2, key[2])
        found = await parsed_terms(session, [key, missing])
    assert set(found) == {key}
