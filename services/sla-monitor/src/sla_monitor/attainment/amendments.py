"""An amendment restates the closed periods it changes.

When `contract.amended` brings a version this service did not know, every closed period of
the contract's SLAs that the new version governs — the version in force on the period's
first day (schedule.py's rule): a period that starts on or after its `effective_from`,
unless a later version already supersedes it there — is recomputed with the new terms
through the one restatement path (restatement.py): within the contract's restatement
window counted from the close, a change of the figures, the outcome or the levels is
published as `sla.period_restated` with a reason that names the amendment. Outside the
window the published figures stand, and a log line says so.

A redelivered amendment (or the same version published again) finds its version known
and changes nothing. A period whose new terms no longer measure the SLA in periods of its
kind (the SLA was dropped, or made quarterly) keeps its published figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from crm_events.schemas.contracts import ContractTerms
from crm_platform.emitter import Emit
from sla_monitor.attainment.compute import SlaRef
from sla_monitor.attainment.domain import PeriodBounds, period_bounds
from sla_monitor.attainment.inputs import (
    ContractVersions,
    TermsVersion,
    local_day,
    version_in_force,
)
from sla_monitor.attainment.restatement import Restatement, restate_if_changed
from sla_monitor.attainment.schedule import sla_in, within_term
from sla_monitor.models import SlaPeriod

log = structlog.get_logger(__name__)


@dataclass(frozen=True, order=True)
class ClosedPeriod:
    sla_code: str
    label: str
    contract_version: int  # the version its published figures were computed with


@dataclass(frozen=True)
class Governed:
    """A closed period the amended version governs; `ref` is None when that version does
    not measure the SLA in periods of this kind any more."""

    closed: ClosedPeriod
    period: PeriodBounds
    ref: SlaRef | None


def governed(
    amended: ContractTerms, every: Sequence[ContractTerms], closed: Sequence[ClosedPeriod]
) -> list[Governed]:
    """The closed periods the amended version governs, in (SLA, period) order (pure):
    `every` is each version of the contract's terms, in version order."""
    in_order = [TermsVersion(t.version, t.effective_from) for t in every]
    out = []
    for c in sorted(closed):
        period = period_bounds(c.label, amended.timezone)
        chosen = version_in_force(in_order, local_day(period.start, amended.timezone))
        if chosen is None or chosen.version != amended.version:
            continue  # an earlier version governs it, or a later one supersedes this one
        sla = sla_in(amended, c.sla_code)
        ref = None
        if sla is not None and sla.measurement_period is period.kind:
            if within_term(amended, period):
                ref = SlaRef(amended.contract_id, amended.tenant_id, amended, sla)
        out.append(Governed(c, period, ref))
    return out


def _change(name: str, old: Any, new: Any) -> str:
    if isinstance(old, dict | list) or isinstance(new, dict | list):
        return f"{name} changed"
    return f"{name} {old} → {new}"


def amendment_reason(amended: ContractTerms, before: ContractTerms | None, sla_code: str) -> str:
    """Why the period is restated: the amendment, and what it changed for the SLA (pure).
    `contract amended to version 3 (effective 2026-01-01): expected_level 99.9 → 99.4,
    minimum_level 99.5 → 99.0`."""
    head = (
        f"contract amended to version {amended.version} "
        f"(effective {amended.effective_from.isoformat()})"
    )
    new = sla_in(amended, sla_code)
    old = None if before is None else sla_in(before, sla_code)
    if before is None or old is None or new is None:
        return f"{head}: {sla_code} as version {amended.version} defines it"
    was, now = old.model_dump(mode="json"), new.model_dump(mode="json")
    changes = [
        _change(name, was.get(name), value) for name, value in now.items() if was.get(name) != value
    ]
    if before.holidays != amended.holidays:
        changes.append("holidays changed")
    return f"{head}: " + (", ".join(changes) or f"the terms of {sla_code} did not change")


async def _closed_periods(session: AsyncSession, terms: ContractTerms) -> list[ClosedPeriod]:
    published_version = SlaPeriod.published["contract_version"].as_integer()
    rows = (
        await session.execute(
            sa.select(
                SlaPeriod.sla_code,
                SlaPeriod.period_label,
                sa.func.coalesce(published_version, SlaPeriod.contract_version),
            ).where(
                SlaPeriod.tenant_id == terms.tenant_id,
                SlaPeriod.contract_id == terms.contract_id,
            )
        )
    ).all()
    return [ClosedPeriod(r[0], r[1], r[2]) for r in rows]


def _log(terms: ContractTerms, done: dict[str, Restatement | None]) -> None:
    """One line per amendment and result: which periods were restated, which stand."""
    by_result: dict[Restatement | None, list[str]] = {}
    for key, result in done.items():
        by_result.setdefault(result, []).append(key)
    fields = {"contract_id": str(terms.contract_id), "contract_version": terms.version}
    if Restatement.RESTATED in by_result:
        log.info("amendment.periods_restated", periods=by_result[Restatement.RESTATED], **fields)
    if Restatement.WINDOW_PASSED in by_result:
        log.info(
            "amendment.periods_outside_restatement_window",
            periods=by_result[Restatement.WINDOW_PASSED],
            restatement_window_days=terms.restatement_window_days,
            detail="closed longer ago than the restatement window: the published figures stand",
            **fields,
        )
    if None in by_result:
        log.info(
            "amendment.periods_not_measured",
            periods=by_result[None],
            detail=f"version {terms.version} does not measure these SLAs in periods of this "
            "kind: the published figures stand",
            **fields,
        )


async def restate_amended(
    *, session: AsyncSession, emit: Emit, now: datetime, terms: ContractTerms
) -> dict[str, Restatement | None]:
    """Restate the closed periods a newly received version governs (see the module).
    Returns what happened to each, by `SLA/period` (None: no longer measured so)."""
    closed = await _closed_periods(session, terms)
    if not closed:
        return {}
    versions = ContractVersions(session)
    await versions.load([terms.contract_id])
    every = versions.every(terms.contract_id)
    by_number = {t.version: t for t in every}
    done: dict[str, Restatement | None] = {}
    for g in governed(terms, every, closed):
        key = f"{g.closed.sla_code}/{g.closed.label}"
        done[key] = None
        if g.ref is not None:
            done[key] = await restate_if_changed(
                session=session,
                emit=emit,
                now=now,
                ref=g.ref,
                period=g.period,
                reason=amendment_reason(
                    terms, by_number.get(g.closed.contract_version), g.closed.sla_code
                ),
            )
    _log(terms, done)
    return done
