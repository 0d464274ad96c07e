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
    record_terms_many,
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


def _statements_of(engine: AsyncEngine) -> list[str]:
    """The SQL statements the engine sends from now on."""
    statements: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: statements.append(statement),
    )
    return statements


async def _keys(session: Any) -> list[Any]:
    t = contract_terms_table
    rows = await session.execute(sa.select(t.c.contract_id, t.c.version, t.c.received_at))
    return [tuple(r) for r in rows]


async def test_a_version_is_parsed_once_and_a_new_receipt_is_read_again(
    engine: AsyncEngine,
) -> None:
    statements = _statements_of(engine)
    factory = make_session_factory(engine)
    terms = examples.contract_terms()
    async with factory() as session, session.begin():
        await record_terms_many(session, [(terms, "active")], keep_parsed=True)
    async with factory() as session, session.begin():
        [key] = await _keys(session)
        statements.clear()
        # Stored from an event here, kept parsed: the event's payload, no statement.
        assert await parsed_terms(session, [key]) == {key: terms}
        assert statements == []

    # The same contract id and version received again with other terms (another database,
    # or a test that reuses ids), written by another process: its own receipt, read and
    # parsed once (the JSON written through orjson and read back unchanged).
    changed = terms.model_copy(update={"reference": "OTHER-REF"})
    async with factory() as session, session.begin():
        await session.execute(sa.delete(contract_terms_table))
    async with factory() as session, session.begin():
        await session.execute(
            sa.insert(contract_terms_table).values(
                contract_id=changed.contract_id,
                version=changed.version,
                tenant_id=changed.tenant_id,
                effective_from=changed.effective_from,
                status="active",
                terms=changed.model_dump(mode="json"),
            )
        )
    async with factory() as session, session.begin():
        [new_key] = await _keys(session)
        assert new_key != key
        statements.clear()
        found = await parsed_terms(session, [new_key])
        assert found == {new_key: changed}
        assert len(statements) == 1
        statements.clear()
        again = await parsed_terms(session, [new_key])
        assert again[new_key] is found[new_key]
        assert statements == []


async def test_versions_not_stored_are_left_out(engine: AsyncEngine) -> None:
    factory = make_session_factory(engine)
    terms = examples.contract_terms()
    async with factory() as session, session.begin():
        await record_terms(session, terms, "active")
        [key] = await _keys(session)
        missing = (key[0], 2, key[2])
        found = await parsed_terms(session, [key, missing])
    assert set(found) == {key}


async def test_a_service_that_does_not_keep_them_parsed_reads_them_when_asked(
    engine: AsyncEngine,
) -> None:
    statements = _statements_of(engine)
    factory = make_session_factory(engine)
    terms = examples.contract_terms()
    async with factory() as session, session.begin():
        await record_terms(session, terms, "active")  # keep_parsed off
        [key] = await _keys(session)
        statements.clear()
        assert await parsed_terms(session, [key]) == {key: terms}
        assert len(statements) == 1
