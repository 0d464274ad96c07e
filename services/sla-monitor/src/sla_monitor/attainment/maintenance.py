"""Ad-hoc maintenance windows approved through the API. They are excluded like the
contract's own windows, for the SLAs they name (all of the contract's when none)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from crm_platform.audit import Audit
from crm_platform.auth import Principal
from crm_platform.clock import Clock
from crm_platform.emitter import Emit
from crm_platform.errors import Unprocessable
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page
from sla_monitor.attainment.inputs import ContractVersions
from sla_monitor.attainment.monitoring import affected
from sla_monitor.attainment.restatement import Restatement, restate_if_changed
from sla_monitor.attainment.schemas import (
    MaintenanceWindowCreate,
    MaintenanceWindowPage,
    MaintenanceWindowRead,
)
from sla_monitor.attainment.service import contract_slas
from sla_monitor.models import MaintenanceWindowRow, SlaRestatement


def _read(row: MaintenanceWindowRow, restated: list[str] | None = None) -> MaintenanceWindowRead:
    return MaintenanceWindowRead(
        id=row.id,
        contract_id=row.contract_id,
        start=row.starts_at,
        end=row.ends_at,
        reason=row.reason,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        sla_codes=list(row.sla_codes),
        restated_periods=restated or [],
    )


def _refuse_bad_window(body: MaintenanceWindowCreate) -> None:
    for name, value in (("start", body.start), ("end", body.end)):
        if value.tzinfo is None:
            raise Unprocessable(
                f"{name} needs a UTC offset",
                details=[{"loc": f"body.{name}", "message": "timestamp without a UTC offset"}],
            )
    if body.end <= body.start:
        raise Unprocessable(
            "end must be after start",
            details=[{"loc": "body.end", "message": "end must be after start"}],
        )


def _refuse_unknown_slas(body: MaintenanceWindowCreate, known: set[str]) -> None:
    unknown = [c for c in body.sla_codes if c not in known]
    if unknown:
        raise Unprocessable(
            f"unknown SLA code(s) {unknown}",
            details=[
                {"loc": f"body.sla_codes[{body.sla_codes.index(c)}]", "message": "unknown SLA"}
                for c in unknown
            ],
        )


async def approve(
    *,
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    emit: Emit,
    audit: Audit,
    contract_id: uuid.UUID,
    body: MaintenanceWindowCreate,
) -> MaintenanceWindowRead:
    _refuse_bad_window(body)
    slas = await contract_slas(session, principal, contract_id)
    _refuse_unknown_slas(body, {r.sla_code for r in slas})
    now = clock.now()
    row = MaintenanceWindowRow(
        id=uuid.uuid4(),
        tenant_id=slas[0].tenant_id,
        contract_id=contract_id,
        sla_codes=sorted(set(body.sla_codes)),
        starts_at=body.start,
        ends_at=body.end,
        reason=body.reason,
        approved_by=body.approved_by,
        approved_at=now,
    )
    session.add(row)
    await session.flush()
    # Closed periods it touches are restated (within their window); open ones simply
    # read it from now on.
    touched = {
        r.service_key: (body.start, body.end)
        for r in slas
        if not body.sla_codes or r.sla_code in body.sla_codes
    }
    restated = []
    pairs = await affected(
        session, slas[0].tenant_id, touched, ContractVersions(session), contract_id=contract_id
    )
    for ref, period in pairs:
        if body.sla_codes and ref.sla.code not in body.sla_codes:
            continue
        found = await restate_if_changed(
            session=session,
            emit=emit,
            now=now,
            ref=ref,
            period=period,
            reason=f"ad-hoc maintenance window approved by {body.approved_by}: {body.reason}",
        )
        if found is Restatement.RESTATED:
            restated.append(f"{ref.sla.code}/{period.label}")
            await _audit_restatement(session, audit, ref.sla.code, period.label, row)
    window = _read(row, restated)
    await audit.record(
        action="maintenance_window.approve",
        subject_type="maintenance_window",
        subject_id=row.id,
        tenant_id=row.tenant_id,
        contract_id=contract_id,
        after=window.model_dump(mode="json", exclude={"id", "contract_id"}),
    )
    return window


async def _audit_restatement(
    session: AsyncSession, audit: Audit, sla_code: str, label: str, window: MaintenanceWindowRow
) -> None:
    """The operator's approval restated a closed period: audit its latest restatement
    (the figures before and after, as `sla_restatements` keeps them)."""
    latest = await session.scalar(
        sa.select(SlaRestatement)
        .where(
            SlaRestatement.tenant_id == window.tenant_id,
            SlaRestatement.contract_id == window.contract_id,
            SlaRestatement.sla_code == sla_code,
            SlaRestatement.period_label == label,
        )
        .order_by(SlaRestatement.restatement.desc())
        .limit(1)
    )
    assert latest is not None  # restate_if_changed said it restated the period
    await audit.record(
        action="sla_period.restate",
        subject_type="sla_period",
        subject_id=f"{sla_code}/{label}",
        tenant_id=window.tenant_id,
        contract_id=window.contract_id,
        before=latest.previous,
        after={**latest.current, "restatement": latest.restatement, "reason": latest.reason},
    )


WINDOWS = Keyset(
    "maintenance-windows",
    SortKey(MaintenanceWindowRow.starts_at),
    SortKey(MaintenanceWindowRow.id),
)


async def list_windows(
    *, session: AsyncSession, principal: Principal, contract_id: uuid.UUID, page: PageRequest
) -> MaintenanceWindowPage:
    slas = await contract_slas(session, principal, contract_id)
    query = sa.select(MaintenanceWindowRow).where(
        MaintenanceWindowRow.tenant_id == slas[0].tenant_id,
        MaintenanceWindowRow.contract_id == contract_id,
    )
    rows, next_cursor = await fetch_page(session, query, WINDOWS, page)
    return MaintenanceWindowPage(items=[_read(r) for r in rows], next_cursor=next_cursor)
