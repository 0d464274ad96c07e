"""`Idempotency-Key` on POST: a retried request returns the first response.

The key row is inserted in the same transaction as the request's effect. A concurrent
duplicate blocks on the unique key until the first transaction ends, then reads its
stored response; a failed first attempt leaves no row, so a retry runs again. The same key
with a different body is refused (422) rather than silently answered with the old result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from crm_platform.auth import AuthenticatedPrincipal
from crm_platform.db import SessionDep
from crm_platform.errors import Unprocessable

IDEMPOTENCY = "idempotency_keys"


def _columns() -> list[Any]:
    return [
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("response", JSONB, nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


def attach_idempotency_table(metadata: sa.MetaData) -> sa.Table:
    if IDEMPOTENCY in metadata.tables:
        return metadata.tables[IDEMPOTENCY]
    return sa.Table(IDEMPOTENCY, metadata, *_columns())


def create_idempotency_table(op: Any) -> None:
    op.create_table(IDEMPOTENCY, *_columns())


idempotency_table = attach_idempotency_table(sa.MetaData())

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Any unique string (a UUID is best). Retrying the same request with "
        "the same key returns the first response instead of doing the work twice.",
    ),
]


STREAMING = "streaming"  # the fingerprint of a claim whose body is still being read


async def claim(session: Any, scope: str, key: str, fingerprint: str) -> Any | None:
    """Take `key` for this request; None when it is ours, else the stored row (another
    request with this key committed first, or is being answered and we waited for it)."""
    table = idempotency_table
    inserted = await session.scalar(
        pg_insert(table)
        .values(scope=scope, key=key, fingerprint=fingerprint)
        .on_conflict_do_nothing()
        .returning(table.c.key)
    )
    if inserted is not None:
        return None
    return (
        await session.execute(
            sa.select(table.c.fingerprint, table.c.status_code, table.c.response).where(
                table.c.scope == scope, table.c.key == key
            )
        )
    ).one()


def replay(row: Any, fingerprint: str) -> JSONResponse:
    """The first response to a retry; 422 when the key came with another request."""
    if row.fingerprint != fingerprint:
        raise Unprocessable(
            "Idempotency-Key was already used with a different request; "
            "use a new key for a new request",
            details=[{"loc": "header.Idempotency-Key", "message": "reused"}],
            code="idempotency_key_reused",
        )
    return JSONResponse(
        row.response, status_code=row.status_code, headers={"Idempotent-Replayed": "true"}
    )


async def remember(
    session: Any, scope: str, key: str, fingerprint: str, status_code: int, body: Any
) -> None:
    """Store the response of a claimed key (in the request's transaction)."""
    table = idempotency_table
    await session.execute(
        sa.update(table)
        .where(table.c.scope == scope, table.c.key == key)
        .values(fingerprint=fingerprint, status_code=status_code, response=body)
    )


class Idempotency:
    def __init__(self, session: Any, scope: str, key: str | None, fingerprint: str) -> None:
        self._session = session
        self._scope = scope
        self._key = key
        self._fingerprint = fingerprint

    async def run(
        self, work: Callable[[], Awaitable[Any]], *, status_code: int = 200
    ) -> JSONResponse:
        if self._key is None:
            return JSONResponse(jsonable_encoder(await work()), status_code=status_code)
        earlier = await claim(self._session, self._scope, self._key, self._fingerprint)
        if earlier is not None:
            return replay(earlier, self._fingerprint)
        body = jsonable_encoder(await work())
        await remember(self._session, self._scope, self._key, self._fingerprint, status_code, body)
        return JSONResponse(body, status_code=status_code)


async def _idempotency(
    request: Request,
    session: SessionDep,
    principal: AuthenticatedPrincipal,
    key: IdempotencyKeyHeader = None,
) -> Idempotency:
    raw = await request.body()
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path}\n".encode())
    digest.update(raw)
    return Idempotency(session, principal.tenant_id or "*", key, digest.hexdigest())


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency, scope="function")]


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
