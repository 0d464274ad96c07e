"""Service credits: storing SLA outcomes, applying a period's settlement, and the earn-back
of each credit.

The outcome of every closed (or restated) SLA period is stored. The credits of a billing
period are then decided by `settlement.settle` from the stored outcomes, the period's
charges and the contract year so far (a pure function), and applied here: a credit whose
amount changed gets a new revision and `billing.credit_calculated` with the previous amount
and the delta (the whole amount on the first revision). Earn-backs follow the same road:
`earn_back_moves` decides, this module books (`billing.credit_earned_back`, and
`billing.credit_earn_back_reversed` when one no longer holds).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing_reconciler.common import EXPORT_BATCH, ContractPeriods
from billing_reconciler.consumption.service import ensure_contract
from billing_reconciler.credits.domain import (
    REVERSE,
    EarnBackBooking,
    EarnBackMove,
    EarnBackState,
    EarnBackStatus,
    earn_back_moves,
    earn_back_state,
)
from billing_reconciler.credits.outcomes import OutcomeKey, outcome_writes
from billing_reconciler.credits.schemas import (
    CreditPage,
    CreditRead,
    CreditRevisionRead,
    EarnBackRead,
)
from billing_reconciler.credits.settlement import (
    CreditLine,
    OutcomeFact,
    Outcomes,
    PeriodCase,
    PeriodSettlement,
    credit_month,
)
from billing_reconciler.models import (
    EarnBackGranted,
    EarnBackTransition,
    ServiceCredit,
    ServiceCreditRevision,
    SlaOutcome,
)
from crm_events.registry import Dumped
from crm_events.schemas.billing import (
    CreditCalculated,
    CreditEarnBackReversed,
    CreditEarnedBack,
    Explanation,
)
from crm_events.schemas.contracts import CreditedIn
from crm_events.schemas.sla import SlaPeriodClosed
from crm_events.types import json_decimal, json_instant, round_money
from crm_platform import periods
from crm_platform.auth import Principal
from crm_platform.db import any_of, table_of, tuple_in
from crm_platform.emitter import Emit
from crm_platform.pagination import Keyset, PageRequest, SortKey, fetch_page

log = structlog.get_logger(__name__)

# Years of SLA periods read around a billing period: repeated defaults look 12 periods
# back (3 years for a quarterly SLA), earn-back a few periods ahead.
YEARS_BACK = 3
YEARS_AHEAD = 3


# Outcomes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedOutcome:
    """A close (restatement 0) or restatement of an SLA period, as it arrived."""

    event: SlaPeriodClosed
    restatement: int
    source_event_id: str

    @property
    def key(self) -> OutcomeKey:
        return (self.event.contract_id, self.event.sla_code, self.event.period.label)

    def fact(self) -> OutcomeFact:
        e = self.event
        return OutcomeFact(
            outcome=e.outcome.value,
            attainment=e.attainment,
            expected_level=e.expected_level,
            minimum_level=e.minimum_level,
            restatement=self.restatement,
            source_event_id=self.source_event_id,
        )


def _fact_of(row: Any) -> OutcomeFact:
    """A stored outcome (a row of `_FACT_COLUMNS`) as the decisions read it."""
    return OutcomeFact(
        outcome=row.outcome,
        attainment=row.attainment,
        expected_level=row.expected_level,
        minimum_level=row.minimum_level,
        restatement=row.restatement,
        source_event_id=row.source_event_id,
    )


_OUTCOMES = table_of(SlaOutcome)
_KEY_COLUMNS = (_OUTCOMES.c.contract_id, _OUTCOMES.c.sla_code, _OUTCOMES.c.period_label)
_FACT_NAMES = (
    "outcome",
    "attainment",
    "expected_level",
    "minimum_level",
    "restatement",
    "source_event_id",
)
_FACT_COLUMNS = tuple(_OUTCOMES.c[name] for name in _FACT_NAMES)
_INSERT_OUTCOMES = pg_insert(_OUTCOMES)
# A period's tenant and first close time stay as its first close wrote them.
_UPSERT_OUTCOMES = _INSERT_OUTCOMES.on_conflict_do_update(
    index_elements=[c.name for c in _KEY_COLUMNS],
    set_={name: _INSERT_OUTCOMES.excluded[name] for name in (*_FACT_NAMES, "updated_at")},
)


async def store_outcomes(
    *,
    session: AsyncSession,
    tenants: Mapping[uuid.UUID, str],
    received: Sequence[ReceivedOutcome],
    now: datetime,
) -> list[int]:
    """Keep the latest outcome of each SLA period (under the contracts' locks); returns
    the indexes of `received` that changed what we knew (redelivery and out-of-order
    arrival are harmless). One read and one write whatever the number of outcomes (rows,
    not ORM objects: nothing reads them back as objects)."""
    rows = await session.execute(
        sa.select(*_KEY_COLUMNS, *_FACT_COLUMNS)
        .where(tuple_in(_KEY_COLUMNS, {r.key for r in received}))
        .with_for_update()
    )
    stored = {(row.contract_id, row.sla_code, row.period_label): _fact_of(row) for row in rows}
    writes = outcome_writes(stored, [(r.key, r.fact()) for r in received])
    if not writes.written:
        return writes.changed
    created_by = writes.created_by
    values = [
        {
            "contract_id": key[0],
            "sla_code": key[1],
            "period_label": key[2],
            "tenant_id": tenants[key[0]],
            # A new period's row: the close that created it. A stored row keeps its own
            # (the upsert does not set it), so `now` only fills the insert's column.
            "closed_at": received[created_by[key]].event.closed_at if key in created_by else now,
            **{name: getattr(fact, name) for name in _FACT_NAMES},
            "updated_at": now,
        }
        for key, fact in writes.written.items()
    ]
    await session.execute(_UPSERT_OUTCOMES, values)
    return writes.changed


def _outcome_years(around: str) -> tuple[str, str]:
    """The SLA period labels read around a billing month: [first, end)."""
    year = periods.parse(around).year
    return f"{year - YEARS_BACK:04d}", f"{year + YEARS_AHEAD + 1:04d}"


async def load_outcomes(
    session: AsyncSession, around: Mapping[uuid.UUID, str]
) -> dict[uuid.UUID, Outcomes]:
    """Every stored SLA outcome of each contract within a few years of its billing month
    (`around`), of every period kind (labels of a year, `2026`, sort before its months and
    quarters); one query for all the contracts."""
    if not around:
        return {}
    windows = {cid: _outcome_years(label) for cid, label in around.items()}
    o = _OUTCOMES.c
    rows = await session.execute(
        sa.select(o.contract_id, o.sla_code, o.period_label, *_FACT_COLUMNS).where(
            any_of(o.contract_id, windows),
            o.period_label >= min(w[0] for w in windows.values()),
            o.period_label < max(w[1] for w in windows.values()),
        )
    )
    out: dict[uuid.UUID, dict[str, dict[str, OutcomeFact]]] = {
        cid: defaultdict(dict) for cid in windows
    }
    for r in rows:
        first, end = windows[r.contract_id]
        if first <= r.period_label < end:
            out[r.contract_id][r.sla_code][r.period_label] = _fact_of(r)
    return dict(out)


# Credits as the settlement pass reads and changes them ------------------------------------


@dataclass(slots=True, eq=False)
class Credit:
    """A row of `service_credits` as the settlement pass reads and changes it: a plain
    object, not an ORM instance, so a month end's thousands of credits cost no attribute
    instrumentation, identity map or unit of work. `write_credits` writes the new ones and
    those whose values changed, in one statement. (The API reads the table through
    `ServiceCredit`; nothing reads a `Credit` back as an ORM object.)"""

    id: uuid.UUID
    tenant_id: str
    contract_id: uuid.UUID
    contract_version: int
    sla_code: str
    period_label: str
    currency: str
    monthly_charges: Decimal
    at_risk_pct: Decimal
    at_risk_amount: Decimal
    allocation_pct: Decimal
    credit_amount: Decimal
    measurement_period: str | None
    uncapped_amount: Decimal | None
    cap_reduction: Decimal
    outcome: str | None
    explanation: dict[str, Any]
    source_event_id: str
    calculated_at: datetime
    revision: int
    reason: str
    first_calculated_at: datetime | None
    earn_back_status: str
    earn_back_progress: int
    earn_back_periods: int
    earn_back_period: str | None
    earn_back_explanation: dict[str, Any] | None = None
    # The values as read or last written, in `CREDIT_COLUMNS` order (None: not stored yet).
    stored: tuple[Any, ...] | None = field(default=None, repr=False)

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in CREDIT_COLUMNS)


_CREDITS = table_of(ServiceCredit)
CREDIT_COLUMNS = tuple(c.name for c in _CREDITS.columns)
_INSERT_CREDITS = pg_insert(_CREDITS)
_UPSERT_CREDITS = _INSERT_CREDITS.on_conflict_do_update(
    index_elements=[_CREDITS.c.id],
    set_={name: _INSERT_CREDITS.excluded[name] for name in CREDIT_COLUMNS if name != "id"},
)


async def load_credits(
    session: AsyncSession, contract_id: uuid.UUID, first: str, last: str
) -> list[Credit]:
    return (await load_credits_of(session, {contract_id: (first, last)})).get(contract_id, [])


async def load_credits_of(
    session: AsyncSession, windows: Mapping[uuid.UUID, tuple[str, str]]
) -> dict[uuid.UUID, list[Credit]]:
    """The credits of each contract's billing months first..last (by month and SLA), one
    query for all the contracts."""
    if not windows:
        return {}
    c = _CREDITS.c
    rows = await session.execute(
        sa.select(*(c[name] for name in CREDIT_COLUMNS))
        .where(
            any_of(c.contract_id, windows),
            c.period_label >= min(w[0] for w in windows.values()),
            c.period_label <= max(w[1] for w in windows.values()),
        )
        .order_by(c.contract_id, c.period_label, c.sla_code)
    )
    out: dict[uuid.UUID, list[Credit]] = {cid: [] for cid in windows}
    for row in rows:
        first, last = windows[row.contract_id]
        if first <= row.period_label <= last:
            credit = Credit(*row)  # the columns in `CREDIT_COLUMNS` order
            credit.stored = tuple(row)
            out[row.contract_id].append(credit)
    return out


async def write_credits(session: AsyncSession, credits: Iterable[Credit]) -> int:
    """Write the credits not stored yet and those whose values changed since they were read
    (one `INSERT … ON CONFLICT (id) DO UPDATE` for all of them); returns how many."""
    rows = []
    for credit in credits:
        values = credit.values()
        if values != credit.stored:
            rows.append(dict(zip(CREDIT_COLUMNS, values, strict=True)))
            credit.stored = values
    if rows:
        await session.execute(_UPSERT_CREDITS, rows)
    return len(rows)


# Applying a settlement ---------------------------------------------------------------------


def credit_payload(
    row: Credit | ServiceCredit, previous: Decimal, delta: Decimal, explanation: Explanation
) -> CreditCalculated:
    """The credit as an ERP books it (the event and the API carry the same fields)."""
    return CreditCalculated(
        credit_id=row.id,
        contract_id=row.contract_id,
        contract_version=row.contract_version,
        sla_code=row.sla_code,
        period_label=row.period_label,
        measurement_period=row.measurement_period,
        currency=row.currency,
        monthly_charges=row.monthly_charges,
        at_risk_pct=row.at_risk_pct,
        at_risk_amount=row.at_risk_amount,
        allocation_pct=row.allocation_pct,
        uncapped_amount=row.uncapped_amount,
        cap_reduction=row.cap_reduction,
        credit_amount=row.credit_amount,
        revision=row.revision,
        previous_amount=previous,
        delta_amount=delta,
        outcome=row.outcome or "withdrawn",
        reason=row.reason,
        explanation=explanation,
        calculated_at=row.calculated_at,
    )


def credit_document(row: Credit, previous: Decimal, delta: Decimal) -> dict[str, Any]:
    """`credit_payload(...).model_dump(mode="json")`, written out from the row (whose
    explanation is already the line's JSON): what `billing.credit_calculated` carries,
    without validating a model and dumping it again for every credit of a month end
    (`tests/unit/test_credit_rows.py` checks it against that dump)."""
    return {
        "credit_id": str(row.id),
        "contract_id": str(row.contract_id),
        "contract_version": row.contract_version,
        "sla_code": row.sla_code,
        "period_label": row.period_label,
        "measurement_period": row.measurement_period,
        "currency": row.currency,
        "monthly_charges": json_decimal(row.monthly_charges),
        "at_risk_pct": json_decimal(row.at_risk_pct),
        "at_risk_amount": json_decimal(row.at_risk_amount),
        "allocation_pct": json_decimal(row.allocation_pct),
        "uncapped_amount": None
        if row.uncapped_amount is None
        else json_decimal(row.uncapped_amount),
        "cap_reduction": json_decimal(row.cap_reduction),
        "credit_amount": json_decimal(row.credit_amount),
        "revision": row.revision,
        "previous_amount": json_decimal(previous),
        "delta_amount": json_decimal(delta),
        "outcome": row.outcome or "withdrawn",
        "reason": row.reason,
        "explanation": row.explanation,
        "calculated_at": json_instant(row.calculated_at),
    }


def _set_figures(row: Credit, case: PeriodCase, line: CreditLine) -> None:
    """The row's figures follow the decision (amount included)."""
    terms = case.terms
    row.contract_version = terms.version
    row.monthly_charges = case.charges.total
    row.at_risk_pct = terms.credit_terms.at_risk_pct
    row.at_risk_amount = case.at_risk_amount
    if line.fact is not None:  # a withdrawn credit keeps the allocation it had
        row.allocation_pct = line.allocation_pct
    row.measurement_period = line.measurement_period
    row.uncapped_amount = line.uncapped_amount
    row.cap_reduction = line.cap_reduction
    row.credit_amount = line.amount
    row.outcome = line.outcome
    row.reason = line.reason
    row.explanation = line.explanation.model_dump(mode="json")


def _new_credit(case: PeriodCase, line: CreditLine, now: datetime, cause: str) -> Credit:
    sla = next(s for s in case.terms.sla_definitions if s.code == line.sla_code)
    terms = case.terms
    return Credit(
        id=uuid.uuid4(),
        tenant_id=terms.tenant_id,
        contract_id=terms.contract_id,
        contract_version=terms.version,
        sla_code=line.sla_code,
        period_label=case.period_label,
        currency=terms.currency,
        monthly_charges=case.charges.total,
        at_risk_pct=terms.credit_terms.at_risk_pct,
        at_risk_amount=case.at_risk_amount,
        allocation_pct=line.allocation_pct,
        credit_amount=line.amount,
        measurement_period=line.measurement_period,
        uncapped_amount=line.uncapped_amount,
        cap_reduction=line.cap_reduction,
        outcome=line.outcome,
        explanation=line.explanation.model_dump(mode="json"),
        source_event_id=cause,
        calculated_at=now,
        revision=1,
        reason=line.reason,
        first_calculated_at=now,
        earn_back_status=EarnBackStatus.NEW,
        earn_back_progress=0,
        earn_back_periods=sla.earn_back_periods,
        earn_back_period=None,
    )


class Staged:
    """Rows that refer to a credit (revisions, earn-back transitions and grants), written
    once the credits they refer to are (`write_credits` first): objects a later step of
    the pass may still change (an earn-back grant), and history rows that are only ever
    inserted, kept as plain values and written one statement per table (no ORM object,
    identity or flush bookkeeping for each)."""

    def __init__(self) -> None:
        self.objects: list[Any] = []
        self.rows: dict[sa.Table, list[dict[str, Any]]] = {}

    def add(self, obj: Any) -> None:
        self.objects.append(obj)

    def insert(self, model: type[Any], **values: Any) -> None:
        self.rows.setdefault(table_of(model), []).append(values)

    async def write(self, session: AsyncSession) -> None:
        session.add_all(self.objects)
        await session.flush()
        for table, rows in self.rows.items():
            await session.execute(sa.insert(table), rows)
        self.objects, self.rows = [], {}


# sla_code → the emit and event id of the event that brought that SLA's outcome
Causes = Mapping[str, tuple[Emit, str]]


async def apply_settlement(
    *,
    case: PeriodCase,
    settlement: PeriodSettlement,
    credits: list[Credit],
    emit: Emit,
    now: datetime,
    cause: str,
    stage: Staged,
    causes: Causes | None = None,
) -> bool:
    """Bring the stored credits of the period in line with the settlement: a revision and
    an event for each credit whose amount changed (caused by the event that brought its
    SLA's outcome, when `causes` names one, else by `cause`); the figures of the others
    follow quietly. True when an amount changed."""
    existing = {c.sla_code: c for c in credits if c.period_label == case.period_label}
    changed = False
    for line in settlement.lines:
        row = existing.get(line.sla_code)
        if row is not None and row.credit_amount == line.amount:
            _set_figures(row, case, line)
            continue
        line_emit, line_cause = (causes or {}).get(line.sla_code, (emit, cause))
        previous = round_money(Decimal(0), case.terms.currency)
        if row is None:
            row = _new_credit(case, line, now, line_cause)
            credits.append(row)  # written with the others (`write_credits`)
        else:
            previous = row.credit_amount
            row.revision += 1
            row.source_event_id = line_cause
            row.calculated_at = now
            _set_figures(row, case, line)
        await _revise(stage, row, case, line, previous, line_emit)
        changed = True
    return changed


async def _revise(
    stage: Staged,
    row: Credit,
    case: PeriodCase,
    line: CreditLine,
    previous: Decimal,
    emit: Emit,
) -> None:
    delta = line.amount - previous
    stage.insert(
        ServiceCreditRevision,
        tenant_id=row.tenant_id,
        credit_id=row.id,
        revision=row.revision,
        credit_amount=line.amount,
        previous_amount=previous,
        delta_amount=delta,
        uncapped_amount=line.uncapped_amount,
        cap_reduction=line.cap_reduction,
        monthly_charges=case.charges.total,
        at_risk_amount=case.at_risk_amount,
        outcome=line.outcome,
        reason=line.reason,
        explanation=row.explanation,  # the line's, as _set_figures stored it
        source_event_id=row.source_event_id,
        calculated_at=row.calculated_at,
    )
    await emit(
        "billing.credit_calculated",
        subject=str(row.contract_id),
        tenant=row.tenant_id,
        data=Dumped(CreditCalculated, credit_document(row, previous, delta)),
    )
    log.info(
        "credit.calculated",
        contract_id=str(row.contract_id),
        sla_code=row.sla_code,
        period=row.period_label,
        amount=str(line.amount),
        delta=str(delta),
        revision=row.revision,
    )


# Earn-back ---------------------------------------------------------------------------------

CreditedInOf = Callable[[str], CreditedIn]


def _earn_back_of(
    credit: Credit, outcomes: Outcomes, credited_in: CreditedIn
) -> tuple[EarnBackState, EarnBackBooking | None]:
    """The earn-back state of a credit and the booking it makes (pure)."""
    history = {p: o.outcome for p, o in outcomes.get(credit.sla_code, {}).items()}
    state = earn_back_state(
        credited_period=credit.measurement_period or credit.period_label,
        earn_back_periods=credit.earn_back_periods,
        credit_amount=credit.credit_amount if credit.measurement_period else Decimal(0),
        outcomes=history,
    )
    if state.status != EarnBackStatus.EARNED_BACK or state.decided_in is None:
        return state, None
    month = credit_month(state.decided_in, credited_in)
    return state, EarnBackBooking(month, credit.credit_amount)


async def load_granted(
    session: AsyncSession, credits: Sequence[Credit]
) -> dict[uuid.UUID, EarnBackGranted]:
    """The earn-backs published for the credits, locked until the transaction ends."""
    if not credits:
        return {}
    return {
        p.credit_id: p
        for p in await session.scalars(
            sa.select(EarnBackGranted)
            .where(any_of(EarnBackGranted.credit_id, [c.id for c in credits]))
            .with_for_update()
        )
    }


async def update_earn_back(
    *,
    credits: Sequence[Credit],
    outcomes: Outcomes,
    credited_in_of: CreditedInOf,
    terms_version: int,
    granted: dict[uuid.UUID, EarnBackGranted],
    stage: Staged,
    emit: Emit,
    now: datetime,
) -> None:
    """Move each credit's earn-back state machine (a transition row per change of state)
    and book what changed: a grant, a revised grant or a reversal, each an event.
    `granted` (from `load_granted`) follows the bookings."""
    for credit in credits:
        state, due = _earn_back_of(credit, outcomes, credited_in_of(credit.period_label))
        explanation = _earn_back_explanation(credit, state, outcomes, terms_version)
        _transition(stage, credit, state, due, explanation, now)
        booked = granted.get(credit.id)
        before = EarnBackBooking(booked.period_label, booked.amount) if booked else None
        for move in earn_back_moves(before, due):
            booked = await _book(stage, credit, booked, move, explanation, emit, now)
            granted[credit.id] = booked


def _transition(
    stage: Staged,
    credit: Credit,
    state: EarnBackState,
    due: EarnBackBooking | None,
    explanation: Explanation,
    now: datetime,
) -> None:
    earned_period = due.period_label if due is not None else None
    same = (
        credit.earn_back_status == state.status
        and credit.earn_back_progress == state.progress
        and credit.earn_back_period == earned_period
    )
    if not same:
        stage.insert(
            EarnBackTransition,
            tenant_id=credit.tenant_id,
            credit_id=credit.id,
            from_status=None
            if credit.earn_back_status == EarnBackStatus.NEW
            else credit.earn_back_status,
            to_status=state.status,
            progress=state.progress,
            period_label=state.decided_in,
            explanation=state.explanation,
            at=now,
        )
    credit.earn_back_status = state.status
    credit.earn_back_progress = state.progress
    credit.earn_back_period = earned_period
    credit.earn_back_explanation = explanation.model_dump(mode="json")


async def _book(
    stage: Staged,
    credit: Credit,
    published: EarnBackGranted | None,
    move: EarnBackMove,
    explanation: Explanation,
    emit: Emit,
    now: datetime,
) -> EarnBackGranted:
    if published is None:
        published = EarnBackGranted(
            credit_id=credit.id,
            tenant_id=credit.tenant_id,
            period_label=move.period_label,
            amount=move.amount,
            granted_at=now,
            revision=1,
            updated_at=now,
        )
        stage.add(published)
    else:
        published.revision += 1
        published.period_label = move.period_label
        published.amount = move.amount
        published.updated_at = now
    common = {
        "credit_id": credit.id,
        "contract_id": credit.contract_id,
        "sla_code": credit.sla_code,
        "credited_period": credit.period_label,
        "earned_back_in_period": move.period_label,
        "currency": credit.currency,
        "amount": round_money(move.amount, credit.currency),
        "revision": published.revision,
        "previous_amount": round_money(move.previous_amount, credit.currency),
        "delta_amount": round_money(move.delta, credit.currency),
        "explanation": explanation,
    }
    if move.kind == REVERSE:
        data: CreditEarnedBack | CreditEarnBackReversed = CreditEarnBackReversed(
            **common, reversed_at=now
        )
        event_type = "billing.credit_earn_back_reversed"
    else:
        data = CreditEarnedBack(**common, earned_back_at=now)
        event_type = "billing.credit_earned_back"
    await emit(event_type, subject=str(credit.contract_id), tenant=credit.tenant_id, data=data)
    return published


def _earn_back_explanation(
    credit: Credit, state: EarnBackState, outcomes: Outcomes, terms_version: int
) -> Explanation:
    credited = credit.measurement_period or credit.period_label
    window = [periods.shift(credited, i) for i in range(1, credit.earn_back_periods + 1)]
    known = outcomes.get(credit.sla_code, {})
    inputs = {
        "credited_period": credit.period_label,
        "measurement_period": credited,
        "credit_amount": str(credit.credit_amount),
        "earn_back_periods": str(credit.earn_back_periods),
        **{f"outcome.{p}": known[p].outcome for p in window if p in known},
    }
    return Explanation(
        clause=f"Service credits: earn-back of SLA {credit.sla_code}",
        contract_version=terms_version,
        formula=f"{state.explanation}; earn-back = credit of {credit.period_label} = "
        f"{credit.credit_amount}",
        inputs=inputs,
        source_ids=[str(credit.id), *(known[p].source_event_id for p in window if p in known)],
    )


# Reading -------------------------------------------------------------------------------------


CREDITS = Keyset(
    "credits",
    SortKey(ServiceCredit.period_label),
    SortKey(ServiceCredit.sla_code),
    SortKey(ServiceCredit.id),
)


async def list_for_contract(
    *, session: AsyncSession, principal: Principal, contract_id: uuid.UUID, page: PageRequest
) -> CreditPage:
    await ensure_contract(session, principal, contract_id)
    query = sa.select(ServiceCredit).where(
        ServiceCredit.contract_id == contract_id,
        principal.tenant_filter(ServiceCredit.tenant_id),
    )
    rows, next_cursor = await fetch_page(session, query, CREDITS, page)
    return CreditPage(items=await _read_all(session, rows), next_cursor=next_cursor)


async def export(
    *, session: AsyncSession, principal: Principal, scope: ContractPeriods
) -> AsyncIterator[CreditRead]:
    """Every credit the caller may see in the scope, by contract, billing month and SLA,
    read a page at a time (keyset), with each page's revisions and transitions."""
    key = (ServiceCredit.contract_id, ServiceCredit.period_label, ServiceCredit.sla_code)
    query = (
        sa.select(ServiceCredit)
        .where(
            principal.tenant_filter(ServiceCredit.tenant_id),
            *scope.where(ServiceCredit.contract_id, ServiceCredit.period_label),
        )
        .order_by(*key)
        .limit(EXPORT_BATCH)
    )
    after: tuple[Any, ...] | None = None
    while True:
        page = query if after is None else query.where(sa.tuple_(*key) > sa.tuple_(*after))
        rows = (await session.scalars(page)).all()
        for read in await _read_all(session, rows):
            yield read
        if len(rows) < EXPORT_BATCH:
            return
        after = (rows[-1].contract_id, rows[-1].period_label, rows[-1].sla_code)
        session.expunge_all()  # the identity map would otherwise keep every page


async def _read_all(session: AsyncSession, rows: Sequence[ServiceCredit]) -> list[CreditRead]:
    ids = [r.id for r in rows]
    revisions = (
        await session.scalars(
            sa.select(ServiceCreditRevision)
            .where(any_of(ServiceCreditRevision.credit_id, ids))
            .order_by(ServiceCreditRevision.credit_id, ServiceCreditRevision.revision)
        )
    ).all()
    transitions = (
        await session.scalars(
            sa.select(EarnBackTransition)
            .where(any_of(EarnBackTransition.credit_id, ids))
            .order_by(EarnBackTransition.id)
        )
    ).all()
    by_credit: dict[uuid.UUID, list[ServiceCreditRevision]] = defaultdict(list)
    for rev in revisions:
        by_credit[rev.credit_id].append(rev)
    moves: dict[uuid.UUID, list[EarnBackTransition]] = defaultdict(list)
    for t in transitions:
        moves[t.credit_id].append(t)
    return [_read(r, by_credit[r.id], moves[r.id]) for r in rows]


def _read(
    row: ServiceCredit,
    revisions: list[ServiceCreditRevision],
    transitions: list[EarnBackTransition],
) -> CreditRead:
    latest = revisions[-1] if revisions else None
    previous = latest.previous_amount if latest is not None else Decimal(0)
    delta = latest.delta_amount if latest is not None else row.credit_amount
    fields = credit_payload(row, previous, delta, Explanation.model_validate(row.explanation))
    return CreditRead(
        **fields.model_dump(),
        source_event_id=row.source_event_id,
        revisions=[CreditRevisionRead.model_validate(v) for v in revisions],
        earn_back=EarnBackRead(
            status=row.earn_back_status,
            periods=row.earn_back_periods,
            progress=row.earn_back_progress,
            earned_back_in_period=row.earn_back_period,
            explanation=Explanation.model_validate(row.earn_back_explanation)
            if row.earn_back_explanation
            else None,
            transitions=[
                {
                    "from_status": t.from_status,
                    "to_status": t.to_status,
                    "progress": t.progress,
                    "period_label": t.period_label,
                    "explanation": t.explanation,
                    "at": t.at,
                }
                for t in transitions
            ],
        ),
    )
