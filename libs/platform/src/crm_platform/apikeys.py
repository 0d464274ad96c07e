"""API keys: issued and revoked by an administrator on contract-registry, accepted by every
service.

A key reads `crm_<key id>_<secret>`. Only the SHA-256 of the secret is stored (the secret is
256 random bits, so a fast hash is as safe as a slow one) and only the hash travels on
`access.v1`; every service keeps the keys it accepts in its own `api_keys` table, fed by the
events. The key is shown once, when it is issued.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Request, Security
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.consumer import EventContext, Handlers
from crm_events.schemas.access import ApiKeyIssued, ApiKeyRevoked
from crm_events.types import Instant
from crm_platform.audit import Audit, AuditDep
from crm_platform.auth import Principal, current_principal
from crm_platform.deps import ClockDep, EmitDep, SessionDep
from crm_platform.emitter import RequestEmitter
from crm_platform.errors import NotFound, Unprocessable
from crm_platform.idempotency import Idempotency, idempotent, refuse_idempotency_key
from crm_platform.keycache import CachedKey, KeyCache, invalidate_after_commit
from crm_platform.keycache import sha256_hex as sha256_hex  # where the services import it
from crm_platform.pagination import Keyset, Page, PageDep, PageRequest, SortKey, fetch_page

API_KEYS = "api_keys"

# Every check of a stored key, from memory or the table (crm_platform.keycache): valid or
# rejected; `crm_auth_key_cache_*` say which were read from the table, `crm_api_keys`
# (sampled) how many are kept.
KEY_LOOKUPS = Counter("crm_auth_key_lookups_total", "API key checks", ["result"])
KEY_PREFIX = "crm_"
# Calendar feed tokens (obligation-tracker) read `crmfeed_<feed id>_<secret>`: the same form
# under another prefix, so one can never pass for the other.
FEED_TOKEN_PREFIX = "crmfeed_"

SCOPES = {
    "admin": "Everything, including API key administration.",
    "contracts:read": "Read contracts, versions, handover briefs, health and benchmarks.",
    "contracts:write": "Create, edit, activate, amend, terminate, import contracts.",
    "telemetry:write": "Post telemetry to sla-monitor.",
    "sla:read": "Read attainment, scorecards and explanations.",
    "sla:write": "Close periods, approve maintenance windows.",
    "billing:read": "Read charges, credits, invoices, reconciliations and the leakage ledger.",
    "billing:write": "Post consumption and invoices; compute periods.",
    "obligations:read": "Read obligations, alerts, webhooks and calendars.",
    "obligations:write": "Fulfil, waive and assign obligations; manage rules and webhooks.",
    "audit:read": "Read the audit log of operator actions (GET /audit on every service).",
}


def _columns() -> list[Any]:
    return [
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=True),
        sa.Column("scopes", JSONB, nullable=False),
        sa.Column("secret_sha256", sa.Text, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text, nullable=True),
    ]


def attach_api_keys_table(metadata: sa.MetaData) -> sa.Table:
    if API_KEYS in metadata.tables:
        return metadata.tables[API_KEYS]
    return sa.Table(API_KEYS, metadata, *_columns())


def create_api_keys_table(op: Any) -> None:
    op.create_table(API_KEYS, *_columns())


api_keys_table = attach_api_keys_table(sa.MetaData())
API_KEYS_ORDER = Keyset(
    "api-keys", SortKey(api_keys_table.c.issued_at), SortKey(api_keys_table.c.key_id)
)


def new_key(prefix: str = KEY_PREFIX) -> tuple[str, str, str]:
    """A fresh key: (key id, secret, the key as the client sends it)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, secret, f"{prefix}{key_id}_{secret}"


def parse_key(raw: str, prefix: str = KEY_PREFIX) -> tuple[str, str] | None:
    """(key id, secret) of a key in the form `new_key` makes; None for anything else."""
    if not raw.startswith(prefix):
        return None
    key_id, sep, secret = raw[len(prefix) :].partition("_")
    if not sep or len(key_id) != 12 or not secret:
        return None
    return key_id, secret


async def find_key(
    cache: KeyCache, sessions: Callable[[], AsyncSession], raw: str, now: datetime
) -> CachedKey | None:
    """The stored key a client presented, if it is valid now (known, matching, not revoked
    or expired); None otherwise. Read from `cache` when it holds the key id, else from the
    table through a session of `sessions` (and kept in `cache`)."""
    key = await _presented_key(cache, sessions, raw)
    valid = key is not None and key.valid_at(now)
    KEY_LOOKUPS.labels("valid" if valid else "rejected").inc()
    return key if valid else None


async def _presented_key(
    cache: KeyCache, sessions: Callable[[], AsyncSession], raw: str
) -> CachedKey | None:
    parsed = parse_key(raw)
    if parsed is None:
        return None
    key_id, secret = parsed
    key = cache.get(key_id)
    if key is None:
        ticket = cache.ticket()
        async with sessions() as session:
            key = await stored_key(session, key_id)
        if key is not None:
            cache.put(key, ticket)
    return key if key is not None and key.matches(secret) else None


async def stored_key(session: AsyncSession, key_id: str) -> CachedKey | None:
    """The key's row, unless it is missing or revoked (expiry is checked per request)."""
    t = api_keys_table
    row = (await session.execute(sa.select(t).where(t.c.key_id == key_id))).first()
    if row is None or row.revoked_at is not None:
        return None
    return CachedKey(
        key_id=row.key_id,
        tenant_id=row.tenant_id,
        scopes=frozenset(row.scopes),
        secret_sha256=row.secret_sha256,
        expires_at=row.expires_at,
    )


async def record_issued(session: AsyncSession, event: ApiKeyIssued) -> None:
    await session.execute(
        pg_insert(api_keys_table)
        .values(
            key_id=event.key_id,
            name=event.name,
            tenant_id=event.tenant_id,
            scopes=event.scopes,
            secret_sha256=event.secret_sha256,
            issued_at=event.issued_at,
            expires_at=event.expires_at,
        )
        .on_conflict_do_nothing()
    )


async def record_revoked(session: AsyncSession, event: ApiKeyRevoked) -> bool:
    t = api_keys_table
    result = await session.execute(
        sa.update(t)
        .where(t.c.key_id == event.key_id, t.c.revoked_at.is_(None))
        .values(revoked_at=event.revoked_at, revoked_reason=event.reason)
        .returning(t.c.key_id)
    )
    return result.first() is not None


def access_handlers(cache: KeyCache) -> Handlers:
    """The access.v1 handlers of a service whose instance keeps verified keys in `cache`.

    An issued key needs nothing more (unknown keys are not cached); a revoked one leaves the
    cache once the revocation is committed, whether this event changed the row or the
    revoking request already had (contract-registry's own table)."""

    async def on_issued(ctx: EventContext, event: ApiKeyIssued) -> None:
        await record_issued(ctx.session, event)

    async def on_revoked(ctx: EventContext, event: ApiKeyRevoked) -> None:
        await record_revoked(ctx.session, event)
        invalidate_after_commit(ctx.session, cache, event.key_id)

    return {"api_key.issued": [on_issued], "api_key.revoked": [on_revoked]}


# --- administration (mounted by contract-registry) ---------------------------------------


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "acme ERP integration",
                    "tenant_id": "acme-bank",
                    "scopes": ["billing:read", "billing:write"],
                },
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    tenant_id: str | None = Field(
        default=None,
        max_length=100,
        description="The tenant the key acts for; omit for the supplier's operators (all). "
        "A request acting for one tenant (`X-Tenant-Id`, or a tenant's admin key) issues keys "
        "of that tenant only: omit it or name the same tenant.",
    )
    scopes: list[str] = Field(min_length=1, description="Scopes: " + ", ".join(SCOPES))
    expires_at: Instant | None = Field(
        default=None, description="When the key stops working; in the future. Omit: never."
    )

    @field_validator("scopes")
    @classmethod
    def _known(cls, scopes: list[str]) -> list[str]:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scope(s) {unknown}; known: {sorted(SCOPES)}")
        return sorted(set(scopes))


class ApiKeyRead(BaseModel):
    key_id: str
    name: str
    tenant_id: str | None
    scopes: list[str]
    issued_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None


class ApiKeyPage(Page[ApiKeyRead]):
    """A page of API keys."""


class ApiKeyIssuedRead(ApiKeyRead):
    api_key: str | None = Field(
        description="The key itself. Shown once: store it now. Null on an idempotent replay "
        "(`Idempotent-Replayed: true`): the key was issued by the first request and its secret "
        "is stored nowhere; revoke `key_id` and issue another if it was lost."
    )


class ApiKeyRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


REVOKE_IS_IDEMPOTENT = "revoking is idempotent by itself (a revoked key stays revoked)."

AdminPrincipal = Annotated[Principal, Security(current_principal, scopes=["admin"])]


def _read(row: Any) -> ApiKeyRead:
    return ApiKeyRead.model_validate(dict(row._mapping))


def issued_key_tenant(principal: Principal, requested: str | None) -> str | None:
    """The tenant a new key acts for. A caller acting for one tenant (its key's, or the one
    its `X-Tenant-Id` names) issues keys of that tenant only: a body naming another is
    refused (422), and one naming none gets that tenant. Only a caller acting for all
    tenants issues keys for any tenant, or for all (no `tenant_id`)."""
    if principal.all_tenants:
        return requested
    if requested is None or requested == principal.tenant_id:
        return principal.tenant_id
    raise Unprocessable(
        f"tenant_id {requested} differs from the tenant this request acts for "
        f"({principal.tenant_id}, from X-Tenant-Id or the API key): omit tenant_id or name "
        "the same tenant",
        details=[{"loc": "body.tenant_id", "message": "another tenant than X-Tenant-Id"}],
    )


def refuse_past_expiry(expires_at: datetime | None, now: datetime) -> None:
    """422 for an `expires_at` that is not in the future: such a key would never work."""
    if expires_at is not None and expires_at <= now:
        raise Unprocessable(
            f"expires_at {expires_at.isoformat()} is not in the future (now "
            f"{now.isoformat()}): a key that expired when issued would be refused at once",
            details=[{"loc": "body.expires_at", "message": "in the past"}],
        )


async def list_keys(*, session: AsyncSession, page: PageRequest) -> ApiKeyPage:
    """Oldest first, revoked ones included; never the secrets."""
    rows, next_cursor = await fetch_page(session, sa.select(api_keys_table), API_KEYS_ORDER, page)
    return ApiKeyPage(items=[_read(r) for r in rows], next_cursor=next_cursor)


async def revoke_key(
    *,
    session: AsyncSession,
    emit: RequestEmitter,
    cache: KeyCache,
    audit: Audit,
    key_id: str,
    revocation: ApiKeyRevoked,
) -> ApiKeyRead:
    t = api_keys_table
    row = (await session.execute(sa.select(t).where(t.c.key_id == key_id))).first()
    if row is None:
        raise NotFound(f"API key {key_id} not found")
    before = _read(row)
    if row.revoked_at is None:
        await record_revoked(session, revocation)
        # Refused by this instance from the response on (the session commits before it).
        invalidate_after_commit(session, cache, key_id)
        tenant = row.tenant_id or "*"
        await emit("api_key.revoked", subject=key_id, tenant=tenant, data=revocation)
    row = (await session.execute(sa.select(t).where(t.c.key_id == key_id))).one()
    if before.revoked_at is None:
        await audit.record(
            action="api_key.revoke",
            subject_type="api_key",
            subject_id=key_id,
            tenant_id=row.tenant_id,
            before=before,
            after=_read(row),
        )
    return _read(row)


async def issue_key(
    *,
    session: AsyncSession,
    emit: RequestEmitter,
    audit: Audit,
    body: ApiKeyCreate,
    tenant_id: str | None,
    issued_at: datetime,
) -> ApiKeyIssuedRead:
    """A new key: stored (as a hash), announced on access.v1, audited; the secret is in
    this answer only."""
    key_id, secret, key = new_key()
    event = ApiKeyIssued(
        key_id=key_id,
        name=body.name,
        tenant_id=tenant_id,
        scopes=body.scopes,
        secret_sha256=sha256_hex(secret),
        issued_at=issued_at,
        expires_at=body.expires_at,
    )
    await record_issued(session, event)
    await emit("api_key.issued", subject=key_id, tenant=tenant_id or "*", data=event)
    t = api_keys_table
    row = (await session.execute(sa.select(t).where(t.c.key_id == key_id))).one()
    await audit.record(
        action="api_key.issue",
        subject_type="api_key",
        subject_id=key_id,
        tenant_id=tenant_id,
        after=_read(row),
    )
    return ApiKeyIssuedRead(**_read(row).model_dump(), api_key=key)


def admin_router() -> APIRouter:
    router = APIRouter(prefix="/admin/api-keys", tags=["administration"])

    @router.post(
        "",
        operation_id="issueApiKey",
        status_code=201,
        response_model=ApiKeyIssuedRead,
        summary="Issue an API key (admin)",
        description="Returns the key once. Every service accepts it within moments "
        "(the key travels as a hash on `access.v1`).",
    )
    async def issue(
        body: ApiKeyCreate,
        session: SessionDep,
        emit: EmitDep,
        clock: ClockDep,
        principal: AdminPrincipal,
        idempotency: Annotated[Idempotency, idempotent(shown_once=["api_key"])],
        audit: AuditDep,
    ) -> JSONResponse:
        tenant_id = issued_key_tenant(principal, body.tenant_id)
        refuse_past_expiry(body.expires_at, clock.now())

        async def work() -> ApiKeyIssuedRead:
            return await issue_key(
                session=session,
                emit=emit,
                audit=audit,
                body=body,
                tenant_id=tenant_id,
                issued_at=clock.now(),
            )

        return await idempotency.run(work, status_code=201)

    @router.get(
        "",
        operation_id="listApiKeys",
        response_model=ApiKeyPage,
        summary="List API keys (admin)",
        description="Oldest first, revoked ones included; never the secrets.",
    )
    async def list_api_keys(
        session: SessionDep, principal: AdminPrincipal, page: PageDep
    ) -> ApiKeyPage:
        return await list_keys(session=session, page=page)

    @router.post(
        "/{key_id}/revoke",
        operation_id="revokeApiKey",
        response_model=ApiKeyRead,
        summary="Revoke an API key (admin)",
        description="This instance refuses the key from the response on; every service "
        "within moments (access.v1 carries the revocation) and at most "
        "`API_KEY_CACHE_TTL_SECONDS` after it reaches the service's database.",
    )
    async def revoke(
        request: Request,
        key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")],
        body: ApiKeyRevoke,
        session: SessionDep,
        emit: EmitDep,
        clock: ClockDep,
        principal: AdminPrincipal,
        _key: Annotated[None, refuse_idempotency_key(REVOKE_IS_IDEMPOTENT)],
        audit: AuditDep,
    ) -> ApiKeyRead:
        return await revoke_key(
            session=session,
            emit=emit,
            cache=request.app.state.key_cache,
            audit=audit,
            key_id=key_id,
            revocation=ApiKeyRevoked(key_id=key_id, reason=body.reason, revoked_at=clock.now()),
        )

    return router
