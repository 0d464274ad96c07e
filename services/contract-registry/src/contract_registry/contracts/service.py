"""Contracts: drafts, activation, reads and listing."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.contracts import repository as repo
from contract_registry.contracts.dates import end_instant, local_today
from contract_registry.contracts.publishing import document_of, publish_activated
from contract_registry.contracts.repository import ACTIVATED, DRAFT
from contract_registry.contracts.schemas import (
    ContractCreate,
    ContractPage,
    ContractRead,
    ContractSummary,
    DraftUpdate,
    VersionPage,
    VersionRead,
    VersionSummary,
)
from contract_registry.contracts.validation import Problem, validate_for_activation
from contract_registry.models import Contract, ContractVersion
from crm_events.schemas.contracts import ContractDocument
from crm_platform.audit import Audit
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.emitter import Emit
from crm_platform.errors import Conflict, NotFound, Unprocessable
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page

CONTRACTS = Keyset("contracts", SortKey(Contract.created_at), SortKey(Contract.id))
VERSIONS = Keyset("versions", SortKey(ContractVersion.version))


def reject(problems: list[Problem], what: str = "the contract cannot be activated") -> None:
    """Every problem at once, as one 422 (`activation_rejected`)."""
    if problems:
        raise Unprocessable(
            f"{what}: {len(problems)} problem(s): "
            + "; ".join(f"{p.loc}: {p.message}" for p in problems[:3])
            + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""),
            details=[p.as_detail() for p in problems],
            code="activation_rejected",
        )


def sync_columns(contract: Contract, document: ContractDocument) -> None:
    """The contract's descriptive columns follow its latest activated version (or draft)."""
    contract.reference = document.reference
    contract.customer = document.customer
    contract.supplier = document.supplier
    contract.currency = document.currency
    contract.timezone = document.timezone
    contract.start_date = document.start_date
    contract.end_date = document.end_date
    contract.ends_at = end_instant(document.end_date, document.timezone)


def summary(contract: Contract, draft_version: int | None) -> ContractSummary:
    return ContractSummary(
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
        draft_version=draft_version,
        terminates_on=contract.terminates_on,
        termination_reason=contract.termination_reason,
        terminated_at=contract.terminated_at,
        created_at=contract.created_at,
        updated_at=contract.updated_at,
    )


async def read(
    session: AsyncSession,
    contract: Contract,
    version: ContractVersion,
    *,
    as_of: date | None = None,
) -> ContractRead:
    drafts = await repo.open_drafts(session, [contract.id])
    return ContractRead(
        **summary(contract, drafts.get(contract.id)).model_dump(),
        version=version.version,
        version_state=version.state,
        effective_from=version.effective_from,
        as_of=as_of,
        terms=document_of(version),
    )


async def flush_guarding_reference(session: AsyncSession, reference: str) -> None:
    """A concurrent request may have taken the reference since it was checked."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if "uq_contract_reference" not in str(exc.orig):
            raise
        raise Conflict(
            f"contract reference {reference!r} already exists",
            details=[{"loc": "body.reference", "message": "already used"}],
        ) from None


async def _check_reference_free(
    session: AsyncSession, tenant_id: str, reference: str, contract_id: uuid.UUID | None = None
) -> None:
    owner = await repo.reference_owner(session, tenant_id, reference)
    if owner is not None and owner != contract_id:
        raise Conflict(
            f"contract reference {reference!r} already exists ({owner})",
            details=[{"loc": "body.reference", "message": "already used"}],
        )


async def new_contract(
    session: AsyncSession,
    *,
    tenant_id: str,
    document: ContractDocument,
    now: datetime,
    created_at: datetime | None = None,
) -> Contract:
    """A contract row (status draft, no versions yet)."""
    await _check_reference_free(session, tenant_id, document.reference)
    contract = Contract(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        status="draft",
        current_version=1,
        created_at=created_at or now,
        updated_at=now,
    )
    sync_columns(contract, document)
    session.add(contract)
    await flush_guarding_reference(session, document.reference)
    return contract


async def create_draft(
    *, session: AsyncSession, principal: Principal, clock: Clock, body: ContractCreate
) -> ContractRead:
    tenant_id = principal.resolve_tenant(body.tenant_id)
    now = clock.now()
    document = ContractDocument.model_validate(body.model_dump(exclude={"tenant_id"}))
    contract = await new_contract(session, tenant_id=tenant_id, document=document, now=now)
    version = ContractVersion(
        contract_id=contract.id,
        version=1,
        tenant_id=tenant_id,
        state=DRAFT,
        effective_from=document.start_date,
        document=document.model_dump(mode="json"),
        note="",
        created_at=now,
    )
    session.add(version)
    await session.flush()
    return await read(session, contract, version)


async def update_draft(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    contract_id: uuid.UUID,
    body: DraftUpdate,
) -> ContractRead:
    """Replace the document of a draft contract; an active contract changes by amendment."""
    contract = await repo.load_contract(session, principal, contract_id, for_update=True)
    if contract.status != "draft":
        raise Conflict(
            f"contract {contract_id} is {contract.status}; change it with an amendment "
            f"(POST /contracts/{contract_id}/amendments)",
            code="not_a_draft",
        )
    document = ContractDocument.model_validate(body.model_dump())
    await _check_reference_free(session, contract.tenant_id, document.reference, contract.id)
    version = await repo.require_version(session, contract.id, 1)
    version.document = document.model_dump(mode="json")
    version.effective_from = document.start_date
    sync_columns(contract, document)
    contract.updated_at = clock.now()
    await flush_guarding_reference(session, document.reference)
    return await read(session, contract, version)


async def activate(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    emit: Emit,
    audit: Audit,
    contract_id: uuid.UUID,
) -> ContractRead:
    """Validate the whole draft (every problem at once) and publish `contract.activated`."""
    contract = await repo.load_contract(session, principal, contract_id, for_update=True)
    if contract.status != "draft":
        raise Conflict(f"contract {contract_id} is {contract.status}, not a draft")
    version = await repo.require_version(session, contract.id, 1)
    document = document_of(version)
    reject(validate_for_activation(document))
    now = clock.now()
    before = contract_state(contract)
    mark_activated(contract, version, document, now)
    await publish_activated(emit, contract, version, now)
    await session.flush()
    await audit_contract(audit, contract, "activate", before)
    return await read(session, contract, version)


def contract_state(contract: Contract) -> dict[str, object]:
    """The fields of a contract an audited action changes (crm_platform.audit)."""
    return {
        "status": contract.status,
        "current_version": contract.current_version,
        "terminates_on": contract.terminates_on,
        "termination_reason": contract.termination_reason,
    }


async def audit_contract(
    audit: Audit, contract: Contract, verb: str, before: dict[str, object] | None
) -> None:
    await audit.record(
        action=f"contract.{verb}",
        subject_type="contract",
        subject_id=contract.id,
        tenant_id=contract.tenant_id,
        contract_id=contract.id,
        before=before,
        after=contract_state(contract),
    )


def mark_activated(
    contract: Contract, version: ContractVersion, document: ContractDocument, now: datetime
) -> None:
    contract.status = "active"
    contract.current_version = version.version
    contract.updated_at = now
    version.state = ACTIVATED
    version.activated_at = version.activated_at or now
    sync_columns(contract, document)


async def get(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    contract_id: uuid.UUID,
    as_of: date | None,
) -> ContractRead:
    """The terms in force on `as_of`, or today's (a draft shows its draft; a contract that
    has not started shows its first activated version)."""
    contract = await repo.load_contract(session, principal, contract_id)
    if as_of is not None:
        version = await repo.version_in_force(session, contract.id, as_of)
        if version is None:
            raise NotFound(
                f"no version of contract {contract_id} is in force on {as_of}",
                code="not_in_force",
                details=[{"loc": "query.as_of", "message": "before the first activated version"}],
            )
        return await read(session, contract, version, as_of=as_of)
    if contract.status == "draft":
        version = await repo.require_version(session, contract.id, 1)
    else:
        today = local_today(clock.now(), contract.timezone)
        version = await repo.version_in_force(session, contract.id, today) or (
            await repo.require_version(session, contract.id, contract.current_version)
        )
    return await read(session, contract, version)


def version_summary(version: ContractVersion) -> VersionSummary:
    return VersionSummary(
        version=version.version,
        state=version.state,
        effective_from=version.effective_from,
        note=version.note,
        created_at=version.created_at,
        activated_at=version.activated_at,
    )


async def list_versions(
    *, session: AsyncSession, principal: Principal, contract_id: uuid.UUID, page: PageRequest
) -> VersionPage:
    contract = await repo.load_contract(session, principal, contract_id)
    query = sa.select(ContractVersion).where(ContractVersion.contract_id == contract.id)
    rows, next_cursor = await fetch_page(session, query, VERSIONS, page)
    return VersionPage(items=[version_summary(v) for v in rows], next_cursor=next_cursor)


async def get_version(
    *, session: AsyncSession, principal: Principal, contract_id: uuid.UUID, version: int
) -> VersionRead:
    contract = await repo.load_contract(session, principal, contract_id)
    found = await repo.require_version(session, contract.id, version)
    return VersionRead(
        **version_summary(found).model_dump(), contract_id=contract.id, terms=document_of(found)
    )


# Listing -------------------------------------------------------------------------------


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_contracts(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    customer: str | None,
    supplier: str | None,
    status: str | None,
    expiring_within_days: int | None,
    q: str | None,
    page: PageRequest,
) -> ContractPage:
    """Contracts in creation order; filters combine with AND."""
    query = sa.select(Contract).where(principal.tenant_filter(Contract.tenant_id))
    if customer:
        query = query.where(sa.func.lower(Contract.customer) == customer.lower())
    if supplier:
        query = query.where(sa.func.lower(Contract.supplier) == supplier.lower())
    if status:
        query = query.where(Contract.status == status)
    if expiring_within_days is not None:
        now = clock.now()
        # Ends by its end date or by a scheduled termination, whichever comes first.
        ends = sa.func.least(Contract.ends_at, Contract.terminates_at)
        query = query.where(
            Contract.status == "active",
            ends > now,
            ends <= now + timedelta(days=expiring_within_days),
        )
    if q:
        pattern = f"%{_escape_like(q)}%"
        query = query.where(
            sa.or_(
                Contract.reference.ilike(pattern, escape="\\"),
                Contract.customer.ilike(pattern, escape="\\"),
                Contract.supplier.ilike(pattern, escape="\\"),
            )
        )
    rows, next_cursor = await fetch_page(session, query, CONTRACTS, page)
    drafts = await repo.open_drafts(session, [c.id for c in rows])
    return ContractPage(items=[summary(c, drafts.get(c.id)) for c in rows], next_cursor=next_cursor)
