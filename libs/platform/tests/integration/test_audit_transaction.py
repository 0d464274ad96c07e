"""`crm_platform.audit` on a real PostgreSQL session: the audit row and its audit.recorded
outbox event commit with the action's transaction or roll back with it; snapshots drop
secrets; an action without an authenticated caller is refused, not recorded anonymously."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from starlette.requests import Request

from crm_events.tables import attach_messaging_tables, outbox_table
from crm_platform.audit import Audit, attach_audit_table, audit_table, snapshot
from crm_platform.auth import Principal
from crm_platform.clock import FixedClock
from crm_platform.emitter import RequestEmitter
from crm_testing.infra import create_database, drop_database

AT = datetime(2026, 4, 4, 12, tzinfo=UTC)


@pytest.fixture
async def sessions(postgres_server_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = await create_database(postgres_server_url, "t_platform_audit")
    engine = create_async_engine(url)
    metadata = sa.MetaData()
    attach_messaging_tables(metadata)
    attach_audit_table(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield async_sessionmaker(engine)
    await engine.dispose()
    await drop_database(postgres_server_url, url)


def audit_in(session: AsyncSession, principal: Principal | None) -> Audit:
    request = Request({"type": "http", "state": {"principal": principal} if principal else {}})
    emit = RequestEmitter(session, "sla-monitor", "corr-1")
    return Audit(session, emit, FixedClock(AT), request)


OPERATOR = Principal(tenant_id="acme-bank", scopes=frozenset({"sla:write"}), key_id="0a1b2c3d4e5f")


async def record(audit: Audit, contract_id: uuid.UUID) -> uuid.UUID:
    entry = await audit.record(
        action="sla_period.close",
        subject_type="sla_period",
        subject_id="AVAIL-CORE/2026-03",
        tenant_id="acme-bank",
        contract_id=contract_id,
        before={"status": "open"},
        after={"status": "closed", "attainment": "99.4609"},
    )
    return entry.audit_id


async def counts(
    sessions: async_sessionmaker[AsyncSession], audit_id: uuid.UUID
) -> tuple[int, int]:
    async with sessions() as session:
        rows = await session.scalar(
            sa.select(sa.func.count()).select_from(audit_table).where(audit_table.c.id == audit_id)
        )
        events = await session.scalar(
            sa.select(sa.func.count())
            .select_from(outbox_table)
            .where(outbox_table.c.value.contains(str(audit_id)))
        )
    return int(rows or 0), int(events or 0)


async def test_the_row_and_its_event_commit_with_the_action(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    contract_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        audit_id = await record(audit_in(session, OPERATOR), contract_id)
    assert await counts(sessions, audit_id) == (1, 1)
    async with sessions() as session:
        row = (await session.execute(sa.select(audit_table))).one()
        value = await session.scalar(sa.select(outbox_table.c.value))
    envelope = json.loads(str(value))
    assert (row.actor_key_id, row.recorded_at, row.event_id) == ("0a1b2c3d4e5f", AT, envelope["id"])
    assert (envelope["type"], envelope["subject"], envelope["source"]) == (
        "audit.recorded",
        str(contract_id),
        "sla-monitor",
    )
    assert envelope["data"]["after"] == {"status": "closed", "attainment": "99.4609"}


async def test_a_rolled_back_action_leaves_neither_row_nor_event(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(RuntimeError, match="the action failed"):
        async with sessions() as session, session.begin():
            audit_id = await record(audit_in(session, OPERATOR), uuid.uuid4())
            raise RuntimeError("the action failed after it was audited")
    assert await counts(sessions, audit_id) == (0, 0)


async def test_an_action_without_a_caller_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        with pytest.raises(RuntimeError, match="authenticated caller"):
            await record(audit_in(session, None), uuid.uuid4())


def test_snapshots_never_hold_secrets() -> None:
    webhook = {
        "url": "https://hooks.example.com",
        "secret": "whsec_abc",
        "previous_secret": "whsec_old",
        "previous_secret_expires_at": AT,
        "nested": [{"api_key": "crm_x_y", "token": "t", "service_key": "svc-1"}],
    }
    assert snapshot(webhook) == {
        "url": "https://hooks.example.com",
        "previous_secret_expires_at": "2026-04-04T12:00:00Z",
        "nested": [{"service_key": "svc-1"}],
    }
    assert snapshot(None) is None
