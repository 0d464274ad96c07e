"""The audit log: every operator action that changes money or obligations, kept by the
service where it happened.

An audited service function takes an `Audit` (the `AuditDep` dependency of its route) and
calls `await audit.record(...)` once the change is made. The row — who (the caller's API
key id), what (action, subject, contract), when (the service's clock), the changed fields
before and after — is added to the request's session, and an `audit.recorded` event to its
outbox: both commit with the change or roll back with it. A failed action leaves no row.

Snapshots never hold secrets: keys naming a secret, a token, a password or a key
(`secret`, `previous_secret`, `api_key`...) are dropped from them, at any depth, before they
are stored or published.

Every service mounts `audit_router()`: `GET /audit?contract_id=...`, paged, tenant-scoped,
under the `audit:read` scope.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Security
from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.audit import AuditRecorded
from crm_platform.auth import Principal, current_principal
from crm_platform.clock import Clock
from crm_platform.db import SessionDep
from crm_platform.emitter import RequestEmitter
from crm_platform.pagination import Keyset, Page, PageDep, SortKey, fetch_page

AUDIT_LOG = "audit_log"
AUDIT_READ = "audit:read"
ALL_TENANTS = "*"  # the tenant of an action for all tenants (as on access.v1)
# Keys naming a credential, dropped from snapshots at any depth: `secret`, `previous_secret`,
# `api_key`... (a name that merely mentions one, `previous_secret_expires_at`, stays).
_SECRET_NAMES = ("secret", "token", "password", "api_key")


def _columns() -> list[Any]:
    return [
        sa.Column("id", sa.Uuid, primary_key=True),
        # The order rows were written in: ties on `recorded_at` (one request, a clock that
        # stands still) keep it.
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("contract_id", sa.Uuid, nullable=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("subject_type", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("actor_key_id", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", JSONB, nullable=True),
        sa.Column("after", JSONB, nullable=True),
        sa.Column("event_id", sa.Text, nullable=False),
    ]


_INDEX = "ix_audit_log_tenant_contract"


def attach_audit_table(metadata: sa.MetaData) -> sa.Table:
    if AUDIT_LOG in metadata.tables:
        return metadata.tables[AUDIT_LOG]
    table = sa.Table(AUDIT_LOG, metadata, *_columns())
    sa.Index(_INDEX, table.c.tenant_id, table.c.contract_id, table.c.recorded_at)
    return table


def create_audit_table(op: Any) -> None:
    """For a service's Alembic migration: `create_audit_table(op)`."""
    op.create_table(AUDIT_LOG, *_columns())
    op.create_index(_INDEX, AUDIT_LOG, ["tenant_id", "contract_id", "recorded_at"])


def drop_audit_table(op: Any) -> None:
    op.drop_index(_INDEX, table_name=AUDIT_LOG)
    op.drop_table(AUDIT_LOG)


audit_table = attach_audit_table(sa.MetaData())
AUDIT_ORDER = Keyset("audit", SortKey(audit_table.c.recorded_at), SortKey(audit_table.c.seq))


def snapshot(value: Any) -> dict[str, Any] | None:
    """A JSON object of `value` (a pydantic model, a dict, or None) without secrets:
    decimals as strings, instants in ISO 8601."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    cleaned = _without_secrets(to_jsonable_python(value))
    if not isinstance(cleaned, dict):
        raise TypeError(f"an audit snapshot is a JSON object, not {type(cleaned).__name__}")
    return cleaned


def _names_a_secret(name: str) -> bool:
    name = name.lower()
    return any(name == word or name.endswith("_" + word) for word in _SECRET_NAMES)


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if not _names_a_secret(str(k))}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


class Audit:
    """Records audited actions in the request's unit of work (see the module docstring)."""

    def __init__(
        self, session: AsyncSession, emit: RequestEmitter, clock: Clock, request: Request
    ) -> None:
        self._session = session
        self._emit = emit
        self._clock = clock
        self._request = request

    def _actor(self) -> str:
        # Set by the route's `CurrentPrincipal`, which every audited route declares.
        principal: Principal | None = getattr(self._request.state, "principal", None)
        if principal is None or principal.key_id is None:
            raise RuntimeError("an audited action needs an authenticated caller")
        return principal.key_id

    async def record(
        self,
        *,
        action: str,
        subject_type: str,
        subject_id: str | uuid.UUID,
        tenant_id: str | None,
        contract_id: uuid.UUID | None = None,
        before: Any = None,
        after: Any = None,
    ) -> AuditRecorded:
        """Add the audit row and its `audit.recorded` event to the request's transaction."""
        event = AuditRecorded(
            audit_id=uuid.uuid4(),
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            contract_id=contract_id,
            tenant_id=tenant_id or ALL_TENANTS,
            actor_key_id=self._actor(),
            recorded_at=self._clock.now(),
            before=snapshot(before),
            after=snapshot(after),
        )
        subject = str(contract_id) if contract_id is not None else event.subject_id
        envelope = await self._emit(
            "audit.recorded", subject=subject, tenant=event.tenant_id, data=event
        )
        await self._session.execute(
            sa.insert(audit_table).values(
                id=event.audit_id,
                tenant_id=event.tenant_id,
                contract_id=contract_id,
                action=action,
                subject_type=subject_type,
                subject_id=event.subject_id,
                actor_key_id=event.actor_key_id,
                recorded_at=event.recorded_at,
                before=event.before,
                after=event.after,
                event_id=envelope.id,
            )
        )
        return event


def _audit(request: Request, session: SessionDep) -> Audit:
    emitter = RequestEmitter(
        session,
        request.app.state.settings.service_name,
        getattr(request.state, "correlation_id", None) or "unknown",
    )
    return Audit(session, emitter, request.app.state.clock, request)


AuditDep = Annotated[Audit, Depends(_audit, scope="function")]


# --- reading ------------------------------------------------------------------------------


class AuditEntryRead(BaseModel):
    id: uuid.UUID
    tenant_id: str
    contract_id: uuid.UUID | None
    action: str = Field(examples=["sla_period.close"])
    subject_type: str
    subject_id: str
    actor_key_id: str = Field(description="The caller's API key id.")
    recorded_at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    event_id: str = Field(description="The id of the `audit.recorded` event.")


class AuditPage(Page[AuditEntryRead]):
    """A page of the audit log."""


AuditPrincipal = Annotated[Principal, Security(current_principal, scopes=[AUDIT_READ])]


def audit_router() -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get(
        "/audit",
        operation_id="listAuditEntries",
        response_model=AuditPage,
        summary="The audit log of operator actions (oldest first)",
        description="Who (API key id) did what, when, with the changed fields before and "
        "after, for every action of this service that changes money or obligations. Only "
        "the caller's tenant; `contract_id` narrows it to one contract, `action` to one "
        "action. Needs `audit:read`.",
    )
    async def list_audit(
        session: SessionDep,
        principal: AuditPrincipal,
        page: PageDep,
        contract_id: Annotated[uuid.UUID | None, Query(description="One contract's.")] = None,
        action: Annotated[str | None, Query(max_length=100, examples=["obligation.waive"])] = None,
    ) -> AuditPage:
        t = audit_table
        query = sa.select(t).where(principal.tenant_filter(t.c.tenant_id))
        if contract_id is not None:
            query = query.where(t.c.contract_id == contract_id)
        if action is not None:
            query = query.where(t.c.action == action)
        rows, next_cursor = await fetch_page(session, query, AUDIT_ORDER, page)
        items = [AuditEntryRead.model_validate(dict(r._mapping)) for r in rows]
        return AuditPage(items=items, next_cursor=next_cursor)

    return router
