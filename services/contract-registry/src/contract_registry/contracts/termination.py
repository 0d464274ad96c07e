"""The end of a contract: terminated on request (now or on a later date) or expired after
its end date. Either way `contract.terminated` carries the terms of the last version in
force, with the reason ("expired" for an expiry)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.contracts import repository as repo
from contract_registry.contracts.dates import local_today, start_of_day
from contract_registry.contracts.publishing import publish_terminated
from contract_registry.contracts.repository import DISCARDED, DRAFT
from contract_registry.contracts.schemas import ContractRead, TerminationRequest
from contract_registry.contracts.service import audit_contract, contract_state, get
from contract_registry.models import Contract, ContractVersion
from crm_platform.audit import Audit
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.emitter import Emit
from crm_platform.errors import Conflict, Unprocessable
from crm_platform.scheduler import JobContext

EXPIRED_REASON = "expired"
BATCH = 200


async def terminate(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    emit: Emit,
    audit: Audit,
    contract_id: uuid.UUID,
    body: TerminationRequest,
) -> ContractRead:
    contract = await repo.load_contract(session, principal, contract_id, for_update=True)
    if contract.status != "active":
        raise Conflict(
            f"contract {contract_id} is {contract.status}; only an active contract is terminated",
            code="not_active",
        )
    now = clock.now()
    today = local_today(now, contract.timezone)
    effective_on = body.effective_on or today
    if effective_on <= contract.start_date:
        raise Unprocessable(
            f"effective_on {effective_on} is not after the start {contract.start_date}",
            details=[{"loc": "body.effective_on", "message": "on or before the contract start"}],
        )
    if contract.end_date is not None and effective_on > contract.end_date:
        raise Unprocessable(
            f"effective_on {effective_on} is after the end date {contract.end_date}: the "
            "contract expires by itself",
            details=[{"loc": "body.effective_on", "message": "after the contract end"}],
        )
    before = contract_state(contract)
    contract.terminates_on = effective_on
    contract.terminates_at = start_of_day(effective_on, contract.timezone)
    contract.termination_reason = body.reason
    contract.updated_at = now
    if effective_on <= today:
        await end_contract(
            session, emit, contract, status="terminated", reason=body.reason, now=now
        )
    await session.flush()
    await audit_contract(audit, contract, "terminate", before)
    return await get(
        session=session, principal=principal, clock=clock, contract_id=contract.id, as_of=None
    )


async def end_contract(
    session: AsyncSession,
    emit: Emit,
    contract: Contract,
    *,
    status: str,
    reason: str,
    now: datetime,
) -> ContractVersion:
    """Close the contract and publish the terms of the last version in force."""
    if contract.terminates_on is not None and status == "terminated":
        last_day = contract.terminates_on - timedelta(days=1)
    else:
        last_day = contract.end_date or local_today(now, contract.timezone)
    version = await repo.version_in_force(session, contract.id, last_day) or (
        await repo.require_version(session, contract.id, contract.current_version)
    )
    contract.status = status
    contract.terminated_at = now
    contract.updated_at = now
    if status == "expired":
        contract.termination_reason = reason
    # A drafted amendment of an ended contract can never be activated.
    await session.execute(
        sa.update(ContractVersion)
        .where(ContractVersion.contract_id == contract.id, ContractVersion.state == DRAFT)
        .values(state=DISCARDED)
    )
    await publish_terminated(emit, contract, version, now, reason)
    return version


async def end_due_contracts(job: JobContext) -> None:
    """The periodic job: active contracts past a scheduled termination or their end date."""
    now = job.clock.now()
    due = list(
        await job.session.scalars(
            sa.select(Contract)
            .where(
                Contract.status == "active",
                sa.or_(Contract.terminates_at <= now, Contract.ends_at <= now),
            )
            .order_by(Contract.created_at, Contract.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for contract in due:
        if contract.terminates_at is not None and contract.terminates_at <= now:
            status, reason = "terminated", contract.termination_reason or "terminated"
        else:
            status, reason = "expired", EXPIRED_REASON
        await end_contract(job.session, job.emit, contract, status=status, reason=reason, now=now)
    await job.session.flush()
