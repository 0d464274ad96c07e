"""The contract-terms projection that every consuming service keeps from `contracts.v1`.

Each `contract.activated` / `contract.amended` / `contract.terminated` carries the full terms
of a version; the projection stores every version (effective-dated) so a computation for a
past period uses the terms that were in force then. Redelivered or out-of-order events are
harmless: a version is written once and the contract status only moves forward.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.consumer import BatchHandler, Delivered, Handlers, batched
from crm_events.schemas.contracts import ContractTerms
from crm_platform.db import any_of, tuple_in
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
    [new] = await record_terms_many(session, [(terms, status)])
    return new


async def record_terms_many(
    session: AsyncSession,
    versions: Sequence[tuple[ContractTerms, str]],
    *,
    keep_parsed: bool = False,
) -> list[bool]:
    """Store versions' terms in one statement, as storing them one by one in that order
    would: for each, whether it was new here (False for a version already stored, and for
    the second of a version given twice). A terminated version marks its contract's every
    version terminated. `keep_parsed`: a service that reads terms through `parsed_terms`
    keeps the versions it stores parsed (no parse at their first use); the others do not
    hold them in memory."""
    t = contract_terms_table
    rows: dict[tuple[uuid.UUID, int], dict[str, Any]] = {}
    for terms, status in versions:
        rows.setdefault(
            (terms.contract_id, terms.version),
            {
                "contract_id": terms.contract_id,
                "version": terms.version,
                "tenant_id": terms.tenant_id,
                "effective_from": terms.effective_from,
                "status": status,
                "terms": terms.model_dump(mode="json"),
            },
        )
    if not rows:
        return []
    returned = (
        await session.execute(
            pg_insert(t)
            .values(list(rows.values()))
            .on_conflict_do_nothing()
            .returning(t.c.contract_id, t.c.version, t.c.received_at)
        )
    ).all()
    inserted = {(cid, version) for cid, version, _ in returned}
    if keep_parsed:
        # Parsed already (the event's payload): the first computation needs no parse.
        given = {(terms.contract_id, terms.version): terms for terms, _ in versions}
        for cid, version, received_at in returned:
            _remember((cid, version, received_at), given[(cid, version)])
    terminated = {terms.contract_id for terms, status in versions if status == "terminated"}
    if terminated:
        await session.execute(
            sa.update(t).where(any_of(t.c.contract_id, terminated)).values(status="terminated")
        )
    new: list[bool] = []
    for terms, _ in versions:
        key = (terms.contract_id, terms.version)
        new.append(key in inserted)
        inserted.discard(key)
    return new


# A stored version never changes (it is written once, above), so a process parses each
# version's terms once. The key holds the instant this database received the version: two
# databases served by one process (the tests) never share an entry. Bounded: a full cache
# starts again empty, it does not grow with the portfolio.
TermsKey = tuple[uuid.UUID, int, datetime]
PARSED_TERMS_LIMIT = 5000
_PARSED: dict[TermsKey, ContractTerms] = {}


async def parsed_terms(
    session: AsyncSession, keys: Iterable[TermsKey]
) -> dict[TermsKey, ContractTerms]:
    """The terms of stored versions (contract, version, received_at), parsed: those parsed
    before from the process's cache, the others read in one statement."""
    wanted = set(keys)
    out = {k: _PARSED[k] for k in wanted if k in _PARSED}
    missing = [k for k in wanted if k not in out]
    if missing:
        t = contract_terms_table
        rows = await session.execute(
            sa.select(t.c.contract_id, t.c.version, t.c.received_at, t.c.terms).where(
                tuple_in((t.c.contract_id, t.c.version), [(c, v) for c, v, _ in missing])
            )
        )
        for r in rows:
            key = (r.contract_id, r.version, r.received_at)
            out[key] = ContractTerms.model_validate(r.terms)
            _remember(key, out[key])
    return {k: out[k] for k in wanted if k in out}


def _remember(key: TermsKey, terms: ContractTerms) -> None:
    if len(_PARSED) >= PARSED_TERMS_LIMIT:
        _PARSED.clear()
    _PARSED[key] = terms


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


def contract_terms_handlers(*, keep_parsed: bool = False) -> Handlers:
    """The handler table for contracts.v1: every consuming service keeps the terms the same
    way, a run of events of one type in one statement (see `record_terms_many`, and its
    `keep_parsed`)."""

    def keep(status: str) -> BatchHandler:
        @batched
        async def on_terms(events: Sequence[Delivered[Any]]) -> None:
            await record_terms_many(
                events[0].ctx.session,
                [(item.payload.terms, status) for item in events],
                keep_parsed=keep_parsed,
            )

        return on_terms

    return {
        "contract.activated": [keep("active")],
        "contract.amended": [keep("active")],
        "contract.terminated": [keep("terminated")],
    }
