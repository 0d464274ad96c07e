"""The terms a version carries on contracts.v1, and the events that carry them."""

from __future__ import annotations

from datetime import datetime

from contract_registry.models import Contract, ContractVersion
from crm_events.schemas.contracts import (
    ContractActivated,
    ContractAmended,
    ContractDocument,
    ContractTerminated,
    ContractTerms,
)
from crm_platform.emitter import Emit


def document_of(version: ContractVersion) -> ContractDocument:
    return ContractDocument.model_validate(version.document)


def terms_of(contract: Contract, version: ContractVersion) -> ContractTerms:
    return ContractTerms(
        **document_of(version).model_dump(),
        contract_id=contract.id,
        tenant_id=contract.tenant_id,
        version=version.version,
        effective_from=version.effective_from,
    )


async def publish_activated(
    emit: Emit, contract: Contract, version: ContractVersion, at: datetime
) -> None:
    await emit(
        "contract.activated",
        subject=str(contract.id),
        tenant=contract.tenant_id,
        data=ContractActivated(terms=terms_of(contract, version), activated_at=at),
    )


async def publish_amended(
    emit: Emit, contract: Contract, version: ContractVersion, previous: int, at: datetime
) -> None:
    await emit(
        "contract.amended",
        subject=str(contract.id),
        tenant=contract.tenant_id,
        data=ContractAmended(
            terms=terms_of(contract, version), previous_version=previous, amended_at=at
        ),
    )


async def publish_terminated(
    emit: Emit, contract: Contract, version: ContractVersion, at: datetime, reason: str
) -> None:
    await emit(
        "contract.terminated",
        subject=str(contract.id),
        tenant=contract.tenant_id,
        data=ContractTerminated(terms=terms_of(contract, version), terminated_at=at, reason=reason),
    )
