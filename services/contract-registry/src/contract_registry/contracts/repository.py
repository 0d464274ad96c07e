"""Queries on contracts and their versions."""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.models import Contract, ContractVersion
from crm_platform.auth import Principal
from crm_platform.db import any_of
from crm_platform.errors import NotFound

DRAFT, ACTIVATED, DISCARDED = "draft", "activated", "discarded"


async def load_contract(
    session: AsyncSession, principal: Principal, contract_id: uuid.UUID, *, for_update: bool = False
) -> Contract:
    contract = await session.get(Contract, contract_id, with_for_update=for_update)
    if contract is None or not principal.can_access(contract.tenant_id):
        raise NotFound(f"contract {contract_id} not found")
    return contract


async def get_version(
    session: AsyncSession, contract_id: uuid.UUID, version: int
) -> ContractVersion | None:
    return await session.get(ContractVersion, (contract_id, version))


async def require_version(
    session: AsyncSession, contract_id: uuid.UUID, version: int
) -> ContractVersion:
    found = await get_version(session, contract_id, version)
    if found is None:
        raise NotFound(f"contract {contract_id} has no version {version}")
    return found


async def all_versions(session: AsyncSession, contract_id: uuid.UUID) -> list[ContractVersion]:
    rows = await session.scalars(
        sa.select(ContractVersion)
        .where(ContractVersion.contract_id == contract_id)
        .order_by(ContractVersion.version)
    )
    return list(rows)


async def version_in_force(
    session: AsyncSession, contract_id: uuid.UUID, on: date
) -> ContractVersion | None:
    """The latest activated version whose effective date is on or before `on`."""
    return await session.scalar(
        sa.select(ContractVersion)
        .where(
            ContractVersion.contract_id == contract_id,
            ContractVersion.state == ACTIVATED,
            ContractVersion.effective_from <= on,
        )
        .order_by(ContractVersion.version.desc())
        .limit(1)
    )


async def latest_activated(session: AsyncSession, contract_id: uuid.UUID) -> ContractVersion | None:
    return await session.scalar(
        sa.select(ContractVersion)
        .where(ContractVersion.contract_id == contract_id, ContractVersion.state == ACTIVATED)
        .order_by(ContractVersion.version.desc())
        .limit(1)
    )


async def open_drafts(session: AsyncSession, contract_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The draft amendment (version > 1) of each contract that has one."""
    if not contract_ids:
        return {}
    rows = await session.execute(
        sa.select(ContractVersion.contract_id, ContractVersion.version).where(
            any_of(ContractVersion.contract_id, contract_ids),
            ContractVersion.state == DRAFT,
            ContractVersion.version > 1,
        )
    )
    return {cid: version for cid, version in rows.all()}


async def max_version(session: AsyncSession, contract_id: uuid.UUID) -> int:
    found = await session.scalar(
        sa.select(sa.func.max(ContractVersion.version)).where(
            ContractVersion.contract_id == contract_id
        )
    )
    return int(found or 0)


async def reference_owner(
    session: AsyncSession, tenant_id: str, reference: str
) -> uuid.UUID | None:
    return await session.scalar(
        sa.select(Contract.id).where(
            Contract.tenant_id == tenant_id, Contract.reference == reference
        )
    )
