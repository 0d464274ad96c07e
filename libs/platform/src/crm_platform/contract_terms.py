"""The contract-terms projection that every consuming service keeps from `contracts.v1`.

Each `contract.activated` / `contract.amended` / `contract.terminated` carries the full terms
of a version; the projection stores every version (effective-dated) so a computation for a
past period uses the terms that were in force then. Redelivered or out-of-order events are
harmless: a version is written once and the contract status only moves forward.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.consumer import EventContext, Handlers
from crm_events.schemas.contracts import (
    ContractActivated,
    ContractAmended,
    ContractTerminated,
    ContractTerms,
)
from crm_platform.deps import CurrentPrincipal, SessionDep
from crm_platform.errors import NotFound

CONTRACT_TERMS = "contract_terms"


def _columns() -> list[Any]:
    return [
        sa.Column("contract_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False, index=True),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("terms", JSONB, nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


def attach_contract_terms_table(metadata: sa.MetaData) -> sa.Table:
    if CONTRACT_TERMS in metadata.tables:
        return metadata.tables[CONTRACT_TERMS]
    return sa.Table(CONTRACT_TERMS, metadata, *_columns())


def create_contract_terms_table(op: Any) -> None:
    op.create_table(CONTRACT_TERMS, *_columns())


contract_terms_table = attach_contract_terms_table(sa.MetaData())


async def record_terms(session: AsyncSession, terms: ContractTerms, status: str) -> bool:
    """Store a version's terms; returns False when that version was already known."""
    t = contract_terms_table
    inserted = await session.scalar(
        pg_insert(t)
        .values(
            contract_id=terms.contract_id,
            version=terms.version,
            tenant_id=terms.tenant_id,
            effective_from=terms.effective_from,
            status=status,
            terms=terms.model_dump(mode="json"),
        )
        .on_conflict_do_nothing()
        .returning(t.c.version)
    )
    if status == "terminated":
        await session.execute(
            sa.update(t).where(t.c.contract_id == terms.contract_id).values(status="terminated")
        )
    return inserted is not None


async def latest_terms(session: AsyncSession, contract_id: uuid.UUID) -> ContractTerms | None:
    t = contract_terms_table
    row = await session.scalar(
        sa.select(t.c.terms)
        .where(t.c.contract_id == contract_id)
        .order_by(t.c.version.desc())
        .limit(1)
    )
    return ContractTerms.model_validate(row) if row is not None else None


async def terms_in_force(
    session: AsyncSession, contract_id: uuid.UUID, on: date
) -> ContractTerms | None:
    """The latest version whose effective date is on or before `on` (else the first one)."""
    t = contract_terms_table
    row = await session.scalar(
        sa.select(t.c.terms)
        .where(t.c.contract_id == contract_id, t.c.effective_from <= on)
        .order_by(t.c.version.desc())
        .limit(1)
    )
    if row is None:
        row = await session.scalar(
            sa.select(t.c.terms)
            .where(t.c.contract_id == contract_id)
            .order_by(t.c.version.asc())
            .limit(1)
        )
    return ContractTerms.model_validate(row) if row is not None else None


async def contract_status(session: AsyncSession, contract_id: uuid.UUID) -> str | None:
    t = contract_terms_table
    return await session.scalar(
        sa.select(t.c.status)
        .where(t.c.contract_id == contract_id)
        .order_by(t.c.version.desc())
        .limit(1)
    )


class ProjectedTerms(BaseModel):
    """The terms this service holds for a contract, as received on contracts.v1."""

    contract_id: uuid.UUID
    version: int
    status: str
    effective_from: date
    terms: ContractTerms


def terms_router() -> APIRouter:
    """GET /contracts/{id}/terms: what a consuming service knows of a contract."""
    router = APIRouter(tags=["contract terms"])

    @router.get(
        "/contracts/{contract_id:uuid}/terms",
        operation_id="getContractTerms",
        response_model=ProjectedTerms,
        summary="The contract terms this service received (latest version)",
        description="This service's copy of the contract, kept from `contracts.v1` events. "
        "404 until the contract's activation has reached this service.",
    )
    async def get_projected_terms(
        contract_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
    ) -> ProjectedTerms:
        t = contract_terms_table
        row = (
            await session.execute(
                sa.select(t.c.version, t.c.status, t.c.effective_from, t.c.terms, t.c.tenant_id)
                .where(t.c.contract_id == contract_id)
                .order_by(t.c.version.desc())
                .limit(1)
            )
        ).first()
        if row is None or not principal.can_access(row.tenant_id):
            raise NotFound(f"contract {contract_id} is not known to this service")
        return ProjectedTerms(
            contract_id=contract_id,
            version=row.version,
            status=row.status,
            effective_from=row.effective_from,
            terms=ContractTerms.model_validate(row.terms),
        )

    return router


TermsApplier = Callable[[AsyncSession, ContractTerms, str], Awaitable[object]]


def contract_terms_handlers(apply: TermsApplier = record_terms) -> Handlers:
    """The handler table for contracts.v1: every consuming service keeps the terms the same
    way; `apply` may do more with them (sla-monitor indexes its SLA definitions)."""

    async def on_activated(ctx: EventContext, event: ContractActivated) -> None:
        await apply(ctx.session, event.terms, "active")

    async def on_amended(ctx: EventContext, event: ContractAmended) -> None:
        await apply(ctx.session, event.terms, "active")

    async def on_terminated(ctx: EventContext, event: ContractTerminated) -> None:
        await apply(ctx.session, event.terms, "terminated")

    return {
        "contract.activated": [on_activated],
        "contract.amended": [on_amended],
        "contract.terminated": [on_terminated],
    }
