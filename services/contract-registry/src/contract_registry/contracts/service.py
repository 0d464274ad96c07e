"""Contracts: drafts, activation, reads."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.contracts.schemas import ContractCreate, ContractRead
from contract_registry.contracts.validation import validate_for_activation
from contract_registry.models import Contract, ContractVersion
from crm_events.schemas.contracts import ContractActivated, ContractDocument, ContractTerms
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.emitter import Emit
from crm_platform.errors import Conflict, NotFound, Unprocessable


def _read(contract: Contract, version: ContractVersion) -> ContractRead:
    return ContractRead(
        id=contract.id,
        tenant_id=contract.tenant_id,
        reference=contract.reference,
        customer=contract.customer,
        supplier=contract.supplier,
        currency=contract.currency,
        timezone=contract.timezone,
        status=contract.status,
        start_date=contract.start_date,
        end_date=contract.end_date,
        current_version=contract.current_version,
        created_at=contract.created_at,
        updated_at=contract.updated_at,
        terms=ContractDocument.model_validate(version.document),
    )


async def _load(
    session: AsyncSession, principal: Principal, contract_id: uuid.UUID, *, for_update: bool = False
) -> tuple[Contract, ContractVersion]:
    contract = await session.get(Contract, contract_id, with_for_update=for_update)
    if contract is None or not principal.can_access(contract.tenant_id):
        raise NotFound(f"contract {contract_id} not found")
    version = await session.get(ContractVersion, (contract.id, contract.current_version))
    assert version is not None
    return contract, version


async def create_draft(
    *, session: AsyncSession, principal: Principal, clock: Clock, body: ContractCreate
) -> ContractRead:
    tenant_id = principal.resolve_tenant(body.tenant_id)
    duplicate = await session.scalar(
        sa.select(Contract.id).where(
            Contract.tenant_id == tenant_id, Contract.reference == body.reference
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"contract reference {body.reference!r} already exists ({duplicate})",
            details=[{"loc": "body.reference", "message": "already used"}],
        )
    now = clock.now()
    document = ContractDocument.model_validate(body.model_dump(exclude={"tenant_id"}))
    contract = Contract(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        reference=document.reference,
        customer=document.customer,
        supplier=document.supplier,
        currency=document.currency,
        timezone=document.timezone,
        status="draft",
        start_date=document.start_date,
        end_date=document.end_date,
        current_version=1,
        created_at=now,
        updated_at=now,
    )
    version = ContractVersion(
        contract_id=contract.id,
        version=1,
        tenant_id=tenant_id,
        state="draft",
        effective_from=document.start_date,
        document=document.model_dump(mode="json"),
        created_at=now,
    )
    session.add(contract)
    await session.flush()
    session.add(version)
    await session.flush()
    return _read(contract, version)


async def activate(
    *, session: AsyncSession, principal: Principal, clock: Clock, emit: Emit, contract_id: uuid.UUID
) -> ContractRead:
    """Validate the whole draft (every problem at once) and publish `contract.activated`."""
    contract, version = await _load(session, principal, contract_id, for_update=True)
    if contract.status != "draft":
        raise Conflict(f"contract {contract_id} is {contract.status}, not a draft")
    document = ContractDocument.model_validate(version.document)
    problems = validate_for_activation(document)
    if problems:
        raise Unprocessable(
            f"the contract cannot be activated: {len(problems)} problem(s)",
            details=[{"loc": p.loc, "message": p.message} for p in problems],
            code="activation_rejected",
        )
    now = clock.now()
    contract.status = "active"
    contract.updated_at = now
    version.state = "effective"
    version.activated_at = now
    terms = ContractTerms(
        **document.model_dump(),
        contract_id=contract.id,
        tenant_id=contract.tenant_id,
        version=version.version,
        effective_from=version.effective_from,
    )
    await emit(
        "contract.activated",
        subject=str(contract.id),
        tenant=contract.tenant_id,
        data=ContractActivated(terms=terms, activated_at=now),
    )
    await session.flush()
    return _read(contract, version)


async def get(
    *, session: AsyncSession, principal: Principal, contract_id: uuid.UUID
) -> ContractRead:
    contract, version = await _load(session, principal, contract_id)
    return _read(contract, version)


async def list_contracts(
    *,
    session: AsyncSession,
    principal: Principal,
    customer: str | None,
    supplier: str | None,
    status: str | None,
    limit: int,
) -> list[ContractRead]:
    query = (
        sa.select(Contract, ContractVersion)
        .join(
            ContractVersion,
            sa.and_(
                ContractVersion.contract_id == Contract.id,
                ContractVersion.version == Contract.current_version,
            ),
        )
        .where(principal.tenant_filter(Contract.tenant_id))
    )
    if customer:
        query = query.where(Contract.customer == customer)
    if supplier:
        query = query.where(Contract.supplier == supplier)
    if status:
        query = query.where(Contract.status == status)
    rows = (
        await session.execute(query.order_by(Contract.created_at, Contract.id).limit(limit))
    ).all()
    return [_read(c, v) for c, v in rows]
