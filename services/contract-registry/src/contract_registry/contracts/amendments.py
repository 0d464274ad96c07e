"""Amendments: a new version of an active contract, drafted, then activated.

Only one amendment is drafted at a time. Activating it validates the whole new version and
its place in the history (see `validate_amendment`), makes it the contract's current
version and publishes `contract.amended` with its full terms. The version in force on a
date is the latest activated version whose effective date is on or before it.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.contracts import repository as repo
from contract_registry.contracts.publishing import document_of, publish_amended
from contract_registry.contracts.repository import DISCARDED, DRAFT
from contract_registry.contracts.schemas import AmendmentCreate, AmendmentUpdate, VersionRead
from contract_registry.contracts.service import (
    audit_contract,
    contract_state,
    get_version,
    mark_activated,
    reject,
)
from contract_registry.contracts.validation import validate_amendment, validate_for_activation
from contract_registry.models import Contract, ContractVersion
from crm_platform.audit import Audit
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.emitter import Emit
from crm_platform.errors import Conflict


def _require_active(contract: Contract) -> None:
    if contract.status != "active":
        hint = " (edit the draft with PUT, then activate it)" if contract.status == "draft" else ""
        raise Conflict(
            f"contract {contract.id} is {contract.status}; only an active contract is amended"
            + hint,
            code="not_active",
        )


async def _draft_amendment(
    session: AsyncSession, contract: Contract, version: int
) -> ContractVersion:
    found = await repo.require_version(session, contract.id, version)
    if found.state != DRAFT or found.version == 1:
        raise Conflict(
            f"version {version} of contract {contract.id} is {found.state}, not a draft amendment",
            code="not_a_draft",
        )
    return found


async def create(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    emit: Emit,
    audit: Audit,
    contract_id: uuid.UUID,
    body: AmendmentCreate,
) -> VersionRead:
    contract = await repo.load_contract(session, principal, contract_id, for_update=True)
    _require_active(contract)
    pending = (await repo.open_drafts(session, [contract.id])).get(contract.id)
    if pending is not None:
        raise Conflict(
            f"amendment version {pending} is already being drafted; change it with PUT, "
            "activate it or discard it first",
            code="amendment_pending",
        )
    now = clock.now()
    version = ContractVersion(
        contract_id=contract.id,
        version=await repo.max_version(session, contract.id) + 1,
        tenant_id=contract.tenant_id,
        state=DRAFT,
        effective_from=body.effective_from,
        document=body.terms.model_dump(mode="json"),
        note=body.note,
        created_at=now,
    )
    session.add(version)
    await session.flush()
    if body.activate:
        await _activate(session, contract, version, clock, emit, audit)
    return await get_version(
        session=session, principal=principal, contract_id=contract.id, version=version.version
    )


async def update(
    *,
    session: AsyncSession,
    principal: Principal,
    contract_id: uuid.UUID,
    version: int,
    body: AmendmentUpdate,
) -> VersionRead:
    contract = await repo.load_contract(session, principal, contract_id, for_update=True)
    draft = await _draft_amendment(session, contract, version)
    draft.effective_from = body.effective_from
    draft.document = body.terms.model_dump(mode="json")
    draft.note = body.note
    await session.flush()
    return await get_version(
        session=session, principal=principal, contract_id=contract.id, version=version
    )


async def activate(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    emit: Emit,
    audit: Audit,
    contract_id: uuid.UUID,
    version: int,
) -> VersionRead:
    contract = await repo.load_contract(session, principal, contract_id, for_update=True)
    _require_active(contract)
    draft = await _draft_amendment(session, contract, version)
    await _activate(session, contract, draft, clock, emit, audit)
    return await get_version(
        session=session, principal=principal, contract_id=contract.id, version=version
    )


async def discard(
    *, session: AsyncSession, principal: Principal, contract_id: uuid.UUID, version: int
) -> VersionRead:
    contract = await repo.load_contract(session, principal, contract_id, for_update=True)
    draft = await _draft_amendment(session, contract, version)
    draft.state = DISCARDED
    await session.flush()
    return await get_version(
        session=session, principal=principal, contract_id=contract.id, version=version
    )


async def _activate(
    session: AsyncSession,
    contract: Contract,
    draft: ContractVersion,
    clock: Clock,
    emit: Emit,
    audit: Audit,
) -> None:
    previous = await repo.require_version(session, contract.id, contract.current_version)
    document = document_of(draft)
    reject(
        validate_for_activation(document)
        + validate_amendment(
            previous=document_of(previous),
            previous_effective_from=previous.effective_from,
            doc=document,
            effective_from=draft.effective_from,
        ),
        what=f"amendment version {draft.version} cannot be activated",
    )
    now = clock.now()
    before = contract_state(contract)
    mark_activated(contract, draft, document, now)
    await publish_amended(emit, contract, draft, previous.version, now)
    await session.flush()
    await audit_contract(audit, contract, "activate_amendment", before)
