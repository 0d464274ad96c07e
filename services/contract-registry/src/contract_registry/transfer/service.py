"""Export a whole contract as one JSON document; import one.

Export → import → export gives the same document except `contract.id` (the importing
registry assigns its own) and `exported_at`. An import replays the history on contracts.v1
so every consumer holds the same versions: `contract.activated` for the first activated
version, `contract.amended` for each later one, and `contract.terminated` when the contract
had ended.
"""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from contract_registry.contracts import repository as repo
from contract_registry.contracts.dates import start_of_day
from contract_registry.contracts.publishing import (
    document_of,
    publish_activated,
    publish_amended,
    publish_terminated,
)
from contract_registry.contracts.repository import ACTIVATED, DRAFT
from contract_registry.contracts.service import audit_contract, new_contract, sync_columns
from contract_registry.contracts.validation import (
    Problem,
    validate_amendment,
    validate_for_activation,
)
from contract_registry.models import ContractVersion
from contract_registry.transfer.schemas import (
    ContractExport,
    ContractStatus,
    ExportedContract,
    ExportedVersion,
    VersionState,
)
from crm_platform.audit import Audit
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.emitter import Emit
from crm_platform.errors import Unprocessable


async def export(
    *, session: AsyncSession, principal: Principal, clock: Clock, contract_id: uuid.UUID
) -> ContractExport:
    contract = await repo.load_contract(session, principal, contract_id)
    versions = await repo.all_versions(session, contract.id)
    return ContractExport(
        exported_at=clock.now(),
        contract=ExportedContract(
            id=contract.id,
            tenant_id=contract.tenant_id,
            status=cast(ContractStatus, contract.status),
            created_at=contract.created_at,
            terminates_on=contract.terminates_on,
            termination_reason=contract.termination_reason,
            terminated_at=contract.terminated_at,
        ),
        versions=[
            ExportedVersion(
                version=v.version,
                state=cast(VersionState, v.state),
                effective_from=v.effective_from,
                note=v.note,
                created_at=v.created_at,
                activated_at=v.activated_at,
                terms=document_of(v),
            )
            for v in versions
        ],
    )


def check_history(body: ContractExport) -> list[Problem]:
    """Every problem of an imported history at once; paths are relative to the body."""
    problems: list[Problem] = []

    def add(loc: str, message: str) -> None:
        problems.append(Problem(f"body.{loc}", message))

    status = body.contract.status
    versions = body.versions
    for i, v in enumerate(versions):
        if v.version != i + 1:
            add(
                f"versions[{i}].version",
                f"versions are numbered 1, 2, 3… in order; found {v.version}",
            )
        if v.state == DRAFT and (i != len(versions) - 1 or status not in ("draft", "active")):
            add(
                f"versions[{i}].state",
                "only the last version of a draft or active contract may be a draft",
            )
    first = versions[0]
    if status == "draft":
        if first.state != DRAFT or len(versions) > 1:
            add("contract.status", "a draft contract has exactly one version, a draft")
    elif first.state != ACTIVATED:
        add("versions[0].state", f"a contract that is {status} has an activated version 1")
    if first.effective_from != first.terms.start_date:
        add("versions[0].effective_from", "version 1 takes effect on the contract's start_date")
    if status in ("terminated", "expired") and body.contract.terminated_at is None:
        add("contract.terminated_at", f"a contract that is {status} needs terminated_at")

    previous: ExportedVersion | None = None
    for i, v in enumerate(versions):
        if v.state != ACTIVATED:
            continue
        found = validate_for_activation(v.terms)
        if previous is not None:
            found += validate_amendment(
                previous=previous.terms,
                previous_effective_from=previous.effective_from,
                doc=v.terms,
                effective_from=v.effective_from,
            )
        for p in found:
            where = "effective_from" if p.loc == "effective_from" else f"terms.{p.loc}"
            add(f"versions[{i}].{where}", p.message)
        previous = v
    return problems


async def import_contract(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    emit: Emit,
    audit: Audit,
    body: ContractExport,
) -> ContractExport:
    tenant_id = principal.resolve_tenant(body.contract.tenant_id)
    problems = check_history(body)
    if problems:
        raise Unprocessable(
            f"the contract cannot be imported: {len(problems)} problem(s)",
            details=[p.as_detail() for p in problems],
            code="import_rejected",
        )
    now = clock.now()
    activated = [v for v in body.versions if v.state == ACTIVATED]
    current = activated[-1] if activated else body.versions[0]
    contract = await new_contract(
        session,
        tenant_id=tenant_id,
        document=current.terms,
        now=now,
        created_at=body.contract.created_at,
    )
    rows = []
    for v in body.versions:
        row = ContractVersion(
            contract_id=contract.id,
            version=v.version,
            tenant_id=tenant_id,
            state=v.state,
            effective_from=v.effective_from,
            document=v.terms.model_dump(mode="json"),
            note=v.note,
            created_at=v.created_at or now,
            activated_at=(v.activated_at or now) if v.state == ACTIVATED else v.activated_at,
        )
        session.add(row)
        rows.append(row)
    await session.flush()

    info = body.contract
    contract.status = info.status
    contract.current_version = current.version
    contract.terminates_on = info.terminates_on
    contract.terminates_at = (
        start_of_day(info.terminates_on, current.terms.timezone) if info.terminates_on else None
    )
    contract.termination_reason = info.termination_reason
    contract.terminated_at = info.terminated_at
    sync_columns(contract, current.terms)

    previous: ContractVersion | None = None
    for row in rows:
        if row.state != ACTIVATED:
            continue
        at = row.activated_at or now
        if previous is None:
            await publish_activated(emit, contract, row, at)
        else:
            await publish_amended(emit, contract, row, previous.version, at)
        previous = row
    if info.status in ("terminated", "expired") and previous is not None:
        last_day = info.terminates_on or current.terms.end_date
        in_force = await repo.version_in_force(session, contract.id, last_day) if last_day else None
        await publish_terminated(
            emit,
            contract,
            in_force or previous,
            info.terminated_at or now,
            info.termination_reason or info.status,
        )
    await session.flush()
    await audit_contract(audit, contract, "import", None)
    return await export(session=session, principal=principal, clock=clock, contract_id=contract.id)
