"""Checking a service's audit log (crm_platform.audit) from an integration test: issue a
key the service accepts, read `GET /audit` to the end, find the `audit.recorded` event an
audit row put in the outbox."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from crm_events.schemas.access import ApiKeyIssued
from crm_events.tables import outbox_table
from crm_platform.apikeys import new_key, record_issued, sha256_hex
from crm_platform.audit import audit_table
from crm_testing.auth import bearer


@dataclass
class AuditLog:
    """The audit log of one running service (`app`, reached through `client`)."""

    app: FastAPI
    client: httpx.AsyncClient

    async def key(
        self, *scopes: str, tenant_id: str | None = "acme-bank"
    ) -> tuple[str, dict[str, str]]:
        """A key this service accepts (as if access.v1 had brought it): its id and the
        headers that send it."""
        key_id, secret, raw = new_key()
        event = ApiKeyIssued(
            key_id=key_id,
            name=f"audit test {key_id}",
            tenant_id=tenant_id,
            scopes=list(scopes),
            secret_sha256=sha256_hex(secret),
            issued_at=datetime.now(UTC),
        )
        async with self.app.state.session_factory() as session, session.begin():
            await record_issued(session, event)
        return key_id, bearer(raw)

    async def entries(
        self, headers: dict[str, str] | None = None, *, limit: int = 2, **filters: Any
    ) -> list[dict[str, Any]]:
        """Every entry `GET /audit` answers with these filters, paged to the end (small
        pages, so paging is exercised too)."""
        params: dict[str, Any] = {k: str(v) for k, v in filters.items()} | {"limit": limit}
        items: list[dict[str, Any]] = []
        while True:
            r = await self.client.get("/audit", params=params, headers=headers or {})
            assert r.status_code == 200, r.text
            body = r.json()
            items += body["items"]
            if body["next_cursor"] is None:
                return items
            params["cursor"] = body["next_cursor"]

    async def rows(self, **where: Any) -> list[dict[str, Any]]:
        """The stored rows (straight from the table), for what GET must not hide."""
        t = audit_table
        query = sa.select(t).where(*(t.c[name] == value for name, value in where.items()))
        async with self.app.state.session_factory() as session:
            return [dict(r._mapping) for r in (await session.execute(query)).all()]

    async def event(self, audit_id: str | uuid.UUID) -> dict[str, Any]:
        """The `audit.recorded` envelope of an audit row, as its outbox holds it."""
        o = outbox_table
        query = sa.select(o.c.value, o.c.topic, o.c.key).where(
            o.c.event_type == "audit.recorded", o.c.value.contains(str(audit_id))
        )
        async with self.app.state.session_factory() as session:
            for value, topic, key in (await session.execute(query)).all():
                envelope: dict[str, Any] = json.loads(value)
                if envelope["data"]["audit_id"] == str(audit_id):
                    return {**envelope, "topic": topic, "key": key}
        raise AssertionError(f"no audit.recorded event for audit row {audit_id} in the outbox")
