"""`Idempotency-Key` on POST: a retried request returns the first response.

Every POST of every service either honours the key (`IdempotencyDep`, or `idempotent(...)`)
or refuses it with 400 (`refuse_idempotency_key(why)`); none ignores it.

The key is claimed before the route runs, in the request's transaction, and the response is
stored in that same transaction. A retry with the same key and the same request (method,
path, query and body bytes) gets the stored response at once, marked `Idempotent-Replayed:
true`; the same key with another request is refused (422). A concurrent duplicate blocks on
the unique key until the first transaction ends, then reads its stored response; a failed
first attempt leaves no row, so a retry runs again.

Keys are scoped to the caller's tenant. A response that carries a secret shown once (an API
key, a webhook signing secret) is scoped to the calling API key and stored without the
secret: its replay says the same resource with the secret null, never a second one.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import Counter
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from crm_platform.auth import AuthenticatedPrincipal, Principal
from crm_platform.db import SessionDep
from crm_platform.errors import EarlyResponse, ServiceError, Unprocessable

IDEMPOTENCY = "idempotency_keys"
HEADER = "Idempotency-Key"

# The stored responses act as a cache of first answers: a hit is a replayed retry, a miss a
# key seen for the first time, a conflict a key reused with another request (422).
LOOKUPS = Counter("crm_idempotency_lookups_total", "Idempotency-Key lookups", ["result"])


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

KEY_DESCRIPTION = (
    "Any unique string (a UUID is best), at most 200 characters. Retrying the same request "
    "(same method, path, query and body) with the same key returns the first response, "
    "marked `Idempotent-Replayed: true`, instead of doing the work twice; the same key with "
    "another request is refused (422 `idempotency_key_reused`). Keys are scoped to the "
    "caller's tenant."
)

IdempotencyKeyHeader = Annotated[
    str | None, Header(alias=HEADER, min_length=1, max_length=200, description=KEY_DESCRIPTION)
]


STREAMING = "streaming"  # the fingerprint of a claim whose body is still being read


def new_digest(method: str, target: str) -> Any:
    """The start of a request's fingerprint (`target` is the path with its query string);
    the body's bytes follow with `.update()`."""
    return hashlib.sha256(f"{method} {target}\n".encode())


def request_target(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def fingerprint(method: str, target: str, body: bytes) -> str:
    digest = new_digest(method, target)
    digest.update(body)
    return str(digest.hexdigest())


def key_scope(principal: Principal, *, per_caller: bool = False) -> str:
    """Whose keys a key is checked against: the tenant's, or one API key's."""
    tenant = principal.tenant_id or "*"
    return f"{tenant} key:{principal.key_id}" if per_caller else tenant


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
    """A claimed key (or none): `run` does the work and stores its response under the key."""

    def __init__(
        self,
        session: Any,
        scope: str,
        key: str | None,
        fingerprint: str,
        shown_once: Sequence[str] = (),
    ) -> None:
        self._session = session
        self._scope = scope
        self._key = key
        self._fingerprint = fingerprint
        self._shown_once = tuple(shown_once)

    async def run(
        self, work: Awaitable[Any] | Callable[[], Awaitable[Any]], *, status_code: int = 200
    ) -> JSONResponse:
        """Await the work (the service call, or a function making it), answer its result and
        store it under the key."""
        body = jsonable_encoder(await (work() if callable(work) else work))
        if self._key is not None:
            stored = {**body, **dict.fromkeys(self._shown_once)} if self._shown_once else body
            await remember(
                self._session, self._scope, self._key, self._fingerprint, status_code, stored
            )
        return JSONResponse(body, status_code=status_code)


def idempotent(*, shown_once: Sequence[str] = ()) -> Any:
    """The dependency of a POST that honours `Idempotency-Key`: claims the key before the
    route runs and answers a retry with the stored response at once. `shown_once` names the
    response fields holding a secret shown once (see the module's docstring).

    Declare it after the route's principal: the scope check comes first, so a caller
    without the route's scope never sees a stored response."""
    fields = tuple(shown_once)
    description = KEY_DESCRIPTION
    if fields:
        description += (
            " Here the key is scoped to the calling API key, and the response is stored "
            f"without {', '.join(f'`{f}`' for f in fields)}: a replay returns the same "
            "resource with it null (it was shown once; nothing is created twice)."
        )

    async def claim_key(
        request: Request,
        session: SessionDep,
        principal: AuthenticatedPrincipal,
        key: Annotated[
            str | None,
            Header(alias=HEADER, min_length=1, max_length=200, description=description),
        ] = None,
    ) -> Idempotency:
        scope = key_scope(principal, per_caller=bool(fields))
        target = request_target(request)
        body_fingerprint = fingerprint(request.method, target, await request.body())
        if key is not None:
            if not getattr(request.state, "scope_checked", False):
                raise RuntimeError("declare the route's principal before its idempotency key")
            earlier = await claim(session, scope, key, body_fingerprint)
            if earlier is None:
                LOOKUPS.labels("miss").inc()
            else:
                same = earlier.fingerprint == body_fingerprint
                LOOKUPS.labels("hit" if same else "conflict").inc()
                raise EarlyResponse(replay(earlier, body_fingerprint))
        return Idempotency(session, scope, key, body_fingerprint, fields)

    return Depends(claim_key, scope="function")


IdempotencyDep = Annotated[Idempotency, idempotent()]


class IdempotencyKeyNotSupported(ServiceError):
    status_code = 400
    code = "idempotency_key_not_supported"


def refuse_idempotency_key(why: str) -> Any:
    """The dependency of a POST where a key makes no sense: a request that sends one is
    refused (400) rather than silently run without it. `why` says so in the docs and the
    error."""

    async def refuse(
        key: Annotated[
            str | None,
            Header(
                alias=HEADER,
                description=f"Not accepted here: {why} A request that sends it is refused "
                "(400 `idempotency_key_not_supported`).",
            ),
        ] = None,
    ) -> None:
        if key is not None:
            raise IdempotencyKeyNotSupported(
                f"Idempotency-Key is not supported here: {why} Send the request without it.",
                details=[{"loc": "header.Idempotency-Key", "message": "not supported here"}],
            )

    refuse.refuses_idempotency_key = True  # type: ignore[attr-defined]
    return Depends(refuse)


_REFUSAL_RESPONSE = {
    "description": "`Idempotency-Key` was sent where it is not supported "
    "(`idempotency_key_not_supported`).",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}


def _refuses(dependant: Any) -> bool:
    return any(
        getattr(d.call, "refuses_idempotency_key", False) or _refuses(d)
        for d in dependant.dependencies
    )


def document_refusals(router: APIRouter) -> None:
    """Document the 400 on each of the router's routes that refuse the key (before the
    router is included in an app)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and _refuses(route.dependant):
            route.responses.setdefault(400, _REFUSAL_RESPONSE)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
